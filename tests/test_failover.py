"""The `failover` orchestration end to end: replay host on Azurite, simulated hubs, real SDK replay."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from failover.domain.model import TAG_SOURCE_JOB
from failover.services import services
from rehearsal.console import DrillConsole
from rehearsal.drill import run_drill
from rehearsal.scenario import DrillOptions
from replayhost.azurite import AzuriteEndpoints

QUIET = DrillConsole(quiet=True)


def options(**overrides: Any) -> DrillOptions:
    tag = uuid.uuid4().hex[:8]
    base = DrillOptions(jobs=12, artifacts=18, seed=3, chunk_size=4, pair=f"p{tag}",
                        primary=f"pri{tag}", secondary=f"sec{tag}")
    return replace(base, **overrides)


def drill(azurite: AzuriteEndpoints, **overrides: Any) -> tuple[int, dict[str, Any], DrillOptions]:
    opts = options(**overrides)
    code, report = run_drill(opts, QUIET, connection_string=azurite.connection_string)
    return code, report, opts


def stable(report: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on crashes: outcome, counts, generations, errors, verification."""
    verification = {k: v for k, v in report["verification"].items() if k != "pointer"}
    return {"outcome": report["outcome"], "jobs": report["jobs"], "artifacts": report["artifacts"],
            "activation": report["activation"],
            "generations": (report["pointer"]["generation_before"], report["pointer"]["generation_after"]),
            "errors": report["errors"], "verification": verification}


def test_hot_warm_flips_recreates_and_resubmits(azurite: AzuriteEndpoints) -> None:
    code, report, _ = drill(azurite, jobs=24, artifacts=60, chunk_size=10)
    assert code == 0, report
    assert report["outcome"] == "succeeded"
    assert report["pointer"]["generation_after"] == report["pointer"]["generation_before"] + 1
    assert report["jobs"]["interrupted"] > 0
    assert report["jobs"]["resubmitted"] == report["jobs"]["interrupted"]
    environments = report["artifacts"]["environment"]
    assert environments["already_present"] == environments["expected"] > 0  # pre-deployed in hot-warm
    for kind, counts in report["artifacts"].items():
        assert counts["recreated"] + counts["already_present"] == counts["expected"], kind
    assert report["verification"]["ok"] and report["verification"]["secondary_jobs_per_source_max"] == 1
    # the serving chain was pre-deployed warm: found in place, then scaled and routed, schedules moved
    for kind in ("online_endpoint", "batch_endpoint", "online_deployment", "batch_deployment", "schedule"):
        assert report["artifacts"][kind]["already_present"] == report["artifacts"][kind]["expected"] > 0, kind
    activation = report["activation"]
    assert activation["online_deployment"]["activated"] == activation["online_deployment"]["expected"] > 0
    assert activation["schedule"]["activated"] > 0
    assert activation["schedule"]["source_pending"] == activation["schedule"]["activated"]  # primary down
    assert report["after_outage"]["schedules_fenced"]["disabled"] == activation["schedule"]["source_pending"]
    assert report["verification"]["deployments_off_scale"] == 0
    assert report["verification"]["schedules_enabled_on_standby"] == 0
    # history stays bounded: O(items / chunk) activities, not O(items)
    items = report["jobs"]["interrupted"] + sum(c["expected"] for c in report["artifacts"].values())
    assert report["history"]["events"] < items * 2


def test_hot_hot_only_flips(azurite: AzuriteEndpoints) -> None:
    code, report, _ = drill(azurite, mode="hot-hot")
    assert code == 0
    assert report["pointer"]["after"] != report["pointer"]["before"]
    assert report["jobs"]["resubmitted"] == 0
    assert all(c["recreated"] == 0 for c in report["artifacts"].values())


@pytest.mark.parametrize(("answer", "outcome", "flipped"), [
    ("approve", "succeeded", True), ("reject", "aborted", False), ("timeout", "aborted", False)])
