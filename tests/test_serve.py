"""`hubfailover serve`: the operator API through real entry points, the Durable webhooks, auth, timers."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from failover.services import services
from rehearsal.ncrontab import Schedule, ScheduleError
from replayhost.azurite import AzuriteEndpoints
from tests.serve_world import KEY, Served, served, unverified
from tests.waiting import patience, wait_until

ROOT = Path(__file__).resolve().parent.parent


def audit_actors(pair: str, kind: str) -> list[tuple[str, str]]:
    return [(r.actor, r.outcome) for r in services().audit.list(pair, kind)]


def test_function_key_is_enforced_like_azure(azurite: AzuriteEndpoints) -> None:
    with served(azurite) as s:
        assert s.call("GET", "/api/pairs", key=None)[0] == 401
        assert s.call("GET", "/api/pairs", key="wrong")[0] == 401
        assert s.call("GET", "/api/pairs", key="")[0] == 401
        _, body, _ = s.call("GET", "/api/pairs", key=None)
        assert body["field"] == "x-functions-key" and KEY not in json.dumps(body)
        assert s.call("GET", f"/api/pairs?code={KEY}", key=None)[0] == 200
        assert s.call("GET", "/api/pairs")[0] == 200
        # the Durable webhooks sit behind the system key, as on Azure: a function key does not open them
        webhook = f"/runtime/webhooks/durabletask/instances/{s.instance_id}"
        assert s.call("GET", webhook, key=None)[0] == 401
        assert s.call("GET", webhook)[0] == 401
        assert s.call("GET", f"/api/pairs?code={s.server.system_key}", key=None)[0] == 401
        assert s.call("GET", webhook, key=s.server.system_key)[0] == 404  # nothing ran yet
        # no function, or not this method: 404 as on Azure; the auth check comes first
        assert s.call("GET", "/api/nothing")[0] == 404
        assert s.call("DELETE", f"/api/pairs/{s.pair}")[0] == 404
        assert s.call("GET", "/elsewhere", key=None)[0] == 404
        # literal route segments match in any case (ASP.NET Core routing); values keep theirs
        assert s.call("GET", f"/api/PAIRS/{s.pair}")[0] == 200
        assert s.call("GET", f"/api/pairs/{s.pair.upper()}")[0] == 404


def test_status_failover_report_and_cooldown(azurite: AzuriteEndpoints) -> None:
    with served(azurite) as s:
        code, body, _ = s.call("GET", "/api/pairs")
        assert code == 200 and [p["pair"] for p in body["pairs"]] == [s.pair]
        code, view, _ = s.call("GET", f"/api/pairs/{s.pair}")
        assert code == 200
        assert view["pointer"]["active"] == s.options.primary and view["pointer"]["generation"] == 0
        assert view["catalog"]["hub"] == s.options.primary and view["catalog"]["age_seconds"] >= 0
        assert view["cooldown"]["in_force"] is False and view["failover"] is None
        assert s.call("GET", "/api/pairs/nope")[1] == {"error": "no hub pair named 'nope'", "field": "pair"}

        code, started, headers = s.call("POST", f"/api/pairs/{s.pair}/failover",
                                        {"reason": "region outage drill", "requested_by": "alice"})
        assert code == 202, started
        assert started == {"instance_id": s.instance_id, "why": started["why"],
                           "status_url": f"/api/failovers/{s.instance_id}"}  # no management links
        assert headers["Location"] == f"/api/failovers/{s.instance_id}"
        done = s.wait_done()
        assert done["runtime_status"] == "Completed" and done["stage"] == "done"
        report = done["report"]
        assert report["outcome"] == "succeeded" and report["requested_by"] == unverified("alice")
        assert report["trigger"] == "manual" and report["pointer"]["after"] == s.options.secondary
        # the Location is our own status route, and it answers
        assert s.call("GET", headers["Location"])[1] == done

        view = s.call("GET", f"/api/pairs/{s.pair}")[1]
        assert view["pointer"]["active"] == s.options.secondary and view["pointer"]["generation"] == 1
        assert view["cooldown"]["in_force"] and view["last_failover"]["outcome"] == "succeeded"
        assert view["failover"]["runtime_status"] == "Completed"

        code, refused, _ = s.call("POST", f"/api/pairs/{s.pair}/failover", {"reason": "again", "requested_by": "bob"})
        assert code == 409 and "cooldown" in refused["error"]
        assert services().pointers.read(s.pair).generation == 1
        s.sync_catalog()  # the active hub's catalog: what a failover back recovers from
        code, forced, _ = s.call("POST", f"/api/pairs/{s.pair}/failover",
                                 {"reason": "forced back", "requested_by": "bob", "force": True})
        assert code == 202 and "forced" in forced["why"]
        back = s.wait_done()
        # forced past the cooldown, it ran (hot-warm back to the primary needs the reverse compute map,
        # which the drill world does not configure: readiness may abort it, which is not this test's subject)
        assert back["runtime_status"] == "Completed" and back["report"]["requested_by"] == unverified("bob")
        assert (unverified("alice"), "started") in audit_actors(s.pair, "failover")
        assert (unverified("bob"), "refused") in audit_actors(s.pair, "failover")


def test_hot_cold_reject_then_approve_through_the_api(azurite: AzuriteEndpoints) -> None:
    with served(azurite, mode="hot-cold") as s:
        approve, reject = f"/api/failovers/{s.instance_id}/approve", f"/api/failovers/{s.instance_id}/reject"
        start = f"/api/pairs/{s.pair}/failover"
        assert s.call("GET", f"/api/failovers/{s.instance_id}")[0] == 404  # never ran
        assert s.call("POST", approve, {"by": "carol"})[0] == 404
        assert s.call("POST", "/api/failovers/failover-ghost/approve", {"by": "carol"})[0] == 404

        # first run: rejected, nothing moves
        assert s.call("POST", start, {"reason": "blip?", "requested_by": "dave"})[0] == 202
        s.wait_approval()
        assert s.call("POST", reject, {"by": "erin", "comment": "primary is fine"})[0] == 202
        done = s.wait_done()
        assert done["report"]["outcome"] == "aborted"
        assert f"rejected by {unverified('erin')}: primary is fine" == done["report"]["outcome_reason"]
        assert services().pointers.read(s.pair).active == s.options.primary
        assert (unverified("erin"), "recorded") in audit_actors(s.pair, "reject")
        late = s.call("POST", reject, {"by": "erin"})
        assert late[0] == 409 and "Completed" in late[1]["error"]

        # second run: waits at the gate, refuses a second start, then approved
        assert s.call("POST", start, {"reason": "outage", "requested_by": "dave"})[0] == 202
        waiting = s.wait_approval()
        assert waiting["runtime_status"] == "Running" and waiting["progress"]["approval_timeout_minutes"] == 30
        running = s.call("POST", start, {"reason": "twice", "requested_by": "dave"})
        assert running[0] == 409 and "already running" in running[1]["error"]
        forced = s.call("POST", start, {"reason": "twice", "requested_by": "dave", "force": True})
        assert forced[0] == 409  # force passes a cooldown, never a running failover
        code, bad, _ = s.call("POST", approve, {"by": "carol", "approved": True})
        assert (code, bad["field"]) == (422, "approved")
        code, bad, _ = s.call("POST", approve, {"comment": "lgtm"})
        assert (code, bad["field"]) == (422, "by")
        assert s.call("POST", approve, raw=b"{not json")[0] == 400
        assert s.wait_approval()["runtime_status"] == "Running"  # bad answers changed nothing

        # without App Service authentication, a principal header is a claim like the body's name
        code, sent, _ = s.call("POST", approve, {"by": "someone-else", "comment": "go"},
                               headers={"x-ms-client-principal-name": "carol@contoso.com"})
        assert code == 202 and sent["by"] == unverified("carol@contoso.com") and sent["identity_verified"] is False
        done = s.wait_done()
        assert done["report"]["outcome"] == "succeeded"
        assert done["report"]["approval"]["by"] == unverified("carol@contoso.com")
        assert done["report"]["approval"]["decision"] == "approve"
        assert done["report"]["approval"]["decision_id"] == sent["decision_id"]
        assert services().pointers.read(s.pair).active == s.options.secondary
        assert (unverified("carol@contoso.com"), "recorded") in audit_actors(s.pair, "approve")


def test_acknowledge_lifts_the_cooldown(azurite: AzuriteEndpoints) -> None:
    with served(azurite, mode="hot-hot") as s:
        ack = f"/api/pairs/{s.pair}/acknowledge"
        code, body, _ = s.call("POST", ack, {"by": "frank"})
        assert code == 200 and body["cooldown_lifted"] is False
        assert s.call("POST", f"/api/pairs/{s.pair}/failover", {"reason": "r", "requested_by": "frank"})[0] == 202
        s.wait_done()
        assert s.call("GET", f"/api/pairs/{s.pair}")[1]["cooldown"]["in_force"]
        assert s.call("POST", f"/api/pairs/{s.pair}/failover", {"reason": "r", "requested_by": "frank"})[0] == 409
        assert s.call("POST", ack, {"by": "frank", "extra": 1})[0] == 422
        code, body, _ = s.call("POST", ack, {"by": "frank", "comment": "seen it"})
        assert code == 200 and body["cooldown_lifted"] is True and body["acknowledged_by"] == unverified("frank")
        cooldown = s.call("GET", f"/api/pairs/{s.pair}")[1]["cooldown"]
        assert cooldown["in_force"] is False and cooldown["acknowledged_by"] == unverified("frank")
        assert (unverified("frank"), "lifted") in audit_actors(s.pair, "acknowledge")
        assert s.call("POST", f"/api/pairs/{s.pair}/failover", {"reason": "r", "requested_by": "frank"})[0] == 202
        s.wait_done()


def test_failback_waits_for_a_healthy_original_primary(azurite: AzuriteEndpoints) -> None:
    with served(azurite) as s:  # hot-warm: recovery runs both ways, compute map inverted on the way back
        failback = f"/api/pairs/{s.pair}/failback"
        code, body, _ = s.call("POST", failback, {"reason": "home", "requested_by": "gina"})
        assert code == 409 and "already active" in body["error"]
        assert s.call("POST", f"/api/pairs/{s.pair}/failover", {"reason": "out", "requested_by": "gina"})[0] == 202
        s.wait_done()
        s.sync_catalog()
        s.record_probes(s.options.primary, True, 2)
        code, body, _ = s.call("POST", failback, {"reason": "home", "requested_by": "gina"})
        assert code == 409 and "passed 2 consecutive probe(s); failback needs 3" in body["error"]
        s.record_probes(s.options.primary, False, 1)
        s.record_probes(s.options.primary, True, 2)  # the streak restarted: 2 again
        assert s.call("POST", failback, {"reason": "home", "requested_by": "gina"})[0] == 409
        s.record_probes(s.options.primary, True, 1)
        assert s.call("POST", failback, {"reason": "home", "by": "gina"})[0] == 422  # unknown field
        code, body, _ = s.call("POST", failback, {"reason": "home", "requested_by": "gina"})
        assert code == 202, body
        done = s.wait_done()
        assert done["report"]["trigger"] == "failback" and done["report"]["outcome"] == "succeeded", done["report"]
        assert done["report"]["jobs"]["resubmitted"] == done["report"]["jobs"]["interrupted"] > 0
        assert services().pointers.read(s.pair).active == s.options.primary
        assert (unverified("gina"), "started") in audit_actors(s.pair, "failback")


def test_timers_run_on_their_schedules(azurite: AzuriteEndpoints, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTH_PROBE_SCHEDULE", "* * * * * *")
    monkeypatch.setenv("CATALOG_SYNC_SCHEDULE", "*/2 * * * * *")
    with served(azurite, timers=True) as s:
        before = services().catalog.read(s.options.primary)
        assert before is not None
        def both_timers_ran() -> bool:
            streak = services().pair_state.read(s.pair).streak(s.options.primary)
            after = services().catalog.read(s.options.primary)
            return streak.successes >= 2 and after is not None and after.taken_at > before.taken_at

        wait_until(both_timers_ran, 15,
                   lambda: f"timers: {[(t.timer.name, t.runs, t.last_error) for t in s.server.timers]}")
        assert {t.timer.name for t in s.server.timers} == {"health_probe", "catalog_sync", "readiness"}
        assert all(t.failures == 0 for t in s.server.timers)


def test_ncrontab_schedules() -> None:
    from datetime import UTC, datetime

    at = datetime(2030, 1, 1, 12, 0, 7, tzinfo=UTC)  # a Tuesday
    assert Schedule.parse("*/30 * * * * *").next_after(at) == at.replace(second=30)
    assert Schedule.parse("0 */15 * * * *").next_after(at) == at.replace(minute=15, second=0)
    assert Schedule.parse("0 0 9 * * MON").next_after(at) == datetime(2030, 1, 7, 9, tzinfo=UTC)
    assert Schedule.parse("0 0 0 1 JAN-MAR *").next_after(at) == datetime(2030, 2, 1, tzinfo=UTC)
    assert Schedule.parse("10,20 5-6 12 * * *").next_after(at) == at.replace(minute=5, second=10)
    assert Schedule.parse("00:05:00").next_after(at) == at.replace(minute=5)
    for bad in ("* * * * *", "61 * * * * *", "*/0 * * * * *", "5-1 * * * * *", "0 0 0 31 FEB *"):
        with pytest.raises(ScheduleError):
            Schedule.parse(bad).next_after(at)


def test_serve_process_generates_a_key_and_stops_on_sigterm(azurite: AzuriteEndpoints, tmp_path: Path) -> None:
    from tests.durable_world import world_options

    options = world_options()
    from rehearsal.scenario import drill_config

    env = {k: v for k, v in os.environ.items() if k not in ("HUBFAILOVER_API_KEY", "FAILOVER_CONFIG")}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "failover", "serve", "--port", "0", "--no-timers",
                                 "--storage", azurite.connection_string, "--config", json.dumps(drill_config(options)),
                                 "--task-hub", f"p{options.pair}"], cwd=ROOT, env={**env, "COLUMNS": "200"},
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is not None or re.search(r"generated key .*: (\S+)", log.read_text()), 30,
                   lambda: log.read_text())
        assert proc.poll() is None, log.read_text()
        text = log.read_text()
        key = re.search(r"generated key .*: (\S+)", text).group(1)  # type: ignore[union-attr]
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", text).group(1)  # type: ignore[union-attr]
        probe = Served.__new__(Served)
        probe.server = type("S", (), {"base_url": url})()  # type: ignore[assignment]
        assert probe.call("GET", "/api/pairs", key=key)[0] == 200
        assert probe.call("GET", f"/api/pairs?code={key}", key=None)[0] == 200
        assert probe.call("GET", "/api/pairs", key="nope")[0] == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=patience(20)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert text.count(key) == 1, "the key appears once: on the generated-key line"
    assert "stopping" in text


@pytest.mark.parametrize(("args", "code", "says"), [
    (["--port", "70000"], 2, "argument --port: 70000 is not a port"),
    (["--config", "{}"], 1, "serve could not start: ConfigError: invalid failover configuration"),
    (["--config", "/nonexistent/failover.json"], 1, "cannot read '/nonexistent/failover.json'"),
    (["--storage", "garbage"], 1, "serve could not start: StorageNotConfigured"),
], ids=["port out of range", "config without pairs", "config file missing", "storage garbage"])
def test_serve_that_can_not_start_says_why_never_a_traceback(azurite: AzuriteEndpoints, args: list[str], code: int,
                                                             says: str) -> None:
    storage = [] if "--storage" in args else ["--storage", azurite.connection_string]
    proc = subprocess.run([sys.executable, "-m", "failover", "serve", "--no-timers", *storage,
                           *(args if "--port" in args else ["--port", "0", *args])], cwd=ROOT, text=True,
                          capture_output=True, timeout=patience(60), env={**os.environ, "COLUMNS": "200"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out
    assert says in out and "Traceback" not in out
    assert azurite.connection_string.split("AccountKey=")[1].split(";")[0] not in out  # no key in the message


def raw_exchange(url: str, request: bytes) -> tuple[int, dict[str, Any], bytes]:
    """One request as bytes on a fresh connection; the status, the JSON body and whatever followed it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=patience(20)) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):  # the server closes the connection after these answers
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    return int(head.split(b" ")[1]), json.loads(rest[:length]), rest[length:]


