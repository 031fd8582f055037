"""Stage 7: the audit record of a run (its report: ids, counts, outcome; no specs, no secrets)."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from failover.services import services

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
def record_audit(payload: dict[str, Any]) -> dict[str, Any]:
    report = payload["report"]
    record = services().audit.record(
        payload["pair"], payload["instance_id"], payload["kind"],
        actor=str(report.get("requested_by") or "unknown"), outcome=str(report.get("outcome")), detail=report)
    return {"recorded": True, "at": record.at}
