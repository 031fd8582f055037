"""The operator surface nobody can forge, through `hubfailover serve` (real entry points, real replay).

An attacker here holds what a leaked management link gives on Azure: the Durable extension's
system key, which opens /runtime/webhooks/durabletask/... for every instance. The approval gate
must not move for an `approval` event raised that way; no answer of ours may hand such a link
out; a name nobody verified must say so in the audit; an oversized alert must start nothing.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from failover.domain.approvals import MAX_IGNORED_EVENTS
from failover.services import services
from failover.stores.decisions import AlreadyDecided
from replayhost.azurite import AzuriteEndpoints
from tests.serve_world import KEY, Served, principal, served, unverified
from tests.test_detection import alert_body
from tests.waiting import wait_until

FORBIDDEN = ("systemkey", "code=", "runtime/webhooks", "statusquerygeturi", "sendeventposturi",
             "purgehistorydeleteuri", "terminateposturi")


def no_management_links(s: Served, answer: tuple[int, Any, dict[str, str]]) -> tuple[int, Any, dict[str, str]]:
    """The answer (body and headers) carries no Durable management link and no key."""
    code, body, headers = answer
    text = (json.dumps(body) + json.dumps(headers)).lower()
    for needle in (*FORBIDDEN, s.server.system_key.lower(), KEY.lower()):
        assert needle not in text, (needle, code, body, headers)
    return answer


def raise_forged(s: Served, payload: Any) -> None:
    """What the holder of the system key can do on Azure: POST the sendEventPostUri."""
    code, body, _ = s.call("POST", f"/runtime/webhooks/durabletask/instances/{s.instance_id}/raiseEvent/approval",
                           payload, key=s.server.system_key)
    assert code == 202, body


def forged_records(pair: str, count: int) -> list[Any]:
    def audited() -> list[Any]:
        records = services().audit.list(pair, "approval_forged")
        return records if len(records) >= count else []

    return wait_until(audited, 30, f"{count} approval_forged audit record(s) of pair {pair}")


def test_a_forged_approval_event_is_ignored_and_audited_and_the_route_still_decides(
        azurite: AzuriteEndpoints) -> None:
    with served(azurite, mode="hot-cold") as s:
        start = no_management_links(s, s.call("POST", f"/api/pairs/{s.pair}/failover",
                                              {"reason": "eastus down", "requested_by": "dave"}))
        assert start[0] == 202
        run = s.wait_approval()["progress"]["run"]
        assert run.startswith(f"{s.instance_id}@")

        # the old payload shape with a forged name, a made-up decision id, and junk
        raise_forged(s, {"decision": "approve", "by": "mallory", "comment": "trust me"})
        raise_forged(s, {"decision_id": uuid.uuid4().hex, "decision": "approve", "by": "mallory"})
        raise_forged(s, "approve")
        forged = forged_records(s.pair, 3)
        assert [r.outcome for r in forged] == ["ignored"] * 3
        assert all(r.detail["run"] == run and r.detail["instance_id"] == s.instance_id for r in forged)
        assert forged[0].detail["claimed"]["by"] == "mallory" and "mallory" in forged[0].actor
        assert "names no decision id" in forged[0].detail["why"]
        assert forged[1].detail["why"] == "no decision is recorded for this run"
        waiting = s.wait_status(lambda b: b["progress"].get("ignored_events") == 3)
        assert waiting["runtime_status"] == "Running" and waiting["stage"] == "awaiting_approval"
        pointer = services().pointers.read(s.pair)
        assert pointer.active == s.options.primary and pointer.generation == 0  # nothing moved
        assert not [j for j in s.scenario.secondary.list_jobs() if j.tags.get("hubfailover.source_job")]

        # the approve route still works, for this run
        code, sent, _ = no_management_links(s, s.call("POST", f"/api/failovers/{s.instance_id}/approve",
                                                      {"by": "carol", "comment": "confirmed", "run": run}))
        assert code == 202 and sent["run"] == run and sent["by"] == unverified("carol")
        no_management_links(s, s.call("GET", f"/api/failovers/{s.instance_id}"))
        done = s.wait_done()
        report = done["report"]
        assert report["outcome"] == "succeeded", report
        assert report["approval"] == {"required": True, "decision": "approve", "by": unverified("carol"),
                                      "comment": "confirmed", "decision_id": sent["decision_id"],
                                      "at": report["approval"]["at"], "identity_verified": False,
                                      "ignored_events": 3}
        assert sum("ignored an unverified approval event" in e["error"] for e in report["errors"]) == 3
        assert services().pointers.read(s.pair).active == s.options.secondary
        [recorded] = services().audit.list(s.pair, "approve")
        assert (recorded.actor, recorded.outcome, recorded.detail["decision_id"]) == (
            unverified("carol"), "recorded", sent["decision_id"])
        # deciding again, after the fact, is refused
        assert s.call("POST", f"/api/failovers/{s.instance_id}/reject", {"by": "erin"})[0] == 409


def test_a_decision_counts_once_and_only_for_its_own_run(azurite: AzuriteEndpoints) -> None:
    with served(azurite, mode="hot-cold") as s:
        start, approve = f"/api/pairs/{s.pair}/failover", f"/api/failovers/{s.instance_id}/approve"
        assert s.call("POST", start, {"reason": "first", "requested_by": "dave"})[0] == 202
        first_run = s.wait_approval()["progress"]["run"]
        other = f"{s.instance_id}@2030-01-01T00:00:00+00:00"
        code, body, _ = no_management_links(s, s.call("POST", approve, {"by": "carol", "run": other}))
        assert (code, body["field"]) == (409, "run") and first_run in body["error"]
        assert services().decisions.read(s.pair, first_run) is None  # refused before anything was written
        code, rejected, _ = s.call("POST", f"/api/failovers/{s.instance_id}/reject", {"by": "erin", "run": first_run})
        assert code == 202
        with pytest.raises(AlreadyDecided) as twice:  # the store's own refusal: one decision per run
            services().decisions.record(pair=s.pair, instance_id=s.instance_id, run=first_run, decision="approve",
                                        by="x", identity={}, comment="", at=datetime.now(UTC))
        assert twice.value.existing is not None and twice.value.existing.decision_id == rejected["decision_id"]
        assert s.call("POST", approve, {"by": "carol"})[0] == 409
        assert s.wait_done()["report"]["outcome"] == "aborted"

        # the next run of the same instance: the first run's decision id, replayed, decides nothing
        assert s.call("POST", start, {"reason": "second", "requested_by": "dave"})[0] == 202
        second_run = s.wait_approval()["progress"]["run"]
        assert second_run != first_run
        raise_forged(s, {"decision_id": rejected["decision_id"], "decision": "reject", "by": "erin"})
        [replayed] = forged_records(s.pair, 1)
        assert replayed.detail["why"] == "no decision is recorded for this run"
        assert s.wait_status(lambda b: b["progress"].get("ignored_events") == 1)["stage"] == "awaiting_approval"
        code, sent, _ = s.call("POST", approve, {"by": "carol"})
        assert code == 202 and sent["run"] == second_run
        assert s.wait_done()["report"]["outcome"] == "succeeded"


def test_the_gate_gives_up_on_a_flood_of_unverified_events(azurite: AzuriteEndpoints) -> None:
    with served(azurite, mode="hot-cold") as s:
        assert s.call("POST", f"/api/pairs/{s.pair}/failover", {"reason": "r", "requested_by": "dave"})[0] == 202
        s.wait_approval()
        for i in range(MAX_IGNORED_EVENTS):
            raise_forged(s, {"decision": "approve", "by": f"mallory-{i}"})
        done = s.wait_done()["report"]
        assert done["outcome"] == "aborted" and "unverified approval events" in done["outcome_reason"]
        assert done["approval"]["decision"] == "refused" and done["approval"]["ignored_events"] == MAX_IGNORED_EVENTS
        assert len(services().audit.list(s.pair, "approval_forged")) == MAX_IGNORED_EVENTS
        assert services().pointers.read(s.pair).generation == 0


def test_no_answer_of_any_route_carries_a_management_link_or_key(azurite: AzuriteEndpoints) -> None:
    with served(azurite, mode="hot-cold") as s:
        s.scenario.primary.set_faults("down=1")
        answers = [
            s.call("GET", "/api/pairs"), s.call("GET", f"/api/pairs/{s.pair}"),
            s.call("GET", f"/api/failovers/{s.instance_id}"),  # 404: never ran
            s.call("POST", f"/api/failovers/{s.instance_id}/approve", {"by": "carol"}),  # 404
            s.call("POST", "/api/alerts", alert_body(type("W", (), {"scenario": s.scenario})())),  # 202: started
        ]
        assert answers[-1][0] == 202 and answers[-1][1]["status"] == "started", answers[-1]
        s.wait_approval()
        # with the key in the query string, as the SDK's own links would carry it: not echoed anywhere
        started = s.call("POST", f"/api/pairs/{s.pair}/failover?code={KEY}", {"reason": "r", "requested_by": "d"},
                         key=None)
        assert started[0] == 409
        answers += [started, s.call("GET", f"/api/pairs/{s.pair}"), s.call("GET", f"/api/failovers/{s.instance_id}"),
                    s.call("POST", f"/api/pairs/{s.pair}/failback", {"reason": "r", "requested_by": "d"}),
                    s.call("POST", f"/api/pairs/{s.pair}/acknowledge", {"by": "d"}),
                    s.call("POST", f"/api/failovers/{s.instance_id}/approve", {"by": "carol"}),  # 202
                    s.call("POST", f"/api/failovers/{s.instance_id}/reject", {"by": "erin"}),  # 409: decided
                    s.call("POST", "/api/alerts", raw=b"junk"), s.call("POST", "/api/pairs/nope/failover", {})]
        s.wait_done()
        answers += [s.call("GET", f"/api/failovers/{s.instance_id}"), s.call("GET", f"/api/pairs/{s.pair}"),
                    s.call("GET", "/api/pairs")]
        for answer in answers:
            no_management_links(s, answer)
        codes = sorted({a[0] for a in answers})
        assert {200, 202, 400, 404, 409} <= set(codes), codes


def test_with_authentication_off_a_claimed_principal_is_recorded_unverified(
        azurite: AzuriteEndpoints, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_SERVICE_AUTH_ENABLED", raising=False)
    with served(azurite, mode="hot-hot") as s:
        code, _, _ = s.call("POST", f"/api/pairs/{s.pair}/failover", {"reason": "r", "requested_by": "alice"},
                            headers={"x-ms-client-principal-name": "ceo@contoso.com",
                                     "x-ms-client-principal": principal(("roles", "Failover.Approve"))})
        assert code == 202
        report = s.wait_done()["report"]
        assert report["requested_by"] == "function key holder (unverified: ceo@contoso.com)"
        [started] = [r for r in services().audit.list(s.pair, "failover") if r.outcome == "started"]
        assert started.actor == "function key holder (unverified: ceo@contoso.com)"
        code, body, _ = s.call("POST", f"/api/pairs/{s.pair}/acknowledge", {"by": "alice"})
        assert code == 200 and body["acknowledged_by"] == "function key holder (unverified: alice)"
        [ack] = services().audit.list(s.pair, "acknowledge")
        assert ack.detail["identity"] == {"name": "alice", "verified": False, "claimed_in": "by",
                                          "credential": "function key", "principal_id": None}


def test_approvers_restricted_to_an_entra_role(azurite: AzuriteEndpoints, monkeypatch: pytest.MonkeyPatch) -> None:
    with served(azurite, mode="hot-cold") as s:
        config = json.loads(os.environ["FAILOVER_CONFIG"])  # the world's, as prepare() set it
        config["pairs"][0]["policy"]["approvers"] = {"roles": ["Failover.Approve"]}
        monkeypatch.setenv("FAILOVER_CONFIG", json.dumps(config))
        monkeypatch.setenv("APP_SERVICE_AUTH_ENABLED", "true")

        def signed_in(name: str, *roles: str) -> dict[str, str]:
            return {"x-ms-client-principal-name": name, "x-ms-client-principal-id": str(uuid.uuid4()),
                    "x-ms-client-principal": principal(*[("roles", r) for r in roles])}

        assert s.call("POST", f"/api/pairs/{s.pair}/failover", {"reason": "r"},
                      headers=signed_in("dave@contoso.com"))[0] == 202
        s.wait_approval()
        approve = f"/api/failovers/{s.instance_id}/approve"
        code, body, _ = s.call("POST", approve, {}, headers=signed_in("dave@contoso.com", "Reader"))
        assert code == 403 and "not an approver" in body["error"]
        assert s.call("POST", approve, {}, headers={"x-ms-client-principal-name": "carol@contoso.com"})[0] == 403
        assert s.call("POST", approve, {"by": "carol"})[0] == 401  # no signed-in principal reached the app
        monkeypatch.setenv("APP_SERVICE_AUTH_ENABLED", "false")
        code, body, _ = s.call("POST", approve, {"by": "carol"}, headers=signed_in("carol@contoso.com",
                                                                                    "Failover.Approve"))
        assert code == 403 and "not a function key" in body["error"]  # a claimed role is no role
        assert [r.outcome for r in services().audit.list(s.pair, "approve")] == ["refused"] * 3
        monkeypatch.setenv("APP_SERVICE_AUTH_ENABLED", "true")
        code, sent, _ = s.call("POST", approve, {}, headers=signed_in("carol@contoso.com", "Failover.Approve"))
        assert code == 202 and sent["by"] == "carol@contoso.com" and sent["identity_verified"] is True
        report = s.wait_done()["report"]
        assert report["outcome"] == "succeeded" and report["requested_by"] == "dave@contoso.com"
        assert report["approval"]["by"] == "carol@contoso.com" and report["approval"]["identity_verified"] is True


def test_an_oversized_alert_is_413_and_starts_nothing(azurite: AzuriteEndpoints) -> None:
    from failover.domain.alerts import MAX_ALERT_BODY_BYTES
    from failover.domain.operator_bodies import MAX_BODY_BYTES

    with served(azurite) as s:
        s.scenario.primary.set_faults("down=1")
        world = type("W", (), {"scenario": s.scenario})()
        big = alert_body(world)  # type: ignore[arg-type]
        big["data"]["alertContext"] = {"padding": "x" * MAX_ALERT_BODY_BYTES}
        code, body, _ = no_management_links(s, s.call("POST", "/api/alerts", big))
        assert (code, body["field"]) == (413, "body") and str(MAX_ALERT_BODY_BYTES) in body["error"]
        assert s.call("GET", f"/api/failovers/{s.instance_id}")[0] == 404  # nothing started
        assert services().audit.list(s.pair) == []  # nothing recorded, not even a decision
        assert services().pair_state.read(s.pair).last_decision is None
        code, body, _ = s.call("POST", f"/api/pairs/{s.pair}/failover", raw=json.dumps(
            {"reason": "x" * MAX_BODY_BYTES, "requested_by": "a"}).encode())
        assert (code, body["field"]) == (413, "body")
        # the same alert within the limit is an alert like any other
        fits = alert_body(world)  # type: ignore[arg-type]
        fits["data"]["alertContext"]["padding"] = "x" * (MAX_ALERT_BODY_BYTES - 2_000)  # still a failure signal
        code, body, _ = s.call("POST", "/api/alerts", fits)
        assert code == 202 and body["status"] == "started", body
        assert s.wait_done()["report"]["trigger"] == "alert"
