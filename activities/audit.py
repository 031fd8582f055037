"""Stage 7: the audit record of a run (its report: ids, counts, outcome; no specs, no secrets)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from failover.services import services

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
def record_audit(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    report = payload["report"]
    key = str(report.get("run") or payload["instance_id"])
    record = svc.audit.record(payload["pair"], key, payload["kind"], actor=str(report.get("requested_by") or "unknown"),
                              outcome=str(report.get("outcome")), detail=report)
    pointer = report.get("pointer") or {}
    moved = (pointer.get("generation_after") or 0) > (pointer.get("generation_before") or 0)
    # A pointer that moved starts the cooldown: no automatic failover until an operator acknowledges.
    cooldown = timedelta(minutes=svc.config.pair(payload["pair"]).policy.cooldown_minutes) if moved else None
    svc.pair_state.record_failover(payload["pair"], instance_id=payload["instance_id"],
                                   outcome=str(report.get("outcome")), target=pointer.get("target"),
                                   completed_at=datetime.fromisoformat(report["timeline"]["completed_at"]),
                                   cooldown=cooldown)
    return {"recorded": True, "at": record.at}
