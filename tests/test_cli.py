"""The operator CLI against `serve`: status, failover, watch, approve, reject, ack, failback, errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from replayhost.azurite import AzuriteEndpoints
from tests.serve_world import KEY, served
from tests.test_detection import alert_body

ROOT = Path(__file__).resolve().parent.parent


def test_status_failover_watch_cooldown_ack_failback(azurite: AzuriteEndpoints, cli) -> None:  # type: ignore[no-untyped-def]
    with served(azurite) as s:
        code, out, _ = cli(s, "status")
        assert code == 0 and s.pair in out and s.options.primary in out
        code, out, _ = cli(s, "status", s.pair, "--json")
        assert code == 0 and json.loads(out)["pointer"]["active"] == s.options.primary
        code, out, _ = cli(s, "status", s.pair)
        assert code == 0 and "never probed" in out and "catalog" in out

        code, out, _ = cli(s, "failover", s.pair, "--reason", "region down", "--by", "alice")
        assert code == 0 and s.instance_id in out
        code, out, _ = cli(s, "watch", s.instance_id, "--interval", "0.05")
        assert code == 0, out
        assert "outcome: succeeded" in out and f"{s.options.primary} -> {s.options.secondary}" in out

        code, _, err = cli(s, "failover", s.pair, "--reason", "again", "--by", "alice")
        assert code == 1 and "409" in err and "cooldown" in err
        code, out, _ = cli(s, "ack", s.pair, "--by", "alice", "--comment", "seen")
        assert code == 0 and "cooldown lifted" in out
        code, _, err = cli(s, "failback", s.pair, "--reason", "home", "--by", "alice")
        assert code == 1 and "failback needs 3" in err
        code, _, err = cli(s, "failover", s.pair, "--reason", "  ", "--by", "alice")
        assert code == 1 and "422" in err and "field: reason" in err
        code, _, err = cli(s, "status", "no-such-pair")
        assert code == 1 and "404" in err


def test_hot_cold_approve_and_reject_from_the_cli(azurite: AzuriteEndpoints, cli) -> None:  # type: ignore[no-untyped-def]
    with served(azurite, mode="hot-cold") as s:
        assert cli(s, "failover", s.pair, "--reason", "maybe", "--by", "dave")[0] == 0
        s.wait_approval()
        code, out, _ = cli(s, "reject", s.instance_id, "--by", "erin", "--comment", "not now")
        assert code == 0 and "reject sent" in out
        code, out, _ = cli(s, "watch", s.instance_id, "--interval", "0.05")
        assert code == 1 and "outcome: aborted" in out and "rejected by function key holder (unverified: erin)" in out

        assert cli(s, "failover", s.pair, "--reason", "outage", "--by", "dave")[0] == 0
        run = s.wait_approval()["progress"]["run"]
        code, out, _ = cli(s, "watch", s.instance_id, "--interval", "0.05", "--timeout", "0.2")
        assert code == 1 and f"--run {run}" in out  # watch tells the operator which run waits
        code, _, err = cli(s, "approve", s.instance_id, "--by", "carol", "--run", "failover-x@2020-01-01")
        assert code == 1 and "409" in err and "field: run" in err
        code, out, _ = cli(s, "approve", s.instance_id, "--by", "carol", "--run", run)
        assert code == 0 and "approve sent" in out and f"(run {run})" in out
        code, out, _ = cli(s, "watch", s.instance_id, "--interval", "0.05")
        assert code == 0 and "outcome: succeeded" in out
        code, _, err = cli(s, "approve", s.instance_id, "--by", "carol")
        assert code == 1 and "409" in err


def test_an_alert_posted_to_serve_runs_a_failover_that_watch_follows(
        azurite: AzuriteEndpoints, cli) -> None:  # type: ignore[no-untyped-def]
    with served(azurite) as s:
        s.scenario.primary.set_faults("down=1")
        world = type("W", (), {"scenario": s.scenario})()
        code, body, _ = s.call("POST", "/api/alerts", alert_body(world))  # type: ignore[arg-type]
        assert code == 202 and body["status"] == "started", body
        code, out, _ = cli(s, "watch", s.instance_id, "--interval", "0.05")
        assert code == 0 and "outcome: succeeded" in out, out
        assert s.call("GET", f"/api/failovers/{s.instance_id}")[1]["report"]["trigger"] == "alert"


def test_errors_are_clear_and_the_key_is_never_printed(azurite: AzuriteEndpoints, cli) -> None:  # type: ignore[no-untyped-def]
    with served(azurite) as s:
        code, out, err = cli(s, "status", key="wrong-key-value")
        assert code == 1 and "401" in err and "wrong-key-value" not in out + err
        code, out, err = cli(s, "status", key=None)
        assert code == 1 and "401" in err
        code, out, err = cli(s, "failover", s.pair, "--reason", "r", "--by", "x")
        assert KEY not in out + err
        # the console script, as an operator runs it
        env = {**os.environ, "HUBFAILOVER_URL": s.url, "HUBFAILOVER_API_KEY": KEY, "COLUMNS": "200"}
        proc = subprocess.run([sys.executable, "-m", "failover", "status", s.pair], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0 and s.pair in proc.stdout and KEY not in proc.stdout + proc.stderr

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    gone = type("S", (), {"url": dead})()
    code, _, err = cli(gone, "status")
    assert code == 1 and "cannot reach" in err and "HUBFAILOVER_URL" in err


def test_a_bearer_token_goes_in_a_header_and_is_never_printed(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Behind App Service authentication the CLI sends HUBFAILOVER_TOKEN as a bearer token."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict[str, str]] = []

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            payload = b'{"error": "signed in, but not allowed", "field": null}'
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test-token-" + "x" * 20
        monkeypatch.setenv("HUBFAILOVER_TOKEN", token)
        here = type("S", (), {"url": f"http://127.0.0.1:{server.server_address[1]}"})()
        code, out, err = cli(here, "status")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1 and "403" in err and "not allowed" in err
    assert seen[0]["authorization"] == f"Bearer {token}" and seen[0]["x-functions-key"] == KEY
    assert token not in out + err and KEY not in out + err
