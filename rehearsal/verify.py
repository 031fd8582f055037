"""Read the secondary back after a drill and check it against the catalog and the report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from failover.domain.model import TAG_SOURCE_JOB, ArtifactKind
from failover.domain.secret_map import catalog_form
from failover.recovery import interrupted_jobs
from failover.services import services
from rehearsal.scenario import Scenario


def verify(scenario: Scenario, report: dict[str, Any]) -> dict[str, Any]:
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

    # In catalog form: an artifact recreated with a secret from Key Vault matches its cataloged marker.
    present = {(a.kind, a.name, a.version): catalog_form(a).content_hash
               for kind in ArtifactKind if kind is not ArtifactKind.CONNECTION
               for a in scenario.secondary.list_assets(kind)}
    present.update({(c.kind, c.name, c.version): catalog_form(c).content_hash
                    for c in scenario.secondary.list_connections()})
    missing = [a.key for kind in pair.policy.artifact_kinds for a in snapshot.artifact_list(kind)
               if present.get((a.kind, a.name, a.version)) != a.content_hash]

    flipped = report.get("outcome") in ("succeeded", "failed") and not (report.get("dry_run") or report.get("drill"))
    before = (report.get("pointer") or {}).get("generation_before", scenario.generation_before)
    expected_active = pair.secondary.name if flipped else pair.primary.name
    expected_generation = before + 1 if flipped else before
    pointer_ok = pointer.active == expected_active and pointer.generation == expected_generation
    dry_run_clean = not report.get("dry_run") or (
        not per_source and scenario.secondary.write_count == scenario.secondary_writes_before)
    max_per_source = max(per_source.values(), default=0)
    ok = (pointer_ok and max_per_source <= 1 and dry_run_clean
          and (not recovered or (not missing and not missing_jobs)))
    return {"ok": ok, "pointer_ok": pointer_ok, "pointer": {"active": pointer.active, "generation": pointer.generation},
            "secondary_jobs_per_source_max": max_per_source, "missing_jobs": len(missing_jobs),
            "missing_artifacts": len(missing) if recovered else 0, "dry_run_wrote_nothing": dry_run_clean}
