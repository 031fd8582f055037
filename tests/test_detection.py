"""Detection: probe hysteresis, alert webhook, guards (running, cooldown, acknowledge), alert storms."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.core.pipeline.transport import HttpRequest, RequestsTransport
from azure.data.tables import TableServiceClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failover.domain.health import decide_failover
from failover.services import services
from failover.stores.pair_state import HubStreak
from replayhost.azurite import AzuriteEndpoints
from tests.durable_world import World, durable_world, entry_point, forget_sdk_session, reconfigure, run
from tests.local_transport import LocalTransport
from tests.waiting import wait_until

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def alert_body(world: World, *, condition: str = "Fired", alert_id: str | None = None,
               target: str | None = None) -> dict[str, Any]:
    """A platform-initiated Resource Health alert on the pair's primary, fired now (the shape of
    Microsoft's Resource Health test action; tests/test_alert_samples.py posts the samples themselves)."""
    pair = world.scenario.config.pair(world.scenario.pair)
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {
        "alertId": alert_id or f"/subscriptions/x/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4()}",
        "alertRule": "ml-workspace-unavailable", "severity": "Sev1", "signalType": "Activity Log",
        "monitorCondition": condition, "monitoringService": "Resource Health",
        "alertTargetIDs": [target or pair.primary.arm_id.lower()], "firedDateTime": datetime.now(UTC).isoformat(),
        "description": "workspace unavailable"}, "alertContext": {
            "eventSource": "ResourceHealth", "status": "Active", "properties": {
                "title": "We're sorry, your workspace is unavailable", "currentHealthStatus": "Unavailable",
                "previousHealthStatus": "Available", "type": "Downtime", "cause": "PlatformInitiated"}}}}


def post_alert(world: World, body: Any, *, close_session: bool = True) -> func.HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = func.HttpRequest("POST", "http://localhost/api/alerts", body=raw, headers={})
    alerts = entry_point("alerts")
    if close_session:
        return run(lambda: alerts(req=request, client=world.binding))
    # Concurrent callers on several threads: the SDK's one aiohttp session must outlive each call.
    return asyncio.run(alerts(req=request, client=world.binding))


def probe(world: World, at: datetime) -> list[dict[str, Any]]:
    from azure.durable_functions import DurableOrchestrationClient

    from triggers.health_probe import probe_all

    return run(lambda: probe_all(DurableOrchestrationClient(world.binding), now=at))


def wait_done(world: World, timeout: float = 60) -> None:
    wait_until(lambda: all(s.runtime_status.is_terminal for s in world.instances()), timeout, "failover still running")


# -- the decision itself (pure) --------------------------------------------------------------

@given(st.lists(st.booleans(), min_size=1, max_size=60), st.integers(min_value=1, max_value=6))
def test_no_start_unless_threshold_consecutive_failures(results: list[bool], threshold: int) -> None:
    streak, standby = HubStreak(), HubStreak().after(True, NOW)
    for i, ok in enumerate(results):
        streak = streak.after(ok, NOW + timedelta(seconds=30 * i))
        decision = decide_failover(primary=streak, secondary=standby, threshold=threshold, auto_failover=True,
                                   failover_running=False, cooldown_since=None)
        run_of_failures = 0
        for earlier in reversed(results[: i + 1]):
            if earlier:
                break
            run_of_failures += 1
        assert decision.start == (run_of_failures >= threshold)


def test_every_guard_says_why() -> None:
    down = HubStreak(failures=5)
    up = HubStreak(successes=1)
    base = {"primary": down, "secondary": up, "threshold": 3, "auto_failover": True, "failover_running": False,
            "cooldown_since": None}
    assert decide_failover(**base).start
    assert "standby" in decide_failover(**{**base, "secondary": HubStreak(failures=1)}).why
    assert "auto-failover is off" in decide_failover(**{**base, "auto_failover": False}).why
    assert "already running" in decide_failover(**{**base, "failover_running": True}).why
    assert "cooldown" in decide_failover(**{**base, "cooldown_since": NOW - timedelta(days=30)}).why  # no lapse


# -- the probe timer, end to end ---------------------------------------------------------------

def test_flapping_probes_never_fail_over_then_a_real_outage_does(azurite: AzuriteEndpoints) -> None:
    with durable_world(azurite) as world:
        primary = world.scenario.primary
        at = NOW
        # down, down, up, down, down, up ...: never 3 in a row (threshold 3)
        for flap in [True, True, False] * 4:
            primary.set_faults("down=1" if flap else "")
            results = probe(world, at)
            at += timedelta(seconds=30)
            assert not results[0]["started"], results
        assert world.instances() == []
        state = services().pair_state.read(world.scenario.pair)
        assert "threshold 3" in state.last_decision["why"]

        primary.set_faults("down=1")
        started = [probe(world, at + timedelta(seconds=30 * i))[0]["started"] for i in range(3)]
        assert started == [False, False, True]
        wait_done(world)
        [instance] = world.instances()
        assert instance.output["outcome"] == "succeeded"
        assert instance.output["trigger"] == "timer"
        assert instance.output["timeline"]["outage_at"] is not None


