"""Stages 1 and 2: the plan (pointer, catalog, inventory) and the target's readiness."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from activities.traced import traced
from failover.domain.ports import HubClient, HubError
from failover.readiness import failover_checks
from failover.recovery import plan_failover
from failover.services import services
from failover.stores.catalog import CatalogError

bp = df.Blueprint()


def _answers(hub: HubClient) -> bool:
    try:
        hub.ping()  # one try: this only decides whether live job refresh is worth attempting
    except HubError:
        return False
    return True


@bp.activity_trigger(input_name="payload")
@traced
def load_plan(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    pair = svc.config.pair(payload["pair"])
    pointer = svc.pointers.ensure(pair.name, pair.primary.name, pair.secondary.name)
    try:
        snapshot, unreadable = svc.catalog.read(pointer.active), None
    except CatalogError as exc:  # the plan decides: a flip-only failover goes on, others abort with the reason
        snapshot, unreadable = None, str(exc)
    return plan_failover(
        svc.config, pair.name, pointer=pointer, snapshot=snapshot, catalog_error=unreadable,
        target=payload.get("target"), require_approval=bool(payload.get("require_approval")),
        primary_reachable=_answers(svc.probe_hub(pointer.active)), now=datetime.now(UTC))


@bp.activity_trigger(input_name="payload")
@traced
def check_readiness(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    snapshot = svc.snapshot(payload["source"], payload["snapshot"]) if payload.get("snapshot") else None
    # a flip-only plan without a catalog (snapshot None): only the target itself to check
    return failover_checks(svc, svc.config.pair(payload["pair"]), source=payload["source"],
                           target=payload["target"], snapshot=snapshot, recovering=bool(payload.get("recover", True)))
