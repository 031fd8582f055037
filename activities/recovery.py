"""Recovery, one chunk per call: recreate artifacts, activate what needs a state switched on
(deployment scale, endpoint routes, schedules), resubmit interrupted jobs.

Inputs are ids (pair, hubs, snapshot name, stage, wave, kind, chunk index); the items are read
from the catalog snapshot here and cut from the same recovery stages the plan counted
(failover/recovery_order.py), so history holds counts, not specs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, TypeVar

import azure.durable_functions as df

from activities.traced import traced
from failover.domain.config import HubPair
from failover.domain.model import Artifact, ArtifactKind
from failover.domain.resource_maps import ResourceMaps
from failover.recovery import activate, activation_form, chunk, compute_map_from, recoverable, target_form
from failover.recovery import recreate_artifacts as recreate
from failover.recovery import resubmit_jobs as resubmit
from failover.recovery_order import JOBS
from failover.services import Services, services

bp = df.Blueprint()
T = TypeVar("T")


def _chunk(items: Sequence[T], payload: dict[str, Any]) -> list[T]:
    return list(chunk(items, int(payload["chunk"]), int(payload["chunk_size"])))


def _stage_items(svc: Services, pair: HubPair, payload: dict[str, Any], what: str) -> list[Any]:
    """The items of one wave of one recovery stage, in the order every activity cuts chunks from."""
    stages = svc.recovery_stages(pair, payload["source"], payload["snapshot"])
    return stages[int(payload["stage"])].items(int(payload["wave"]), what)


def _journal_scope(payload: dict[str, Any], what: str) -> str:
    return f"{payload['stage']}.{payload['wave']}-{what}-{payload['chunk']}"


@bp.activity_trigger(input_name="payload")
@traced
def recreate_artifacts(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    pair = svc.config.pair(payload["pair"])
    kind = ArtifactKind(payload["kind"])
    items = _chunk(_stage_items(svc, pair, payload, kind.value), payload)
    remember = partial(svc.journal.remember, payload["run"], _journal_scope(payload, kind.value))
    prepare = target_form(pair, payload["source"], payload["target"], flipped=bool(payload.get("flipped")))
    return {"kind": kind.value, **recreate(svc.hub(payload["target"]), items, dry_run=bool(payload["dry_run"]),
                                           concurrency=pair.policy.max_concurrency, remember=remember,
                                           prepare=prepare, secrets=svc.secrets(pair.name))}


def _to_activate(svc: Services, pair: HubPair, kind: ArtifactKind, payload: dict[str, Any]) -> list[Artifact]:
    """Chunk i of what to activate: the kind's items of one recovery stage, or (``stage`` None: a flip-only
    failover, which recreates nothing) every recoverable item of the kind."""
    if payload.get("stage") is not None:
        stages = svc.recovery_stages(pair, payload["source"], payload["snapshot"])
        return _chunk(stages[int(payload["stage"])].of_kind(kind.value), payload)
    ordered = svc.chunk_items(payload["source"], payload["snapshot"], f"{pair.name}:{kind.value}",
                              lambda snapshot: recoverable(pair, payload["source"], kind, snapshot.artifact_list(kind)))
    return _chunk(ordered, payload)


@bp.activity_trigger(input_name="payload")
@traced
def activate_state(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    pair = svc.config.pair(payload["pair"])
    kind = ArtifactKind(payload["kind"])
    flipped = bool(payload["flipped"])
    # The source is asked only to disable schedules, and only when it answered at plan time.
    ask_source = kind is ArtifactKind.SCHEDULE and flipped and bool(payload.get("primary_reachable"))
    stage = payload.get("stage")
    scope = (f"activate-{kind.value}-{'all' if stage is None else stage}.{payload['chunk']}"
             f"-r{payload['round']}")  # each round looks afresh
    items = _to_activate(svc, pair, kind, payload)
    # A later round asks again only about the items still provisioning in the round before.
    selected = list(range(len(items))) if payload.get("items") is None else [int(i) for i in payload["items"]]
    result = activate(
        svc.hub(payload["target"]), svc.hub(payload["source"]) if ask_source else None,
        [items[i] for i in selected], desired=activation_form(pair, payload["source"], payload["target"]),
        flipped=flipped, dry_run=bool(payload["dry_run"]), concurrency=pair.policy.max_concurrency,
        remember=partial(svc.journal.remember, payload["run"], scope))
    return {"kind": kind.value, **result, "pending_items": [selected[i] for i in result["pending_items"]]}


@bp.activity_trigger(input_name="payload")
@traced
def resubmit_jobs(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    pair = svc.config.pair(payload["pair"])
    primary = svc.hub(payload["source"]) if payload.get("primary_reachable") else None
    return resubmit(svc.hub(payload["target"]), primary, _chunk(_stage_items(svc, pair, payload, JOBS), payload),
                    generation=int(payload["generation"]), compute_map=compute_map_from(pair, payload["source"]),
                    dry_run=bool(payload["dry_run"]), concurrency=pair.policy.max_concurrency,
                    secrets=svc.secrets(pair.name),
                    remember=partial(svc.journal.remember, payload["run"], _journal_scope(payload, JOBS)),
                    maps=ResourceMaps.of_pair(pair, payload["source"]))