def test_unhealthy_standby_blocks_failover(azurite: AzuriteEndpoints) -> None:
    with durable_world(azurite) as world:
        world.scenario.primary.set_faults("down=1")
        world.scenario.secondary.set_faults("down=1")
        for i in range(5):
            assert not probe(world, NOW + timedelta(seconds=30 * i))[0]["started"]
        assert world.instances() == []
        assert "standby" in services().pair_state.read(world.scenario.pair).last_decision["why"]


# -- the alert webhook -------------------------------------------------------------------------

def test_after_a_failover_an_alert_on_the_old_primary_never_fails_back_into_the_outage(
        azurite: AzuriteEndpoints) -> None:
    """Failover by alert; the cooldown holds (an alert on the new active hub is refused); acknowledged;
    then a new alert on the old primary, now the standby and still down: no start, pointer unchanged,
    the decision recorded with its reason."""
    with durable_world(azurite) as world:
        pair = world.scenario.config.pair(world.scenario.pair)
        world.scenario.primary.set_faults("down=1")
        first = post_alert(world, alert_body(world))
        assert first.status_code == 202, first.get_body()
        wait_done(world)
        state = services().pair_state.read(pair.name)
        assert state.cooldown_since is not None and state.last_failover["outcome"] == "succeeded"
        pointer = services().pointers.read(pair.name)
        assert (pointer.active, pointer.generation) == (pair.secondary.name, 1)

        on_new_active = post_alert(world, alert_body(world, target=pair.secondary.arm_id))
        assert on_new_active.status_code == 200
        assert "cooldown" in json.loads(on_new_active.get_body())["why"]

        services().pair_state.acknowledge(pair.name, "oncall@example.com", datetime.now(UTC))
        assert not services().pair_state.read(pair.name).in_cooldown()
        on_old_primary = post_alert(world, alert_body(world))
        answer = json.loads(on_old_primary.get_body())
        assert on_old_primary.status_code == 200 and answer["status"] == "not_started", answer
        assert f"about {pair.primary.name}, the standby" in answer["why"]
        assert services().pointers.read(pair.name) == pointer  # not even its ETag moved
        assert len(world.instances()) == 1
        decision = services().pair_state.read(pair.name).last_decision
        assert decision["started"] is False and decision["why"] == answer["why"]
        assert decision["alert"]["hub"] == pair.primary.name
        refused = [r for r in services().audit.list(pair.name, "alert") if r.outcome == "refused"]
        assert refused[-1].detail["why"] == answer["why"]


def two_pairs_sharing_the_standby(world: World) -> tuple[str, str]:
    """A second pair whose standby is the world's secondary (repeated verbatim); auto-failover off on both, so the
    answers say what each pair decided without starting runs."""
    import os

    from failover.domain import settings as app_settings
    from failover.domain.config import parse_config
    from failover.services import reset_services
    from rehearsal.scenario import drill_config

    config = drill_config(world.options)
    first = config["pairs"][0]
    second = json.loads(json.dumps(first))
    second.update(name=f"o{first['name']}", alert_targets=[], auto_failover=False)
    second["primary"].update(name=f"p2{first['name']}", workspace_name=f"mlw-p2{first['name']}")
    first["auto_failover"] = False
    config["pairs"].append(second)
    text = json.dumps(config)
    os.environ[app_settings.FAILOVER_CONFIG] = text
    world.scenario.config = parse_config(text, "test configuration")
    reset_services()
    return first["name"], second["name"]


def test_an_alert_on_a_standby_active_in_two_pairs_is_decided_for_both(azurite: AzuriteEndpoints) -> None:
    """Both pairs failed over to their shared standby; then it fails. The alert was decided for the first pair
    only, the second left on the failing hub until its probes caught up: now each pair where the hub is active
    decides (and dedupes) on its own, and the answer lists both."""
    with durable_world(azurite) as world:
        a, b = two_pairs_sharing_the_standby(world)
        svc = services()
        shared = world.scenario.config.pair(a).secondary
        for name in (a, b):
            pair = world.scenario.config.pair(name)
            before = svc.pointers.ensure(name, pair.primary.name, shared.name)
            svc.pointers.flip(name, expected_active=pair.primary.name, expected_generation=before.generation,
                              to=shared.name, by="test", reason="region down")
        body = alert_body(world, target=shared.arm_id)
        answer = post_alert(world, body)
        got = json.loads(answer.get_body())
        assert answer.status_code == 200 and got["status"] == "several_pairs", got
        assert [(p["pair"], p["status"], p["hub"]) for p in got["pairs"]] == [
            (a, "not_started", shared.name), (b, "not_started", shared.name)]
        assert all("auto-failover is off" in p["why"] for p in got["pairs"])
        for name in (a, b):
            [record] = svc.audit.list(name, "alert")
            assert record.outcome == "refused" and record.detail["alert"]["hub"] == shared.name
        again = json.loads(post_alert(world, body).get_body())
        assert [p["status"] for p in again["pairs"]] == ["duplicate", "duplicate"]
        assert world.instances() == []


