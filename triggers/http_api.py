"""The operator API: pair status, start / approve / reject / acknowledge / failback / recover. Function-level auth.

Thin: parse and validate (failover.domain.operator_bodies), call the core or triggers.starting,
answer JSON. Bad input is a 4xx {"error", "field"}; an unknown pair or instance is a 404.
Every operator action is audited with who did it (failover.domain.identity: Easy Auth's principal
where App Service authentication is on, else "function key holder" and the name it claims).
Answers link to our own routes only: never the Durable management URLs, which carry the
extension's system key (raise any event, terminate, purge, for every instance).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, Literal

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from failover.domain import settings as app_settings
from failover.domain.config import HubPair
from failover.domain.identity import Actor, approver_refusal, identify
from failover.domain.operator_bodies import (
    AcknowledgeBody,
    BadRequest,
    DecisionBody,
    FailbackBody,
    FailoverBody,
    RecoverBody,
    parse_body,
)
from failover.domain.report_markdown import render
from failover.domain.requests import APPROVAL_EVENT, FailoverRequest, Trigger
from failover.pair_view import pair_view
from failover.services import services
from failover.stores.decisions import AlreadyDecided
from triggers.starting import StartResult, is_running, start_failback, start_failover, start_recover

bp = df.Blueprint()
log = logging.getLogger(__name__)

_RUNNING = {OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending}
_TERMINAL = {OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed,
             OrchestrationRuntimeStatus.Terminated, OrchestrationRuntimeStatus.Canceled}
Handler = Callable[..., Awaitable[func.HttpResponse]]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json",
                             headers=headers)


def _answers(handler: Handler) -> Handler:
    """BadRequest -> its 4xx; anything else is ours or the runtime's: a 503 without internals."""
    @wraps(handler)
    async def run(*args: Any, **kwargs: Any) -> func.HttpResponse:
        try:
            return await handler(*args, **kwargs)
        except BadRequest as exc:
            return _json(exc.status, exc.body())
        except Exception:
            log.exception("operator API: %s failed", handler.__name__)
            return _json(503, {"error": "the request could not be handled now; retry", "field": None})
    return run


def _pair(req: func.HttpRequest) -> HubPair:
    name = req.route_params.get("pair", "")
    try:
        return services().config.pair(name)
    except KeyError:
        raise BadRequest(404, f"no hub pair named {name[:100]!r}", "pair") from None


def _instance_pair(req: func.HttpRequest) -> tuple[str, HubPair]:
    """A pair's runs are `failover-{pair}` and `recover-{pair}`: anything else is unknown without asking the
    runtime. Both are read at /api/failovers/{instance}; only a failover ever waits at an approval gate."""
    instance_id = req.route_params.get("instance", "")
    for pair in services().config.pairs:
        if instance_id in pair.run_instance_ids:
            return instance_id, pair
    raise BadRequest(404, f"no failover or recover instance {instance_id[:100]!r}", "instance")


def _actor(req: func.HttpRequest, claimed: str | None, field: str) -> Actor:
    return identify(req.headers, claimed, field, authenticated=app_settings.Settings.from_env().app_service_auth)


def _audit(pair: str, kind: str, actor: Actor, outcome: str, detail: dict[str, Any]) -> None:
    services().audit.record(pair, None, kind, actor=actor.label, outcome=outcome,
                            detail={**detail, "identity": actor.audit()})


def _status_url(instance_id: str) -> str:
    """Our own status route (relative: nothing of the request's URL, such as ?code=, is echoed)."""
    return f"/api/failovers/{instance_id}"


def _started(result: StartResult) -> func.HttpResponse:
    if not result.started:
        return _json(409, {"error": result.why, "field": None, "instance_id": result.instance_id})
    url = _status_url(result.instance_id)
    return _json(202, {"instance_id": result.instance_id, "why": result.why, "status_url": url},
                 {"Location": url, "Retry-After": "10"})


# -- pairs ---------------------------------------------------------------------------------

@bp.route(route="pairs", methods=["GET"])
@bp.durable_client_input(client_name="client")
@_answers
async def list_pairs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc, now = services(), datetime.now(UTC)
    return _json(200, {"pairs": [pair_view(svc, pair.name, now) for pair in svc.config.pairs]})


