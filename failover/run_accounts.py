"""A run's account in the stores: its audit record (the report), the pair state (last failover or last recover,
the flip a `recover` completes, the cooldown, the run claim settled), the Markdown report and the run's metrics.

Written by the run's audit activity (activities/audit.py), or, for a run that ended without it (terminated through
the Durable API, failed by the host, its audit failing after its retries), by the next start of its pair
(triggers/starting.py). Idempotent: the audit row is keyed by the run, the pair-state write sets the same values
again, the report blob is overwritten with the same text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from failover import telemetry
from failover.domain.report_markdown import render
from failover.services import Services


def record_run(svc: Services, *, pair: str, instance_id: str, kind: str, report: dict[str, Any],
               claim: str | None, only_if_claimed: bool = False) -> dict[str, Any]:
    """``only_if_claimed``: the pair state is written only while ``claim`` is still the pair's run claim, and the
    report blob and metrics only then (a run settled by whoever saw it end, once)."""
    key = str(report.get("run") or instance_id)
    record = svc.audit.record(pair, key, kind, actor=str(report.get("requested_by") or "unknown"),
                              outcome=str(report.get("outcome")), detail=report)
    completed_at = datetime.fromisoformat(report["timeline"]["completed_at"])
    common: dict[str, Any] = {"instance_id": instance_id, "run": key, "outcome": str(report.get("outcome")),
                              "reason": str(report.get("outcome_reason") or ""), "completed_at": completed_at,
                              "claim": claim, "only_if_claimed": only_if_claimed}
    if kind == "recover":
        state = svc.pair_state.record_recover(pair, completes=(report.get("completes") or {}).get("run"), **common)
        written = state.last_recover is not None and state.last_recover.get("run") == key
    else:
        pointer = report.get("pointer") or {}
        moved = (pointer.get("generation_after") or 0) > (pointer.get("generation_before") or 0)
        flip = {"source": pointer.get("before"), "generation": pointer.get("generation_after"),
                "snapshot": (report.get("catalog") or {}).get("snapshot")}
        state = svc.pair_state.record_failover(pair, target=pointer.get("target"), moved=moved, flip=flip, **common)
        written = state.last_failover is not None and state.last_failover.get("run") == key
    if only_if_claimed and not written:
        return {"recorded": True, "at": record.at, "report_blob": None}
    blob = svc.reports.write(pair, key, render(report))
    telemetry.record_run(report)  # last: a retry of the audit activity (a failure above) counts the run once
    return {"recorded": True, "at": record.at, "report_blob": blob}
