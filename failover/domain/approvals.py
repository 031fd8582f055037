"""Approval decisions: recorded by the approve/reject route, verified by the gate before it acts.

The `approval` event is only a doorbell carrying a decision id. The decision itself (who, when,
what, for which instance and run) is the record the route wrote with a conditional insert, one
per run. Whoever holds the Durable extension's system key can raise any event with any payload;
only the route writes records. So the gate acts on the record, never on the event's payload.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DECISION_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
MAX_IGNORED_EVENTS = 20
"""Unverified `approval` events one gate audits and ignores before it gives up (aborts, changing
nothing): each costs a verification activity and history, and whoever can raise them can also
terminate the instance, so a flood is refused rather than absorbed."""
_CLAIMED_FIELDS = ("decision_id", "decision", "by", "comment")


class ApprovalRecord(BaseModel):
    """One decision for one run, as the approve/reject route recorded it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision_id: str = Field(pattern=DECISION_ID_PATTERN.pattern)
    pair: str
    instance_id: str
    run: str = Field(description="FailoverRun.run_id: `{instance}@{start}`, one per execution.")
    decision: Literal["approve", "reject"]
    by: str = Field(min_length=1, max_length=200, description="The actor's label (says when unverified).")
    identity: dict[str, Any] = Field(description="identity.Actor.audit(): verified or claimed, and how.")
    comment: str = Field("", max_length=1000)
    at: datetime

    def verdict(self) -> dict[str, Any]:
        """What the run's report keeps of the decision."""
        return {"decision": self.decision, "by": self.by, "comment": self.comment, "decision_id": self.decision_id,
                "at": self.at.isoformat(), "identity_verified": bool(self.identity.get("verified"))}


@dataclass(frozen=True)
class ApprovalSignal:
    """What an `approval` event carries: the decision id it points to, and (for the audit) what it claims."""

    decision_id: str | None
    claimed: dict[str, str]


def read_signal(payload: Any) -> ApprovalSignal:
    if isinstance(payload, str):  # Azure may deliver an HTTP-raised payload as JSON text
        try:
            payload = json.loads(payload)
        except ValueError:
            return ApprovalSignal(None, {"payload": payload[:200]})
    if not isinstance(payload, dict):
        return ApprovalSignal(None, {"payload": json.dumps(payload, default=str)[:200]})
    claimed = {k: str(payload[k])[:200] for k in _CLAIMED_FIELDS if k in payload}
    decision_id = payload.get("decision_id")
    valid = isinstance(decision_id, str) and DECISION_ID_PATTERN.match(decision_id)
    return ApprovalSignal(decision_id if valid else None, claimed)


def refusal(record: ApprovalRecord | None, *, instance_id: str, run: str, decision_id: str | None) -> str | None:
    """Why an event is not a decision recorded for this run; None when it is one."""
    if decision_id is None:
        return "the event names no decision id: it did not come from the approve/reject route"
    if record is None:
        return "no decision is recorded for this run"
    if record.instance_id != instance_id or record.run != run:
        return f"the recorded decision is for another run ({record.run})"
    if record.decision_id != decision_id:
        return "the event's decision id is not the one recorded for this run"
    return None
