"""Import and export speed and peak memory: documents/s and the peak resident memory of a
process that imports then exports N generated documents, on SQLite and on PostgreSQL.

    python bench/io.py [--sizes 100000,1000000] [--databases sqlite,postgres]
                       [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Each (database, size) runs in a fresh subprocess, so its peak memory (ru_maxrss) is its
own; equal peaks for both sizes mean memory does not grow with the file. The documents are
a JSON Lines file (text and metadata) written beforehand; the export is JSON Lines too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

WORDS = ("annotation explanation trigger model entity relation sentence label the a of to "
         "and in for with on by learns from data quickly server project").split()


def generate(path: Path, count: int) -> None:
    rng = random.Random(count)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20)))
            out.write(json.dumps({"text": f"{i}: {text}", "meta": {"n": i}}) + "\n")


def run_one(database_url: str, source: Path) -> dict:
    """Inside the child: migrate, import, export; time both and report peak memory."""
    from leanlife_server.app import create_app
    from leanlife_server.db.migrate import upgrade
    from leanlife_server.formats.exporter import export_file
    from leanlife_server.formats.importer import import_file
    from tests.formats_helpers import new_project

    work = Path(tempfile.mkdtemp(prefix="leanlife-io-"))
    app = create_app({"database_url": database_url, "data_dir": work, "secret_key": "bench"})
    upgrade(app)
    with app.app_context():
        project = new_project("sa")
        started = time.perf_counter()
        result = import_file(project, source, "jsonl")
        imported = time.perf_counter() - started
        started = time.perf_counter()
        export_file(work / "export.jsonl", project, "jsonl")
        exported = time.perf_counter() - started
    return {"documents": result.documents, "import_s": imported, "export_s": exported,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _postgres_database(admin_url: str, name: str, create: bool) -> str:
    url = sa.engine.make_url(admin_url)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", nargs=2, metavar=("DATABASE_URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child[0], Path(args.child[1]))))
        return
    root = Path(__file__).resolve().parents[1]
    print(f"{'database':<10} {'documents':>10} {'import docs/s':>14} {'export docs/s':>14} {'peak MB':>8}")
    with tempfile.TemporaryDirectory(prefix="leanlife-io-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            source = Path(tmp) / f"documents-{size}.jsonl"
            generate(source, size)
            for database in args.databases.split(","):
                name = f"leanlife_bench_io_{os.getpid()}"
                url = (f"sqlite:///{tmp}/bench-{size}.sqlite3" if database == "sqlite"
                       else _postgres_database(args.postgres_url, name, create=True))
                try:
                    child = subprocess.run([sys.executable, __file__, "--child", url, str(source)],
                                           cwd=root, capture_output=True, text=True, check=True,
                                           env={**os.environ, "PYTHONPATH": str(root)})
                finally:
                    if database == "postgres":
                        _postgres_database(args.postgres_url, name, create=False)
                row = json.loads(child.stdout.strip().splitlines()[-1])
                print(f"{database:<10} {row['documents']:>10} {row['documents'] / row['import_s']:>14,.0f} "
                      f"{row['documents'] / row['export_s']:>14,.0f} {row['peak_mb']:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
