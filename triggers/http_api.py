"""The operator API: pair status, start / approve / reject / acknowledge / failback. Function-level auth.

Thin: parse and validate (failover.domain.operator_bodies), call the core or triggers.starting,
answer JSON. Bad input is a 4xx {"error", "field"}; an unknown pair or instance is a 404.
Every operator action is audited with who did it (Easy Auth's principal, else the body's name).
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

from failover.domain.config import HubPair
from failover.domain.operator_bodies import (
    AcknowledgeBody,
    BadRequest,
    DecisionBody,
    FailbackBody,
    FailoverBody,
    identity,
    parse_body,
)
from failover.domain.requests import APPROVAL_EVENT, ApprovalDecision, FailoverRequest, Trigger
from failover.pair_view import pair_view
from failover.services import services
from triggers.starting import StartResult, start_failback, start_failover

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
    """Failover instances are `failover-{pair}`: anything else is unknown without asking the runtime."""
    instance_id = req.route_params.get("instance", "")
    for pair in services().config.pairs:
        if pair.instance_id == instance_id:
            return instance_id, pair
    raise BadRequest(404, f"no failover instance {instance_id[:100]!r}", "instance")


def _audit(pair: str, kind: str, actor: str, outcome: str, detail: dict[str, Any]) -> None:
    services().audit.record(pair, None, kind, actor=actor, outcome=outcome, detail=detail)


def _started(req: func.HttpRequest, client: df.DurableOrchestrationClient, result: StartResult) -> func.HttpResponse:
    if not result.started:
        return _json(409, {"error": result.why, "field": None, "instance_id": result.instance_id})
    links = client.get_client_response_links(req, result.instance_id)
    return _json(202, {"instance_id": result.instance_id, "why": result.why,
                       "status_url": f"/api/failovers/{result.instance_id}", "management": links},
                 {"Location": links["statusQueryGetUri"], "Retry-After": "10"})


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
    return _json(200, view)


@bp.route(route="pairs/{pair}/failover", methods=["POST"])
@bp.durable_client_input(client_name="client")
@_answers
async def start_pair_failover(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    pair = _pair(req)
    body = parse_body(req.get_body(), FailoverBody)
    actor = identity(req.headers, body.requested_by, "requested_by")
    if body.target is not None and body.target not in (pair.primary.name, pair.secondary.name):
        raise BadRequest(422, f"target: {body.target[:100]!r} is not a hub of pair {pair.name!r}", "target")
    request = FailoverRequest(pair=pair.name, trigger=Trigger.MANUAL, reason=body.reason, requested_by=actor,
                              target=body.target, dry_run=body.dry_run, drill=body.drill,
                              require_approval=body.require_approval, detected_at=datetime.now(UTC))
    return _started(req, client, await start_failover(client, request, force=body.force, kind="failover"))


@bp.route(route="pairs/{pair}/failback", methods=["POST"])
@bp.durable_client_input(client_name="client")
@_answers
async def start_pair_failback(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    pair = _pair(req)
    body = parse_body(req.get_body(), FailbackBody)
    actor = identity(req.headers, body.requested_by, "requested_by")
    return _started(req, client, await start_failback(client, pair.name, requested_by=actor, reason=body.reason))


@bp.route(route="pairs/{pair}/acknowledge", methods=["POST"])
@bp.durable_client_input(client_name="client")
@_answers
async def acknowledge_pair(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    pair = _pair(req)
    body = parse_body(req.get_body(), AcknowledgeBody)
    actor = identity(req.headers, body.by, "by")
    svc, now = services(), datetime.now(UTC)
    before = svc.pair_state.read(pair.name)
    after = svc.pair_state.acknowledge(pair.name, actor, now)
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
    status = await client.get_status(instance_id)
    if not status or status.runtime_status is None:
        raise BadRequest(404, f"no failover instance {instance_id!r} has run", "instance")
    return _json(200, _status_body(status))


async def _decide(req: func.HttpRequest, client: df.DurableOrchestrationClient,
                  verdict: Literal["approve", "reject"]) -> func.HttpResponse:
    instance_id, pair = _instance_pair(req)
    body = parse_body(req.get_body(), DecisionBody)
    actor = identity(req.headers, body.by, "by")
    status = await client.get_status(instance_id)
    if not status or status.runtime_status is None:
        raise BadRequest(404, f"no failover instance {instance_id!r} has run", "instance")
    stage = (status.custom_status or {}).get("stage") if isinstance(status.custom_status, dict) else None
    refusal = (f"instance is {status.runtime_status.value}, not running" if status.runtime_status not in _RUNNING
               else None if stage == "awaiting_approval" else f"instance is at stage {stage!r}, not awaiting approval")
    detail = {"instance_id": instance_id, "comment": body.comment, "stage": stage}
    if refusal is None:
        decision = ApprovalDecision(decision=verdict, by=actor, comment=body.comment)
        try:
            await client.raise_event(instance_id, APPROVAL_EVENT, decision.model_dump())
        except Exception as exc:  # finished between our read and the event (410): too late
            refusal = f"the instance stopped waiting: {str(exc)[:200]}"
    if refusal is not None:
        _audit(pair.name, verdict, actor, "refused", {**detail, "why": refusal})
        return _json(409, {"error": refusal, "field": None, "instance_id": instance_id})
    _audit(pair.name, verdict, actor, "sent", detail)
    return _json(202, {"instance_id": instance_id, "decision": verdict, "by": actor,
                       "status_url": f"/api/failovers/{instance_id}"})


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
