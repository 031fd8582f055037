"""A local world for trigger tests: Azurite + simulated hubs + replay host + the Durable HTTP API.

The triggers run through their real decorated entry points (from function_app), with the
SDK's own DurableOrchestrationClient bound to the replay host, as the Functions host would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from azure.durable_functions.models.utils import http_utils

from rehearsal.scenario import DrillOptions, Scenario, prepare
from replayhost.azurite import AzuriteEndpoints
from replayhost.clock import Clock, SkippingClock
from replayhost.engine import Delivery, ReplayHost
from replayhost.functions import registered_functions
from replayhost.management_api import ManagementApi
from replayhost.store import AzureStorageStore

T = TypeVar("T")


def entry_point(name: str) -> Callable[..., Any]:
    from function_app import app

    for fn in registered_functions(app):
        if fn.get_function_name() == name:
            return fn.get_user_function()
    raise LookupError(name)


def run(step: Callable[[], Awaitable[T]]) -> T:
    """asyncio.run, closing the SDK's module-global aiohttp session inside the same loop."""
    async def main() -> T:
        try:
            return await step()
        finally:
            await http_utils._close_session()

    return asyncio.run(main())


def forget_sdk_session() -> None:
    """Drop the SDK's global aiohttp session after calls from several event loops (threads).

    Its loops are closed by then, so it can't be closed properly; the next call makes a new one.
    """
    http_utils._client_session = None


@dataclass
class World:
    scenario: Scenario
    options: DrillOptions
    host: ReplayHost
    api: ManagementApi

    @property
    def binding(self) -> str:
        return self.api.client_binding()

    def instances(self) -> list[Any]:
        """Every failover and recover instance the host has seen."""
        return [s for s in self.host.list_instances() if s.name in ("failover", "recover")]


def world_options(**overrides: Any) -> DrillOptions:
    tag = uuid.uuid4().hex[:8]
    base = DrillOptions(jobs=6, artifacts=12, seed=5, chunk_size=6, pair=f"w{tag}", primary=f"pri{tag}",
                        secondary=f"sec{tag}")
    return replace(base, **overrides)


def reconfigure(world: World, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change the world's pair config (e.g. alert_targets, auto_failover) the way a redeploy would:
    FAILOVER_CONFIG rewritten, services rebuilt on their next use."""
    import json
    import os

    from failover.domain import settings as app_settings
    from failover.domain.config import parse_config
    from failover.services import reset_services
    from rehearsal.scenario import drill_config

    config = drill_config(world.options)
    edit(config["pairs"][0])
    text = json.dumps(config)
    os.environ[app_settings.FAILOVER_CONFIG] = text
    world.scenario.config = parse_config(text, "test configuration")
    reset_services()


@contextmanager
def durable_world(azurite: AzuriteEndpoints, clock: Clock | None = None, api: type[ManagementApi] = ManagementApi,
                  background: bool = True, **overrides: Any) -> Iterator[World]:
    """Skipping clock by default (timers fire at once); RealClock where a gate must really wait.

    ``background=False``: nothing runs until the test drives the host (``run_until_idle``); a started
    instance stays Pending meanwhile, as one does before a worker picks it up."""
    options = world_options(**overrides)
    scenario = prepare(options, azurite.connection_string)
    from function_app import app

    host = ReplayHost(app, store=AzureStorageStore(azurite.connection_string, f"w{options.pair}"),
                      clock=clock or SkippingClock(), delivery=Delivery(coalesce_ms=10))
    if background:
        host.start_background()
    served = api(host)
    served.start()
    try:
        yield World(scenario, options, host, served)
    finally:
        served.stop()
        host.stop()
