"""Recovery at the speed ARM allows: the bucket model, the pacer, the one retry layer, the order.

Requests are counted where they arrive: the simulated hub's request log, the Azure ML
emulator's call log (the real azure-ai-ml SDK and azure-core pipeline in between).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from failover.domain.model import Artifact, ArtifactKind, JobRecord
from failover.domain.ports import ErrorCategory, HubError
from failover.hubs import arm_pacing, hub_retry
from failover.hubs.arm_pacing import ArmPacer, arm_pacer, lane_of_method
from failover.hubs.hub_factory import hub_client_for
from failover.hubs.hub_retry import MAX_ATTEMPTS, RETRY_AFTER_CAP_S, call_hub, retry_after_wait
from failover.hubs.simulated_arm import ArmBucket, ArmLimits, arm_bucket, operation_class
from failover.hubs.simulated_hub import SimulatedHub
from failover.hubs.simulated_seed import seed_artifacts
from failover.recovery_order import JOBS, recovery_stages, wave_chunks
from failover.services import HUB_CLIENT_OPTIONS
from rehearsal.throughput import ThroughputOptions, run_throttled_failover
from replayhost.azurite import AzuriteEndpoints
from tests.azureml_emulator import RESOURCE_GROUP, AzureMLEmulator, Fault, FixedTokenCredential
from tests.waiting import patience, wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- ARM's bucket (the service side) ------------------------------------------------------------

def test_bucket_spends_its_burst_then_answers_429_with_retry_after() -> None:
    clock = FakeClock()
    bucket = ArmBucket(ArmLimits(write_rate=2.0, write_burst=3, read_rate=5.0, read_burst=4), clock)
    assert [bucket.take("write").remaining for _ in range(3)] == [2, 1, 0]
    refused = bucket.take("write")
    assert not refused.allowed and refused.remaining == 0 and refused.retry_after == 1.0  # whole seconds, like ARM
    assert bucket.take("read").allowed  # reads have their own bucket
    clock.now += 0.5  # 2 tokens/s: one token back
    assert bucket.take("write").allowed and not bucket.take("write").allowed
    clock.now += 60  # refills up to the burst, no further
    assert [bucket.take("write").allowed for _ in range(4)] == [True, True, True, False]
    assert bucket.throttled == {"write": 3}


def test_bucket_is_per_subscription_and_limits() -> None:
    subscription = str(uuid.uuid4())
    limits = ArmLimits(write_burst=5)
    assert arm_bucket(subscription, limits) is arm_bucket(subscription.upper(), limits)
    assert arm_bucket(subscription, limits) is not arm_bucket(str(uuid.uuid4()), limits)
    assert arm_bucket(subscription, limits) is not arm_bucket(subscription, ArmLimits(write_burst=6))


def test_operation_classes() -> None:
    assert [operation_class(op) for op in ("put_asset(model)", "submit_job", "get_job", "list_assets(data)",
                                           "ping")] == ["write", "write", "read", "read", "read"]
    assert [lane_of_method(m) for m in ("GET", "head", "PUT", "POST", "PATCH", "DELETE")] == [
        "read", "read", "write", "write", "write", "delete"]


@pytest.mark.parametrize("bad", ["write_burst=0", "read_rate=0", "write_rate=-1"])
def test_bad_bucket_numbers_are_refused(bad: str) -> None:
    from failover.hubs.simulated_fault import FaultConfig

    with pytest.raises(ValueError, match=bad.split("=", maxsplit=1)[0]):
        FaultConfig.parse(f"arm=1,{bad}")


def _arm_hub(azurite: AzuriteEndpoints, subscription: str, *, pacer: ArmPacer | None = None) -> SimulatedHub:
    return SimulatedHub(f"arm-{uuid.uuid4().hex[:8]}", azurite.connection_string, subscription_id=subscription,
                        pacer=pacer)


def _artifact(i: int) -> Artifact:
    return Artifact(ArtifactKind.DATA, f"data-{i:04d}", "1", {"type": "uri_file", "path": f"https://x/{i}.csv",
                                                             "description": None, "tags": {}})


def test_hubs_of_one_subscription_share_the_bucket(azurite: AzuriteEndpoints) -> None:
    subscription = str(uuid.uuid4())
    first, second = _arm_hub(azurite, subscription), _arm_hub(azurite, subscription)
    for hub in (first, second):
        hub.set_faults("arm=1,latency_ms=0,write_burst=3,write_rate=0.5")
    first.put_asset(_artifact(1))
    first.put_asset(_artifact(2))
    second.put_asset(_artifact(3))
    with pytest.raises(HubError) as info:
        second.put_asset(_artifact(4))
    assert info.value.category is ErrorCategory.THROTTLED and info.value.retry_after == 2.0
    assert second.get_asset(ArtifactKind.DATA, "data-0003", "1").name == "data-0003"  # reads: another bucket
    assert [r.status for r in second.requests.entries()] == [200, 429, 200]
    assert second.requests.entries()[0].item == "data:data-0003:1"
    second.clear_faults()  # leaving ARM mode writes its in-memory copy back to Azurite
    assert second.write_count == 1 and first.write_count == 2


# -- the pacer (the client side) ------------------------------------------------------------------

def _crowd(hub: SimulatedHub, count: int, threads: int) -> float:
    began = time.monotonic()

    def put(i: int) -> None:
        with contextlib.suppress(HubError):  # a 429 is counted in the request log
            hub.put_asset(_artifact(i))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(count)))
    return time.monotonic() - began


def test_a_paced_crowd_stays_at_the_refill_rate_without_429s(azurite: AzuriteEndpoints) -> None:
    faults = "arm=1,latency_ms=5,write_burst=10,write_rate=100"
    subscription = str(uuid.uuid4())
    paced = _arm_hub(azurite, subscription, pacer=arm_pacer(subscription))
    paced.set_faults(faults)
    elapsed = _crowd(paced, 110, threads=32)
    statuses = [r.status for r in paced.requests.entries()]
    assert statuses.count(200) == 110 and statuses.count(429) == 0
    assert 0.9 <= elapsed < patience(3.0)  # the bucket allows 110 writes in (110 - 10) / 100 = 1 s, no sooner

    unpaced = _arm_hub(azurite, str(uuid.uuid4()))  # the same crowd with nobody pacing it
    unpaced.set_faults(faults)
    _crowd(unpaced, 110, threads=32)
    assert [r.status for r in unpaced.requests.entries()].count(429) > 20


def test_arm_429_holds_the_lane_for_retry_after_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    pacer = ArmPacer("hold")
    ticket = pacer.acquire("write")
    pacer.observe("write", ticket, remaining=0, throttled=True, retry_after=0.3)
    began = time.monotonic()
    ticket = pacer.acquire("write")
    assert time.monotonic() - began >= 0.25
    pacer.acquire("read")  # another lane: not held
    monkeypatch.setattr(arm_pacing, "RETRY_AFTER_CAP_S", 0.2)
    pacer.observe("write", ticket, remaining=0, throttled=True, retry_after=3600)
    began = time.monotonic()
    pacer.acquire("write")
    assert 0.15 <= time.monotonic() - began < patience(2.0)
    assert pacer.stats()["throttled"] == {"write": 2}


def test_a_burst_of_429s_cuts_the_refill_estimate_once() -> None:
    """Eight requests out when the bucket ran dry all come back 429: one cut, not eight (the lane would stall)."""
    pacer = ArmPacer("burst", rates={"read": 25.0, "write": 50.0, "delete": 10.0})
    pacer.observe("write", pacer.acquire("write"), remaining=30)
    out = [pacer.acquire("write") for _ in range(8)]
    for ticket in out:
        pacer.observe("write", ticket, remaining=0, throttled=True, retry_after=0.1)
    began = time.monotonic()
    pacer.acquire("write")  # held 0.1 s, then 8 tokens owed at 25/s (halved once): about 0.45 s
    assert 0.3 <= time.monotonic() - began < patience(1.5)


def test_a_providers_own_429_holds_only_its_request() -> None:
    """No ARM header on the lane: a 429 is a busy resource's, not an empty bucket; others go on."""
    pacer = ArmPacer("busy-resource")
    pacer.observe("write", pacer.acquire("write"), remaining=None)  # answers carry no header
    pacer.observe("write", pacer.acquire("write"), remaining=None, throttled=True, retry_after=30)
    began = time.monotonic()
    pacer.acquire("write")
    assert time.monotonic() - began < patience(0.5)


