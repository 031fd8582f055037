"""Read the hubs back after a drill and check them against the catalog and the report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from failover.domain.model import TAG_SOURCE_JOB, ArtifactKind
from failover.domain.ports import HubClient
from failover.domain.serving import full_instance_count, schedule_enabled, size_for
from failover.recovery import interrupted_jobs, recoverable, target_form
from failover.services import services
from rehearsal.scenario import Scenario


def _enabled_schedules(hub: HubClient) -> set[str]:
    return {a.name for a in hub.list_assets(ArtifactKind.SCHEDULE) if schedule_enabled(a)}


def verify(scenario: Scenario, report: dict[str, Any]) -> dict[str, Any]:
    """Both hubs must answer (the drill brings the primary back first)."""
    svc = services()
    pair = scenario.config.pair(scenario.pair)
    pointer = svc.pointers.read(scenario.pair)
    snapshot = svc.catalog.read(pair.primary.name)
    assert snapshot is not None
    writes_expected = report.get("outcome") is not None and not report.get("dry_run")
    recovered = writes_expected and pair.mode != "hot-hot" and report.get("outcome") in ("succeeded", "failed")

    per_source = Counter(j.tags.get(TAG_SOURCE_JOB) for j in scenario.secondary.list_jobs())
    per_source.pop(None, None)
    interrupted = interrupted_jobs(snapshot.job_records(), pair)
    missing_jobs = [j.name for j in interrupted if per_source.get(j.name, 0) == 0] if recovered else []

    flipped = report.get("outcome") in ("succeeded", "failed") and not (report.get("dry_run") or report.get("drill"))
    # What the secondary should hold: the catalog in the form recovery writes (maps applied, sizes for the
    # secondary), compared by definition (an endpoint's traffic or a deployment's scale is checked below).
    form = target_form(pair, pair.primary.name, pair.secondary.name, flipped=flipped)
    on_secondary = {kind: {a.name if a.version is None else (a.name, a.version): a
                           for a in scenario.secondary.list_assets(kind)} for kind in ArtifactKind}
    missing = [a.key for kind in pair.policy.artifact_kinds
               for a in recoverable(pair, pair.primary.name, kind, snapshot.artifact_list(kind))
               if (got := on_secondary[kind].get(a.name if a.version is None else (a.name, a.version))) is None
               or got.definition_hash != form(a).definition_hash]

    # Online deployments serve at their full size once the secondary is active (hot-hot: always), and at
    # their warm size while it is the standby.
    off_scale = []
    for deployment in snapshot.artifact_list(ArtifactKind.ONLINE_DEPLOYMENT):
        got = on_secondary[ArtifactKind.ONLINE_DEPLOYMENT].get(deployment.name)
        if got is None:
            continue  # counted as missing above when it should be there
        size = size_for(pair, pair.secondary.name, deployment)
        full = full_instance_count(deployment, size)
        want = full if flipped or pair.mode == "hot-hot" else min(size.warm_instance_count if size else 1, full)
        if int(got.spec["sku"]["capacity"]) != want:
            off_scale.append(deployment.name)

    # A schedule runs in the active hub only: never in both (twice), and, where recovery moved it, not
    # in neither (never).
    active, standby = ((scenario.secondary, scenario.primary) if pointer.active == pair.secondary.name
                       else (scenario.primary, scenario.secondary))
    enabled_active, enabled_standby = _enabled_schedules(active), _enabled_schedules(standby)
    cataloged = {a.name for a in snapshot.artifact_list(ArtifactKind.SCHEDULE) if schedule_enabled(a)}
    moved = ArtifactKind.SCHEDULE in pair.policy.artifact_kinds and (flipped or active is scenario.primary)
    not_running = sorted(cataloged - enabled_active) if moved else []

    before = (report.get("pointer") or {}).get("generation_before", scenario.generation_before)
    expected_active = pair.secondary.name if flipped else pair.primary.name
    expected_generation = before + 1 if flipped else before
    pointer_ok = pointer.active == expected_active and pointer.generation == expected_generation
    dry_run_clean = not report.get("dry_run") or (
        not per_source and scenario.secondary.write_count == scenario.secondary_writes_before)
    max_per_source = max(per_source.values(), default=0)
    ok = (pointer_ok and max_per_source <= 1 and dry_run_clean and not enabled_standby and not not_running
          and not off_scale and (not recovered or (not missing and not missing_jobs)))
    return {"ok": ok, "pointer_ok": pointer_ok, "pointer": {"active": pointer.active, "generation": pointer.generation},
            "secondary_jobs_per_source_max": max_per_source, "missing_jobs": len(missing_jobs),
            "missing_artifacts": len(missing) if recovered else 0, "dry_run_wrote_nothing": dry_run_clean,
            "schedules_enabled_on_standby": len(enabled_standby), "schedules_not_running": len(not_running),
            "deployments_off_scale": len(off_scale)}