def test_redelivered_alert_is_answered_200_and_changes_nothing(azurite: AzuriteEndpoints) -> None:
    with durable_world(azurite, mode="hot-cold") as world:  # hot-cold: the first run waits for approval
        body = alert_body(world, alert_id="alert-1")
        assert post_alert(world, body).status_code == 202
        for _ in range(3):
            redelivery = post_alert(world, body)
            assert redelivery.status_code == 200
            assert json.loads(redelivery.get_body())["status"] == "duplicate"
        resolved = post_alert(world, alert_body(world, alert_id="alert-1", condition="Resolved"))
        assert json.loads(resolved.get_body())["status"] == "recorded"
        assert len(world.instances()) == 1


def test_alert_storm_of_1000_concurrent_deliveries_starts_one_orchestration(azurite: AzuriteEndpoints) -> None:
    with durable_world(azurite, mode="hot-cold") as world:
        body = alert_body(world, alert_id=f"storm-{uuid.uuid4()}")
        began = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(lambda _: post_alert(world, body, close_session=False).status_code, range(1000)))
        elapsed = time.perf_counter() - began
        forget_sdk_session()
        print(f"\nalert storm: 1000 deliveries in {elapsed:.1f} s, {codes.count(202)} started, "
              f"{codes.count(200)} duplicates, {codes.count(503)} told to retry, "
              f"{len(world.instances())} orchestration(s)")
        # a delivery that arrives while the first is being handled is answered 503 (retry), not "duplicate"
        assert codes.count(202) == 1 and codes.count(200) + codes.count(503) == 999
        assert len(world.instances()) == 1
        retried = post_alert(world, body)
        assert (retried.status_code, json.loads(retried.get_body())["status"]) == (200, "duplicate")


def test_a_delivery_while_another_is_handled_is_told_to_retry_and_a_dead_handler_is_taken_over(
        azurite: AzuriteEndpoints) -> None:
    """Two ways an alert got lost: a redelivery answered "duplicate" while the first delivery was still being
    handled (if that handling then failed, its 503 went to a caller that had given up, and nobody retried), and
    a handler that died mid-call (its row stayed "handling": every retry "duplicate" for 8 days)."""
    from failover.domain.alerts import parse_alert
    from failover.stores.alert_deliveries import HANDLING_LEASE, Claim

    with durable_world(azurite) as world:
        pair, svc = world.scenario.pair, services()
        world.scenario.primary.set_faults("down=1")

        def claimed(body: dict[str, Any], at: datetime) -> dict[str, Any]:
            key = parse_alert(json.dumps(body).encode()).delivery_key()
            assert svc.alerts.claim(pair, key, at) is Claim.NEW
            return body

        # a handler that claimed this delivery longer ago than the lease, and died
        dead = claimed(alert_body(world), datetime.now(UTC) - HANDLING_LEASE)
        assert post_alert(world, dead).status_code == 202
        wait_done(world)

        busy = claimed(alert_body(world), datetime.now(UTC))  # the first delivery, being handled now
        answer = post_alert(world, busy)
        assert (answer.status_code, json.loads(answer.get_body())["status"]) == (503, "in_flight")
        assert answer.headers.get("Retry-After")
        svc.alerts.release(pair, parse_alert(json.dumps(busy).encode()).delivery_key())  # ... its handling failed
        retried = json.loads(post_alert(world, busy).get_body())  # the action group's retry is handled
        assert retried["status"] == "not_started" and "the standby" in retried["why"], retried  # decided
        assert len(world.instances()) == 1


class RefusingDeletes(RequestsTransport):
    """Azurite behind the real transport, except entity deletes: 503 (the DR storage failing under load)."""

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:
        if request.method == "DELETE":
            return LocalTransport.answer(request, 503, {"odata.error": {
                "code": "ServerBusy", "message": {"lang": "en-US", "value": "The server is busy."}}})
        return super().send(request, **kwargs)


