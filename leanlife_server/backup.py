"""``leanlife backup DIR`` and ``leanlife restore DIR``: a whole installation (its database and
every file of its artifact store) as one folder, and back.

A backup is a folder::

    manifest.json        what is inside: database kind, schema revision, artifact count
    database.sqlite3     SQLite: an online copy (sqlite3's backup API, as `sqlite3 .backup`)
    database.pgdump      PostgreSQL: `pg_dump --format=custom`
    artifacts/KEY...     every file of the artifact store, by key (data dir or bucket alike)
    secret_key           the data dir's generated secret key, when LEANLIFE_SECRET_KEY is unset

It is taken while web processes and workers run. The database comes first and the files
after: every file a row of the copied database names was stored before that row was
committed (``pipeline/model_store.py``), so it is in the copy; files written meanwhile are
extra, harmless ones. The folder is written under a temporary name and renamed when whole,
so a backup exists complete or not at all.

Restore goes into an *empty* database (a new SQLite file, or a PostgreSQL database just
created), with the web processes and workers stopped; it refuses a database that has tables,
so a mistyped URL never overwrites a live installation.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import click
import sqlalchemy as sa
from flask import Flask

from leanlife_server import __version__
from leanlife_server.db.migrate import current_revision
from leanlife_server.storage import STORE_KEY, LocalStore, Store

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE, PG_FILE, ARTIFACTS, SECRET = "database.sqlite3", "database.pgdump", "artifacts", "secret_key"
# The store's top-level folders (models, batch prediction results, uploads and exports). With
# the default store these sit in the data dir beside files that are no artifacts (the SQLite
# database, caches, scratch copies), so the backup names what it takes.
ARTIFACT_PREFIXES = ("models/", "results/", "transfers/")


def _database(app: Flask) -> tuple[str, sa.engine.URL]:
    url = sa.engine.make_url(app.config["LEANLIFE"].database_url)
    kind = url.get_backend_name()
    if kind not in ("sqlite", "postgresql"):
        raise click.ClickException(f"LEANLIFE_DATABASE_URL: cannot back up a {kind!r} database "
                                   f"(SQLite and PostgreSQL only)")
    return kind, url


def _sqlite_path(url: sa.engine.URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise click.ClickException("LEANLIFE_DATABASE_URL: an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _libpq(url: sa.engine.URL) -> tuple[str, dict[str, str]]:
    """A ``postgresql://`` URI for pg_dump/pg_restore (no driver, no password: that goes in
    PGPASSWORD, out of the process list) and their environment."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _run(args: list[str], env: dict[str, str]) -> None:
    if not shutil.which(args[0]):
        raise click.ClickException(f"{args[0]} is not installed (Debian: apt-get install postgresql-client)")
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode:
        raise click.ClickException(f"{args[0]} failed (exit {done.returncode}): {done.stderr.strip()}")


def artifact_keys(store: Store) -> Iterator[str]:
    """Every key under the artifact prefixes. (LocalStore.keys lists one folder; a backup
    needs all of them, old releases' model folders included.)"""
    for prefix in ARTIFACT_PREFIXES:
        if isinstance(store, LocalStore):
            folder = store.root / prefix
            if folder.is_dir():
                for path in sorted(folder.rglob("*")):
                    if path.is_file() and not path.name.endswith(".tmp"):  # half-written copies
                        yield path.relative_to(store.root).as_posix()
        else:
            yield from store.keys(prefix)


