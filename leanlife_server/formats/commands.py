"""``leanlife import`` and ``leanlife export``, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa

from leanlife_server.db import db
from leanlife_server.db.models import Project, User
from leanlife_server.formats.encoding import text_encoding
from leanlife_server.formats.exporter import export_file
from leanlife_server.formats.importer import import_file
from leanlife_server.formats.reader import ANNOTATORS, GOLD, LAYERS, ExportFilters
from leanlife_server.formats.writer import DUPLICATE_POLICIES, KEEP
from leanlife_server.plugin_api import FormatError

STEPS = 1000


def _ready_app():
    from leanlife_server.cli_app import command_app
    from leanlife_server.db.migrate import upgrade

    app = command_app()
    upgrade(app)
    return app


def _project(ref: str) -> Project:
    """A project by id, or by name when exactly one project has it."""
    if ref.isdigit() and (project := db.session.get(Project, int(ref))) is not None:
        return project
    matches = db.session.scalars(sa.select(Project).where(Project.name == ref)).all()
    if len(matches) != 1:
        raise click.ClickException(f"no project {ref!r}" if not matches else
                                   f"{len(matches)} projects are named {ref!r}; give its id")
    return matches[0]


def _options(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        out[key] = value
    return out


class _Bar:
    """A click progress bar driven by fractions."""

    def __init__(self, bar):
        self.bar = bar

    def __call__(self, fraction: float, phase: str = "") -> None:
        if phase:
            self.bar.label = f"{phase:<10}"
        self.bar.update(max(0, int(fraction * STEPS) - self.bar.pos))


@click.command("import")
@click.argument("project")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--format", "format_name", help="A format name (see `leanlife plugins`); guessed "
                                              "from the file when left out.")
@click.option("--duplicates", type=click.Choice(DUPLICATE_POLICIES), default=KEEP, show_default=True,
              help="A document whose text the project (or the file) already has.")
@click.option("--encoding", help="The file's text encoding, e.g. latin-1 or cp1252  "
                                "[default: utf-8, with or without a BOM]")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A format option, e.g. text_column=body.")
def import_command(project: str, file: Path, format_name: str | None, duplicates: str,
                   encoding: str | None, options: tuple[str, ...]) -> None:
    """Import FILE (or a folder) into PROJECT (id or name): all of it, or nothing."""
    try:
        text_encoding(encoding)
    except FormatError as exc:
        raise click.BadParameter(exc.message, param_hint="--encoding") from None
    app = _ready_app()
    with app.app_context():
        target = _project(project)
        try:
            with click.progressbar(length=STEPS, label="validating", file=sys.stderr) as bar:
                result = import_file(target, file, format_name, duplicates, _options(options),
                                     progress=_Bar(bar), encoding=encoding)
        except FormatError as exc:
            raise click.ClickException(f"nothing was imported: {exc}") from exc
    click.echo(f"imported {result.documents} documents, {result.annotations} annotations, "
               f"{result.explanations} explanations ({result.format}) into project {target.id}")
    if result.skipped_duplicates:
        click.echo(f"skipped {result.skipped_duplicates} duplicate documents")
    if result.duplicate_annotations:
        click.echo(f"kept one copy of annotations given twice: left out {result.duplicate_annotations}")
    if result.labels_created:
        click.echo(f"created labels: {', '.join(result.labels_created)}")
    if result.unknown_annotators:
        click.echo(f"not project members (stored as imported): {', '.join(result.unknown_annotators)}")


@click.command("export")
@click.argument("project")
@click.option("--format", "format_name", required=True, help="A format name (see `leanlife plugins`).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--annotator", help="Only this user's annotations (a user name).")
@click.option("--finished-only", is_flag=True, help="Only documents marked finished.")
@click.option("--recommendations/--no-recommendations", default=True, show_default=True,
              help="Include accepted recommendations.")
@click.option("--layer", type=click.Choice(LAYERS), default=ANNOTATORS, show_default=True,
              help="The annotators' work, the gold layer (curation), or all (gold by 'gold').")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="A format option.")
def export_command(project: str, format_name: str, output: Path, annotator: str | None,
                   finished_only: bool, recommendations: bool, layer: str, options: tuple[str, ...]) -> None:
    """Export PROJECT (id or name) to a file."""
    app = _ready_app()
    with app.app_context():
        target = _project(project)
        user_id = None
        if annotator is not None:
            user_id = db.session.scalar(sa.select(User.id).where(User.username == annotator))
            if user_id is None:
                raise click.ClickException(f"no user {annotator!r}")
        if layer == GOLD and user_id is not None:
            raise click.BadParameter("the gold layer belongs to no annotator", param_hint="--annotator")
        filters = ExportFilters(user_id, finished_only, recommendations, layer)
        try:
            with click.progressbar(length=STEPS, label="exporting", file=sys.stderr) as bar:
                export_file(output, target, format_name, filters, _options(options), _Bar(bar))
        except FormatError as exc:
            raise click.ClickException(f"export failed: {exc}") from exc
    click.echo(f"exported project {target.id} to {output} ({format_name})")
