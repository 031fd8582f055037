"""The `failover` orchestration: from "primary is down" to "everything runs on the secondary".

Deterministic: time from context.current_utc_datetime, ids from the input, order from the
plan. It decides; activities do the I/O. Large inventories go out in chunks (one activity
per chunk), so recovering N items costs O(N / chunk_size) history events, not O(N). Every
path, an activity failing after its retries included, ends through orchestrations/accounting.py.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from failover import telemetry
from failover.domain.model import ACTIVATION_WAVES
from failover.domain.requests import FailoverRequest
from failover.domain.run import FailoverRun
from failover.recovery_order import JOBS, wave_chunks
from orchestrations.accounting import Ending, accounted
from orchestrations.approval_gate import approval_gate

bp = df.Blueprint()

# Whole-activity retries (storage hiccups, a worker recycled). Hub calls inside an activity
# have their own short retries; per-item failures come back as data, not as exceptions.
ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2_000, max_number_of_attempts=3)

Orchestration = Generator[Any, Any, dict[str, Any]]


@bp.orchestration_trigger(context_name="context", orchestration="failover")
def failover(context: df.DurableOrchestrationContext) -> Orchestration:
    request = FailoverRequest.model_validate(context.get_input())
    run = FailoverRun(context.instance_id, request, context.current_utc_datetime,
                      clock=lambda: context.current_utc_datetime, on_stage_end=_stage_span(context))
    return (yield from accounted(context, run, _failover(context, run)))


def _failover(context: df.DurableOrchestrationContext, run: FailoverRun) -> Generator[Any, Any, Ending]:
    """The steps; each way out is (outcome, reason), and an exception is accounted for by the caller."""
    request = run.request
    context.set_custom_status(run.enter("plan"))

    # 1. plan: config + pointer + catalog age
    plan = yield context.call_activity_with_retry("load_plan", ACTIVITY_RETRY, {
        "pair": request.pair, "target": request.target, "require_approval": request.require_approval})
    run.take_plan(plan)
    if plan.get("error"):
        run.error("plan", plan["error"])  # the cause is in the errors like any other abort's
        return "aborted", plan["error"]
    if plan["noop"]:  # asked again after a flip: nothing to flip; what is left to recover is a `recover`'s job
        return "aborted", f"{plan['target']} is already active (generation {plan['generation']}): nothing to flip"

    # 2. readiness of the target: abort before any write
    unready = yield from readiness_stage(context, run)
    if unready is not None:
        return unready

    # 3. approval gate
    if plan["approval_required"] and not request.dry_run:
        verdict = yield from approval_gate(context, run, plan, ACTIVITY_RETRY)
        if verdict is not None:
            return "aborted", verdict

    # 4. flip the pointer, fenced by the generation read in stage 1
    generation = int(plan["generation"])
    if not (request.drill or request.dry_run):
        context.set_custom_status(run.enter("flip", 1))
        flip = yield context.call_activity_with_retry("flip_pointer", ACTIVITY_RETRY, {
            "pair": request.pair, "expected_active": plan["source"], "expected_generation": generation,
            "to": plan["target"], "by": run.run_id, "reason": request.reason})  # unique per execution
        pointer = flip["pointer"]
        if flip["outcome"] == "refused_stale":
            run.error("flip", f"pointer is {pointer['active']} at generation {pointer['generation']}")
            return "aborted", "pointer moved since the plan was made (another failover won)"
        run.pointer_after, run.generation_after = pointer["active"], int(pointer["generation"])
        run.flipped_at = context.current_utc_datetime
        generation = run.generation_after

    # 5-6. recover what the target lacks
    yield from recovery_stages(context, run, generation, dry_run=request.dry_run, flipped=run.pointer_after is not None)
    return run.recovery_ending()


def readiness_stage(context: df.DurableOrchestrationContext, run: FailoverRun) -> Generator[Any, Any, Ending | None]:
    """Stage 2, before any write: the target answers and has what the plan's items need. None: ready."""
    context.set_custom_status(run.enter("readiness"))
    readiness = yield context.call_activity_with_retry("check_readiness", ACTIVITY_RETRY,
                                                       {**_scope(run), "recover": run.plan["recover"]})
    if readiness["ready"]:
        return None
    for reason in readiness["reasons"]:
        run.error("readiness", reason)
    return "aborted", "target not ready: " + "; ".join(readiness["reasons"])


