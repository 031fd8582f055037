"""`recover`: a failover left partly failed is completed on the active hub, never by flipping again.

Through the real entry points: the operator API and CLI on `serve`, the HTTP trigger functions with the
SDK's client bound to the replay host, the drill, a SIGKILLed orchestration process; every run goes
through the real Durable replay. The secondary's writes of some kinds fail permanently during the
failover (the simulated hub's ``break=`` fault: a 400 on every try), then the fault is lifted.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import azure.functions as func
import pytest

from failover.domain.health import decide_recover
from failover.domain.model import TAG_SOURCE_JOB, ArtifactKind
from failover.domain.ports import HubClient
from failover.domain.requests import RecoverRequest, Trigger
from failover.hubs.simulated_fault import FaultConfig
from failover.hubs.simulated_hub import SimulatedHub
from failover.services import services
from rehearsal.console import DrillConsole
from rehearsal.drill import crash_and_restart, run_drill
from rehearsal.scenario import Scenario, prepare
from replayhost.azurite import AzuriteEndpoints
from replayhost.clock import SkippingClock
from replayhost.engine import Delivery, ReplayHost
from replayhost.store import AzureStorageStore
from tests.durable_world import World, durable_world, entry_point, run, world_options
from tests.serve_world import Served, served
from tests.test_detection import alert_body, post_alert
from tests.waiting import patience, wait_until

QUIET = DrillConsole(quiet=True)


def per_source(hub: HubClient) -> Counter[str]:
    """Resubmissions on a hub per job they resubmit (the tag every resubmission carries)."""
    counts = Counter(j.tags.get(TAG_SOURCE_JOB) for j in hub.list_jobs())
    counts.pop(None, None)
    return Counter({str(k): v for k, v in counts.items()})


def finished_run(s: Served, instance_id: str, after: str | None = None) -> dict[str, Any]:
    """The report of the instance's run once it completed (a run other than ``after``)."""
    def done() -> dict[str, Any] | None:
        code, body, _ = s.call("GET", f"/api/failovers/{instance_id}")
        report = body.get("report") if code == 200 and body["runtime_status"] == "Completed" else None
        return report if isinstance(report, dict) and report.get("run") != after else None

    report: dict[str, Any] = wait_until(done, 60, f"{instance_id} to complete")
    return report


