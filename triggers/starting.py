"""Starting the `failover` orchestration, behind the guards, from any trigger.

Shared by the health probe, the alert webhook and the operator API. Singleton per pair
(`failover-{pair}`): the running check here gives the caller a clear answer, and the
Durable runtime's own refusal to restart a running instance closes the race between two
callers that both saw "not running".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from failover.domain.health import Decision, decide_failback, decide_manual_start
from failover.domain.requests import FailoverRequest, Trigger
from failover.services import services
from failover.stores.pair_state import PairState

_ACTIVE = {OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending,
           OrchestrationRuntimeStatus.ContinuedAsNew}

Decide = Callable[[bool, PairState, datetime], Decision]


@dataclass(frozen=True)
class StartResult:
    started: bool
    instance_id: str
    status_code: int  # 202 started, 409 refused by a guard
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def is_running(client: df.DurableOrchestrationClient, instance_id: str) -> bool:
    status = await client.get_status(instance_id)
    return bool(status) and status.runtime_status in _ACTIVE


async def start_with(client: df.DurableOrchestrationClient, request: FailoverRequest, decide: Decide, *,
                     kind: str, now: datetime | None = None) -> StartResult:
    """Decide with the live facts (running instance, pair state), start if allowed, record why."""
    svc = services()
    pair = svc.config.pair(request.pair)
    now = now or datetime.now(UTC)
    running = await is_running(client, pair.instance_id)
    decision = decide(running, svc.pair_state.read(pair.name), now)
    if decision.start:
        try:
            await client.start_new("failover", pair.instance_id, request.model_dump(mode="json"))
        except Exception:  # the runtime refused: someone started it since our check
            if not await is_running(client, pair.instance_id):
                raise
            decision = Decision(False, "a failover is already running for this pair", 409)
    result = StartResult(decision.start, pair.instance_id, decision.status if decision.start else 409, decision.why)
    record = {"kind": kind, "trigger": request.trigger.value, "started": result.started, "why": result.why,
              "reason": request.reason, "requested_by": request.requested_by, "at": now.isoformat(),
              "instance_id": pair.instance_id, "dry_run": request.dry_run, "drill": request.drill}
    svc.pair_state.record_decision(pair.name, record)
    svc.audit.record(pair.name, None, kind, actor=request.requested_by,
                     outcome="started" if result.started else "refused", detail=record)
    return result


async def start_failover(client: df.DurableOrchestrationClient, request: FailoverRequest, *, force: bool = False,
                         kind: str = "failover") -> StartResult:
    """An operator's start: refused while one runs; refused during cooldown unless forced."""
    def decide(running: bool, state: PairState, now: datetime) -> Decision:
        return decide_manual_start(running=running, cooldown_until=state.cooldown_until, now=now, force=force)

    return await start_with(client, request, decide, kind=kind)


async def start_failback(client: df.DurableOrchestrationClient, pair_name: str, *, requested_by: str,
                         reason: str) -> StartResult:
    """The planned switch back to the original primary, once it has been healthy long enough."""
    svc = services()
    pair = svc.config.pair(pair_name)
    pointer = svc.pointers.read(pair.name)
    request = FailoverRequest(pair=pair.name, trigger=Trigger.FAILBACK, reason=reason, requested_by=requested_by,
                              target=pair.primary.name)

    def decide(running: bool, state: PairState, now: datetime) -> Decision:
        return decide_failback(original_primary=state.streak(pair.primary.name), active=pointer.active,
                               original=pair.primary.name,
                               threshold=pair.policy.probe_success_threshold_for_failback, running=running)

    return await start_with(client, request, decide, kind="failback")