def recovery_stages(context: df.DurableOrchestrationContext, run: FailoverRun, generation: int, *, dry_run: bool,
                    flipped: bool) -> Generator[Any, Any, None]:
    """Stages 5 and 6 of a failover, and all a `recover` does: the plan's recovery stages, critical work
    first (failover/recovery_order.py): artifacts recreated, each stage's endpoints, deployments and
    schedules switched on after it (scale, routes, enabled), interrupted jobs resubmitted under names that
    carry ``generation``. Each item is looked up on the target first (and journaled per run), so what is
    there is skipped. Hot-hot: only the schedules move to the active hub."""
    plan = run.plan
    if plan["recover"]:
        yield from _recover(context, run, plan, generation, dry_run, flipped)
    else:
        yield from _activate(context, run, plan, dry_run, flipped)


def _stage_span(context: df.DurableOrchestrationContext) -> Callable[[dict[str, Any]], None]:
    """Each stage becomes a span when it ends, once: replays of an episode that already emitted it are skipped
    (its times are orchestration time, the same on every replay)."""
    def ended(stage: dict[str, Any]) -> None:
        if not context.is_replaying:
            telemetry.stage_span(stage)

    return ended


def _scope(run: FailoverRun) -> dict[str, Any]:
    """The small dict every recovery activity needs: ids, never whole specs."""
    plan = run.plan
    return {"pair": plan["pair"], "source": plan["source"], "target": plan["target"], "run": run.run_id,
            "snapshot": plan["catalog"]["snapshot"], "chunk_size": plan["chunk_size"]}


def _recover(context: df.DurableOrchestrationContext, run: FailoverRun, plan: dict[str, Any], generation: int,
             dry_run: bool, flipped: bool) -> Generator[Any, Any, None]:
    """Recovery stages in the plan's order (critical work first); within a stage, waves in dependency
    order; within a wave, every chunk at once. What a stage recreated that has a state to switch on
    (deployments, endpoints, schedules) is activated before the next stage starts."""
    chunk = int(plan["chunk_size"])
    switched = set(plan.get("activation_kinds") or [])
    for stage_index, stage in enumerate(plan["stages"]):
        waves = [wave_chunks(wave, chunk) for wave in stage["waves"]]
        context.set_custom_status(run.enter(stage["name"], sum(len(work) for work in waves)))
        for wave_index, work in enumerate(waves):
            where = {**_scope(run), "stage": stage_index, "wave": wave_index, "dry_run": dry_run}
            tasks = [context.call_activity_with_retry("resubmit_jobs", ACTIVITY_RETRY, {
                         **where, "chunk": i, "generation": generation,
                         "primary_reachable": plan["primary_reachable"]}) if what == JOBS
                     else context.call_activity_with_retry("recreate_artifacts", ACTIVITY_RETRY, {
                         **where, "kind": what, "chunk": i, "flipped": flipped}) for what, i, _ in work]
            for (what, i, size), result, error in (yield from _each(context, tasks, work)):
                if what == JOBS and error is None:
                    run.take_job_chunk(result)
                elif what == JOBS:
                    run.fail_job_chunk(size, f"chunk {i}: {error}")
                elif error is None:
                    run.take_artifact_chunk(what, result)
                else:
                    run.fail_artifact_chunk(what, size, f"chunk {i}: {error}")
            context.set_custom_status(run.status())
        to_switch = {what: count for wave in stage["waves"] for what, count in wave.items() if what in switched}
        if to_switch:
            yield from _activate(context, run, plan, dry_run, flipped, stage_index, to_switch)