def test_a_partly_failed_failover_is_completed_by_recover(azurite: AzuriteEndpoints, cli: Any) -> None:
    with served(azurite, artifacts=30) as s:
        primary, secondary = s.scenario.primary, s.scenario.secondary
        primary.set_faults("down=1")
        secondary.set_faults("break=model+job")
        code, _, _ = s.call("POST", f"/api/pairs/{s.pair}/failover", {"reason": "eastus down", "requested_by": "al"})
        assert code == 202
        failed = finished_run(s, s.instance_id)
        assert failed["outcome"] == "failed" and failed["pointer"]["generation_after"] == 1  # the flip stands
        assert failed["artifacts"]["model"]["failed"] > 0
        assert failed["jobs"]["failed"] == failed["jobs"]["interrupted"] > 0
        where = {e["where"].split(":")[0] for e in failed["errors"]}
        assert where == {"artifacts.model", "jobs"}  # the failed items, each listed
        # the report says how to complete it: the exact command and route
        assert failed["recover"] == {"command": f"hubfailover recover {s.pair} --by YOU",
                                     "route": f"POST /api/pairs/{s.pair}/recover"}
        assert f"hubfailover recover {s.pair} --by YOU (POST /api/pairs/{s.pair}/recover)" in failed["outcome_reason"]

        # Starting the failover again, toward the hub already active, is no silent success: it names recover.
        code, _, _ = s.call("POST", f"/api/pairs/{s.pair}/failover", {
            "reason": "again", "requested_by": "al", "target": s.options.secondary, "force": True})
        assert code == 202
        again = finished_run(s, s.instance_id, after=failed["run"])
        assert again["outcome"] == "aborted", again
        assert again["outcome_reason"].startswith(f"{s.options.secondary} is already active (generation 1): "
                                                  "nothing to flip; ")
        assert f"hubfailover recover {s.pair}" in again["outcome_reason"] and again["recover"] == failed["recover"]
        svc = services()
        assert [r.outcome for r in svc.audit.list(s.pair, "failover") if r.key == again["run"]] == ["aborted"]
        state = svc.pair_state.read(s.pair)
        assert state.last_failover is not None and state.last_failover["run"] == again["run"]
        assert state.last_flip is not None and state.last_flip["run"] == failed["run"]  # still what recover completes

        secondary.clear_faults()  # the secondary takes every write again
        code, out, _ = cli(s, "recover", s.pair, "--by", "bo")
        assert code == 0 and f"started recover-{s.pair}" in out, out
        code, out, _ = cli(s, "watch", f"recover-{s.pair}", "--interval", "0.05")
        assert code == 0 and "outcome: succeeded" in out and f"completes: {failed['run']} (failed)" in out, out
        report = finished_run(s, f"recover-{s.pair}")
        assert report["kind"] == "recover" and report["outcome"] == "succeeded" and report["errors"] == []
        assert report["completes"]["run"] == failed["run"] and report["completes"]["generation"] == 1
        assert report["catalog"]["snapshot"] == failed["catalog"]["snapshot"]  # the snapshot the failover used
        for kind, counts in failed["artifacts"].items():  # what failed is recreated, the rest is found in place
            assert report["artifacts"][kind] == {"expected": counts["expected"], "recreated": counts["failed"],
                                                 "already_present": counts["recreated"] + counts["already_present"],
                                                 "failed": 0}, kind
        assert report["jobs"]["resubmitted"] == failed["jobs"]["failed"]
        assert report["pointer"] == {"before": s.options.secondary, "after": s.options.secondary,
                                     "target": s.options.secondary, "generation_before": 1, "generation_after": 1}
        pointer = svc.pointers.read(s.pair)
        assert (pointer.active, pointer.generation) == (s.options.secondary, 1)  # never flipped
        resubmitted = per_source(secondary)
        assert len(resubmitted) == failed["jobs"]["interrupted"] and set(resubmitted.values()) == {1}
        assert all(j.name.endswith("-fo1") for j in secondary.list_jobs() if j.tags.get(TAG_SOURCE_JOB))

        # its own audit record, linked to the failover; the pair state says which run completed the flip
        [record] = [r for r in svc.audit.list(s.pair, "recover") if r.key == report["run"]]
        assert record.outcome == "succeeded" and record.detail["completes"]["run"] == failed["run"]
        state = svc.pair_state.read(s.pair)
        assert state.last_recover is not None and state.last_recover["completes"] == failed["run"]
        assert state.last_flip is not None and state.last_flip["completed_by"] == report["run"]
        assert state.claim is None and state.cooldown_since is not None  # the failover's cooldown is untouched
        code, out, _ = cli(s, "status", s.pair)
        assert code == 0 and "last recover" in out and "succeeded" in out

        # Once more: everything is in place, nothing is written.
        writes = secondary.write_count
        code, body, headers = s.call("POST", f"/api/pairs/{s.pair}/recover", {"requested_by": "bo"})
        assert code == 202 and body["status_url"] == headers["Location"] == f"/api/failovers/recover-{s.pair}"
        second = finished_run(s, f"recover-{s.pair}", after=report["run"])
        assert second["outcome"] == "succeeded"
        assert all(c["recreated"] == 0 and c["failed"] == 0 for c in second["artifacts"].values())
        assert second["jobs"]["already_present"] == second["jobs"]["interrupted"]
        assert secondary.write_count == writes


def call(world: World, name: str, body: dict[str, Any], pair: str) -> tuple[int, dict[str, Any]]:
    """An operator route through its real entry point, as the Functions host calls it."""
    request = func.HttpRequest("POST", f"http://localhost/api/{name}", body=json.dumps(body).encode(), headers={},
                               route_params={"pair": pair})
    response = run(lambda: entry_point(name)(req=request, client=world.binding))
    return response.status_code, json.loads(response.get_body())


