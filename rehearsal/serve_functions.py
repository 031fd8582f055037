"""The app's HTTP and timer functions as `serve` invokes them: real decorated entry points.

Read from `function_app.app.get_functions()` (through the process-wide cache): the route,
methods and parameter names come from the bindings, and a `durableClient` parameter gets the
binding JSON string, which the DFApp's wrapper turns into the SDK's DurableOrchestrationClient,
as the Python worker does. Async entry points run on one event loop thread, as in the worker
(the SDK's aiohttp session belongs to that loop).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from azure.durable_functions.models.utils import http_utils

from replayhost.functions import registered_functions

_PARAM = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\??\}$")


def _bindings(fn: Any) -> list[dict[str, Any]]:
    return [json.loads(b) if isinstance(b, str) else dict(b) for b in fn.get_raw_bindings()]


def _client_name(bindings: list[dict[str, Any]]) -> str | None:
    return next((b["name"] for b in bindings if b["type"] == "durableClient"), None)


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: str
    methods: frozenset[str]
    auth_level: str
    request_name: str
    client_name: str | None
    entry: Callable[..., Any]

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """Route params when the (percent-decoded) path segments fit the template, else None.

        Literal segments compare case-insensitively, as ASP.NET Core routing does on Azure;
        parameter values keep their case.
        """
        template = self.route.strip("/").split("/")
        params: dict[str, str] = {}
        for i, part in enumerate(template):
            param = _PARAM.match(part)
            if param and param.group(1):  # catch-all {*rest}
                params[param.group(2)] = "/".join(segments[i:])
                return params
            if i >= len(segments):
                return None
            if param:
                if not segments[i]:
                    return None
                params[param.group(2)] = segments[i]
            elif part.lower() != segments[i].lower():
                return None
        return params if len(segments) == len(template) else None


@dataclass(frozen=True)
class TimerFunction:
    name: str
    schedule: str  # as bound, e.g. "%HEALTH_PROBE_SCHEDULE%"
    run_on_startup: bool
    timer_name: str
    client_name: str | None
    entry: Callable[..., Any]


def http_functions(app: Any) -> list[HttpFunction]:
    found = []
    for fn in registered_functions(app):
        bindings = _bindings(fn)
        trigger = next((b for b in bindings if b["type"] == "httpTrigger"), None)
        if trigger is None:
            continue
        found.append(HttpFunction(
            name=fn.get_function_name(), route=trigger.get("route") or fn.get_function_name(),
            methods=frozenset(m.upper() for m in trigger.get("methods") or ("GET", "POST")),
            auth_level=str(trigger.get("authLevel", "FUNCTION")).upper(), request_name=trigger["name"],
            client_name=_client_name(bindings), entry=fn.get_user_function()))
    return found


def timer_functions(app: Any) -> list[TimerFunction]:
    found = []
    for fn in registered_functions(app):
        bindings = _bindings(fn)
        trigger = next((b for b in bindings if b["type"] == "timerTrigger"), None)
        if trigger is not None:
            found.append(TimerFunction(fn.get_function_name(), trigger["schedule"], bool(trigger.get("runOnStartup")),
                                       trigger["name"], _client_name(bindings), fn.get_user_function()))
    return found


def split_path(path: str) -> list[str]:
    return [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []


class Invoker:
    """Calls entry points: coroutines on the one worker loop, plain functions in the caller's thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="functions-worker", daemon=True)
        self._thread.start()

    def call(self, entry: Callable[..., Any], kwargs: dict[str, Any], timeout: float = 300.0) -> Any:
        if inspect.iscoroutinefunction(entry):
            return asyncio.run_coroutine_threadsafe(entry(**kwargs), self.loop).result(timeout)
        return entry(**kwargs)

    def stop(self) -> None:
        if not self.loop.is_running():
            return
        try:  # the SDK's module-global aiohttp session lives on this loop: close it here
            asyncio.run_coroutine_threadsafe(http_utils._close_session(), self.loop).result(5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
            self.loop.close()
