"""bench/triggerner.py --merge: separate --results files become one table, JSON and plot."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "triggerner.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("triggerner_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def results_file(path: Path, model: str, fraction: int, f1: float, epochs: str = "10") -> Path:
    args = {"dataset": "conll2003", "split": "test", "epochs": epochs, "max_test": "0", "device": "cpu"}
    run = {"model": model, "fraction": fraction, "seed": 0, "k": None, "precision": f1, "recall": f1,
           "f1": f1, "train_seconds": 1.0, "train_sentences": 10 * fraction, "triggers": 0, "pseudo_labeled": 0}
    path.write_text(json.dumps({"args": args, "config": {"epochs": 10}, "device": "cpu",
                                "test_sentences": 100, "runs": [run], "rows": []}))
    return path


def test_merge_combines_runs(bench, tmp_path, capsys):
    # Given in another order (as a shell glob sorts them), listed as one run would list them.
    paths = [results_file(tmp_path / "a.json", "bilstm_crf", 10, 0.8),
             results_file(tmp_path / "b.json", "bilstm_crf", 5, 0.7),
             results_file(tmp_path / "c.json", "triggerner", 20, 0.6)]
    bench.merge(paths, tmp_path / "merged.json", None)
    merged = json.loads((tmp_path / "merged.json").read_text())
    assert [(row["model"], row["fraction"], row["f1_mean"]) for row in merged["rows"]] == [
        ("triggerner", 20, 0.6), ("bilstm_crf", 5, 0.7), ("bilstm_crf", 10, 0.8)]
    assert merged["test_sentences"] == 100 and merged["merged"] == [str(p) for p in paths]
    assert "| bilstm_crf | — | 10 | 100 | 1 | 80.0 ± 0.0 |" in capsys.readouterr().out


def test_merge_refuses_other_settings_and_repeated_runs(bench, tmp_path):
    first = results_file(tmp_path / "a.json", "bilstm_crf", 5, 0.7)
    with pytest.raises(SystemExit, match="epochs"):
        bench.merge([first, results_file(tmp_path / "b.json", "bilstm_crf", 10, 0.8, epochs="4")], None, None)
    with pytest.raises(SystemExit, match="more than one"):
        bench.merge([first, first], None, None)
