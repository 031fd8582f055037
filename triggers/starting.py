"""Starting the `failover` and `recover` orchestrations, behind the guards, from any trigger.

Shared by the health probe, the alert webhook and the operator API. One run per pair at a time,
of either kind (`failover-{pair}`, `recover-{pair}`): a recover is refused while a failover runs
and a failover (automatic or not) while a recover runs. Checking the runtime and then calling
``start_new`` is not enough: Microsoft's singleton guidance says two callers that both saw "not
running" can both be told "started" while one instance runs (Resource Health and Service Health
fire for the same outage at once). So the decision and a run claim are written together, as one
conditional write on the pair state, before ``start_new``: of N concurrent starters, one writes the
claim and the others re-read, see it and are refused. The claim is released if ``start_new`` fails
and settled by the run's audit activity when the run ends. A claim whose starter died before
``start_new`` lapses after ``CLAIM_GRACE``; one whose run ended unaudited (terminated, or its audit
failed) is recognised by the claim token in the instance's input, and the next start writes that
run's account (outcome, audit, last failover, the cooldown if it moved the pointer) before it decides.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus
from pydantic import ValidationError

from failover import telemetry
from failover.domain.health import Decision, decide_failback, decide_manual_start, decide_recover
from failover.domain.requests import FailoverRequest, RecoverRequest, Trigger
from failover.domain.run import unaudited_report
from failover.run_accounts import record_run
from failover.services import services
from failover.stores.pair_state import PairState, RunClaim
from failover.stores.pointer import Pointer

_ACTIVE = {OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending,
           OrchestrationRuntimeStatus.ContinuedAsNew}

# False only in the test that shows the race the claim closes (tests/test_start_race.py).
RUN_CLAIM = True
CLAIM_GRACE = timedelta(minutes=5)  # start_new takes seconds; a claim this old whose run never began is stale


@dataclass(frozen=True)
class StartFacts:
    """What a start decision sees: a run in progress (runtime or claim), the pair state, the pointer, now."""

    running: bool
    state: PairState
    pointer: Pointer
    now: datetime


Decide = Callable[[StartFacts], Decision]


@dataclass(frozen=True)
class StartResult:
    started: bool
    instance_id: str
    status_code: int  # 202 started, 409 refused by a guard
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Runtime:
    running: bool
    claim: str | None  # the claim token in the input of the instance's latest run
    status: str | None = None  # that run's runtime status, input, last custom status, output, last update
    input: dict[str, Any] = field(default_factory=dict)
    custom: Any = None
    output: Any = None
    updated: datetime | None = None


async def _runtime(client: df.DurableOrchestrationClient, instance_id: str) -> _Runtime:
    status = await client.get_status(instance_id, show_input=True)
    if not status or status.runtime_status is None:
        return _Runtime(False, None)
    data = status.input_
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            data = None
    data = data if isinstance(data, dict) else {}
    token = data.get("claim")
    return _Runtime(status.runtime_status in _ACTIVE, str(token) if token else None, status.runtime_status.value,
                    data, status.custom_status, status.output, status.last_updated_time)


def _settle_ended_run(pair: str, instance_id: str, runtime: _Runtime, pointer: Pointer, now: datetime) -> None:
    """A run of ours that ended while its claim is still on the pair state never ran its audit activity
    (terminated through the Durable API, failed by the host, or its audit failed after its retries): its account
    is written now, before deciding (its report if it returned one, else one from its last custom status), so it
    has its outcome, audit record, last failover and the cooldown its flip started. Whoever sees it first writes
    it; the claim makes that once."""
    if runtime.running or runtime.claim is None or runtime.status is None:
        return
    svc = services()
    state = svc.pair_state.read(pair)
    if state.claim is None or state.claim.token != runtime.claim:
        return  # settled by its audit, or by another starter
    kind = "recover" if instance_id.startswith("recover-") else "failover"
    report = runtime.output
    if not (isinstance(report, dict) and report.get("run") and (report.get("timeline") or {}).get("completed_at")):
        model = RecoverRequest if kind == "recover" else FailoverRequest
        try:
            request = model.model_validate(runtime.input)
        except ValidationError:  # not an input of ours (started by hand through the Durable API)
            return
        report = unaudited_report(instance_id=instance_id, request=request, kind=kind, runtime_status=runtime.status,
                                  custom=runtime.custom, ended_at=runtime.updated or now,
                                  pointer_active=pointer.active, pointer_standby=pointer.standby,
                                  pointer_generation=pointer.generation, pointer_changed_by=pointer.changed_by)
    record_run(svc, pair=pair, instance_id=instance_id, kind=kind, report=report, claim=runtime.claim,
               only_if_claimed=True)


async def is_running(client: df.DurableOrchestrationClient, instance_id: str) -> bool:
    return (await _runtime(client, instance_id)).running


def claim_in_force(claim: RunClaim | None, runtime: _Runtime, now: datetime) -> bool:
    if claim is None:
        return False
    if runtime.claim == claim.token:
        return runtime.running  # its run began: in force while it runs (settled or not)
    return abs(now - claim.claimed_at) < CLAIM_GRACE  # its start_new is under way (or its starter died)


def _busy(runtimes: dict[str, _Runtime], claim: RunClaim | None, now: datetime) -> str | None:
    """The instance of the pair that runs or is being started (runtime or claim), or None."""
    for instance_id, runtime in runtimes.items():
        if runtime.running:
            return instance_id
    if RUN_CLAIM and claim is not None and claim_in_force(claim, runtimes.get(claim.instance_id, _Runtime(False, None)),
                                                          now):
        return claim.instance_id
    return None


def _other_run(busy: str) -> Decision:
    what = "a recover" if busy.startswith("recover-") else "a failover"
    return Decision(False, f"{what} is running for this pair ({busy}): wait for it to end", 409)


async def start_with(client: df.DurableOrchestrationClient, request: FailoverRequest, decide: Decide, *,
                     kind: str, now: datetime | None = None, note: dict[str, Any] | None = None,
                     orchestration: str = "failover") -> StartResult:
    """Decide with the live facts and claim the run in one write; start if allowed; record why.

    ``note`` (e.g. the alert that asked) goes into the recorded decision and the audit record.
    ``orchestration`` is `failover` or `recover`: either is refused while a run of the other kind is
    in progress for the pair; ``decide`` judges a run of its own kind.
    The decision is a span (``decision {kind}``, failover.telemetry).
    """
    with telemetry.decision(kind, request.pair, trigger=request.trigger.value, dry_run=request.dry_run,
                            drill=request.drill) as span:
        result = await _start_with(client, request, decide, kind=kind, now=now, note=note, orchestration=orchestration)
        telemetry.annotate(span, started=result.started, why=result.why, instance_id=result.instance_id)
    return result


async def _start_with(client: df.DurableOrchestrationClient, request: FailoverRequest, decide: Decide, *,
                      kind: str, now: datetime | None, note: dict[str, Any] | None, orchestration: str) -> StartResult:
    svc = services()
    pair = svc.config.pair(request.pair)
    instance_id = pair.recover_instance_id if orchestration == "recover" else pair.instance_id
    now = now or datetime.now(UTC)
    pointer = svc.pointers.ensure(pair.name, pair.primary.name, pair.secondary.name)
    # The target is fixed now: a run that starts after the pointer moved must not follow it back.
    request = request.model_copy(update={"target": request.target or (
        pointer.active if orchestration == "recover" else pointer.standby)})
    runtimes = {iid: await _runtime(client, iid) for iid in pair.run_instance_ids}
    for iid, ended in runtimes.items():
        _settle_ended_run(pair.name, iid, ended, pointer, now)
    claim = RunClaim(uuid.uuid4().hex, instance_id, now, request.trigger.value, request.requested_by)
    decided: dict[str, Decision] = {}

    def decide_on(state: PairState) -> tuple[dict[str, Any], RunClaim | None]:
        busy = _busy(runtimes, state.claim, now)
        decision = (_other_run(busy) if busy not in (None, instance_id)
                    else decide(StartFacts(busy is not None, state, pointer, now)))
        if (busy is not None and state.claim is not None and not any(r.running for r in runtimes.values())
                and "running for this pair" in decision.why):
            decision = replace(decision, why=_starting_now(state.claim))  # nothing runs yet: say who claimed
        decided["decision"] = decision
        return _record(kind, request, instance_id, decision, now, note), (
            claim if decision.start and RUN_CLAIM else None)

    svc.pair_state.decide(pair.name, decide_on)
    decision = decided["decision"]
    if decision.start:
        try:
            await client.start_new(orchestration, instance_id,
                                   request.model_copy(update={"claim": claim.token}).model_dump(mode="json"))
        except Exception as exc:  # the runtime refused (started without a claim) or is unreachable
            try:
                running = await is_running(client, instance_id)
            except Exception:  # still unreachable: our claim must not outlive this call (see the test)
                running = False
            decision = Decision(False, f"a {orchestration} is already running for this pair" if running
                                else f"the runtime did not start it: {str(exc)[:200]}", 409)
            svc.pair_state.release_claim(pair.name, claim.token, _record(kind, request, instance_id,
                                                                        decision, now, note))
            if not running:
                raise
    result = StartResult(decision.start, instance_id, decision.status if decision.start else 409, decision.why)
    svc.audit.record(pair.name, None, kind, actor=request.requested_by,
                     outcome="started" if result.started else "refused",
                     detail=_record(kind, request, instance_id, decision, now, note))
    return result


def _starting_now(claim: RunClaim) -> str:
    what = "recover" if claim.instance_id.startswith("recover-") else "failover"
    return (f"a {what} is already running for this pair: being started by {claim.requested_by} ({claim.trigger}) "
            f"since {claim.claimed_at.isoformat()}; if that starter died, its claim lapses at "
            f"{(claim.claimed_at + CLAIM_GRACE).isoformat()}")


def _record(kind: str, request: FailoverRequest, instance_id: str, decision: Decision, now: datetime,
            note: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**(note or {}), "kind": kind, "trigger": request.trigger.value, "started": decision.start,
            "why": decision.why, "reason": request.reason, "requested_by": request.requested_by, "at": now.isoformat(),
            "instance_id": instance_id, "target": request.target, "dry_run": request.dry_run, "drill": request.drill}


async def start_failover(client: df.DurableOrchestrationClient, request: FailoverRequest, *, force: bool = False,
                         kind: str = "failover") -> StartResult:
    """An operator's start: refused while one runs; refused during cooldown unless forced."""
    def decide(facts: StartFacts) -> Decision:
        return decide_manual_start(running=facts.running, cooldown_since=facts.state.cooldown_since, force=force)

    return await start_with(client, request, decide, kind=kind)


