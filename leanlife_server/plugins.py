"""One pluggy PluginManager per app, and the registries collected from it at start-up; the
core's own reactions to events are plugins too (``DEFAULT_PLUGINS``)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Iterable

import pluggy

from leanlife_server import hookspecs
from leanlife_server.events import Event
from leanlife_server.references import reference_problem
from leanlife_server.plugin_api import (
    FormatDefinition,
    ModelDefinition,
    QueryStrategyDefinition,
    TaskDefinition,
)

ENTRY_POINT_GROUP = "leanlife"
# The core's reactions to the live loop's events, modules registered by the app (create_app)
# under these names before any other plugin: pluggy calls the last registered first, so every
# plugin hears an event before the core reacts. LEANLIFE_BLOCKED_PLUGINS leaves one out, for a
# plugin that takes its place. Not imported by this module: loading plugins outside a server
# (extract.load) needs none of them.
DEFAULT_PLUGINS = (
    "leanlife_server.pipeline.policy",  # retraining: cheap models on every change, the owner's policy
    "leanlife_server.realtime.push",  # Socket.IO: documents, recommendations, models, queues
    "leanlife_server.active.queue",  # ranks each member's queue again after a retraining job
)
# The fields of each definition type that hold dotted references, checked at start-up.
REFERENCE_FIELDS: dict[type, tuple[str, ...]] = {
    ModelDefinition: ("factory", "explanation_parser"),
    FormatDefinition: ("importer", "exporter", "sniff"),
    QueryStrategyDefinition: ("factory",),
}


class PluginError(RuntimeError):
    """A plugin that cannot be loaded or that conflicts with another."""


@dataclass
class Registry:
    """Definitions of one kind, by name, each with the plugin that registered it."""

    kind: str
    items: dict[str, Any] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def add(self, definition: Any, owner: str) -> None:
        name = definition.name
        if name in self.items:
            raise PluginError(f"{self.kind} {name!r} is registered twice: by plugin "
                              f"{self.owners[name]!r} and by plugin {owner!r}")
        self.items[name] = definition
        self.owners[name] = owner

    def get(self, name: str) -> Any:
        return self.items.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.items

    def __iter__(self):
        return iter(self.items.values())


@dataclass
class Plugins:
    """The loaded plugins of one app."""

    manager: pluggy.PluginManager
    tasks: Registry
    models: Registry
    formats: Registry
    query_strategies: Registry

    def notify(self, event: Event) -> None:
        """Announce ``event``: its hook is called on every plugin, the core's reactions last."""
        getattr(self.manager.hook, event.hook)(**event.hook_arguments())

    def suggested_model(self, task: str, explanation_kind: str) -> str | None:
        """The model a new ``task`` project with ``explanation_kind`` starts with: one that
        serves the task and is suggested for the kind (the first by name when several are)."""
        names = sorted(m.name for m in self.models
                       if task in m.tasks and explanation_kind in m.suggested_for)
        return names[0] if names else None

    def describe(self) -> list[dict[str, str]]:
        """Every registration, for ``leanlife plugins`` and ``GET /api/v1/plugins``."""
        rows = []
        for registry in (self.tasks, self.models, self.formats, self.query_strategies):
            for name, definition in registry.items.items():
                owner = registry.owners[name]
                row = {"kind": registry.kind, "name": name, "plugin": owner,
                       "version": plugin_version(self.manager, owner),
                       "description": getattr(definition, "description", "")}
                # Models, formats and strategies serve some tasks: the console offers only those
                # that serve the project's.
                if registry is not self.tasks:
                    row["tasks"] = list(definition.tasks)
                if registry is self.formats:
                    row["tasks"] = [task for task in self.tasks.items if definition.serves(task)]
                    row.update({"imports": definition.importer is not None,
                                "exports": definition.exporter is not None,
                                "directories": definition.directories})
                rows.append(row)
        return rows


def plugin_version(manager: pluggy.PluginManager, plugin_name: str) -> str:
    for plugin, dist in manager.list_plugin_distinfo():
        if manager.get_name(plugin) == plugin_name:
            return dist.version
    return ""


