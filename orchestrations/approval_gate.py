"""Stage 3, the approval gate: a decision the approve/reject route recorded, raced against a durable timer.

An `approval` event is a doorbell, not a decision: each one is checked against the decision store
by an activity (verify_approval) before the gate acts. One without its record (raised through the
Durable HTTP API by whoever holds the system key, say) is audited there and ignored, and the gate
keeps waiting for the same deadline. The report takes the decision from the record, never from
the event's payload.

One event wait stays open the whole time, even while a verification runs. The Python SDK
(azure-functions-durable 1.7, issue #507) parks an event that arrives with no wait open in a
slot it never clears: every later wait for that name would get the same event again, and a
second parked event replaces the first. So the gate always has a wait open, and clears that
slot after each delivery (an event raised before the gate opened lands there).
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from failover.domain.approvals import MAX_IGNORED_EVENTS, read_signal
from failover.domain.requests import APPROVAL_EVENT
from failover.domain.run import FailoverRun

_TIMEOUT = object()


class _Inbox:
    """`approval` events in arrival order, with one wait always open."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.context = context
        self.queue: list[Any] = []
        self.waiter = context.wait_for_external_event(APPROVAL_EVENT)

    def _take(self) -> None:
        self.queue.append(self.waiter.result)
        parked = getattr(self.context, "deferred_tasks", None)
        if isinstance(parked, dict):
            parked.pop(APPROVAL_EVENT, None)  # delivered: it must not answer the next wait too
        self.waiter = self.context.wait_for_external_event(APPROVAL_EVENT)

    def next_before(self, timer: Any) -> Generator[Any, Any, Any]:
        """The next event, or _TIMEOUT once the timer fired with none left to look at."""
        while not self.queue:
            winner = yield self.context.task_any([self.waiter, timer])
            if winner is not self.waiter:
                return _TIMEOUT
            self._take()
        return self.queue.pop(0)

    def during(self, task: Any) -> Generator[Any, Any, Any]:
        """The task's result; events arriving meanwhile are queued, not lost."""
        while True:
            winner = yield self.context.task_any([task, self.waiter])
            if winner is not self.waiter:
                return (yield task)  # completed: its value, or its exception raised here
            self._take()


def approval_gate(context: df.DurableOrchestrationContext, run: FailoverRun, plan: dict[str, Any],
                  retry: df.RetryOptions) -> Generator[Any, Any, str | None]:
    """Wait for a verified decision. None means go on; a string is why the run aborts."""
    minutes = int(plan["approval_timeout_minutes"])
    waiting = {**run.enter("awaiting_approval"), "approval_timeout_minutes": minutes}
    context.set_custom_status(waiting)
    timer = context.create_timer(context.current_utc_datetime + timedelta(minutes=minutes))
    inbox = _Inbox(context)
    received = ignored = 0

    def outcome(decision: str, **extra: Any) -> dict[str, Any]:
        if not timer.is_completed:
            timer.cancel()
        return {"required": True, "decision": decision, "by": None, "comment": "", **extra,
                "ignored_events": ignored}

    while True:
        payload = yield from inbox.next_before(timer)
        if payload is _TIMEOUT:
            run.approval = outcome("timeout")
            if plan["on_approval_timeout"] == "proceed":
                run.error("approval", f"no decision in {minutes} min: proceeding by policy")
                return None
            return f"no approval within {minutes} min"
        received += 1
        signal = read_signal(payload)
        check = context.call_activity_with_retry("verify_approval", retry, {
            "pair": run.request.pair, "instance_id": run.instance_id, "run": run.run_id,
            "decision_id": signal.decision_id, "claimed": signal.claimed, "event": received})
        try:
            verdict = yield from inbox.during(check)
        except Exception as exc:  # the decision store did not answer through the retries: change nothing
            run.approval = outcome("unverifiable")
            return f"the approval could not be verified: {str(exc).splitlines()[0][:300]}"
        if verdict["verified"]:
            decision = verdict["decision"]
            run.approval = {**outcome(decision["decision"]), **decision}
            if decision["decision"] == "reject":
                return f"rejected by {decision['by']}" + (f": {decision['comment']}" if decision["comment"] else "")
            return None
        ignored += 1
        run.error("approval", f"ignored an unverified approval event: {verdict['why']}")
        context.set_custom_status({**waiting, "ignored_events": ignored})
        if ignored >= MAX_IGNORED_EVENTS:
            run.approval = outcome("refused")
            return f"{ignored} unverified approval events: the gate stopped waiting (nothing was changed)"
