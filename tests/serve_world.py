"""`hubfailover serve` in-process over a fresh drill world (one pair, simulated hubs) on the test Azurite."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from failover.domain.identity import Actor
from failover.services import services
from rehearsal.scenario import DrillOptions, Scenario, prepare
from rehearsal.serve import LocalServer, ServeOptions
from replayhost.azurite import AzuriteEndpoints
from tests.durable_world import world_options
from tests.waiting import wait_until

KEY = "test-key-" + uuid.uuid4().hex


def principal(*claims: tuple[str, str], role_typ: str = "roles") -> str:
    """Easy Auth's x-ms-client-principal: base64 JSON in the shape Microsoft documents
    (configure-authentication-user-identities: auth_typ, name_typ, role_typ, claims of typ/val)."""
    body = {"auth_typ": "aad", "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "role_typ": role_typ, "claims": [{"typ": t, "val": v} for t, v in claims]}
    return base64.b64encode(json.dumps(body).encode()).decode()


def unverified(name: str) -> str:
    """How the audit and the report name a function key holder who says it is ``name``."""
    return Actor(name, False, "by").label


@dataclass
class Served:
    server: LocalServer
    scenario: Scenario
    options: DrillOptions

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def pair(self) -> str:
        return self.scenario.pair

    @property
    def instance_id(self) -> str:
        return f"failover-{self.pair}"

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = KEY,
             headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any, dict[str, str]]:
        """An HTTP call to serve (path relative to the origin), as curl would make it."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["x-functions-key"] = key
        url = path if path.startswith("http") else self.url + path
        req = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                payload, code, got = resp.read(), resp.status, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            payload, code, got = exc.read(), exc.code, dict(exc.headers)
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload
        return code, parsed, got

    def wait_status(self, until: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        seen: list[Any] = []

        def status() -> dict[str, Any] | None:
            code, body, _ = self.call("GET", f"/api/failovers/{self.instance_id}")
            seen[:] = [code, body]
            return body if code == 200 and until(body) else None

        return wait_until(status, timeout, lambda: f"{self.instance_id}: {seen}")

    def wait_done(self, timeout: float = 60) -> dict[str, Any]:
        return self.wait_status(lambda b: b["runtime_status"] in ("Completed", "Failed", "Terminated"), timeout)

    def wait_approval(self, timeout: float = 60) -> dict[str, Any]:
        return self.wait_status(lambda b: b["stage"] == "awaiting_approval", timeout)

    def sync_catalog(self) -> None:
        """Run the real catalog_sync timer function once (it syncs the active hub of every pair)."""
        from function_app import app
        from rehearsal.ncrontab import Schedule
        from rehearsal.serve_functions import timer_functions
        from rehearsal.serve_timers import TimerLoop

        [timer] = [t for t in timer_functions(app) if t.name == "catalog_sync"]
        assert self.server.invoker is not None
        loop = TimerLoop(timer, Schedule.parse("0 0 0 * * *"), self.server.invoker, self.server.binding,
                         threading.Event())
        loop.fire()
        assert loop.runs == 1, loop.last_error

    def record_probes(self, hub: str, ok: bool, times: int) -> None:
        from datetime import UTC, datetime

        for _ in range(times):
            services().pair_state.record_probe(self.pair, {hub: (ok, "test")}, datetime.now(UTC))


@contextmanager
def served(azurite: AzuriteEndpoints, *, timers: bool = False, **overrides: Any) -> Iterator[Served]:
    options = world_options(**overrides)
    scenario = prepare(options, azurite.connection_string)  # FAILOVER_CONFIG, DR_STORAGE_CONNECTION set
    server = LocalServer(ServeOptions(port=0, storage=azurite.connection_string, task_hub=f"s{options.pair}",
                                      timers=timers), KEY)
    server.start()
    try:
        yield Served(server, scenario, options)
    finally:
        server.stop()
