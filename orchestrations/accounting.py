"""Every run accounted for: whatever path it takes, a run ends with an outcome, a reason, one audit
record and its report (the instance's output). No instance ends ``Failed`` unexplained.

``accounted`` runs an orchestration's steps; the steps return ``(outcome, reason)``. An
exception out of them (an activity that failed after its retries: throttling, a 5xx, storage
down, a corrupt catalog) ends the run too: ``aborted`` while nothing was written, ``failed``
after (failover/domain/run.py: ``FailoverRun.interrupted``), the reason naming the stage and the
cause. ``finish`` is the one way out: custom status, the audit activity (which also writes
``last_failover``, settles the run claim and starts the cooldown when the pointer moved), the
report returned. Any orchestration of a pair (the failover, a recovery) ends through here.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from failover.domain.run import FailoverRun, first_line

# The audit is the run's last word: more patience than the other activities.
AUDIT_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2_000, max_number_of_attempts=5)

Ending = tuple[str, str]  # (outcome, reason)


def accounted(context: df.DurableOrchestrationContext, run: FailoverRun,
              steps: Generator[Any, Any, Ending]) -> Generator[Any, Any, dict[str, Any]]:
    """Run ``steps``; whatever happens in them, finish the run."""
    try:
        outcome, reason = yield from steps
    except Exception as exc:  # deterministic: the same failure replays from history the same way
        outcome, reason = run.interrupted(str(exc))
    return (yield from finish(context, run, outcome, reason))


def finish(context: df.DurableOrchestrationContext, run: FailoverRun, outcome: str,
           reason: str) -> Generator[Any, Any, dict[str, Any]]:
    report = run.finish(outcome, context.current_utc_datetime, reason)
    context.set_custom_status(run.status())
    # the audit record is the report (counts and ids, no specs, no secrets)
    try:
        yield context.call_activity_with_retry("record_audit", AUDIT_RETRY, {
            "pair": run.request.pair, "instance_id": run.instance_id, "kind": run.kind, "report": report,
            "claim": run.request.claim})
    except Exception as exc:  # storage gone for good: the report is still the instance's output
        run.error("audit", f"the audit record could not be written: {first_line(str(exc))}")
        report = run.report()
        context.set_custom_status(run.status())
    return report
