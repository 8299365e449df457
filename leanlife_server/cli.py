"""The ``leanlife`` command."""

from __future__ import annotations

import sys

import click

from leanlife_server.backup import backup_command, restore_command
from leanlife_server.cli_app import command_app
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade
from leanlife_server.formats.commands import export_command, import_command
from leanlife_server.jobs.lanes import LANES, checked_lanes
from leanlife_server.plugins import PluginError


@click.group()
def main() -> None:
    """LeanLife annotation server. Settings come from LEANLIFE_* environment variables."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int,
              help="Processes; keep 1 unless LEANLIFE_REDIS_URL is set (Socket.IO needs one).")
@click.option("--threads", default=32, show_default=True, type=int)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Migrate the database and serve the API and UI."""
    from leanlife_server.server import run

    from leanlife_server.auth import FIRST_ADMIN, create_first_admin

    app = command_app()
    upgrade(app)
    settings = app.config["LEANLIFE"]
    with app.app_context():
        password = create_first_admin(settings.data_dir)
    if password:
        click.echo(f"Created the first admin: user {FIRST_ADMIN!r}, password {password!r} "
                   f"(also in {settings.data_dir / 'initial-admin-password'}).")
    if not settings.redis_url:  # embedded: jobs run in this process, so none survived a restart
        from leanlife_server.jobs import abandon_unfinished_jobs
        from leanlife_server.jobs.runners import child_lanes

        try:
            child_lanes(app)
        except ValueError as exc:
            raise click.ClickException(f"LEANLIFE_CHILD_PROCESS_LANES: {exc}") from exc
        with app.app_context():
            abandon_unfinished_jobs("the server restarted before this job finished; train again")
    click.echo(f"LeanLife on http://{host}:{port}  (data: {settings.data_dir}, "
               f"database: {settings.database_url.split('@')[-1]}, jobs: "
               f"{'RQ workers' if settings.redis_url else 'in-process'})")
    if workers > 1 and not settings.redis_url:
        click.echo(f"warning: {workers} workers without LEANLIFE_REDIS_URL: a live update reaches "
                   f"only the browsers connected to the worker that sent it; set "
                   f"LEANLIFE_REDIS_URL so that every worker reaches every browser", err=True)
    _warn_if_connections_run_out(app, workers, threads)
    run(app, host, port, workers, threads)


def _warn_if_connections_run_out(app, workers: int, threads: int) -> None:
    """PostgreSQL refuses connections past its max_connections; requests then answer 503."""
    needed = workers * threads
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return
        limit = int(db.session.execute(db.text("SHOW max_connections")).scalar_one())
        db.session.remove()
    if needed > limit:
        click.echo(f"warning: --workers x --threads = {needed} request threads, but PostgreSQL allows "
                   f"{limit} connections (max_connections): past that, requests answer 503; use "
                   f"--threads {max(1, limit // 2 // workers)} or raise max_connections (docs/admin.md)",
                   err=True)


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--lane", "lanes", multiple=True, type=click.Choice(LANES),
              help="Serve only this lane (repeatable); default: every lane, small jobs first.")
def worker(burst: bool, lanes: tuple[str, ...]) -> None:
    """Run background jobs (training, prediction, import, export) from LEANLIFE_REDIS_URL."""
    from leanlife_server.jobs.worker import work

    app = command_app()
    if not app.config["LEANLIFE"].redis_url:
        raise click.ClickException("LEANLIFE_REDIS_URL is not set; a worker needs Redis "
                                   "(without it, `leanlife serve` runs jobs itself)")
    work(app, burst=burst, lanes=checked_lanes(lanes))


@main.command()
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user a site admin.")
def createuser(username: str, admin: bool) -> None:
    """Create a user; the password comes from a prompt, or from stdin when piped."""
    from leanlife_server.auth import create_user
    from leanlife_server.errors import ApiError

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    app = command_app()
    upgrade(app)
    with app.app_context():
        try:
            user = create_user(username, password, is_admin=admin)
        except ApiError as exc:
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(f"created {'admin' if user.is_admin else 'user'} {user.username!r} (id {user.id})")


@main.command("plugins")
def list_plugins() -> None:
    """List every registered task, model, format and query strategy."""
    from leanlife_server.config import load_settings
    from leanlife_server.plugins import load_plugins

    # Not the app: it would create the data dir (and a secret key in it) wherever this runs.
    try:
        rows = load_plugins(load_settings(secret=False).plugin_names).describe()
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    if not rows:
        click.echo("no plugins registered")
    for row in rows:
        click.echo(f"{row['kind']:<15} {row['name']:<24} {row['plugin']:<12} {row['version']}")


@main.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply schema migrations."""
    app = command_app()
    upgrade(app, revision)
    click.echo(f"database at revision {revision}")


main.add_command(import_command)
main.add_command(export_command)
main.add_command(backup_command)
main.add_command(restore_command)
