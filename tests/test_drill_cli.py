"""`hubfailover drill` as a person runs it: exit codes, bad options, and cleanup on SIGTERM/SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import patience, wait_until

ROOT = Path(__file__).resolve().parent.parent
AZURITE_LINE = re.compile(r"Azurite on 127\.0\.0\.1 \(blob (\d+), table (\d+)\)")
# How long Azurite may take to notice it is orphaned: its watchdog polls every 0.5 s; the rest is
# margin for a loaded machine, not a synchronisation delay (the loop below returns as soon as it is gone).
ORPHAN_DEADLINE_S = 30.0


def drill(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "failover", "drill", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until_underway(proc: subprocess.Popen[str]) -> tuple[int, list[str]]:
    """Read the drill's lines until it is past set-up (its world is seeded); return Azurite's blob port."""
    assert proc.stdout is not None
    port, seen = None, []
    for line in proc.stdout:
        seen.append(line)
        match = AZURITE_LINE.search(line)
        if match:
            port = int(match.group(1))
        if port is not None and "seeded" in line:
            return port, seen
    raise AssertionError(f"the drill ended before it was underway: {''.join(seen)[-2000:]}")


def test_bad_fault_spec_is_refused_before_anything_starts() -> None:
    proc = drill("--faults", "latency_ms=fast")
    out, _ = proc.communicate(timeout=patience(120))
    assert proc.returncode == 2
    assert "argument --faults: fault spec value latency_ms='fast' is not valid" in out
    assert "Traceback" not in out and "Azurite on" not in out


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_stops_the_embedded_azurite(stop_signal: signal.Signals) -> None:
    proc = drill("--jobs", "300", "--artifacts", "400", "--faults", "latency_ms=20")
    port, _ = wait_until_underway(proc)
    proc.send_signal(stop_signal)
    proc.send_signal(stop_signal)  # a second one changes nothing: cleanup still completes
    out, _ = proc.communicate(timeout=patience(120))
    assert proc.returncode == 128 + stop_signal, out
    assert "Traceback" not in out
    assert f"stopped by {stop_signal.name}" in out
    assert not listening(port)  # stopped by the drill before it exited, not later


def test_sigkill_of_the_drill_still_stops_its_azurite() -> None:
    proc = drill("--jobs", "300", "--artifacts", "400", "--faults", "latency_ms=20")
    port, _ = wait_until_underway(proc)
    proc.kill()
    proc.communicate(timeout=patience(60))
    wait_until(lambda: not listening(port), ORPHAN_DEADLINE_S,
               "an orphaned Azurite kept running after its drill was SIGKILLed")


def test_detection_declining_is_a_report_not_a_traceback(tmp_path: Path) -> None:
    """A throttled standby never looks healthy: the drill says so, writes the report and exits 1."""
    path = tmp_path / "report.json"
    proc = drill("--faults", "throttle=1.0", "--jobs", "4", "--artifacts", "4", "--json", str(path))
    out, _ = proc.communicate(timeout=patience(180))
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "detection declined" in out
    report = json.loads(path.read_text())
    assert report["outcome"] == "aborted"
    assert report["outcome_reason"].startswith("detection declined to fail over")
    assert "standby did not pass its last probe" in report["outcome_reason"]
    assert report["decisions"] and not any(d["start"] for d in report["decisions"])
    assert report["pointer"]["generation_after"] == report["pointer"]["generation_before"] == 0
    assert report["verification"]["pointer_ok"]


def test_break_and_resume_from_the_command_line(tmp_path: Path) -> None:
    """The failover ends failed with the broken kinds' items listed; the recover completes them; exit 0."""
    path = tmp_path / "report.json"
    proc = drill("--jobs", "6", "--artifacts", "24", "--break", "model,job", "--resume", "--json", str(path))
    out, _ = proc.communicate(timeout=patience(180))
    assert proc.returncode == 0, out[-3000:]
    assert "Traceback" not in out and "Resume (recover): succeeded" in out
    report = json.loads(path.read_text())
    fixed = {"instance_id", "pair", "mode", "trigger", "outcome", "outcome_reason", "pointer", "catalog", "jobs",
             "artifacts", "activation", "verification", "timeline", "durations", "history", "errors"}
    assert fixed <= set(report) and report["outcome"] == "failed"  # the failover's fields, as they were
    assert report["recover"]["command"] == "hubfailover recover drill --by YOU"
    resume = report["resume"]
    assert resume["outcome"] == "succeeded" and resume["jobs"]["resubmitted"] == report["jobs"]["failed"] > 0
    assert resume["artifacts"]["model"]["recreated"] == report["artifacts"]["model"]["failed"] > 0
    assert report["verification"]["ok"] and report["verification"]["pointer"]["generation"] == 1


@pytest.mark.parametrize(("args", "message"), [
    (("--break", "model,pipeline"), "argument --break: pipeline: expected some of"),
    (("--break", "job", "--resume", "--dry-run"), "--resume completes a failover that moved the pointer"),
])
def test_bad_break_or_resume_is_refused_before_anything_starts(args: tuple[str, ...], message: str) -> None:
    proc = drill(*args)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2 and message in out, out
    assert "Traceback" not in out and "Azurite on" not in out


@pytest.mark.parametrize("option", ["--json", "--report-md"])
@pytest.mark.parametrize("where", ["missing-dir/report.json", "."], ids=["no such directory", "a directory"])
def test_a_report_path_that_can_not_be_written_is_refused_before_anything_starts(tmp_path: Path, option: str,
                                                                                  where: str) -> None:
    """It was a traceback after the whole drill had run, and the report lost."""
    proc = drill("--jobs", "2", "--artifacts", "2", option, str(tmp_path / where))
    out, _ = proc.communicate(timeout=patience(120))
    assert proc.returncode == 2, out
    assert f"argument {option}:" in out and "Traceback" not in out and "Azurite on" not in out


def test_a_report_that_can_not_be_written_at_the_end_is_said_not_raised(tmp_path: Path) -> None:
    from rehearsal.console import DrillConsole
    from rehearsal.drill import _publish

    gone = tmp_path / "gone"  # existed when the drill started; removed while it ran
    assert not _publish({"outcome": "succeeded"}, DrillConsole(quiet=True), gone / "report.json")
    assert not _publish({"outcome": "succeeded"}, DrillConsole(quiet=True), None, gone / "report.md")
    assert _publish({"outcome": "succeeded"}, DrillConsole(quiet=True), tmp_path / "report.json")
    assert json.loads((tmp_path / "report.json").read_text()) == {"outcome": "succeeded"}
