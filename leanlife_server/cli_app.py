"""The app a ``leanlife`` command works in. Its own module because the commands that live
beside their machinery (``backup``, ``formats.commands``) need it, and the CLI imports them."""

from __future__ import annotations

import click

from leanlife_server.app import create_app
from leanlife_server.plugins import PluginError


def command_app():
    """``create_app()``, with a plugin that does not load reported as the command's error."""
    try:
        return create_app()
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