def test_hot_cold_waits_for_approval(azurite: AzuriteEndpoints, answer: str, outcome: str, flipped: bool) -> None:
    code, report, opts = drill(azurite, mode="hot-cold", approval=answer)
    assert report["outcome"] == outcome
    assert (code == 0) == (outcome == "succeeded")
    assert report["approval"]["decision"] == answer
    pointer = services().pointers.read(opts.pair)
    assert (pointer.active == opts.secondary) == flipped
    assert pointer.generation == (1 if flipped else 0)


def test_approval_timeout_can_proceed_by_policy(azurite: AzuriteEndpoints) -> None:
    code, report, _ = drill(azurite, mode="hot-cold", approval="timeout", on_approval_timeout="proceed")
    assert code == 0 and report["outcome"] == "succeeded"
    assert report["approval"]["decision"] == "timeout"


def test_secondary_not_ready_aborts_before_any_write(azurite: AzuriteEndpoints) -> None:
    code, report, opts = drill(azurite, unready_secondary=True)
    assert code == 1 and report["outcome"] == "aborted"
    assert "compute missing" in report["outcome_reason"]
    pointer = services().pointers.read(opts.pair)
    assert pointer.active == opts.primary and pointer.generation == 0
    assert report["verification"]["secondary_jobs_per_source_max"] == 0
    assert all(c["recreated"] == 0 for c in report["artifacts"].values())


def test_dry_run_writes_nothing(azurite: AzuriteEndpoints) -> None:
    code, report, opts = drill(azurite, dry_run=True)
    assert code == 0 and report["dry_run"]
    assert report["verification"]["dry_run_wrote_nothing"]
    pointer = services().pointers.read(opts.pair)
    assert pointer.active == opts.primary and pointer.generation == 0
    assert report["jobs"]["resubmitted"] == report["jobs"]["interrupted"]  # what it would do


def test_drill_only_recovers_without_flipping(azurite: AzuriteEndpoints) -> None:
    code, report, opts = drill(azurite, drill_only=True)
    assert code == 0
    pointer = services().pointers.read(opts.pair)
    assert pointer.active == opts.primary and pointer.generation == 0
    assert report["jobs"]["resubmitted"] == report["jobs"]["interrupted"]


def test_transient_faults_still_succeed(azurite: AzuriteEndpoints) -> None:
    code, report, _ = drill(azurite, faults="latency_ms=2,throttle=0.15,retry_after=0.01,flaky=0.1,seed=5")
    assert code == 0, report["errors"]
    assert report["verification"]["missing_artifacts"] == 0


def test_two_instances_racing_for_one_pair_flip_once(azurite: AzuriteEndpoints) -> None:
    """Two orchestrations (different instance ids, same plan) run at once: one flip, one abort."""
    from function_app import app
    from rehearsal.scenario import prepare
    from replayhost.engine import ReplayHost

    opts = options()
    scenario = prepare(opts, azurite.connection_string)
    scenario.primary.set_faults("down=1")
    host = ReplayHost(app)
    request = {"pair": opts.pair, "trigger": "manual", "reason": "race", "requested_by": "test"}
    first = host.start_new("failover", f"race-a-{opts.pair}", request)
    second = host.start_new("failover", f"race-b-{opts.pair}", request)
    host.run_until_idle(timeout=120)
    outcomes = sorted(host.get_status(i).output["outcome"] for i in (first, second))
    host.stop()
    assert outcomes == ["aborted", "succeeded"]
    pointer = services().pointers.read(opts.pair)
    assert pointer.generation == 1 and pointer.active == opts.secondary
    per_source: dict[str, int] = {}
    for job in scenario.secondary.list_jobs():
        source = job.tags.get(TAG_SOURCE_JOB)
        if source:
            per_source[source] = per_source.get(source, 0) + 1
    assert per_source and max(per_source.values()) == 1


# The crash matrix runs one drill per activity boundary: it catalogs one kind per recreate wave and stage
# (each kind goes through the same activities), so it crosses every stage in about 16 activities.
CRASH_KINDS = ("environment", "code", "data", "online_endpoint", "online_deployment", "schedule")