def test_recover_and_failover_exclude_each_other(azurite: AzuriteEndpoints) -> None:
    """Nothing runs until the test drives the host: a started run stays Pending, as on a busy task hub."""
    with durable_world(azurite, background=False, jobs=4, artifacts=6) as world:
        pair, secondary = world.scenario.pair, world.scenario.secondary
        world.scenario.primary.set_faults("down=1")
        secondary.set_faults("break=job")
        assert call(world, "start_pair_failover", {"reason": "outage", "requested_by": "al"}, pair)[0] == 202
        code, body = call(world, "start_pair_recover", {"requested_by": "bo"}, pair)
        assert code == 409 and body["error"] == f"a failover is running for this pair (failover-{pair}): wait for it " \
                                                "to end", body
        world.host.run_until_idle()
        status = world.host.get_status(f"failover-{pair}")
        assert status is not None and status.output["outcome"] == "failed"

        secondary.clear_faults()
        code, body = call(world, "start_pair_recover", {"requested_by": "bo"}, pair)
        assert code == 202 and body["instance_id"] == f"recover-{pair}"
        running = f"a recover is running for this pair (recover-{pair}): wait for it to end"
        code, body = call(world, "start_pair_failover", {"reason": "again", "requested_by": "al", "force": True}, pair)
        assert (code, body["error"]) == (409, running)
        # an automatic start too: an alert about the hub that is active now
        answer = post_alert(world, alert_body(world, target=world.scenario.config.pair(pair).secondary.arm_id.lower()))
        alert = json.loads(answer.get_body())
        assert answer.status_code == 200 and alert["status"] == "not_started" and alert["why"] == running, alert
        code, body = call(world, "start_pair_recover", {"requested_by": "bo"}, pair)
        assert code == 409 and "already running" in body["error"]

        world.host.run_until_idle()
        recovered = world.host.get_status(f"recover-{pair}")
        assert recovered is not None and recovered.output["outcome"] == "succeeded", recovered.output
        refusals = [(r.kind, r.detail["why"]) for r in services().audit.list(pair) if r.outcome == "refused"]
        assert ("failover", running) in refusals and ("alert", running) in refusals
        assert sum(kind == "recover" for kind, _ in refusals) == 2
        assert max(per_source(secondary).values()) == 1
        # once it has ended, a failover may start again
        back = {"reason": "back", "requested_by": "al", "force": True}
        assert call(world, "start_pair_failover", back, pair)[0] == 202
        world.host.run_until_idle()


def test_recover_with_nothing_to_complete_is_409_and_bad_bodies_are_4xx(azurite: AzuriteEndpoints) -> None:
    with durable_world(azurite, jobs=4, artifacts=6) as world:
        pair = world.scenario.pair
        code, body = call(world, "start_pair_recover", {"requested_by": "bo"}, pair)
        assert code == 409 and body["error"].startswith("nothing to complete: no failover has moved this pair's "
                                                        "pointer"), body
        # a dry run moves nothing: still nothing to complete
        assert call(world, "start_pair_failover", {"reason": "plan", "requested_by": "al", "dry_run": True},
                    pair)[0] == 202
        dry = world.host.wait_for(f"failover-{pair}", timeout=patience(60))
        assert dry.output["outcome"] == "succeeded" and dry.output["recover"] is None
        code, body = call(world, "start_pair_recover", {"requested_by": "bo", "reason": "after the dry run"}, pair)
        assert code == 409 and body["error"].startswith("nothing to complete"), body
        for bad, field, status in [({"requested_by": "bo", "dry_run": "yes"}, "dry_run", 422),
                                   ({"requested_by": "bo", "target": "x"}, "target", 422),
                                   ({"reason": "   ", "requested_by": "bo"}, "reason", 422),
                                   ({}, "requested_by", 422)]:
            code, body = call(world, "start_pair_recover", bad, pair)
            assert (code, body["field"]) == (status, field), body
        assert call(world, "start_pair_recover", {"requested_by": "bo"}, "no-such-pair")[0] == 404
        assert [s.name for s in world.instances()] == ["failover"]  # no recover was ever started
        refused = [r for r in services().audit.list(pair, "recover") if r.outcome == "refused"]
        assert len(refused) == 2 and all("nothing to complete" in r.detail["why"] for r in refused)