def test_storage_failing_under_the_webhook_is_a_503_the_action_group_retries(azurite: AzuriteEndpoints) -> None:
    """Action groups retry a 503, never a 500. The dedupe table down, or the pointer table down and the dedupe row
    not released, raised out of the function (a 500: the alert lost). Each is a 503 now, and the retry acts once
    storage is back (a row that could not be released lapses after its lease)."""
    from failover.stores.alert_deliveries import HANDLING_LEASE, AlertDeliveries
    from failover.stores.pointer import PointerStore
    from tests.test_run_accounting import dead_port

    with durable_world(azurite) as world:
        svc, pair = services(), world.scenario.pair
        alerts, pointers = svc.alerts, svc.pointers
        world.scenario.primary.set_faults("down=1")
        body = alert_body(world)
        down = azurite.connection_string.replace(f":{azurite.table_port}/", f":{dead_port()}/")
        svc.alerts = AlertDeliveries.from_service(TableServiceClient.from_connection_string(down, retry_total=0))
        answer = post_alert(world, body)
        assert answer.status_code == 503 and "retry" in json.loads(answer.get_body())["error"]

        tables = TableServiceClient.from_connection_string(azurite.connection_string, transport=RefusingDeletes(),
                                                           retry_total=0)
        svc.alerts = AlertDeliveries.from_service(tables, alerts.table.table_name)
        svc.pointers = PointerStore.from_service(TableServiceClient.from_connection_string(down, retry_total=0))
        assert post_alert(world, body).status_code == 503  # handled, failed, not released
        assert world.instances() == []

        svc.alerts, svc.pointers = alerts, pointers  # storage is back; the retry after the lease acts
        from failover.domain.alerts import parse_alert

        key = parse_alert(json.dumps(body).encode()).delivery_key()
        row = alerts.table.get_entity(pair, alerts_row(key))
        assert row["state"] == "handling"
        earlier = (datetime.now(UTC) - HANDLING_LEASE).isoformat(timespec="microseconds")
        alerts.table.update_entity({"PartitionKey": pair, "RowKey": row["RowKey"], "received_at": earlier})
        assert post_alert(world, body).status_code == 202


def alerts_row(key: str) -> str:
    from failover.stores.alert_deliveries import _row

    return _row(key)


def test_auto_failover_off_records_the_alert_only(azurite: AzuriteEndpoints) -> None:
    with durable_world(azurite) as world:
        reconfigure(world, lambda pair: pair.update(auto_failover=False))
        response = post_alert(world, alert_body(world))
        assert response.status_code == 200
        assert "auto-failover is off" in json.loads(response.get_body())["why"]
        assert world.instances() == []


def test_unknown_target_is_4xx_and_audited(azurite: AzuriteEndpoints) -> None:
    with durable_world(azurite) as world:
        response = post_alert(world, alert_body(world, target="/subscriptions/nope/resourcegroups/x/providers/y/z"))
        assert response.status_code == 404
        records = services().audit.list("unmapped", "alert_unmapped")
        assert records and records[-1].outcome == "rejected"
        assert world.instances() == []


@pytest.mark.parametrize(("payload", "status", "names"), [
    (b"not json", 400, "not JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (json.dumps({"schemaId": "Microsoft.Insights/activityLogs", "data": {}}).encode(), 422, "schemaId"),
    (json.dumps({"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {}}}).encode(), 422,
     "data.essentials.alertId"),
    (b"[" * 100_000, 400, "nested too deeply"),  # 100 KB: under the size limit, over the parser's recursion
    (b'{"schemaId": "azureMonitorCommonAlertSchema", "data": {"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}}", 400,
     "nested too deeply"),
])
def test_malformed_alerts_are_4xx_naming_the_problem(azurite: AzuriteEndpoints, payload: bytes, status: int,
                                                     names: str) -> None:
    with durable_world(azurite) as world:
        response = post_alert(world, payload)
        assert response.status_code == status
        assert names in json.loads(response.get_body())["error"]
        assert world.instances() == []


def test_generated_bad_alerts_never_start_anything(azurite: AzuriteEndpoints) -> None:
    with durable_world(azurite) as world:
        pointer_before = services().pointers.read(world.scenario.pair)
        valid = alert_body(world)

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.one_of(
            st.binary(max_size=200),
            st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=4), max_leaves=12),
            # null is a published value of severity, monitorCondition and alertRule (budget alerts): not bad
            st.sampled_from(["alertId", "severity", "monitorCondition", "firedDateTime", "alertRule"]).flatmap(
                lambda key: st.one_of(st.booleans(), st.lists(st.integers(), max_size=3),
                                      *([st.none()] if key in ("alertId", "firedDateTime") else [])).map(
                    lambda bad: {**valid, "data": {**valid["data"], "essentials": {
                        **valid["data"]["essentials"], key: bad}}})),
        ))
        def check(payload: Any) -> None:
            response = post_alert(world, payload)
            assert 400 <= response.status_code < 500, (payload, response.get_body())

        check()
        assert world.instances() == []
        assert services().pointers.read(world.scenario.pair) == pointer_before
