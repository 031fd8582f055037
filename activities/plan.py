"""Stages 1 and 2: the plan (pointer, catalog, inventory) of a failover or a recover, and the target's readiness."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from activities.traced import traced
from failover.domain.ports import HubClient, HubError
from failover.readiness import failover_checks
from failover.recovery import plan_failover, plan_recovery
from failover.services import services
from failover.stores.catalog import CatalogError

bp = df.Blueprint()


def _answers(hub: HubClient) -> bool:
    try:
        hub.ping()  # one try: this only decides whether live job refresh is worth attempting
    except HubError:
        return False
    return True


def _asking(hub: HubClient) -> Future[bool]:
    """The source's ping, on a thread of its own while the plan reads the catalog and builds its stages: its
    round trip (or its timeout, the source being down) is not added to the plan's time, and no plan's ping
    waits behind another's (a region's outage plans many pairs at once)."""
    asking = ThreadPoolExecutor(1, thread_name_prefix="plan-ping")
    try:
        return asking.submit(_answers, hub)
    finally:
        asking.shutdown(wait=False)  # the thread ends with its ping


@bp.activity_trigger(input_name="payload")
@traced
def load_plan(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    pair = svc.config.pair(payload["pair"])
    pointer = svc.pointers.ensure(pair.name, pair.primary.name, pair.secondary.name)
    source_answers = _asking(svc.probe_hub(pointer.active))
    try:
        snapshot, unreadable = svc.catalog.read(pointer.active), None
    except CatalogError as exc:  # the plan decides: a flip-only failover goes on, others abort with the reason
        snapshot, unreadable = None, str(exc)
    if snapshot is not None:  # the readiness and chunk activities after this one start from it
        svc.pin_snapshot(snapshot)
    stages = None if snapshot is None else svc.recovery_stages(pair, snapshot.hub, snapshot.name)
    return plan_failover(
        svc.config, pair.name, pointer=pointer, snapshot=snapshot, catalog_error=unreadable,
        target=payload.get("target"), require_approval=bool(payload.get("require_approval")),
        primary_reachable=source_answers.result(), now=datetime.now(UTC), stages=stages)


@bp.activity_trigger(input_name="payload")
@traced
def load_recovery_plan(payload: dict[str, Any]) -> dict[str, Any]:
    """A recover's plan: the last flip (pair state) and the very snapshot it recovered from."""
    svc = services()
    pair = svc.config.pair(payload["pair"])
    pointer = svc.pointers.ensure(pair.name, pair.primary.name, pair.secondary.name)
    flip = svc.pair_state.read(pair.name).last_flip
    source = str((flip or {}).get("source") or pointer.standby)
    source_answers = _asking(svc.probe_hub(source))
    snapshot, unreadable = None, None
    if flip and flip.get("snapshot") and flip.get("source"):
        try:
            snapshot = svc.snapshot(str(flip["source"]), str(flip["snapshot"]))
        except CatalogError as exc:  # pruned or damaged since: the plan says so, the run aborts
            unreadable = str(exc)
    return plan_recovery(svc.config, pair.name, pointer=pointer, last_flip=flip, completes=str(payload["completes"]),
                         snapshot=snapshot, catalog_error=unreadable, primary_reachable=source_answers.result(),
                         now=datetime.now(UTC))


@bp.activity_trigger(input_name="payload")
@traced
def check_readiness(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    pair = svc.config.pair(payload["pair"])
    snapshot = svc.snapshot(payload["source"], payload["snapshot"]) if payload.get("snapshot") else None
    # a flip-only plan without a catalog (snapshot None): only the target itself to check
    return failover_checks(svc, pair, source=payload["source"], target=payload["target"], snapshot=snapshot,
                           recovering=bool(payload.get("recover", True)),
                           stages=svc.recovery_stages(pair, snapshot.hub, snapshot.name) if snapshot else None)
