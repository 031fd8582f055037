"""The orchestrators and activities registered on a DFApp, as the host invokes them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.durable_functions as df

PROJECT_ROOT = Path(__file__).resolve().parent.parent

OrchestratorHandle = Callable[[Any], str]


@dataclass(frozen=True)
class Activity:
    fn: Callable[..., Any]
    input_name: str

    def __call__(self, payload: Any) -> Any:
        return self.fn(**{self.input_name: payload})


@dataclass(frozen=True)
class FunctionTable:
    orchestrators: dict[str, OrchestratorHandle]
    activities: dict[str, Activity]


# DFApp.get_functions() works once per app object (a second call raises): every caller in
# this process (host, local server, tests) goes through this cache.
_functions: dict[int, tuple[df.DFApp, list[Any]]] = {}
_tables: dict[int, tuple[df.DFApp, FunctionTable]] = {}


def registered_functions(app: df.DFApp) -> list[Any]:
    cached = _functions.get(id(app))
    if cached is None or cached[0] is not app:
        cached = (app, list(app.get_functions()))
        _functions[id(app)] = cached
    return cached[1]


def function_table(app: df.DFApp) -> FunctionTable:
    cached = _tables.get(id(app))
    if cached is not None and cached[0] is app:
        return cached[1]
    orchestrators: dict[str, OrchestratorHandle] = {}
    activities: dict[str, Activity] = {}
    for fn in registered_functions(app):
        trigger = fn.get_trigger()
        if trigger is None:
            continue
        name = fn.get_function_name()
        if trigger.type == "orchestrationTrigger":
            orchestrators[name] = fn.get_user_function()
        elif trigger.type == "activityTrigger":
            activities[name] = Activity(fn.get_user_function(), trigger.name)
    table = FunctionTable(orchestrators, activities)
    _tables[id(app)] = (app, table)
    return table


def host_max_concurrent_activities(default: int = 8) -> int:
    """maxConcurrentActivityFunctions from host.json, so local runs bound concurrency like Azure."""
    try:
        host = json.loads((PROJECT_ROOT / "host.json").read_text())
        return int(host["extensions"]["durableTask"]["maxConcurrentActivityFunctions"])
    except (OSError, KeyError, ValueError, TypeError):
        return default