def test_without_headers_nothing_is_paced() -> None:
    pacer = ArmPacer("no-headers")
    began = time.monotonic()
    for _ in range(2000):
        pacer.observe("read", pacer.acquire("read"), remaining=None)
    assert time.monotonic() - began < patience(1.0)


def test_a_first_request_lost_on_the_way_does_not_turn_pacing_off() -> None:
    """A connection error says nothing about ARM's headers: the next request still goes alone (a probe)."""
    pacer = ArmPacer("lost-probe")
    pacer.observe("read", pacer.acquire("read"), remaining=None, answered=False)  # no answer at all
    pacer.acquire("read")  # the next probe, unanswered yet
    began = time.monotonic()
    pacer.acquire("read")  # waits for its answer, or the probe's patience (1 s)
    assert time.monotonic() - began >= 0.9


def test_waiters_are_served_in_arrival_order() -> None:
    pacer = ArmPacer("fifo", rates={"read": 50.0, "write": 10.0, "delete": 10.0})
    pacer.observe("read", pacer.acquire("read"), remaining=0)  # the bucket is empty: one token every 20 ms
    lane = pacer._lanes["read"]
    first_ticket = lane.granted
    tickets: dict[int, int] = {}

    def request(i: int) -> None:
        tickets[i] = pacer.acquire("read")

    workers = [threading.Thread(target=request, args=(i,)) for i in range(8)]
    for i, worker in enumerate(workers):
        worker.start()
        # The next one starts only once this one is in line (queued, or already let go).
        wait_until(lambda i=i: len(lane.queue) + lane.granted - first_ticket >= i + 1, 10, f"waiter {i} in line")
    for worker in workers:
        worker.join()
    assert [tickets[i] for i in range(8)] == sorted(tickets.values())  # tickets are handed out in grant order


