"""Damaged and unusual import files, through `leanlife import` (click's runner) and the REST
import endpoint: every damage is an error naming the file and line, with nothing written;
encodings, BOMs, CRLF, long lines and characters split across read blocks import intact; an
upload no import will read is removed."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Caller, create_project
from tests.test_import_export_api import wait_for
from tests.test_jobs_support import redis_prefix  # noqa: F401  (a fixture used below)

VIAS = ("cli", "rest")


@dataclass
class Outcome:
    ok: bool
    message: str
    texts: list[str]
    labels: list[str]


@pytest.fixture
def importer(app, make_caller, tmp_path):
    """``run(via, task, name, data, encoding=None, options=())``: import ``data`` (bytes, or a
    folder path for the CLI) as file ``name`` into a new project of ``task``."""
    from click.testing import CliRunner

    from leanlife_server.cli import main

    owner = make_caller("owner")
    env = {"LEANLIFE_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "LEANLIFE_DATA_DIR": str(tmp_path / "data"), "LEANLIFE_SECRET_KEY": "test"}

    def run(via: str, task: str, name: str, data: bytes | Path, encoding: str | None = None,
            options: tuple[str, ...] = ()) -> Outcome:
        pid = create_project(owner, task)["id"]
        if via == "cli":
            path = data if isinstance(data, Path) else tmp_path / name
            if not isinstance(data, Path):
                path.write_bytes(data)
            args = ["import", str(pid), str(path)] + (["--encoding", encoding] if encoding else [])
            args += [part for option in options for part in ("--option", option)]
            result = CliRunner().invoke(main, args, env=env)
            assert result.exit_code in (0, 1), result.output
            ok, message = result.exit_code == 0, result.output
        else:
            form = {"file": (io.BytesIO(data), name), **({"encoding": encoding} if encoding else {})}
            response = owner.post(f"/api/v1/projects/{pid}/imports", data=form,
                                  content_type="multipart/form-data")
            assert response.status_code == 202, response.get_json()
            job = wait_for(owner, pid, response.get_json())
            ok, message = job["state"] == "finished", job["error"] or ""
        documents = owner.get(f"/api/v1/projects/{pid}/documents?limit=100").get_json()["items"]
        labels = owner.get(f"/api/v1/projects/{pid}/labels").get_json()["items"]
        return Outcome(ok, message, [d["text"] for d in documents], [label["name"] for label in labels])

    run.transfers = tmp_path / "data" / "transfers"
    run.owner = owner
    return run


def refused(outcome: Outcome, expected: str) -> None:
    """The import failed with ``expected`` in its message and wrote nothing."""
    assert not outcome.ok, outcome
    assert expected in " ".join(outcome.message.split()), outcome.message
    assert (outcome.texts, outcome.labels) == ([], [])


# Bytes that are not UTF-8 --------------------------------------------------------------

LATIN1_CASES = {
    "csv": ("reviews.csv", "text,label\nGood film,pos\nCafé noir,neg\nDull,neg\n", 3, 4),
    "jsonl": ("reviews.jsonl", '{"text": "Good", "label": "pos"}\n{"text": "Café", "label": "neg"}\n', 2, 14),
    "json": ("reviews.json", '[\n  {"text": "Good", "label": "pos"},\n  {"text": "Café",\n   "label": "neg"}\n]\n', 3, 16),
    "doccano": ("reviews.jsonl", '{"text": "Good", "label": ["pos"]}\n{"text": "Café", "label": ["neg"]}\n', 2, 14),
    "text": ("reviews.txt", "Good film\nCafé noir\n", 2, 4),
}


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("case", sorted(LATIN1_CASES))
def test_a_latin1_byte_names_file_line_and_column_and_the_encoding_option_reads_it(importer, via, case):
    name, text, line, column = LATIN1_CASES[case]
    data = text.encode("latin-1")
    refused(importer(via, "sa", name, data),
            f"{name}, line {line}: encoding: bytes 0xe9 at column {column} are not valid utf-8-sig text")
    assert "Traceback" not in importer(via, "sa", name, data).message
    read = importer(via, "sa", name, data, encoding="latin-1")
    assert read.ok, read.message
    assert "Café" in " ".join(read.texts)


@pytest.mark.parametrize("via", VIAS)
def test_cp1252_quotes_read_with_their_encoding(importer, via):
    data = "text\n\u201cQuoted\u201d \u2013 dash\n".encode("cp1252")
    refused(importer(via, "ner", "quotes.csv", data), "quotes.csv, line 2: encoding: bytes 0x93 at column 1")
    read = importer(via, "ner", "quotes.csv", data, encoding="cp1252")
    assert read.ok and read.texts == ["\u201cQuoted\u201d \u2013 dash"]


def _lines_then_bad(count: int, line_ending: str, bad: bytes) -> bytes:
    """``count`` lines (multi-byte characters in them, so that characters and bytes differ) and
    then one with ``bad`` in it."""
    good = "".join(f"Ünïcødé review number {i} — fine{line_ending}" for i in range(count - 1))
    return ("text" + line_ending + good).encode() + b"bad " + bad + line_ending.encode()


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("line_ending", ["\n", "\r\n", "\r"])
def test_a_bad_byte_deep_in_a_big_file_is_reported_on_its_own_line(importer, via, line_ending):
    data = _lines_then_bad(30_000, line_ending, b"\xe9t\xe9")
    assert len(data) > 1_000_000
    refused(importer(via, "ner", "big.csv", data),
            "big.csv, line 30001: encoding: bytes 0xe9 at column 5")


@pytest.mark.parametrize("via", VIAS)
def test_a_character_cut_off_at_the_end_of_the_file_is_reported(importer, via):
    data = "text\nok\ncut €".encode()[:-1]
    refused(importer(via, "ner", "cut.csv", data), "cut.csv, line 3: encoding: bytes 0xe2 0x82 at column 5")


# Characters split across read blocks, BOMs, CRLF, long lines, empty files ---------------

def _straddling_text(length: int) -> str:
    return "".join("aé€😀"[i % 4] for i in range(length))


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("name", ["long.csv", "long.jsonl", "long.json", "long.txt"])
def test_multi_byte_characters_across_read_blocks_and_long_lines_import_intact(importer, via, name):
    text = _straddling_text(300_000)  # longer than the csv module's 128 KiB field limit
    body = {"long.csv": lambda: f"text\n{text}\nshort\n",
            "long.jsonl": lambda: json.dumps({"text": text}, ensure_ascii=False) + '\n{"text": "short"}\n',
            "long.json": lambda: json.dumps([{"text": text}, {"text": "short"}], ensure_ascii=False),
            "long.txt": lambda: f"{text}\nshort\n"}[name]()
    data = body.encode()
    for block in (8192, 1 << 16):  # Python's text read size and the JSON reader's block
        assert any(data[n] & 0xC0 == 0x80 for n in range(block, len(data), block)), \
            f"no character straddles a {block}-byte boundary"
    outcome = importer(via, "ner", name, data)
    assert outcome.ok, outcome.message
    assert outcome.texts == [text, "short"]


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("encoding", [None, "utf-8", "UTF8"])
def test_a_bom_and_crlf_csv_reads_its_header_and_cells(importer, via, encoding):
    data = b"\xef\xbb\xbftext,label\r\nGood film,pos\r\n\"Two\r\nlines\",neg\r\n"
    outcome = importer(via, "sa", "excel.csv", data, encoding=encoding)
    assert outcome.ok, outcome.message
    assert outcome.texts == ["Good film", "Two\r\nlines"] and outcome.labels == ["pos", "neg"]


@pytest.mark.parametrize("via", VIAS)
def test_an_empty_csv_is_refused_and_a_header_only_csv_imports_nothing(importer, via):
    refused(importer(via, "sa", "empty.csv", b""), "empty.csv, line 1: header: the file is empty")
    outcome = importer(via, "sa", "header.csv", b"text,label\r\n")
    assert outcome.ok and outcome.texts == []
    refused(importer(via, "sa", "header.csv", b"body,label\n"),
            "header.csv, line 1: text: the header has no 'text' column (columns: body, label)")


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("name,data", [("empty.txt", b""), ("empty.jsonl", b""), ("blank.jsonl", b"\r\n\r\n")])
def test_empty_text_and_json_lines_files_import_nothing(importer, via, name, data):
    outcome = importer(via, "ner", name, data)
    assert outcome.ok and outcome.texts == [], outcome.message


# CSV files cut short, and columns that are not there ------------------------------------

@pytest.mark.parametrize("via", VIAS)
def test_a_csv_cut_inside_a_quoted_field_is_refused(importer, via):
    data = b'text,label,source\nGood film,pos,web\n"A review cut in the mid'
    refused(importer(via, "sa", "cut.csv", data),
            "cut.csv, line 3: row: a quoted field opened on or after this line is never closed")


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("data,line", [(b"text,label,source\nGood film,pos,web\nDull film,neg\n", 3),
                                       (b"text,label,source\r\nA,pos,web\r\nB,neg\r\nC,pos,web\r\n", 3),
                                       (b"text,label,source\nGood film,pos,web\nDull", 3)])
def test_a_short_row_is_refused(importer, via, data, line):
    refused(importer(via, "sa", "short.csv", data), f"short.csv, line {line}: row: has ")


def test_a_label_column_the_file_lacks_is_refused(importer):
    data = b"text,label\nGood film,pos\n"
    refused(importer("cli", "sa", "named.csv", data, options=("label_column=sentiment",)),
            "named.csv, line 1: sentiment: the header has no 'sentiment' column (columns: text, label); "
            "name it with the label_column option")
    outcome = importer("cli", "sa", "named.csv", b"text,sentiment\nGood film,pos\n",
                       options=("label_column=sentiment",))
    assert outcome.ok and outcome.labels == ["pos"]


# Folders -----------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["files", "subfolders"])
def test_a_bad_byte_in_a_class_folder_names_the_file_in_it(importer, tmp_path, layout):
    folder = tmp_path / "reviews"
    if layout == "files":
        folder.mkdir()
        (folder / "pos.txt").write_bytes(b"Great film\n")
        (folder / "neg.txt").write_bytes(b"Dull film\nCaf\xe9 noir\n")
        expected = "reviews/neg.txt, line 2: encoding: bytes 0xe9 at column 4"
    else:
        for label, text in (("pos", b"Great film\n"), ("neg", b"Dull\nCaf\xe9 noir\n")):
            (folder / label).mkdir(parents=True)
            (folder / label / "1.txt").write_bytes(text)
        expected = "reviews/neg/1.txt, line 2: encoding: bytes 0xe9 at column 4"
    refused(importer("cli", "sa", "reviews", folder), expected)
    outcome = importer("cli", "sa", "reviews", folder, encoding="latin-1")
    assert outcome.ok and "Café noir" in " ".join(outcome.texts)


# The encoding option itself ------------------------------------------------------------

def test_an_unknown_encoding_is_refused_before_anything_runs(importer, tmp_path):
    from click.testing import CliRunner

    from leanlife_server.cli import main

    source = tmp_path / "a.txt"
    source.write_text("Ann\n")
    for name in ("klingon", "base64"):
        result = CliRunner().invoke(main, ["import", "1", str(source), "--encoding", name])
        assert result.exit_code == 2 and f"'{name}' is not a text encoding" in result.output
        pid = create_project(importer.owner, "ner")["id"]
        response = importer.owner.post(f"/api/v1/projects/{pid}/imports", data={
            "file": (io.BytesIO(b"Ann\n"), "a.txt"), "encoding": name}, content_type="multipart/form-data")
        assert response.status_code == 422
        assert response.get_json()["error"]["details"]["field"] == "encoding"


# Uploads -------------------------------------------------------------------------------

def test_a_failed_import_leaves_no_upload(importer):
    refused(importer("rest", "sa", "reviews.csv", "text\nCafé\n".encode("latin-1")), "line 2")
    assert list(importer.transfers.glob("import-*")) == []


def test_an_upload_the_queue_cannot_take_is_removed(make_app, make_caller, tmp_path):
    from tests.test_jobs_support import free_port

    from leanlife_server.db import db
    from leanlife_server.db.models import Job

    app = make_app({"redis_url": f"redis://127.0.0.1:{free_port()}/0"})  # nothing listens there
    owner = Caller(app.test_client(), make_caller("owner").token)
    pid = create_project(owner, "ner")["id"]
    response = owner.post(f"/api/v1/projects/{pid}/imports", data={"file": (io.BytesIO(b"Ann\n"), "a.txt")},
                          content_type="multipart/form-data")
    assert response.status_code == 503, response.get_json()
    assert list((tmp_path / "data" / "transfers").glob("import-*")) == []
    with app.app_context():
        assert [(job.kind, job.state) for job in db.session.scalars(db.select(Job))] == [("import", "failed")]


def test_the_upload_of_an_import_whose_worker_was_killed_goes_with_the_next_upload(
        make_app, make_caller, database_url, tmp_path, redis_prefix):
    from tests.test_jobs_support import REDIS_URL, process_env, start_worker, wait_until

    settings = {"redis_url": REDIS_URL, "redis_prefix": redis_prefix, "job_heartbeat_seconds": 1,
                "job_heartbeat_timeout": 2}
    app = make_app(settings)
    owner = Caller(app.test_client(), make_caller("owner").token)
    worker = start_worker(process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                                 "secret_key": "test-secret", **settings}), tmp_path)
    try:
        pid = create_project(owner, "ner")["id"]
        big = "".join(f"Document number {i} of a long import\n" for i in range(300_000)).encode()
        doomed = owner.post(f"/api/v1/projects/{pid}/imports", data={"file": (io.BytesIO(big), "big.txt")},
                            content_type="multipart/form-data").get_json()
        wait_until(lambda: owner.get(f"/api/v1/projects/{pid}/jobs/{doomed['id']}").get_json()["progress"] > 0,
                   timeout=60, what="the import to progress")
        worker.kill()
        failed = wait_until(lambda: (j := owner.get(f"/api/v1/projects/{pid}/jobs/{doomed['id']}").get_json())
                            ["state"] == "failed" and j, timeout=15, what="the killed import to fail")
        assert "heartbeat" in failed["error"]
        transfers = tmp_path / "data" / "transfers"
        assert len(list(transfers.glob("import-*"))) == 1, "the killed import left its upload"
        worker = start_worker(process_env(tmp_path, {"database_url": database_url,
                                                     "data_dir": tmp_path / "data",
                                                     "secret_key": "test-secret", **settings}), tmp_path)
        response = owner.post(f"/api/v1/projects/{pid}/imports", data={"file": (io.BytesIO(b"Ann\n"), "a.txt")},
                              content_type="multipart/form-data")
        assert response.status_code == 202, response.get_json()
        assert len(list(transfers.glob("import-*"))) <= 1, "the killed import's upload is gone"
        job = wait_for(owner, pid, response.get_json())
        assert job["state"] == "finished", job
        assert list(transfers.glob("import-*")) == []
        documents = owner.get(f"/api/v1/projects/{pid}/documents").get_json()["items"]
        assert [d["text"] for d in documents] == ["Ann"], "the killed import wrote nothing"
    finally:
        worker.kill()
