"""What an operator sees of one hub pair: pointer, probe streaks, last failover, cooldown, catalog age, readiness.

Read-only: assembled from the stores, never written back (a pair nobody probed yet has no
pointer row, and reading its status must not create one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from failover.services import Services
from failover.stores.pointer import PointerNotFound


def pair_view(svc: Services, pair_name: str, now: datetime) -> dict[str, Any]:
    """Raises KeyError for a pair the configuration does not name."""
    pair = svc.config.pair(pair_name)
    pointer: dict[str, Any] | None
    try:
        pointer = {k: v for k, v in svc.pointers.read(pair.name).to_dict().items() if k != "etag"}
    except PointerNotFound:
        pointer = None
    state = svc.pair_state.read(pair.name)
    active = pointer["active"] if pointer else pair.primary.name
    return {
        "pair": pair.name,
        "mode": pair.mode,
        "auto_failover": pair.auto_failover,
        "primary": pair.primary.name,
        "secondary": pair.secondary.name,
        "instance_id": pair.instance_id,
        "pointer": pointer,
        "health": {hub.name: state.streak(hub.name).to_dict() for hub in (pair.primary, pair.secondary)},
        "last_failover": state.last_failover,
        # the last run that moved the pointer: what `hubfailover recover PAIR` completes
        "last_flip": state.last_flip,
        "last_recover": state.last_recover,
        "recover_instance_id": pair.recover_instance_id,
        "last_decision": state.last_decision,
        "cooldown": {  # set by a failover that moved the pointer; only an acknowledgement lifts it
            "since": state.cooldown_since.isoformat() if state.cooldown_since else None,
            "in_force": state.in_cooldown(),
            "acknowledged_by": state.acknowledged_by or None,
            "acknowledged_at": state.acknowledged_at.isoformat() if state.acknowledged_at else None,
        },
        "run_claim": state.claim.to_dict() if state.claim else None,
        "failback": {"threshold": pair.policy.probe_success_threshold_for_failback,
                     "original_primary_successes": state.streak(pair.primary.name).successes},
        "catalog": catalog_age(svc, active, now),
        "readiness": readiness_view(state.readiness),
    }


def readiness_view(readiness: dict[str, Any] | None) -> dict[str, Any]:
    """The last readiness check (failover/readiness.py); ``ready`` None when none ran yet."""
    if not readiness:
        return {"ready": None, "checked_at": None, "reasons": [], "drift": None}
    return {**readiness, "ready": bool(readiness.get("ready")), "reasons": list(readiness.get("reasons") or [])}


def catalog_age(svc: Services, hub: str, now: datetime) -> dict[str, Any]:
    """The active hub's last catalog sync: its age is the metadata RPO."""
    try:
        manifest = svc.catalog.manifest(hub)
        taken_at = datetime.fromisoformat(manifest["taken_at"]) if manifest else None
    except (ValueError, KeyError, TypeError) as exc:
        return {"hub": hub, "taken_at": None, "age_seconds": None, "error": f"unreadable manifest: {exc}"}
    if manifest is None or taken_at is None:
        return {"hub": hub, "taken_at": None, "age_seconds": None, "snapshot": None}
    return {"hub": hub, "taken_at": taken_at.isoformat(),
            "age_seconds": round((now - taken_at).total_seconds(), 1), "snapshot": manifest.get("snapshot")}