def _activate(context: df.DurableOrchestrationContext, run: FailoverRun, plan: dict[str, Any],
              dry_run: bool, flipped: bool, stage: int | None = None,
              counts: dict[str, int] | None = None) -> Generator[Any, Any, None]:
    """Switch on what the recreated endpoints, deployments and schedules need, wave by wave: those of one
    recovery ``stage`` (``counts`` per kind), or (None: a flip-only failover) every recoverable one. Items
    still provisioning are asked about again after a durable timer (backing off), until the plan's deadline."""
    chunk = int(plan["chunk_size"])
    expected = counts if counts is not None else {k: run.activation[k]["expected"] for k in run.activation}
    kinds = [k for k in plan.get("activation_kinds") or [] if expected.get(k)]
    total = sum(math.ceil(expected[k] / chunk) for k in kinds)
    if not total:
        return
    context.set_custom_status(run.enter("activate", total))
    deadline = context.current_utc_datetime + timedelta(minutes=int(plan["activation_timeout_minutes"]))
    poll = timedelta(seconds=int(plan["activation_poll_seconds"]))
    for wave in ACTIVATION_WAVES:  # instances first, then the routes to them, then the schedules
        work: list[tuple[str, int, int, list[int] | None]] = [
            (k.value, i, min(chunk, expected[k.value] - i * chunk), None)
            for k in wave if k.value in kinds for i in range(math.ceil(expected[k.value] / chunk))]
        for round_ in itertools.count():
            if not work:
                break
            last = context.current_utc_datetime >= deadline
            tasks = [context.call_activity_with_retry("activate_state", ACTIVITY_RETRY, {
                **_scope(run), "stage": stage, "kind": kind, "chunk": i, "items": items, "round": round_,
                "flipped": flipped, "dry_run": dry_run, "primary_reachable": plan["primary_reachable"]})
                for kind, i, _, items in work]
            pending: list[tuple[str, int, int, list[int] | None]] = []
            for (kind, i, size, items), result, error in (yield from _each(context, tasks, work)):
                if error is not None:
                    run.fail_activation_chunk(kind, len(items) if items is not None else size, f"chunk {i}: {error}")
                    continue
                waiting = list(result.get("pending_items") or [])
                run.take_activation_round(kind, result, final=last or not waiting)
                if waiting and last:
                    run.error(f"activation.{kind}", f"chunk {i}: {len(waiting)} item(s) still provisioning after "
                                                    f"{plan['activation_timeout_minutes']} min")
                elif waiting:
                    pending.append((kind, i, size, waiting))
            work = pending
            if work:  # back off (x2 per round, at most 10 x poll): few rounds, so a bounded history
                wait = poll * min(2 ** round_, 10)
                yield context.create_timer(min(deadline, context.current_utc_datetime + wait))
        context.set_custom_status(run.status())


def _each(context: df.DurableOrchestrationContext, tasks: list[Any],
          labels: list[Any]) -> Generator[Any, Any, list[tuple[Any, Any, str | None]]]:
    """Wait for every task; a chunk that failed after its retries is reported, not fatal.

    task_all stops at the first failure, so on failure the remaining tasks are awaited one
    by one (in order: deterministic) to collect every result and every error.
    """
    try:
        results = yield context.task_all(tasks)
        return [(label, result, None) for label, result in zip(labels, results, strict=True)]
    except Exception:  # at least one chunk failed: collect each outcome
        outcomes: list[tuple[Any, Any, str | None]] = []
        for label, task in zip(labels, tasks, strict=True):
            try:
                outcomes.append((label, (yield task), None))
            except Exception as exc:
                outcomes.append((label, None, str(exc).split("\n")[0]))
        return outcomes
