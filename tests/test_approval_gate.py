"""The approval gate's event handling on the real SDK replay: no event lost, none delivered twice.

azure-functions-durable 1.7 parks an event that arrives while no wait is open in a slot it never
clears (issue #507): every later wait for that name would get it again. These runs put events
exactly there (raised before the gate opened; two at once while a verification runs) and check
that each is looked at once and a recorded decision still decides.
"""

from __future__ import annotations

from typing import Any

import pytest

from failover.services import services
from rehearsal.drill import answer
from rehearsal.scenario import prepare
from replayhost.azurite import AzuriteEndpoints
from replayhost.engine import ReplayHost
from tests.durable_world import world_options


def hot_cold(azurite: AzuriteEndpoints) -> tuple[ReplayHost, str, str]:
    from function_app import app

    options = world_options(mode="hot-cold")
    prepare(options, azurite.connection_string)
    host = ReplayHost(app)  # foreground, virtual clock: nothing runs unless the test says so
    request = {"pair": options.pair, "trigger": "manual", "reason": "gate", "requested_by": "test"}
    return host, host.start_new("failover", f"failover-{options.pair}", request), options.pair


def custom(host: ReplayHost, instance_id: str) -> dict[str, Any]:
    status = host.get_status(instance_id)
    assert status is not None
    return status.custom_status or {}


@pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")  # the SDK parking the early event
def test_an_event_raised_before_the_gate_opened_is_looked_at_once(azurite: AzuriteEndpoints) -> None:
    host, iid, pair = hot_cold(azurite)
    try:
        host.raise_event(iid, "approval", {"decision": "approve", "by": "early-bird"})  # parked: no wait yet
        host.run_until_idle(timeout=60, stop_when=lambda: custom(host, iid).get("ignored_events") == 1)
        waiting = custom(host, iid)
        assert waiting["stage"] == "awaiting_approval"
        answer(host, waiting, "approve")
        status = host.wait_for(iid, timeout=60)
    finally:
        host.stop()
    report = status.output
    assert report["outcome"] == "succeeded", report
    assert report["approval"]["decision"] == "approve" and report["approval"]["ignored_events"] == 1
    assert len(services().audit.list(pair, "approval_forged")) == 1  # the parked event, once


def test_events_arriving_together_are_each_verified_in_order(azurite: AzuriteEndpoints) -> None:
    host, iid, pair = hot_cold(azurite)
    try:
        host.run_until_idle(timeout=60, stop_when=lambda: custom(host, iid).get("stage") == "awaiting_approval")
        waiting = custom(host, iid)
        # one episode delivers both: the forgery first, the recorded decision while it is being verified
        host.raise_event(iid, "approval", {"decision": "approve", "by": "mallory"})
        answer(host, waiting, "reject")
        status = host.wait_for(iid, timeout=60)
    finally:
        host.stop()
    report = status.output
    assert report["outcome"] == "aborted" and report["outcome_reason"].startswith("rejected by drill-operator")
    assert report["approval"]["ignored_events"] == 1
    [forged] = services().audit.list(pair, "approval_forged")
    assert forged.detail["claimed"]["by"] == "mallory"