def test_crash_at_every_activity_boundary_ends_the_same(azurite: AzuriteEndpoints) -> None:
    """SIGKILL the orchestration process after K activities, for every K: same report, no duplicates."""
    code, baseline, _ = drill(azurite, artifact_kinds=CRASH_KINDS)
    assert code == 0
    assert set(baseline["activation"]) == {"online_deployment", "online_endpoint", "schedule"}
    crashed = 0
    for k in range(1, 100):
        code, report, opts = drill(azurite, crash_at=k, artifact_kinds=CRASH_KINDS)
        if not report["crash"]["killed"]:
            break  # K is past the last activity: every boundary has been covered
        crashed += 1
        assert code == 0, (k, report["errors"])
        assert stable(report) == stable(baseline), k
        pointer = services().pointers.read(opts.pair)
        assert pointer.generation == 1, k  # +1 exactly once, however often the flip ran
        assert report["verification"]["secondary_jobs_per_source_max"] == 1, k
    print(f"\ncrash matrix: SIGKILL after each of {crashed} activities: same report, generation +1 once, "
          "no duplicate job")
    assert crashed >= 10  # plan, readiness, flip, artifact chunks in two waves, job chunks, audit


def test_crash_while_awaiting_approval_resumes_at_the_gate(azurite: AzuriteEndpoints) -> None:
    code, report, _ = drill(azurite, mode="hot-cold", approval="approve", crash_at=50)
    assert report["crash"]["killed"]  # the worker dies at the gate, before activity 50
    assert code == 0 and report["outcome"] == "succeeded"
    assert report["approval"]["decision"] == "approve"


def test_a_chunk_failing_after_its_retries_is_reported_and_the_run_goes_on(azurite: AzuriteEndpoints) -> None:
    """The catalog snapshot disappears after the flip: every chunk fails its retries, each is reported."""
    from failover.services import reset_services
    from function_app import app
    from rehearsal.scenario import prepare
    from replayhost.engine import ReplayHost

    opts = options()
    scenario = prepare(opts, azurite.connection_string)
    scenario.primary.set_faults("down=1")
    host = ReplayHost(app)
    iid = host.start_new("failover", None, {"pair": opts.pair, "trigger": "manual", "reason": "chunk failure",
                                            "requested_by": "test"})
    host.run_until_idle(stop_when=lambda: (host.get_status(iid).custom_status or {}).get("stage")
                        == "job_dependencies")
    snapshot = services().catalog.read(opts.primary)
    assert snapshot is not None
    services().catalog.container.delete_blob(snapshot.name)  # the catalog is gone under the running failover
    reset_services()  # and no process still holds it in memory
    status = host.wait_for(iid)
    host.stop()
    report = status.output
    assert status.runtime_status.value == "Completed" and report["outcome"] == "failed"
    assert report["pointer"]["generation_after"] == 1  # the flip stands: clients already follow the secondary
    jobs = report["jobs"]
    assert jobs["failed"] == jobs["interrupted"] > 0  # every job chunk ran after the catalog was gone
    for kind, counts in report["artifacts"].items():  # chunks already done before it went are kept
        assert counts["recreated"] + counts["already_present"] + counts["failed"] == counts["expected"], kind
    assert report["errors"] and all("chunk" in e["error"] for e in report["errors"])


def test_a_run_ending_before_the_flip_is_reported_with_the_decisions(azurite: AzuriteEndpoints) -> None:
    """Readiness throttled past its retries: the drill's report says aborted, why, and what detection decided."""
    code, report, opts = drill(azurite, faults="throttle=1,retry_after=0,only=list_computes")
    assert code == 1 and report["outcome"] == "aborted"
    assert report["outcome_reason"].startswith("the readiness check failed after its retries")
    assert "429" in report["outcome_reason"]
    assert report["decisions"][-1]["start"] and "standby is healthy" in report["decisions"][-1]["why"]
    pointer = services().pointers.read(opts.pair)
    assert pointer.active == opts.primary and pointer.generation == 0
    assert services().pair_state.read(opts.pair).last_failover["outcome"] == "aborted"