# -- the one retry layer, counted on the wire -----------------------------------------------------

def _emulated() -> tuple[AzureMLEmulator, Any]:
    """A workspace in its own subscription (own bucket, own pacer), and a client for it built the
    way the activities get theirs (services.Services.hub)."""
    from failover.domain.config import HubRef

    emulator = AzureMLEmulator(subscription=str(uuid.uuid4()))
    ref = HubRef(name="emulated", subscription_id=emulator.subscription, resource_group=RESOURCE_GROUP,
                 workspace_name=emulator.workspace, region="westeurope")
    return emulator, hub_client_for(ref, paced=True, credential=FixedTokenCredential(), transport=emulator,
                                    **HUB_CLIENT_OPTIONS)


def _missing_get(hub: Any) -> Callable[[], Any]:
    return lambda: hub.get_asset(ArtifactKind.ENVIRONMENT, "env", "1")


def test_one_429_costs_one_more_request_and_its_retry_after() -> None:
    emulator, hub = _emulated()
    emulator.inject(Fault(status=429, headers={"Retry-After": "1"}, method="GET", times=1))
    began = time.monotonic()
    with pytest.raises(HubError) as info:
        call_hub(_missing_get(hub))
    assert info.value.category is ErrorCategory.NOT_FOUND  # the answer, after one retry
    assert len(emulator.calls) == 2  # the 429 and the retry: no SDK retries underneath
    assert 1.0 <= time.monotonic() - began < patience(2.5)


def test_a_failing_call_stops_after_max_attempts() -> None:
    emulator, hub = _emulated()
    emulator.inject(Fault(status=503, headers={"Retry-After": "0"}, times=100))
    with pytest.raises(HubError) as info:
        call_hub(_missing_get(hub))
    assert info.value.category is ErrorCategory.TRANSIENT
    assert len(emulator.calls) == MAX_ATTEMPTS


def test_no_retry_past_the_deadline_or_the_budget() -> None:
    emulator, hub = _emulated()
    emulator.inject(Fault(status=503, headers={"Retry-After": "1"}, times=100))
    with pytest.raises(HubError):
        call_hub(_missing_get(hub), deadline=time.monotonic() + 0.5)  # a retry would resume past it
    with pytest.raises(HubError):
        call_hub(_missing_get(hub), budget=0.5)
    assert len(emulator.calls) == 2


