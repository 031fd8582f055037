"""History and status live in Azurite: a killed host process resumes from storage."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from replayhost.azurite import AzuriteEndpoints
from replayhost.engine import ReplayHost
from replayhost.history import EventType
from replayhost.state import RuntimeStatus
from replayhost.store import AzureStorageStore
from tests.replay_app import app

ROOT = Path(__file__).resolve().parent.parent


def crash_child(azurite: AzuriteEndpoints, hub: str, instance_id: str, orchestrator: str, payload, kill_after: int):
    proc = subprocess.run(
        [sys.executable, "-m", "tests.replay_crash_child", azurite.connection_string, hub, instance_id,
         orchestrator, json.dumps(payload), str(kill_after)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def test_completed_instance_is_read_back_from_storage(azurite: AzuriteEndpoints, unique_name: str) -> None:
    first = ReplayHost(app, store=AzureStorageStore(azurite.connection_string, unique_name))
    iid = first.start_new("sequence", "seq-1", None)
    assert first.wait_for(iid).output == [2, 4, 8]
    first.stop()

    second = ReplayHost(app, store=AzureStorageStore(azurite.connection_string, unique_name))
    status = second.get_status("seq-1", show_history=True)
    second.stop()
    assert status is not None and status.runtime_status == RuntimeStatus.COMPLETED
    assert status.output == [2, 4, 8]
    assert [e["EventType"] for e in status.history].count(EventType.TASK_COMPLETED) == 3
    assert [s.instance_id for s in second.list_instances()] == ["seq-1"]


def test_process_killed_mid_fan_out_resumes_with_every_result(azurite: AzuriteEndpoints, unique_name: str) -> None:
    n = 40
    crash_child(azurite, unique_name, "fan-1", "fan_out", {"n": n, "activity": "slow_double", "sleep": 0.02}, 9)

    store = AzureStorageStore(azurite.connection_string, unique_name)
    saved = store.load("fan-1")
    assert saved is not None and saved.status == RuntimeStatus.RUNNING  # killed mid-way
    resumed = ReplayHost(app, store=store)
    try:
        status = resumed.wait_for("fan-1", timeout=60)
    finally:
        resumed.stop()
    assert status.runtime_status == RuntimeStatus.COMPLETED
    assert status.output == [2 * i for i in range(n)]
    history = resumed.get_status("fan-1", show_history=True).history
    completed = [e["TaskScheduledId"] for e in history if e["EventType"] == EventType.TASK_COMPLETED]
    assert sorted(completed) == list(range(n))  # every activity's result, exactly once in history


def test_killed_while_waiting_resumes_timer_and_takes_the_event(azurite: AzuriteEndpoints, unique_name: str) -> None:
    crash_child(azurite, unique_name, "appr-1", "approval", None, 0)
    resumed = ReplayHost(app, store=AzureStorageStore(azurite.connection_string, unique_name))
    try:
        assert resumed.get_status("appr-1").custom_status == {"stage": "awaiting_approval"}
        resumed.raise_event("appr-1", "approval", {"approve": False, "by": "lead"})
        status = resumed.wait_for("appr-1", timeout=30)
    finally:
        resumed.stop()
    assert status.output == {"decision": {"approve": False, "by": "lead"}}


def test_killed_while_waiting_resumes_and_the_timer_still_fires(azurite: AzuriteEndpoints, unique_name: str) -> None:
    crash_child(azurite, unique_name, "appr-2", "approval", None, 0)
    resumed = ReplayHost(app, store=AzureStorageStore(azurite.connection_string, unique_name))
    try:
        status = resumed.wait_for("appr-2", timeout=30)
    finally:
        resumed.stop()
    assert status.output == {"decision": "timeout"}