def _installed_names() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def build_manager(names: list[str] | None = None, extra: Iterable[Any] = (),
                  defaults: Iterable[str] = (), blocked: Iterable[str] = ()) -> pluggy.PluginManager:
    """Register the ``defaults`` modules, then entry-point plugins (all, or those in ``names``),
    then ``extra`` objects; none named in ``blocked``."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    defaults = tuple(defaults)
    for name in blocked:
        if name not in defaults and name not in _installed_names():
            raise PluginError(f"LEANLIFE_BLOCKED_PLUGINS names {name!r}, which is neither a built-in "
                              f"plugin ({', '.join(defaults) or 'none loaded here'}) nor an installed "
                              f"entry point ({', '.join(_installed_names()) or 'none'})")
        manager.set_blocked(name)
    for name in defaults:
        if not manager.is_blocked(name):
            manager.register(importlib.import_module(name), name)
    for name in names if names is not None else [None]:
        try:
            count = manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
        except Exception as exc:  # a broken plugin must say which one it is
            raise PluginError(f"a plugin in entry point group {ENTRY_POINT_GROUP!r} "
                              f"failed to load: {exc}") from exc
        if name is not None and count == 0 and manager.get_plugin(name) is None:
            raise PluginError(f"LEANLIFE_PLUGINS names {name!r}, which no installed package "
                              f"registers in entry point group {ENTRY_POINT_GROUP!r} "
                              f"(installed: {', '.join(_installed_names()) or 'none'})")
    for plugin in extra:
        try:
            manager.register(plugin)
        except pluggy.PluginValidationError as exc:  # e.g. an argument the hook does not pass
            raise PluginError(f"a plugin does not fit the hook contract: {exc}") from exc
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"unknown hook in plugin {exc.plugin!r}: {exc}") from exc
    return manager


def _collect(manager: pluggy.PluginManager, hook_name: str, kind: str, expected: type) -> Registry:
    registry = Registry(kind)
    hook = getattr(manager.hook, hook_name)
    for impl in hook.get_hookimpls():  # registration order (pluggy calls them in reverse)
        owner = manager.get_name(impl.plugin) or repr(impl.plugin)
        definitions = impl.function()
        if definitions is None:
            continue
        if not isinstance(definitions, (list, tuple)):
            raise PluginError(f"plugin {owner!r}: {hook_name}() must return a list of "
                              f"{expected.__name__} objects, got {type(definitions).__name__}")
        for definition in definitions:
            if not isinstance(definition, expected):
                raise PluginError(f"plugin {owner!r}: {hook_name}() must return "
                                  f"{expected.__name__} objects, got {type(definition).__name__}")
            registry.add(definition, owner)
    return registry


def load_plugins(names: list[str] | None = None, extra: Iterable[Any] = (),
                 defaults: Iterable[str] = (), blocked: Iterable[str] = ()) -> Plugins:
    manager = build_manager(names, extra, defaults, blocked)
    plugins = Plugins(
        manager=manager,
        tasks=_collect(manager, "leanlife_tasks", "task", TaskDefinition),
        models=_collect(manager, "leanlife_models", "model", ModelDefinition),
        formats=_collect(manager, "leanlife_formats", "format", FormatDefinition),
        query_strategies=_collect(manager, "leanlife_query_strategies", "query_strategy",
                                  QueryStrategyDefinition),
    )
    for model in plugins.models:
        unknown = [t for t in model.tasks if t not in plugins.tasks]
        if unknown:
            raise PluginError(f"model {model.name!r} serves unknown task(s) {unknown}")
    _check_references(plugins)
    return plugins


def _check_references(plugins: Plugins) -> None:
    """A dotted path that names nothing stops the start, naming the plugin that wrote it."""
    for registry in (plugins.models, plugins.formats, plugins.query_strategies):
        for name, definition in registry.items.items():
            for field_name in REFERENCE_FIELDS[type(definition)]:
                dotted = getattr(definition, field_name)
                problem = dotted is not None and reference_problem(dotted)
                if problem:
                    raise PluginError(f"plugin {registry.owners[name]!r}: {registry.kind} {name!r}: "
                                      f"{field_name} {dotted!r} {problem}")