async def start_failback(client: df.DurableOrchestrationClient, pair_name: str, *, requested_by: str,
                         reason: str) -> StartResult:
    """The planned switch back to the original primary, once it has been healthy long enough."""
    pair = services().config.pair(pair_name)
    request = FailoverRequest(pair=pair.name, trigger=Trigger.FAILBACK, reason=reason, requested_by=requested_by,
                              target=pair.primary.name)

    def decide(facts: StartFacts) -> Decision:
        return decide_failback(original_primary=facts.state.streak(pair.primary.name), active=facts.pointer.active,
                               original=pair.primary.name,
                               threshold=pair.policy.probe_success_threshold_for_failback, running=facts.running)

    return await start_with(client, request, decide, kind="failback")


async def start_recover(client: df.DurableOrchestrationClient, pair_name: str, *, requested_by: str,
                        reason: str | None = None, dry_run: bool = False) -> StartResult:
    """Complete the last failover's recovery on the active hub: refused while a run of the pair is in progress,
    and when there is nothing to complete (no run moved the pointer to the hub that is active now)."""
    svc = services()
    pair = svc.config.pair(pair_name)
    flip = svc.pair_state.read(pair.name).last_flip or {}
    run = str(flip.get("run") or "none")  # re-checked at the decision, on the state it is written with
    request = RecoverRequest(pair=pair.name, trigger=Trigger.MANUAL, requested_by=requested_by, dry_run=dry_run,
                             reason=reason or f"complete failover {run}"[:500], completes=run[:300])

    def decide(facts: StartFacts) -> Decision:
        last = facts.state.last_flip
        if last is not None and last.get("run") != run:  # another flip landed since it was read: retry
            return Decision(False, f"failover {last.get('run')} moved the pointer meanwhile: ask again", 409)
        return decide_recover(running=facts.running, last_flip=last, active=facts.pointer.active,
                              generation=facts.pointer.generation)

    return await start_with(client, request, decide, kind="recover", orchestration="recover")