def backup(app: Flask, target: Path) -> dict:
    """Write the backup folder ``target`` (which must not exist); its manifest."""
    target = Path(target).resolve()
    if target.exists():
        raise click.ClickException(f"{target} exists; name a new folder for each backup")
    kind, url = _database(app)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    partial.mkdir(parents=True)
    try:
        revision = current_revision(app)
        if kind == "sqlite":
            # The backup API copies a consistent snapshot while other connections write.
            source, copy = sqlite3.connect(_sqlite_path(url)), sqlite3.connect(partial / SQLITE_FILE)
            try:
                with copy:
                    source.backup(copy)
            finally:
                source.close()
                copy.close()
        else:
            uri, env = _libpq(url)
            _run(["pg_dump", "--format=custom", f"--file={partial / PG_FILE}", uri], env)
        store: Store = app.extensions[STORE_KEY]
        count = 0
        for key in artifact_keys(store):
            path = partial / ARTIFACTS / key
            path.parent.mkdir(parents=True, exist_ok=True)
            with store.open(key) as source, path.open("wb") as out:  # streamed, never whole in memory
                shutil.copyfileobj(source, out, 1024 * 1024)
            count += 1
        settings = app.config["LEANLIFE"]
        generated = settings.data_dir / SECRET
        has_secret = not os.environ.get("LEANLIFE_SECRET_KEY") and generated.is_file()
        if has_secret:  # browser sessions survive the restore
            shutil.copy2(generated, partial / SECRET)
        manifest = {"format": FORMAT, "leanlife_version": __version__, "database": kind,
                    "revision": revision, "artifacts": count, "store": store.describe(),
                    "secret_key": has_secret}
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        os.chmod(partial, 0o700)  # password hashes, and maybe the secret key
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def _read_manifest(source: Path) -> dict:
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise click.ClickException(f"{source}: no {MANIFEST}; not a LeanLife backup (or an incomplete one)") from None
    if manifest.get("format") != FORMAT:
        raise click.ClickException(f"{source / MANIFEST}: backup format {manifest.get('format')!r}, "
                                   f"this release reads format {FORMAT}")
    return manifest


def _has_tables(app: Flask) -> bool:
    from leanlife_server.db import db

    with app.app_context():
        try:
            return bool(sa.inspect(db.engine).get_table_names())
        finally:
            db.engine.dispose()  # no connection of ours stays open on what is restored


def restore(app: Flask, source: Path) -> dict:
    """Put the backup folder ``source`` into this installation's empty database and its store."""
    source = Path(source).resolve()
    manifest = _read_manifest(source)
    kind, url = _database(app)
    if manifest["database"] != kind:
        raise click.ClickException(f"{source} holds a {manifest['database']} database, but "
                                   f"LEANLIFE_DATABASE_URL is {kind}")
    if kind == "sqlite":
        path = _sqlite_path(url)
        if path.exists() and path.stat().st_size:  # create_app may have made it, empty
            if _has_tables(app):
                raise click.ClickException(f"{path} already holds a database: move it away first")
        path.parent.mkdir(parents=True, exist_ok=True)
        copy = sqlite3.connect(path)
        backup_file = sqlite3.connect(source / SQLITE_FILE)
        try:
            with copy:
                backup_file.backup(copy)
        finally:
            backup_file.close()
            copy.close()
    else:
        if _has_tables(app):
            raise click.ClickException(f"database {url.database!r} is not empty: restore into a new "
                                       f"database (createdb) or drop this one first")
        uri, env = _libpq(url)
        # One transaction: a failed restore leaves the database empty, ready for another try.
        _run(["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction",
              f"--dbname={uri}", str(source / PG_FILE)], env)
    store: Store = app.extensions[STORE_KEY]
    files = source / ARTIFACTS
    count = 0
    for path in sorted(files.rglob("*")) if files.is_dir() else []:
        if path.is_file():
            store.put_file(path.relative_to(files).as_posix(), path)
            count += 1
    if manifest.get("secret_key") and not os.environ.get("LEANLIFE_SECRET_KEY"):
        settings = app.config["LEANLIFE"]
        target = settings.data_dir / SECRET
        tmp = target.with_name(f".{SECRET}.tmp")
        shutil.copyfile(source / SECRET, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    if count != manifest["artifacts"]:
        raise click.ClickException(f"{source}: the manifest counts {manifest['artifacts']} artifacts "
                                   f"but {count} were restored; the backup is damaged")
    return manifest


@click.command("backup")
@click.argument("target", type=click.Path(path_type=Path))
def backup_command(target: Path) -> None:
    """Back up the database and the artifact store into the new folder TARGET (while running)."""
    from leanlife_server.cli_app import command_app

    manifest = backup(command_app(), target)
    click.echo(f"backed up a {manifest['database']} database at revision {manifest['revision']} and "
               f"{manifest['artifacts']} artifacts from {manifest['store']} into {target}")


@click.command("restore")
@click.argument("source", type=click.Path(path_type=Path, exists=True, file_okay=False))
def restore_command(source: Path) -> None:
    """Restore the backup folder SOURCE into an empty database and the artifact store
    (web processes and workers stopped); then run `leanlife db upgrade`."""
    from leanlife_server.cli_app import command_app

    app = command_app()
    manifest = restore(app, source)
    click.echo(f"restored a {manifest['database']} database at revision {manifest['revision']} and "
               f"{manifest['artifacts']} artifacts into {app.extensions[STORE_KEY].describe()}; "
               f"now run `leanlife db upgrade`")
