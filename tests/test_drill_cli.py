"""`hubfailover drill` as a person runs it: exit codes, bad options, and cleanup on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def drill(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "failover", "drill", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})


def test_bad_fault_spec_is_refused_before_anything_starts() -> None:
    proc = drill("--faults", "latency_ms=fast")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "argument --faults: fault spec value latency_ms='fast' is not valid" in out
    assert "Traceback" not in out and "Azurite on" not in out


def test_sigterm_stops_the_embedded_azurite() -> None:
    proc = drill("--jobs", "300", "--artifacts", "400", "--faults", "latency_ms=20")
    assert proc.stdout is not None
    port = None
    deadline = time.monotonic() + 60
    while port is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"Azurite on 127\.0\.0\.1 \(blob (\d+)", line)
        if match:
            port = int(match.group(1))
    assert port is not None, "the drill never reported its Azurite"
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    with socket.socket() as probe:
        probe.settimeout(1)
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens there any more
