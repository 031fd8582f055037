"""The health probe: every HEALTH_PROBE_SCHEDULE tick, probe both hubs of every pair.

Streaks go to the pair state; the decision (hysteresis + guards) is a pure function; a
failover starts only when it says so. Every decision is recorded with its reason.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from failover.domain.config import HubPair
from failover.domain.health import Decision, decide_failover
from failover.domain.requests import FailoverRequest, Trigger
from failover.hubs.probes import probe_pair
from failover.services import services
from triggers.starting import StartFacts, StartResult, start_with

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.timer_trigger(schedule="%HEALTH_PROBE_SCHEDULE%", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def health_probe(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    for result in await probe_all(client):
        log.info("health probe %s", result)


async def probe_all(client: df.DurableOrchestrationClient, now: datetime | None = None,
                    logs: Any | None = None) -> list[dict[str, Any]]:
    svc = services()
    now = now or datetime.now(UTC)
    logs = logs if logs is not None else svc.logs_client()
    return [await probe_and_decide(client, pair, now, logs) for pair in svc.config.pairs]


async def probe_and_decide(client: df.DurableOrchestrationClient, pair: HubPair, now: datetime,
                           logs: Any | None = None) -> dict[str, Any]:
    svc = services()
    pointer = svc.pointers.ensure(pair.name, pair.primary.name, pair.secondary.name)
    state = svc.pair_state.record_probe(pair.name, probe_pair(pair, svc.probe_hub, logs), now)
    active = state.streak(pointer.active)
    request = FailoverRequest(
        pair=pair.name, trigger=Trigger.TIMER, requested_by="health-probe",
        reason=f"{pointer.active} failed {active.failures} consecutive probes: {active.last_detail}"[:500],
        outage_at=active.failing_since, detected_at=now)

    def decide(facts: StartFacts) -> Decision:
        # Streaks are per hub, read against the pointer of the moment: after a failover the old
        # primary is the standby, and its failures are no reason to fail over again.
        active, standby = facts.pointer.active, facts.pointer.standby
        return decide_failover(primary=facts.state.streak(active), secondary=facts.state.streak(standby),
                               threshold=pair.policy.probe_failure_threshold, auto_failover=pair.auto_failover,
                               failover_running=facts.running, cooldown_since=facts.state.cooldown_since)

    result: StartResult = await start_with(client, request, decide, kind="probe_decision", now=now)
    return {"pair": pair.name, "active": pointer.active, "active_failures": active.failures,
            "standby_successes": state.streak(pointer.standby).successes, **result.to_dict()}