@pytest.mark.parametrize(("headers", "status"), [
    (b"Content-Length: abc\r\n", 400), (b"Content-Length: -5\r\n", 400),
    (b"Transfer-Encoding: chunked\r\n", 411), (b"Content-Length: 999999999999\r\n", 413),
], ids=["not a number", "negative", "chunked", "10^12 bytes"])
def test_a_body_serve_will_not_read_is_a_4xx_and_never_the_next_request(azurite: AzuriteEndpoints, headers: bytes,
                                                                         status: int) -> None:
    """A Content-Length that is not a length dropped the connection without an answer; a negative one or a chunked
    body was not read, and its bytes were parsed as a second request; a huge one was read into memory before the
    key was even checked."""
    with served(azurite) as s:
        smuggled = b"GET /api/pairs HTTP/1.1\r\nHost: x\r\nx-functions-key: " + KEY.encode() + b"\r\n\r\n"
        code, body, after = raw_exchange(s.url, b"POST /api/alerts HTTP/1.1\r\nHost: x\r\nx-functions-key: "
                                         + KEY.encode() + b"\r\n" + headers + b"\r\n" + smuggled)
        assert code == status and body["error"], body
        assert after == b""  # the connection was closed: the bytes that followed were not served as a request
        assert s.call("GET", "/api/pairs")[0] == 200  # and serve goes on
