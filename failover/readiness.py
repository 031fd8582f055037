"""Could the standby take over now? The failover's own readiness checks, run ahead of time, plus drift.

Run for every pair by the readiness timer (triggers/readiness.py, READINESS_SCHEDULE), not only at a
failover's stage 2. A pair is ready when all of these hold:
- the failover's stage-2 checks (``failover_checks``, the one implementation both use) pass against
  the standby, with every mapped compute expected, not only those today's interrupted jobs need;
- the active hub's catalog exists and is no older than ``policy.rpo_minutes``;
- the standby's last health probe passed (an automatic failover needs a healthy standby);
- the orchestrator's identity may do on the standby what a failover of the pair's mode does there
  (one authorized read: the Permissions API);
- no cataloged artifact exists on the standby with other content (the failover would fail it), and
  every artifact of a pre-deployed kind (``policy.predeployed_kinds``) is already there.
Drift is what a failover would have to do now: artifacts to recreate per kind, jobs to resubmit.
The result is stored in the pair state and shown by GET /api/pairs/{pair} and `hubfailover status`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from failover.domain.config import HubPair
from failover.domain.model import Artifact
from failover.domain.permissions import missing, recovery_actions
from failover.domain.ports import HubClient, HubError
from failover.domain.resource_maps import ResourceMaps
from failover.domain.secrets import scrub
from failover.hubs.hub_retry import call_hub
from failover.recovery import (
    check_readiness,
    compute_map_from,
    interrupted_jobs,
    recoverable,
    recovery_inventory,
    same_definition,
    target_form,
)
from failover.recovery_order import RecoveryStage, stage_items
from failover.services import Services
from failover.stores.catalog import CatalogSnapshot

MAX_NAMED = 10  # items named per kind in a reason or in drift examples: the row stays small


def failover_checks(svc: Services, pair: HubPair, *, source: str, target: str, snapshot: CatalogSnapshot | None,
                    recovering: bool, expected_computes: Iterable[str] = (),
                    stages: Sequence[RecoveryStage] | None = None) -> dict[str, Any]:
    """Stage 2's checks of ``target`` for a failover from ``source`` with this catalog snapshot (None: a
    flip-only plan without a catalog, so only the target itself is checked). ``stages``: the snapshot's
    recovery stages when the caller has them (a failover's plan built them): every interrupted job and
    recoverable artifact is in them, so nothing is read from the snapshot again."""
    if stages is not None:
        jobs, artifacts = list(stage_items(stages, jobs=True)), list(stage_items(stages, jobs=False))
    elif snapshot is not None:
        jobs, artifacts = recovery_inventory(snapshot, pair, source)
    else:
        jobs, artifacts = [], []
    return check_readiness(pair, svc.hub(target), jobs if recovering else [], artifacts, compute_map_from(pair, source),
                           ResourceMaps.of_pair(pair, source), expected_computes=expected_computes)


def _named(items: Iterable[Artifact]) -> list[str]:
    return [a.key for a in list(items)[:MAX_NAMED]]


def drift(pair: HubPair, standby: HubClient, snapshot: CatalogSnapshot, recovering: bool, *,
          source: str) -> dict[str, Any]:
    """What a failover from ``source`` would do on ``standby`` now, per kind, and what it could not (other
    content there). Compared as recovery compares: what it would write (target form) against what is there."""
    to_recreate: dict[str, int] = {}
    conflicts: dict[str, int] = {}
    not_predeployed: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    conflicting: dict[str, list[str]] = {}
    predeployed = set(pair.predeployed_kinds)
    form = target_form(pair, source, standby.hub_id, flipped=False)
    for kind in pair.policy.artifact_kinds:
        cataloged = [form(a) for a in recoverable(pair, source, kind, snapshot.artifact_list(kind))]
        present = {(a.name, a.version or ""): a for a in
                   (call_hub(partial(standby.list_assets, kind)) if cataloged else [])}
        absent = [a for a in cataloged if (a.name, a.version or "") not in present]
        differ = [a for a in cataloged if (a.name, a.version or "") in present
                  and not same_definition(present[(a.name, a.version or "")], a)]
        to_recreate[kind.value] = len(absent)
        if absent:
            examples[kind.value] = _named(absent)
        if differ:
            conflicts[kind.value] = len(differ)
            conflicting[kind.value] = _named(differ)
        if kind in predeployed and absent:
            not_predeployed[kind.value] = len(absent)
    jobs = len(interrupted_jobs(snapshot.job_records(), pair)) if recovering else 0
    return {"to_recreate": to_recreate, "jobs_to_resubmit": jobs, "conflicts": conflicts,
            "not_predeployed": not_predeployed, "examples": examples, "conflicting": conflicting}


def _drift_reasons(found: dict[str, Any], standby: str) -> list[str]:
    reasons = []
    for kind, count in found["conflicts"].items():
        reasons.append(f"{count} {kind}(s) exist on {standby} with other content (a failover would fail them): "
                       f"{', '.join(found['conflicting'][kind])}")
    for kind, count in found["not_predeployed"].items():
        reasons.append(f"{count} {kind}(s) should be pre-deployed on {standby} but are not: "
                       f"{', '.join(found['examples'][kind])}")
    return reasons


def assess(svc: Services, pair: HubPair, now: datetime) -> dict[str, Any]:
    """The readiness of ``pair``'s standby now. Never raises for the hub's sake: a failure is a reason."""
    pointer = svc.pointers.ensure(pair.name, pair.primary.name, pair.secondary.name)
    active, standby = pointer.active, pointer.standby
    recovering = pair.mode != "hot-hot"
    reasons: list[str] = []
    result: dict[str, Any] = {"checked_at": now.isoformat(), "active": active, "standby": standby,
                              "generation": pointer.generation, "drift": None, "checked": {}}
    snapshot = svc.catalog.read(active)
    rpo = pair.policy.rpo_minutes
    if snapshot is None:
        if recovering:  # a flip-only (hot-hot) failover needs no catalog
            reasons.append(f"no catalog of {active}: a failover would abort (run a catalog sync)")
        result["catalog"] = {"hub": active, "taken_at": None, "age_seconds": None, "rpo_minutes": rpo}
    else:
        age = round((now - snapshot.taken_at).total_seconds(), 1)
        result["catalog"] = {"hub": active, "taken_at": snapshot.taken_at.isoformat(), "age_seconds": age,
                             "rpo_minutes": rpo}
        if age > rpo * 60:
            reasons.append(f"catalog of {active} is {age / 60:.0f} min old, over the RPO of {rpo} min "
                           "(check the catalog sync)")
    streak = svc.pair_state.read(pair.name).streak(standby)
    result["standby_probe"] = {"last_ok": streak.last_ok, "failures": streak.failures,
                               "successes": streak.successes, "last_at": streak.last_at.isoformat()
                               if streak.last_at else None}
    if streak.last_ok is False:
        reasons.append(f"standby {standby} failed its last {streak.failures} probe(s): {scrub(streak.last_detail)}"
                       [:300])
    try:
        reasons += _hub_reasons(svc, pair, result, active=active, standby=standby, snapshot=snapshot,
                                recovering=recovering)
    except HubError as exc:
        reasons.append(f"standby {standby} could not be checked: {exc.category.value}: {scrub(str(exc))}"[:300])
    return {"ready": not reasons, "reasons": reasons, **result}


def _hub_reasons(svc: Services, pair: HubPair, result: dict[str, Any], *, active: str, standby: str,
                 snapshot: CatalogSnapshot | None, recovering: bool) -> list[str]:
    """What only the standby itself can tell: stage 2's checks, drift, the identity's permissions."""
    hub = svc.hub(standby)
    checks = failover_checks(svc, pair, source=active, target=standby, snapshot=snapshot,
                             recovering=recovering, expected_computes=compute_map_from(pair, active).values())
    reasons: list[str] = list(checks["reasons"])
    result["checked"] = dict(checks.get("checked") or {})
    if not result["checked"]:  # the standby did not answer: nothing more to ask it
        return reasons
    if snapshot is not None:
        found = drift(pair, hub, snapshot, recovering, source=active)
        result["drift"] = found
        reasons += _drift_reasons(found, standby)
    denied = missing(recovery_actions(pair.mode, pair.policy.artifact_kinds), call_hub(hub.permissions))
    result["checked"]["permissions"] = "denied" if denied else "allowed"
    if denied:
        reasons.append(f"the orchestrator's identity may not do on {standby} what a failover does there: "
                       f"{', '.join(denied)}")
    return reasons


def assess_all(svc: Services, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """Every pair's readiness, stored in its pair state. One pair's failure does not stop the others."""
    results = []
    for pair in svc.config.pairs:
        try:
            readiness = assess(svc, pair, now)
        except Exception as exc:  # storage, or anything unforeseen: recorded as a reason, never silent
            readiness = {"ready": False, "checked_at": now.isoformat(), "drift": None,
                         "reasons": [f"the readiness check failed: {type(exc).__name__}: {scrub(str(exc))}"[:300]]}
        svc.pair_state.record_readiness(pair.name, readiness)
        results.append((pair.name, readiness))
    return results