def test_retry_after_is_capped_with_a_little_jitter() -> None:
    waits = [retry_after_wait(3600) for _ in range(50)]
    assert all(RETRY_AFTER_CAP_S <= w <= RETRY_AFTER_CAP_S + 1.0 for w in waits) and len(set(waits)) > 1
    assert 2.0 <= retry_after_wait(2.0) <= 2.2


def test_answers_are_not_retried() -> None:
    emulator, hub = _emulated()
    emulator.inject(Fault(status=403, times=100))
    with pytest.raises(HubError) as info:
        call_hub(_missing_get(hub))
    assert info.value.category is ErrorCategory.PERMANENT and len(emulator.calls) == 1


def test_the_azure_ml_client_paces_to_arm_headers() -> None:
    """Through the real SDK: ARM's remaining headers pace a crowd of GETs; no 429 reaches the wire."""
    emulator, hub = _emulated()
    emulator.arm = ArmBucket(ArmLimits(read_rate=100.0, read_burst=5))
    began = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(lambda _: _outcome(_missing_get(hub)), range(60)))
    assert outcomes == ["not_found"] * 60
    assert len(emulator.calls) == 60 and emulator.arm.throttled["read"] == 0
    assert time.monotonic() - began >= 0.5  # (60 - 5) / 100 s at the least


def test_a_crowd_meeting_a_drained_bucket_costs_one_429() -> None:
    """Another worker emptied the bucket: the first request goes alone, meets the 429, and the
    lane holds for Retry-After; then every item succeeds, paced."""
    emulator, hub = _emulated()
    emulator.arm = ArmBucket(ArmLimits(read_rate=50.0, read_burst=1))
    assert emulator.arm.take("read").allowed  # someone else's request: the bucket is empty now
    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: _outcome(lambda: call_hub(_missing_get(hub))), range(8)))
    assert outcomes == ["not_found"] * 8
    assert emulator.arm.throttled["read"] == 1 and len(emulator.calls) == 9
    assert time.monotonic() - began >= 1.0  # Retry-After: 1


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except HubError as exc:
        return exc.category.value
    return "ok"


def test_probe_and_recovery_clients_have_no_sdk_retries() -> None:
    from failover.services import PROBE_CLIENT_OPTIONS

    assert HUB_CLIENT_OPTIONS["retry_total"] == 0 and PROBE_CLIENT_OPTIONS["retry_total"] == 0
    emulator, hub = _emulated()
    emulator.inject(Fault(status=503, times=1))
    with pytest.raises(HubError):
        hub.ping()  # one attempt: retries are call_hub's
    assert len(emulator.calls) == 1


def test_hub_retry_module_is_the_only_tenacity_user() -> None:
    """One retry layer: nothing else in the core builds a retry loop."""
    import pathlib

    root = pathlib.Path(hub_retry.__file__).resolve().parents[2]
    users = sorted(str(p.relative_to(root)) for p in (root / "failover").rglob("*.py") if "tenacity" in p.read_text())
    assert users == ["failover/hubs/hub_retry.py"]


# -- what comes back first ------------------------------------------------------------------------

def _job(name: str, deps: dict[str, str], tags: dict[str, str] | None = None) -> JobRecord:
    props: dict[str, Any] = {"environmentId": deps.get("environment"), "codeId": deps.get("code"),
                             "componentId": deps.get("component"),
                             "inputs": {"d": {"uri": deps["data"]}} if "data" in deps else {}}
    return JobRecord(name, "Running", "exp", "cpu", {"properties": props}, tags or {})


