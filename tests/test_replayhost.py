"""The replay host runs real Durable SDK orchestrations the way the extension does."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from replayhost.clock import RealClock, VirtualClock
from replayhost.engine import (
    Delivery,
    InstanceAlreadyRunning,
    InstanceNotFound,
    InstanceNotRunning,
    ReplayHost,
    UnknownOrchestrator,
)
from replayhost.history import EventType
from replayhost.state import RuntimeStatus
from tests import replay_app
from tests.replay_app import app


@pytest.fixture
def host():
    h = ReplayHost(app)
    yield h
    h.stop()


def run(host: ReplayHost, name: str, payload=None, instance_id: str | None = None):
    iid = host.start_new(name, instance_id, payload)
    return host.wait_for(iid, timeout=60)


def kinds(status) -> list[int]:
    return [e["EventType"] for e in status.history]


def test_activity_sequence_replays_each_episode(host: ReplayHost) -> None:
    status = run(host, "sequence")
    assert status.runtime_status == RuntimeStatus.COMPLETED
    assert status.output == [2, 4, 8]
    assert status.episodes == 4  # start + one per completed activity


def test_fan_out_fan_in_and_custom_status(host: ReplayHost) -> None:
    status = run(host, "fan_out", {"n": 25})
    assert status.output == [2 * i for i in range(25)]
    assert status.custom_status == {"done": 25}
    assert 2 <= status.episodes <= 26  # completions go out as they arrive, as on Azure


def test_coalescing_delivers_a_fan_out_in_one_episode() -> None:
    h = ReplayHost(app, delivery=Delivery(coalesce_ms=5_000))
    try:
        status = run(h, "fan_out", {"n": 40, "activity": "slow_double", "sleep": 0.005})
    finally:
        h.stop()
    assert status.output == [2 * i for i in range(40)]
    assert status.episodes == 2  # start, then every completion at once


def test_task_any_returns_first_completed(host: ReplayHost) -> None:
    assert run(host, "first_of").output in (10, 14)


def test_activity_retry_follows_host_semantics(host: ReplayHost) -> None:
    key = uuid.uuid4().hex
    status = host.wait_for(host.start_new("with_retry", None, {
        "max_attempts": 4, "interval_ms": 60_000, "plan": {key: 2}}))
    assert status.output["results"] == [f"{key} ok after 3"]
    assert replay_app.ATTEMPTS[key] == 3
    full = host.get_status(status.instance_id, show_history=True)
    seq = kinds(full)
    # two failures -> two retry timers, each fired before the next attempt is scheduled
    assert seq.count(EventType.TASK_FAILED) == 2
    assert seq.count(EventType.TIMER_CREATED) == 2 and seq.count(EventType.TIMER_FIRED) == 2
    # the retry interval moved the virtual clock by two intervals (2 minutes), not wall time
    started = datetime.fromisoformat(full.history[0]["Timestamp"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(status.output["at"])
    assert (finished - started).total_seconds() >= 120


def test_retry_exhaustion_surfaces_the_last_error(host: ReplayHost) -> None:
    key = uuid.uuid4().hex
    status = run(host, "with_retry", {"max_attempts": 3, "plan": {key: 10}})
    assert replay_app.ATTEMPTS[key] == 3
    assert status.runtime_status == RuntimeStatus.COMPLETED  # the orchestrator caught it
    assert status.output["error"].startswith(f"attempt 3 of {key} failed")


@pytest.mark.parametrize("batch_size", [1, 2, 3, None])
@pytest.mark.parametrize("seed", [1, 7, 42])
def test_random_delivery_order_and_batch_size_end_the_same(batch_size: int | None, seed: int) -> None:
    keys = {f"{uuid.uuid4().hex}-{i}": i % 3 for i in range(6)}
    expected = {"before": 2, "results": [f"{k} ok after {f + 1}" for k, f in keys.items()], "after": 4}
    h = ReplayHost(app, delivery=Delivery(batch_size=batch_size, shuffle_seed=seed))
    try:
        out = run(h, "with_retry", {"max_attempts": 3, "interval_ms": 1000, "plan": keys}).output
        fan = run(h, "fan_out", {"n": 12}).output
    finally:
        h.stop()
    assert {k: out[k] for k in expected} == expected
    assert fan == [2 * i for i in range(12)]


def test_activities_run_on_a_bounded_pool() -> None:
    replay_app.CONCURRENCY.update(now=0, max=0)
    h = ReplayHost(app, max_activity_workers=3)
    try:
        out = run(h, "fan_out", {"n": 24, "activity": "slow_double", "sleep": 0.03}).output
    finally:
        h.stop()
    assert out == [2 * i for i in range(24)]
    assert 2 <= replay_app.CONCURRENCY["max"] <= 3


def test_durable_timer_on_the_virtual_clock_takes_no_wall_time(host: ReplayHost) -> None:
    began = time.monotonic()
    assert run(host, "sleeper").output == 7200.0
    assert time.monotonic() - began < 5


def test_durable_timer_on_real_time_waits() -> None:
    h = ReplayHost(app, clock=RealClock())
    try:
        iid = h.start_new("early_event", None, None)
        h.run_until_idle(timeout=10)  # waits for "go": idle, not finished
        assert h.get_status(iid).runtime_status == RuntimeStatus.RUNNING
        h.raise_event(iid, "go", 1)
        assert h.wait_for(iid, 10).output == {"first": 4, "go": 1}
    finally:
        h.stop()


def test_approval_raced_against_timer(host: ReplayHost) -> None:
    timed_out = run(host, "approval")
    assert timed_out.output == {"decision": "timeout"}

    iid = host.start_new("approval", None, None)
    host.run_until_idle(stop_when=lambda: (host.get_status(iid).custom_status or {}).get("stage") is not None)
    host.raise_event(iid, "approval", {"approve": True, "by": "oncall"})
    status = host.wait_for(iid)
    assert status.output == {"decision": {"approve": True, "by": "oncall"}}
    full = host.get_status(iid, show_history=True)
    assert EventType.TIMER_FIRED not in kinds(full)  # the canceled timer never fired


def test_external_event_raised_before_the_wait_is_buffered(host: ReplayHost) -> None:
    iid = host.start_new("early_event", None, None)
    host.raise_event(iid, "go", "now")  # before the orchestrator even started
    with pytest.warns(UserWarning):  # the SDK notes the early event, then defers it
        status = host.wait_for(iid)
    assert status.output == {"first": 4, "go": "now"}


def test_sub_orchestrations_complete_and_fail(host: ReplayHost) -> None:
    status = run(host, "parent", None, "parent-1")
    assert status.output == {"child": [0, 2, 4], "failed_child": "boom: the orchestrator failed "}
    child = host.get_status("parent-1-child")
    assert child is not None and child.runtime_status == RuntimeStatus.COMPLETED


def test_continue_as_new_restarts_with_new_input(host: ReplayHost) -> None:
    status = run(host, "counter", 0)
    assert status.output == {"n": 3, "value": 6}
    assert status.input == 3  # the last execution's input
    assert status.history_events < 12  # history was reset, not accumulated


def test_orchestrator_failure_carries_its_error(host: ReplayHost) -> None:
    status = run(host, "boom")
    assert status.runtime_status == RuntimeStatus.FAILED
    assert "boom: the orchestrator failed" in status.output


def test_non_determinism_is_caught(host: ReplayHost) -> None:
    replay_app.NONDETERMINISTIC_CALLS["n"] = 0
    status = run(host, "nondeterministic")
    assert status.runtime_status == RuntimeStatus.FAILED
    assert "Non-deterministic" in status.output
    assert "'double'" in status.output and "'slow_double'" in status.output


def test_changed_inputs_are_caught_when_asked() -> None:
    h = ReplayHost(app, check_inputs=True)
    try:
        iid = h.start_new("sequence", None, None)
        h.run_until_idle(stop_when=lambda: h.get_status(iid).episodes >= 2)
        # Tamper with the recorded input, as a code change between deployments would.
        state = h._instances[iid]
        scheduled = next(e for e in state.history if e["EventType"] == EventType.TASK_SCHEDULED)
        scheduled["Input"] = "99"
        status = h.wait_for(iid)
    finally:
        h.stop()
    assert status.runtime_status == RuntimeStatus.FAILED
    assert "input differs from history" in status.output


def test_singleton_start_is_refused_while_running(host: ReplayHost) -> None:
    host.start_new("early_event", "pair-a", None)
    host.run_until_idle()
    with pytest.raises(InstanceAlreadyRunning):
        host.start_new("early_event", "pair-a", None)
    host.raise_event("pair-a", "go", True)
    assert host.wait_for("pair-a").runtime_status == RuntimeStatus.COMPLETED
    host.start_new("sequence", "pair-a", None)  # a finished instance may be replaced
    assert host.wait_for("pair-a").output == [2, 4, 8]


def test_client_operations_validate_and_report(host: ReplayHost) -> None:
    with pytest.raises(UnknownOrchestrator):
        host.start_new("no_such_orchestrator")
    with pytest.raises(ValueError, match="instance id"):
        host.start_new("sequence", "bad/id")
    with pytest.raises(InstanceNotFound):
        host.raise_event("missing", "x")
    iid = host.start_new("early_event", None, {"k": 1})
    host.run_until_idle()
    status = host.get_status(iid)
    assert status.input == {"k": 1} and status.created_time <= status.last_updated_time
    host.terminate(iid, "operator said stop")
    assert host.get_status(iid).runtime_status == RuntimeStatus.TERMINATED
    assert host.get_status(iid).output == "operator said stop"
    with pytest.raises(InstanceNotRunning):
        host.raise_event(iid, "go")
    listed = {s.instance_id for s in host.list_instances({RuntimeStatus.TERMINATED})}
    assert iid in listed
    assert host.purge(iid) is True
    assert host.get_status(iid) is None


def test_virtual_clock_is_the_orchestrators_clock() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    h = ReplayHost(app, clock=VirtualClock(start))
    try:
        assert run(h, "sleeper").output == 7200.0
        assert h.clock.now() == start.replace(hour=2)
    finally:
        h.stop()
