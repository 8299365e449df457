"""bench/active.py: the goal read at every budget a run contains, and --merge, which averages
the seeds of separate --results files as one run over all of them would."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "active.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("active_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def curves(bench, random_scores, entropy_scores, step=100):
    def run(scores):
        return [bench.Point(step * (i + 1), score, 1.0, 10 * step * (i + 1)) for i, score in enumerate(scores)]

    return {"random": [run(random_scores)], "entropy": [run(entropy_scores)]}


def test_the_goal_is_read_at_every_budget(bench):
    summary = bench.summarise("sa", curves(bench, [0.50, 0.60, 0.62, 0.58, 0.70],
                                           [0.50, 0.61, 0.63, 0.64, 0.66]))
    rows = {row["labels"]: row for row in summary["by_budget"]}
    assert list(rows) == [200, 300, 400, 500]  # the seed set is no budget
    # Budget 400 (random order 0.58): entropy is there at 200 labels, half the budget.
    assert rows[400]["strategies"]["entropy"] == {"labels": 200, "tokens": 2000, "goal_met": True,
                                                  "goal_met_in_tokens": True}
    # Budget 300 (0.62): entropy needs 300 labels, all of it.
    assert rows[300]["strategies"]["entropy"]["labels"] == 300
    assert not rows[300]["strategies"]["entropy"]["goal_met"]
    # Budget 500 (0.70): never reached within the budget; the whole run's answer agrees.
    assert rows[500]["strategies"]["entropy"]["labels"] is None
    assert summary["labels_to_reach"]["entropy"] is None and not summary["goal_met"]["entropy"]


def test_a_budget_below_the_seed_set_counts_for_nobody(bench):
    summary = bench.summarise("sa", curves(bench, [0.50, 0.45, 0.60], [0.50, 0.48, 0.61]))
    first = summary["by_budget"][0]
    assert first["labels"] == 200 and not first["above_seed_set"]
    assert first["strategies"]["entropy"]["labels"] is None and not first["strategies"]["entropy"]["goal_met"]


def results_file(bench, path: Path, seeds: list[int], offset: float, step: int = 100) -> Path:
    runs = {"random": [], "entropy": []}
    for seed in seeds:
        for name, extra in (("random", 0.0), ("entropy", 0.02)):
            runs[name].append([bench.Point(step * (i + 1), 0.5 + 0.1 * i + offset * seed + extra, 1.0, 10 * (i + 1))
                               for i in range(3)])
    summary = bench.summarise("sa", runs)
    summary.update(setup={"task": "sa", "model": "m", "config": {}, "strategies": ["entropy"],
                          "metric": "macro_f1", "threads": 1},
                   sizes={"pool": 10, "test": 5, "seed_size": 1, "step": step, "rounds": 3},
                   split="test", duplicates="demote", seeds=seeds, seconds=2.0)
    path.write_text(json.dumps([summary]))
    return path


def test_merge_averages_seeds_as_one_run_would(bench, tmp_path, capsys):
    # The files come in any order; the seeds are averaged as a run over 0, 1, 2 averages them.
    together = json.loads(results_file(bench, tmp_path / "all.json", [0, 1, 2], 0.01).read_text())[0]
    merged, = bench.merge([results_file(bench, tmp_path / "b.json", [2], 0.01),
                           results_file(bench, tmp_path / "a.json", [0, 1], 0.01)],
                          tmp_path / "merged.json", tmp_path / "plots")
    assert merged["seeds"] == [0, 1, 2] and merged["runs"] == together["runs"]
    assert json.loads(json.dumps(merged["mean"])) == together["mean"]  # the same means, to the last digit
    assert merged["by_budget"] == together["by_budget"]
    assert merged["seconds"] == 4.0
    assert json.loads((tmp_path / "merged.json").read_text())[0]["seeds"] == [0, 1, 2]
    assert "seeds [0, 1, 2]" in capsys.readouterr().out


def test_merge_refuses_other_settings_and_repeated_seeds(bench, tmp_path):
    first = results_file(bench, tmp_path / "a.json", [0], 0.01)
    with pytest.raises(SystemExit, match="sizes"):
        bench.merge([first, results_file(bench, tmp_path / "b.json", [1], 0.01, step=50)], None, tmp_path)
    with pytest.raises(SystemExit, match="more than one"):
        bench.merge([first, first], None, tmp_path)