@pytest.mark.parametrize(("flip", "active", "generation", "allowed"), [
    (None, "sec", 1, "no failover has moved"),
    ({"run": "f@1", "target": "sec", "generation": 1, "snapshot": "s", "outcome": "failed"}, "sec", 1, None),
    ({"run": "f@1", "target": "sec", "generation": 1, "snapshot": "s", "outcome": "failed"}, "pri", 2,
     "the pointer moved since failover f@1"),
    ({"run": "f@1", "target": "sec", "generation": 1, "snapshot": None, "outcome": "failed"}, "sec", 1,
     "ran without a catalog snapshot"),
])
def test_what_a_recover_completes(flip: dict[str, Any] | None, active: str, generation: int,
                                  allowed: str | None) -> None:
    decision = decide_recover(running=False, last_flip=flip, active=active, generation=generation)
    assert decision.start is (allowed is None)
    assert allowed is None or allowed in decision.why
    assert not decide_recover(running=True, last_flip=flip, active=active, generation=generation).start


def test_break_is_a_fault_of_writes_only() -> None:
    faults = FaultConfig.parse("break=model+job,latency_ms=1")
    assert faults.broken == ("model", "job") and faults.lifted() == FaultConfig(latency_ms=1)
    with pytest.raises(ValueError, match="break='pipeline' is not valid for broken"):
        FaultConfig.parse("break=pipeline")


# A recover over the kinds jobs need and the broken one: plan, readiness, one chunk per kind (environment,
# code, data, model), the jobs' chunk, the audit. It is killed right after the model chunk wrote, after the
# jobs' chunk submitted, and after the audit: each activity's result may be lost, and the activity runs again.
# (The failover's own matrix, tests/test_failover.py, crosses every boundary of the same activities.)
CRASH_KINDS = ("environment", "code", "data", "model")
CRASH_POINTS = (6, 7, 8)


def partly_failed(azurite: AzuriteEndpoints) -> tuple[Scenario, dict[str, Any], str]:
    """A failover whose model and job writes failed, the fault lifted since: (scenario, its report, task hub)."""
    from function_app import app

    opts = world_options(jobs=4, artifacts=24, chunk_size=4, artifact_kinds=CRASH_KINDS)
    scenario = prepare(opts, azurite.connection_string)
    scenario.primary.set_faults("down=1")
    scenario.secondary.set_faults("break=model+job")
    task_hub = f"r{opts.pair}"
    host = ReplayHost(app, store=AzureStorageStore(azurite.connection_string, task_hub), clock=SkippingClock(),
                      delivery=Delivery(coalesce_ms=10))
    try:
        iid = host.start_new("failover", f"failover-{opts.pair}", {
            "pair": opts.pair, "trigger": "manual", "reason": "outage", "requested_by": "test"})
        report = host.wait_for(iid, timeout=patience(120)).output
    finally:
        host.stop()
    assert report["outcome"] == "failed" and report["artifacts"]["model"]["failed"] > 0, report
    scenario.secondary.clear_faults()
    return scenario, report, task_hub


def recover_after_crash(azurite: AzuriteEndpoints, scenario: Scenario, failed: dict[str, Any], task_hub: str,
                        crash_at: int) -> tuple[dict[str, Any], bool]:
    """Run the recover in a process SIGKILLed after ``crash_at`` activities (0: none), then resume it here."""
    from function_app import app

    instance_id = f"recover-{scenario.pair}"
    payload = RecoverRequest(pair=scenario.pair, trigger=Trigger.MANUAL, reason="complete it", requested_by="test",
                             completes=failed["run"]).model_dump(mode="json")
    killed = bool(crash_at) and crash_and_restart(azurite.connection_string, task_hub, instance_id, payload,
                                                  crash_at, QUIET, orchestration="recover")
    host = ReplayHost(app, store=AzureStorageStore(azurite.connection_string, task_hub), clock=SkippingClock(),
                      delivery=Delivery(coalesce_ms=10))
    try:
        if host.get_status(instance_id) is None:
            host.start_new("recover", instance_id, payload)
        status = host.wait_for(instance_id, timeout=patience(120))
    finally:
        host.stop()
    assert status.runtime_status.value == "Completed", status.output
    return status.output, killed


def inventory(hub: HubClient) -> dict[str, int]:
    return {kind: len(hub.list_assets(ArtifactKind(kind))) for kind in CRASH_KINDS} | {"jobs": len(hub.list_jobs())}


