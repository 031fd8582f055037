"""POST /api/alerts: Azure Monitor (Common Alert Schema) starts or records a failover.

Fired -> start `failover` under the same guards as the probe; Resolved -> recorded.
Redeliveries of the same alertId + monitorCondition are answered 200 and change nothing.
Guard refusals are 200 too: a non-2xx would make the action group retry for nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from failover.domain.alerts import AlertPayloadError, pair_for_alert, parse_alert
from failover.domain.health import Decision, decide_alert
from failover.domain.requests import FailoverRequest, Trigger
from failover.services import services
from failover.stores.pair_state import PairState
from triggers.starting import start_with

bp = df.Blueprint()
log = logging.getLogger(__name__)
UNMAPPED = "unmapped"


def _json(status: int, body: dict[str, Any]) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


@bp.route(route="alerts", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def alerts(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        alert = parse_alert(req.get_body())
    except AlertPayloadError as exc:
        return _json(exc.status, {"error": str(exc), "field": exc.field})
    svc = services()
    essentials = alert.essentials
    now = datetime.now(UTC)
    pair = pair_for_alert(svc.config, alert)
    if pair is None:
        svc.audit.record(UNMAPPED, None, "alert_unmapped",
                         actor=f"azure-monitor:{essentials.alertRule}", outcome="rejected",
                         detail={"alert_id": essentials.alertId, "rule": essentials.alertRule,
                                 "targets": essentials.alertTargetIDs})
        return _json(404, {"error": "no hub pair is configured for this alert's targets or rule",
                           "field": "data.essentials.alertTargetIDs"})
    if not svc.alerts.claim(pair.name, essentials.alertId, essentials.monitorCondition, now):
        return _json(200, {"status": "duplicate", "pair": pair.name})
    try:
        body = await _handle(client, pair.name, alert, now)
    except Exception:
        svc.alerts.release(pair.name, essentials.alertId, essentials.monitorCondition)  # let the retry act
        log.exception("alert %s for %s could not be handled", essentials.alertId, pair.name)
        return _json(503, {"error": "the alert could not be handled now; retry"})
    svc.alerts.finish(pair.name, essentials.alertId, essentials.monitorCondition, body["status"])
    return _json(202 if body["status"] == "started" else 200, body)


async def _handle(client: df.DurableOrchestrationClient, pair_name: str, alert: Any, now: datetime) -> dict[str, Any]:
    svc = services()
    essentials = alert.essentials
    actor = f"azure-monitor:{essentials.alertRule}"[:200]
    if essentials.monitorCondition == "Resolved":
        svc.audit.record(pair_name, f"{essentials.alertId}|Resolved", "alert_resolved", actor=actor,
                         outcome="recorded", detail={"alert_id": essentials.alertId, "rule": essentials.alertRule})
        return {"status": "recorded", "pair": pair_name}
    pair = svc.config.pair(pair_name)
    request = FailoverRequest(pair=pair.name, trigger=Trigger.ALERT, requested_by=actor,
                              reason=f"alert {essentials.alertRule} ({essentials.severity}): "
                                     f"{essentials.description or essentials.signalType}"[:500],
                              outage_at=essentials.firedDateTime, detected_at=now)

    def decide(running: bool, state: PairState, at: datetime) -> Decision:
        return decide_alert(auto_failover=pair.auto_failover, failover_running=running,
                            cooldown_until=state.cooldown_until, now=at)

    result = await start_with(client, request, decide, kind="alert", now=now)
    return {"status": "started" if result.started else "not_started", "pair": pair.name, **result.to_dict()}
