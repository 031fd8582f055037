"""The `recover` orchestration: complete the recovery of the pair's last failover, on the hub it made active.

A failover that moved the pointer but left items failed (throttled, the secondary briefly out, a
secret not mapped yet) or deployments still provisioning is finished here, not by starting the
failover again: the plan is the failover's (the same catalog snapshot, the same source and target,
the generation it flipped to, so a job it resubmitted is found under its name and never submitted
twice), then readiness, then the failover's own recovery stages, which skip what is present. It
never flips. One instance per pair (`recover-{pair}`), never beside a running failover
(triggers/starting.py). It ends like every run, through orchestrations/accounting.py: outcome,
reason, its own audit record (kind `recover`, linked to the failover run it completes), its report.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from failover.domain.requests import RecoverRequest
from failover.domain.run import FailoverRun
from orchestrations.accounting import Ending, accounted
from orchestrations.failover import ACTIVITY_RETRY, Orchestration, readiness_stage, recovery_stages

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context", orchestration="recover")
def recover(context: df.DurableOrchestrationContext) -> Orchestration:
    request = RecoverRequest.model_validate(context.get_input())
    run = FailoverRun(context.instance_id, request, context.current_utc_datetime, kind="recover")
    return (yield from accounted(context, run, _recover(context, run, request)))


def _recover(context: df.DurableOrchestrationContext, run: FailoverRun,
             request: RecoverRequest) -> Generator[Any, Any, Ending]:
    context.set_custom_status(run.enter("plan"))
    plan = yield context.call_activity_with_retry("load_recovery_plan", ACTIVITY_RETRY, {
        "pair": request.pair, "completes": request.completes})
    run.take_plan(plan)
    if plan.get("error"):
        run.error("plan", plan["error"])
        return "aborted", plan["error"]
    unready = yield from readiness_stage(context, run)
    if unready is not None:
        return unready
    yield from recovery_stages(context, run, int(plan["generation"]), dry_run=request.dry_run, flipped=True)
    return run.recovery_ending()