def stable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in ("outcome", "outcome_reason", "jobs", "artifacts", "activation", "errors")}


def test_a_crash_during_recover_then_replay_ends_the_same(azurite: AzuriteEndpoints) -> None:
    """SIGKILL the recover's process after K activities: the same report, the same hub, no duplicates."""
    scenario, failed, task_hub = partly_failed(azurite)
    baseline, _ = recover_after_crash(azurite, scenario, failed, task_hub, 0)
    assert baseline["outcome"] == "succeeded", baseline["errors"]
    assert baseline["artifacts"]["model"]["recreated"] == failed["artifacts"]["model"]["failed"]
    assert baseline["jobs"]["resubmitted"] == failed["jobs"]["failed"] > 0
    expected = inventory(scenario.secondary)
    for k in CRASH_POINTS:
        scenario, failed, task_hub = partly_failed(azurite)
        report, killed = recover_after_crash(azurite, scenario, failed, task_hub, k)
        assert killed, k
        assert stable(report) == stable(baseline), k
        assert max(per_source(scenario.secondary).values()) == 1, k  # one resubmission per interrupted job
        assert inventory(scenario.secondary) == expected, k
        assert services().pointers.read(scenario.pair).generation == 1, k
    print(f"\nrecover: SIGKILL after activities {CRASH_POINTS}: same report, same hub, no duplicate")


def test_recover_finishes_deployments_still_provisioning(azurite: AzuriteEndpoints) -> None:
    """A failover that gave up waiting for provisioning (pending, failed) is finished by a recover."""
    from function_app import app

    opts = world_options(jobs=4, artifacts=24, mode="hot-cold", approval="approve", faults="provisioning=1000000")
    code, failed = run_drill(opts, QUIET, connection_string=azurite.connection_string)
    assert code == 1 and failed["outcome"] == "failed"
    pending = {k: c["pending"] for k, c in failed["activation"].items() if c["pending"]}
    assert pending.get("online_endpoint"), failed["activation"]
    secondary = services().hub(opts.secondary)
    assert isinstance(secondary, SimulatedHub)
    assert secondary.finish_provisioning() > 0  # the service caught up since
    host = ReplayHost(app)
    try:
        iid = host.start_new("recover", f"recover-{opts.pair}", RecoverRequest(
            pair=opts.pair, reason="finish activation", requested_by="test",
            completes=failed["run"]).model_dump(mode="json"))
        report = host.wait_for(iid, timeout=patience(120)).output
    finally:
        host.stop()
    assert report["outcome"] == "succeeded", report["errors"]
    for kind, count in pending.items():
        assert report["activation"][kind]["activated"] == count and report["activation"][kind]["pending"] == 0, kind
    assert all(c["recreated"] == 0 for c in report["artifacts"].values())  # everything was there: only activated


def test_drill_break_and_resume(azurite: AzuriteEndpoints) -> None:
    opts = world_options(jobs=8, artifacts=16, break_kinds=("model", "job"), resume=True)
    code, report = run_drill(opts, QUIET, connection_string=azurite.connection_string)
    assert code == 0, report.get("resume")
    assert report["outcome"] == "failed"  # the failover's own fields are kept
    assert {e["where"].split(":")[0] for e in report["errors"]} == {"artifacts.model", "jobs"}
    resume = report["resume"]
    assert resume["outcome"] == "succeeded" and resume["completes"]["run"] == report["run"]
    assert resume["jobs"]["resubmitted"] == report["jobs"]["failed"] > 0
    assert resume["artifacts"]["model"]["recreated"] == report["artifacts"]["model"]["failed"] > 0
    verification = report["verification"]
    assert verification["ok"] and verification["missing_artifacts"] == verification["missing_jobs"] == 0
    assert verification["secondary_jobs_per_source_max"] == 1 and verification["pointer"]["generation"] == 1

    # without --resume the same drill ends failed, and verification says what is missing
    code, report = run_drill(world_options(jobs=8, artifacts=16, break_kinds=("model", "job")), QUIET,
                             connection_string=azurite.connection_string)
    assert code == 1 and "resume" not in report
    assert report["verification"]["missing_jobs"] > 0 and report["verification"]["missing_artifacts"] > 0
