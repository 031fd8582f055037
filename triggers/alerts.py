"""POST /api/alerts: Azure Monitor (Common Alert Schema) starts or records a failover.

What each kind of alert does is written in docs/alerts.md and decided in
failover/domain/alerts.py: only a fresh failure signal about the pair's active hub goes on to
the start guards (the same as the probe's); resolution notices, user-initiated or non-health
events, stale alerts and alerts about the standby are recorded with their reason.
Redeliveries (same delivery key) are answered 200 and change nothing; one that arrives while the
first delivery is still being handled is answered 503 (the action group retries, in case that
handling fails). Guard refusals and
recorded alerts are 200 too: a non-2xx would make the action group retry for nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from failover import telemetry
from failover.domain.alerts import (
    AlertPayloadError,
    AlertSubject,
    CommonAlert,
    alert_subjects,
    assess_alert,
    parse_alert,
)
from failover.domain.config import HubPair
from failover.domain.health import Decision, decide_alert
from failover.domain.requests import FailoverRequest, Trigger
from failover.services import Services, services
from failover.stores.alert_deliveries import Claim
from failover.stores.pointer import PointerNotFound
from triggers.starting import StartFacts, start_with

bp = df.Blueprint()
log = logging.getLogger(__name__)
UNMAPPED = "unmapped"


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", headers=headers)


@bp.route(route="alerts", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def alerts(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        alert = parse_alert(req.get_body())
    except AlertPayloadError as exc:
        return _json(exc.status, {"error": str(exc), "field": exc.field})
    try:
        return await _deliver(client, alert)
    except Exception:  # storage or the runtime: a 503 the action group retries (a 500 it would not)
        log.exception("alert %s could not be handled", alert.essentials.alertId)
        return _json(503, {"error": "the alert could not be handled now; retry"})


async def _deliver(client: df.DurableOrchestrationClient, alert: CommonAlert) -> func.HttpResponse:
    svc = services()
    now = datetime.now(UTC)
    subjects = _subjects(svc, alert)
    if len(subjects) <= 1:
        return await _deliver_to(client, alert, subjects[0] if subjects else None, now)
    answers: list[func.HttpResponse] = []
    for subject in subjects:  # each pair decides and dedupes on its own; one failing does not stop the others
        try:
            answers.append(await _deliver_to(client, alert, subject, now))
        except Exception:
            log.exception("alert %s for %s could not be handled", alert.essentials.alertId, subject.pair.name)
            answers.append(_json(503, {"pair": subject.pair.name, "error": "the alert could not be handled now; "
                                                                           "retry"}))
    codes = [answer.status_code for answer in answers]
    status = 503 if 503 in codes else 202 if 202 in codes else 200  # a 503: the retry redoes only that pair
    return _json(status, {"status": "several_pairs", "pairs": [json.loads(a.get_body()) for a in answers]},
                 {"Retry-After": "10"} if status == 503 else None)


async def _deliver_to(client: df.DurableOrchestrationClient, alert: CommonAlert, subject: AlertSubject | None,
                      now: datetime) -> func.HttpResponse:
    svc = services()
    partition, key = subject.pair.name if subject else UNMAPPED, alert.delivery_key()
    claim = svc.alerts.claim(partition, key, now)
    if claim is not Claim.NEW:
        # decided here, before any start: a redelivery (of an alert for a pair, or for none)
        with telemetry.decision("alert", subject.pair.name if subject else None, trigger="alert", started=False,
                                why="unmapped" if subject is None else claim.value,
                                condition=alert.essentials.monitorCondition):
            if subject is None:
                return _unmapped()
            if claim is Claim.IN_FLIGHT:  # if that handling fails, this delivery's retry is the alert's last chance
                return _json(503, {"status": "in_flight", "pair": partition,
                                   "error": "this alert is being handled by another delivery; retry"},
                             {"Retry-After": "10"})
            return _json(200, {"status": "duplicate", "pair": partition})
    try:
        status, body = await _handle(client, alert, subject, now)
    except Exception:
        try:
            svc.alerts.release(partition, key)  # let the action group's retry act
        except Exception:  # the claim lapses after its lease instead
            log.warning("alert delivery %s of %s was not released", key[:200], partition, exc_info=True)
        raise
    try:  # what was done stands, whatever the bookkeeping says
        svc.alerts.finish(partition, key, str(body.get("status") or status))
        svc.alerts.purge_expired(partition, now)
    except Exception:  # an unfinished row lapses after its lease; expired rows go on the next delivery
        log.warning("alert delivery bookkeeping of %s failed", partition, exc_info=True)
    return _json(status, body)


def _unmapped() -> func.HttpResponse:
    return _json(404, {"error": "no hub pair is configured for this alert's targets or rule",
                       "field": "data.essentials.alertTargetIDs"})


def _subjects(svc: Services, alert: CommonAlert) -> list[AlertSubject]:
    """The pairs (and hub) the alert is for. Of several (a standby shared by pairs, or targets naming hubs of
    several pairs), each pair where that hub is active now: an outage of a hub concerns every pair running on it.
    Where it is active in none, the first pair records the alert (about its standby)."""
    subjects = alert_subjects(svc.config, alert)
    if len(subjects) <= 1:
        return subjects
    active = [s for s in subjects if _active(svc, s.pair) == s.hub]
    return active or subjects[:1]


def _active(svc: Services, pair: HubPair) -> str:
    try:
        return svc.pointers.read(pair.name).active
    except PointerNotFound:  # never probed nor failed over: its primary
        return pair.primary.name


def _describe(alert: CommonAlert) -> dict[str, Any]:
    e = alert.essentials
    return {"alert_id": e.alertId, "rule": e.alertRule, "monitoring_service": e.monitoringService,
            "signal_type": e.signalType, "condition": e.monitorCondition, "severity": e.severity,
            "fired_at": e.firedDateTime.isoformat(), "targets": e.targets[:10]}


async def _handle(client: df.DurableOrchestrationClient, alert: CommonAlert, subject: AlertSubject | None,
                  now: datetime) -> tuple[int, dict[str, Any]]:
    svc = services()
    e = alert.essentials
    actor = f"azure-monitor:{e.rule}"[:200]
    if subject is None:
        with telemetry.decision("alert", None, trigger="alert", started=False, why="unmapped"):
            svc.audit.record(UNMAPPED, alert.delivery_key(), "alert_unmapped", actor=actor, outcome="rejected",
                             detail=_describe(alert))
        return 404, json.loads(_unmapped().get_body())
    pair = subject.pair
    assessment = assess_alert(alert, subject, now=now, max_age=timedelta(minutes=pair.policy.alert_max_age_minutes))
    detail = {**_describe(alert), **assessment.to_dict(), "matched": subject.matched}
    if not assessment.failure:  # a resolution, a warning, an old or foreign alert: recorded, nothing started
        with telemetry.decision("alert", pair.name, trigger="alert", started=False, why=assessment.verdict.value,
                                alert_kind=assessment.kind.value, hub=assessment.hub):
            svc.audit.record(pair.name, alert.delivery_key(), "alert_recorded", actor=actor,
                             outcome=assessment.verdict.value, detail=detail)
        return 200, {"status": "recorded", "pair": pair.name, **assessment.to_dict()}
    request = FailoverRequest(pair=pair.name, trigger=Trigger.ALERT, requested_by=actor,
                              reason=f"alert {e.rule} ({e.severity or 'no severity'}): {assessment.why}"[:500],
                              outage_at=e.firedDateTime, detected_at=now)

    def decide(facts: StartFacts) -> Decision:
        standby = facts.pointer.standby
        return decide_alert(hub=assessment.hub, active=facts.pointer.active, standby=standby,
                            standby_streak=facts.state.streak(standby), auto_failover=pair.auto_failover,
                            failover_running=facts.running, cooldown_since=facts.state.cooldown_since)

    result = await start_with(client, request, decide, kind="alert", now=now, note={"alert": detail})
    body = {"status": "started" if result.started else "not_started", "pair": pair.name, **result.to_dict(),
            "kind": assessment.kind.value, "verdict": assessment.verdict.value, "hub": assessment.hub,
            "signal": assessment.why}
    return (202 if result.started else 200), body
