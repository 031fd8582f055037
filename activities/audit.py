"""Stage 7: the audit record of a run (its report: ids, counts, outcome; no specs, no secrets), the
Markdown report a person reads beside it, and the run's metrics.

The same call settles the pair state: the run claim its starter wrote, and for a failover
``last_failover``, the flip a `recover` completes (when the pointer moved) and the cooldown (in
force until an operator acknowledges it); for a recover ``last_recover``. Idempotent: the audit row
is keyed by the run, the pair-state write sets the same values again, the report blob is
overwritten with the same text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from activities.traced import traced
from failover import telemetry
from failover.domain.report_markdown import render
from failover.services import Services, services

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
@traced
def record_audit(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    report = payload["report"]
    key = str(report.get("run") or payload["instance_id"])
    record = svc.audit.record(payload["pair"], key, payload["kind"], actor=str(report.get("requested_by") or "unknown"),
                              outcome=str(report.get("outcome")), detail=report)
    completed_at = datetime.fromisoformat(report["timeline"]["completed_at"])
    common = {"instance_id": payload["instance_id"], "run": key, "outcome": str(report.get("outcome")),
              "reason": str(report.get("outcome_reason") or ""), "completed_at": completed_at,
              "claim": payload.get("claim")}
    if payload["kind"] == "recover":
        svc.pair_state.record_recover(payload["pair"], completes=(report.get("completes") or {}).get("run"), **common)
        return _report_and_metrics(svc, payload["pair"], key, report, record.at)
    pointer = report.get("pointer") or {}
    moved = (pointer.get("generation_after") or 0) > (pointer.get("generation_before") or 0)
    flip = {"source": pointer.get("before"), "generation": pointer.get("generation_after"),
            "snapshot": (report.get("catalog") or {}).get("snapshot")}
    svc.pair_state.record_failover(payload["pair"], target=pointer.get("target"), moved=moved, flip=flip, **common)
    return _report_and_metrics(svc, payload["pair"], key, report, record.at)


def _report_and_metrics(svc: Services, pair: str, key: str, report: dict[str, Any], at: Any) -> dict[str, Any]:
    blob = svc.reports.write(pair, key, render(report))
    telemetry.record_run(report)  # last: a retry of this activity (a failure above) counts the run once
    return {"recorded": True, "at": at, "report_blob": blob}
