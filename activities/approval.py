"""Stage 3: is an `approval` event a decision the approve/reject route recorded for this run?

The event proves nothing (any holder of the Durable system key can raise one, with any payload);
the record does. An event without its record is audited as a forgery attempt and ignored.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.traced import traced
from failover.domain.approvals import refusal
from failover.services import services

bp = df.Blueprint()
FORGED = "approval_forged"


@bp.activity_trigger(input_name="payload")
@traced
def verify_approval(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    pair, run, instance_id = str(payload["pair"]), str(payload["run"]), str(payload["instance_id"])
    decision_id = payload.get("decision_id")
    record = svc.decisions.read(pair, run)
    why = refusal(record, instance_id=instance_id, run=run, decision_id=decision_id)
    if why is None:
        assert record is not None
        return {"verified": True, "decision": record.verdict()}
    # Keyed by run and event number: a retried activity records the same attempt once.
    claimed = payload.get("claimed") or {}
    svc.audit.record(pair, f"{run}|{int(payload['event'])}", FORGED,
                     actor=f"unverified approval event (claims {str(claimed.get('by', 'nobody'))[:100]})",
                     outcome="ignored", detail={"instance_id": instance_id, "run": run, "why": why,
                                                "event": int(payload["event"]), "claimed": claimed})
    return {"verified": False, "why": why}