@bp.route(route="pairs/{pair}", methods=["GET"])
@bp.durable_client_input(client_name="client")
@_answers
async def get_pair(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    pair = _pair(req)
    view = pair_view(services(), pair.name, datetime.now(UTC))
    status = await client.get_status(pair.instance_id)
    view["failover"] = _status_body(status) if status and status.runtime_status else None
    status = await client.get_status(pair.recover_instance_id)
    view["recover"] = _status_body(status) if status and status.runtime_status else None
    return _json(200, view)


@bp.route(route="pairs/{pair}/failover", methods=["POST"])
@bp.durable_client_input(client_name="client")
@_answers
async def start_pair_failover(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    pair = _pair(req)
    body = parse_body(req.get_body(), FailoverBody)
    actor = _actor(req, body.requested_by, "requested_by")
    if body.target is not None and body.target not in (pair.primary.name, pair.secondary.name):
        raise BadRequest(422, f"target: {body.target[:100]!r} is not a hub of pair {pair.name!r}", "target")
    request = FailoverRequest(pair=pair.name, trigger=Trigger.MANUAL, reason=body.reason, requested_by=actor.label,
                              target=body.target, dry_run=body.dry_run, drill=body.drill,
                              require_approval=body.require_approval, detected_at=datetime.now(UTC))
    return _started(await start_failover(client, request, force=body.force, kind="failover"))


@bp.route(route="pairs/{pair}/failback", methods=["POST"])
@bp.durable_client_input(client_name="client")
@_answers
async def start_pair_failback(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    pair = _pair(req)
    body = parse_body(req.get_body(), FailbackBody)
    actor = _actor(req, body.requested_by, "requested_by")
    return _started(await start_failback(client, pair.name, requested_by=actor.label, reason=body.reason))


@bp.route(route="pairs/{pair}/recover", methods=["POST"])
@bp.durable_client_input(client_name="client")
@_answers
async def start_pair_recover(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Complete the last failover's recovery on the active hub (`recover-{pair}`): 409 while a run of the pair is
    in progress, or when no run moved the pointer to the hub that is active now (nothing to complete)."""
    pair = _pair(req)
    body = parse_body(req.get_body(), RecoverBody)
    actor = _actor(req, body.requested_by, "requested_by")
    return _started(await start_recover(client, pair.name, requested_by=actor.label, reason=body.reason,
                                        dry_run=body.dry_run))


@bp.route(route="pairs/{pair}/acknowledge", methods=["POST"])
@bp.durable_client_input(client_name="client")
@_answers
async def acknowledge_pair(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    pair = _pair(req)
    body = parse_body(req.get_body(), AcknowledgeBody)
    actor = _actor(req, body.by, "by")
    svc, now = services(), datetime.now(UTC)
    before = svc.pair_state.read(pair.name)
    after = svc.pair_state.acknowledge(pair.name, actor.label, now)
    lifted = before.in_cooldown()
    _audit(pair.name, "acknowledge", actor, "lifted" if lifted else "no_cooldown",
           {"cooldown_since": before.cooldown_since.isoformat() if before.cooldown_since else None,
            "comment": body.comment})
    return _json(200, {"pair": pair.name, "cooldown_lifted": lifted, "acknowledged_by": after.acknowledged_by,
                       "acknowledged_at": now.isoformat()})


# -- failover instances ------------------------------------------------------------------

def _status_body(status: Any) -> dict[str, Any]:
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    runtime = status.runtime_status
    return {"instance_id": status.instance_id, "runtime_status": runtime.value if runtime else None,
            "stage": custom.get("stage"), "progress": status.custom_status,
            "report": status.output if runtime in _TERMINAL else None,
            "created_time": status.created_time.isoformat() if status.created_time else None,
            "last_updated_time": status.last_updated_time.isoformat() if status.last_updated_time else None}


@bp.route(route="failovers/{instance}", methods=["GET"])
@bp.durable_client_input(client_name="client")
@_answers
async def get_failover(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id, _ = _instance_pair(req)
    return _json(200, _status_body(await _ran(client, instance_id)))


async def _ran(client: df.DurableOrchestrationClient, instance_id: str) -> Any:
    """The instance's status; a 404 when it never ran."""
    status = await client.get_status(instance_id)
    if not status or status.runtime_status is None:
        raise BadRequest(404, f"no failover or recover instance {instance_id!r} has run", "instance")
    return status


@bp.route(route="failovers/{instance}/report", methods=["GET"])
@bp.durable_client_input(client_name="client")
@_answers
async def get_failover_report(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The last run's report a person reads (Markdown), as its audit activity stored it beside the audit record."""
    instance_id, pair = _instance_pair(req)
    status = await _ran(client, instance_id)
    if status.runtime_status not in _TERMINAL:
        raise BadRequest(409, f"{instance_id} is {status.runtime_status.value}: its report is written when it ends "
                              f"(follow it at {_status_url(instance_id)})", "instance")
    report = status.output if isinstance(status.output, dict) else None
    if report is None or not isinstance(report.get("run"), str):
        raise BadRequest(404, f"{instance_id} ended {status.runtime_status.value} without a report", "instance")
    # The stored text is the record; rendered from the output only if the audit activity could not store it.
    markdown = services().reports.read(pair.name, report["run"]) or render(report)
    return func.HttpResponse(markdown, status_code=200, mimetype="text/markdown", charset="utf-8")


def _waiting_run(status: Any, wanted: str | None) -> str:
    """The run waiting at the approval gate; a 409 when none is, or another one than ``wanted``."""
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    stage, run = custom.get("stage"), custom.get("run")
    if status.runtime_status not in _RUNNING:
        raise BadRequest(409, f"instance is {status.runtime_status.value}, not running")
    if stage != "awaiting_approval" or not isinstance(run, str):
        raise BadRequest(409, f"instance is at stage {stage!r}, not awaiting approval")
    if wanted is not None and wanted != run:
        raise BadRequest(409, f"the gate is waiting for run {run}, not {wanted}", "run")
    return run


async def _decide(req: func.HttpRequest, client: df.DurableOrchestrationClient,
                  verdict: Literal["approve", "reject"]) -> func.HttpResponse:
    """Record the decision for the run waiting at the gate (conditional insert), then ring the gate."""
    instance_id, pair = _instance_pair(req)
    body = parse_body(req.get_body(), DecisionBody)
    actor = _actor(req, body.by, "by")
    detail: dict[str, Any] = {"instance_id": instance_id, "comment": body.comment, "run": body.run}
    barred = approver_refusal(actor, pair.policy.approvers, pair.name)
    if barred is not None:
        _audit(pair.name, verdict, actor, "refused", {**detail, "why": barred})
        raise BadRequest(403, barred, "by")
    status = await _ran(client, instance_id)
    decisions = services().decisions
    try:
        run = detail["run"] = _waiting_run(status, body.run)
        try:
            record = decisions.record(pair=pair.name, instance_id=instance_id, run=run, decision=verdict,
                                      by=actor.label, identity=actor.audit(), comment=body.comment,
                                      at=datetime.now(UTC))
        except AlreadyDecided as exc:
            first = exc.existing
            raise BadRequest(409, f"run {run} is already decided" + (
                f": {first.decision} by {first.by} at {first.at.isoformat()}" if first else "")) from None
        try:
            await client.raise_event(instance_id, APPROVAL_EVENT, {"decision_id": record.decision_id})
        except Exception:  # finished since we looked (410), or the runtime did not answer
            decisions.withdraw(record)  # undelivered: it decided nothing, a retry may decide
            log.warning("approval event for %s could not be raised", instance_id, exc_info=True)
            if await is_running(client, instance_id):
                raise  # still waiting: a transient failure, answered 503 (retry)
            raise BadRequest(409, "the instance stopped waiting before the decision reached it; "
                                  "nothing was decided") from None
    except BadRequest as refused:
        _audit(pair.name, verdict, actor, "refused", {**detail, "why": refused.error})
        return _json(refused.status, {**refused.body(), "instance_id": instance_id})
    _audit(pair.name, verdict, actor, "recorded", {**detail, "decision_id": record.decision_id})
    return _json(202, {"instance_id": instance_id, "run": run, "decision": verdict, "by": actor.label,
                       "identity_verified": actor.verified, "decision_id": record.decision_id,
                       "status_url": _status_url(instance_id)})


@bp.route(route="failovers/{instance}/approve", methods=["POST"])
@bp.durable_client_input(client_name="client")
@_answers
async def approve_failover(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _decide(req, client, "approve")


@bp.route(route="failovers/{instance}/reject", methods=["POST"])
@bp.durable_client_input(client_name="client")
@_answers
async def reject_failover(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _decide(req, client, "reject")