def test_stages_put_the_interrupted_jobs_and_their_closure_first() -> None:
    env, code = (Artifact(ArtifactKind.ENVIRONMENT, "env", "1", {"tags": {}}),
                 Artifact(ArtifactKind.CODE, "code", "1", {}))
    comp = Artifact(ArtifactKind.COMPONENT, "comp", "1", {"environment": "azureml:env:1", "code": "azureml:code:1"})
    data, other_data = (Artifact(ArtifactKind.DATA, "data", "1", {"tags": {}}),
                        Artifact(ArtifactKind.DATA, "other", "1", {"tags": {"tier": "critical"}}))
    model = Artifact(ArtifactKind.MODEL, "model", "1", {"properties": {"hubfailover.training_data": "azureml:other:1"}})
    loose_env = Artifact(ArtifactKind.ENVIRONMENT, "loose", "2", {"tags": {}})
    jobs = [_job("b-job", {"component": "azureml:comp:1", "data": "data:1"}),
            _job("a-job", {"environment": "env:1"}, tags={"priority": "high"})]
    artifacts = [loose_env, model, other_data, data, comp, code, env]

    stages = recovery_stages(jobs, artifacts)
    assert [(s.name, [sorted(w) for w in s.waves]) for s in stages] == [
        ("job_dependencies", [["code", "data", "environment"], ["component"]]),
        ("resubmit_jobs", [[JOBS]]),
        ("recreate_artifacts", [["data", "environment"], ["model"]]),
    ]
    assert stages[1].items(0, JOBS) == sorted(jobs, key=lambda j: j.name)
    assert stages[0].items(1, "component") == [comp]  # what the component needs came in the wave before
    assert stages[2].counts() == {"name": "recreate_artifacts",
                                  "waves": [{"environment": 1, "data": 1}, {"model": 1}]}

    first = recovery_stages(jobs, artifacts, ["tag:priority=high", "model"])
    assert [s.name for s in first] == ["priority_artifacts", "priority_jobs", "job_dependencies", "resubmit_jobs",
                                       "recreate_artifacts"]
    assert [[a.name for w in first[0].waves for items in w.values() for a in items]] == [["env", "other", "model"]]
    assert [j.name for j in first[1].items(0, JOBS)] == ["a-job"]
    assert [j.name for j in first[3].items(0, JOBS)] == ["b-job"]
    by_tag = recovery_stages(jobs, artifacts, ["tag:tier"])
    assert by_tag[0].name == "priority_artifacts" and by_tag[0].items(0, "data") == [other_data]
    assert "priority_jobs" not in [s.name for s in by_tag]


def test_wave_chunks_take_kinds_in_turn() -> None:
    """Pre-deployed environments (reads only) don't hold the first activities while code and data wait to be written."""
    assert wave_chunks({"environment": 120, "code": 50, "data": 1}, 50) == [
        ("environment", 0, 50), ("code", 0, 50), ("data", 0, 1), ("environment", 1, 50), ("environment", 2, 20)]
    assert wave_chunks({}, 50) == []


def test_every_item_is_in_exactly_one_stage() -> None:
    artifacts = seed_artifacts(300, random.Random(5))
    from failover.hubs.simulated_seed import seed_jobs

    jobs = seed_jobs(80, random.Random(5), artifacts, "/subscriptions/s/resourceGroups/r/providers/"
                     "Microsoft.MachineLearningServices/workspaces/w")
    stages = recovery_stages(jobs, artifacts, ["tag:owner=alice", "*-environment-00*"])
    seen = [getattr(item, "key", None) or item.name for s in stages for w in s.waves for items in w.values()
            for item in items]
    assert sorted(seen) == sorted([a.key for a in artifacts] + [j.name for j in jobs])


def test_a_scaled_down_failover_against_arm(azurite: AzuriteEndpoints) -> None:
    """100 jobs, 500 artifacts, a fast bucket: jobs before any artifact no job needs, nothing failed,
    and close to the least number of requests (one read per item, one write per missing one)."""
    figures = run_throttled_failover(azurite.connection_string, ThroughputOptions(
        jobs=100, artifacts=500, latency_ms=10, limits=ArmLimits(read_rate=500, read_burst=50, write_rate=200,
                                                                 write_burst=20),
        chunk_size=25, per_chunk=25, workers=8, coalesce_ms=20, priority=("tag:owner=carol",)))
    order = figures["order"]
    assert figures["outcome"] == "succeeded" and figures["failed"] == 0, figures
    assert figures["jobs"] == order["jobs_written"] == 100
    assert figures["items"] == 100 + figures["artifacts"] >= 590  # a connection the pair maps is not recreated
    assert order["dependencies_before_jobs"] and order["jobs_before_other_artifacts"], order
    assert order["priority_before_others"], order
    assert figures["request_overhead"] <= 1.05, figures
    assert figures["throttled"] <= 0.01 * figures["http_requests"], figures
    assert figures["stages"][0]["name"] == "priority_artifacts"
    shown = ("wall_s", "bound_s", "jobs_done_s", "jobs_bound_s", "http_requests", "minimal_requests", "throttled")
    print(f"\nscaled-down run against ARM: { {k: figures[k] for k in shown} }")
