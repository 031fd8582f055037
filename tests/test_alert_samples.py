"""Microsoft's published Azure Monitor alert payloads through the real webhook (tests/samples/azure_monitor).

Three ways, each delivery posted twice (the action group redelivers):
- verbatim: every full common-schema sample byte for byte, the pair configured to own its rule
  names. Every one is old (2019-2025) or not a failure signal: recorded with its verdict, never
  started; budget alerts name no target or rule (404), the legacy non-common budget schema is a 422.
- fragments: the article's alertContext-only samples, each wrapped in the envelope Azure sends for
  its heading (built here, fired now, on the pair's primary; the alertContext verbatim). The pair
  has auto-failover off, so a failure signal answers ``not_started`` and says why; the rest are
  recorded.
- retargeted: full samples moved onto the configured pair (alertTargetIDs, firedDateTime, and
  where the point needs it the published status, stage, cause or region flipped), each kind that
  should start a failover starting one, the published variants that should not, not.

Never a 5xx; redeliveries are answered ``duplicate`` (or the same 4xx) and change nothing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from failover.services import services
from replayhost.azurite import AzuriteEndpoints
from tests.durable_world import World, durable_world, reconfigure
from tests.test_detection import post_alert, wait_done

SAMPLES = Path(__file__).parent / "samples" / "azure_monitor"
Edit = Callable[[dict[str, Any], World], None]


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def sample_names() -> list[str]:
    return sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*.json"))


def full_samples() -> list[str]:
    return [n for n in sample_names() if "schemaId" in sample(n)]


def fragments() -> list[str]:
    return [n for n in sample_names() if "schemaId" not in sample(n)]


def deliver_twice(world: World, body: bytes | dict[str, Any]) -> tuple[int, dict[str, Any], int, dict[str, Any]]:
    first = post_alert(world, body)
    again = post_alert(world, body)
    assert first.status_code < 500 and again.status_code < 500, (first.get_body(), again.get_body())
    return first.status_code, json.loads(first.get_body()), again.status_code, json.loads(again.get_body())


def essentials(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["data"]["essentials"]


# -- verbatim -----------------------------------------------------------------------------------

# What each published sample is, by what it says (docs/alerts.md).
VERBATIM = {
    "common_sample_metric_resolved.json": (200, "recorded", "resolved"),
    "common_schema_article/sample_metric_resolved_with_alertRuleId.json": (200, "duplicate", None),  # the same alert
    "test_action_metric_static.json": (200, "recorded", "stale"),
    "test_action_metric_dynamic.json": (200, "recorded", "stale"),
    "test_action_availability_test.json": (200, "recorded", "stale"),
    "azure_docs_legacy/test_action_metric_static_MISLABELED_dynamic.json": (200, "recorded", "stale"),
    "test_action_log_v1_metric_measurement.json": (200, "recorded", "stale"),
    "test_action_log_v1_number_of_results.json": (200, "recorded", "stale"),
    "test_action_log_v2.json": (200, "recorded", "stale"),
    "test_action_activity_log_administrative.json": (200, "recorded", "not_a_failure"),
    "test_action_resource_health.json": (200, "recorded", "not_a_failure"),  # cause UserInitiated
    "azure_docs_legacy/test_action_resource_health.json": (200, "recorded", "not_a_failure"),
    "test_action_service_health.json": (200, "recorded", "resolved"),  # Fired, but stage and status Resolved
    "azure_docs_legacy/test_action_service_health.json": (200, "recorded", "resolved"),
    "test_action_smart_detection.json": (200, "recorded", "not_a_failure"),
    "test_action_budget.json": (404, None, None),  # no target, no rule: no pair
    "test_action_budget_actual_cost.json": (404, None, None),
    "test_action_budget_forecasted.json": (404, None, None),
    "azure_docs_legacy/test_action_budget_actual_cost.json": (404, None, None),
    "azure_docs_legacy/test_action_budget_forecasted.json": (404, None, None),
    "azure_docs_legacy/test_action_budget_legacy_AIP.json": (422, None, None),  # not the common schema
}


def test_every_published_sample_verbatim_is_recorded_never_acted_on(azurite: AzuriteEndpoints) -> None:
    assert sorted(VERBATIM) == full_samples()  # a sample added to the folder gets an expectation here
    rules = sorted({str(e["alertRule"]).lower() for n in VERBATIM
                    for e in [sample(n)["data"].get("essentials") or {}] if e.get("alertRule")})
    with durable_world(azurite) as world:
        reconfigure(world, lambda pair: pair.update(alert_targets=rules))
        pair = world.scenario.pair
        for name, (code, status, verdict) in VERBATIM.items():
            raw = (SAMPLES / name).read_bytes()  # byte for byte
            first, body, again, redelivered = deliver_twice(world, raw)
            assert first == code, (name, body)
            if status is not None:
                assert (body["status"], body.get("verdict")) == (status, verdict), (name, body)
            if code == 200:
                assert (again, redelivered["status"]) == (200, "duplicate"), (name, redelivered)
            else:
                assert (again, redelivered["error"]) == (first, body["error"]), name  # the same answer
        assert world.instances() == []
        recorded = services().audit.list(pair, "alert_recorded")
        assert len(recorded) == sum(1 for _, status, _ in VERBATIM.values() if status == "recorded")  # once each
        assert all("/" in r.key for r in recorded)  # real alert ids, '/' and all, as audit keys
        assert len(services().audit.list("unmapped", "alert_unmapped")) >= 5


# -- fragments ----------------------------------------------------------------------------------

def envelope(name: str, world: World) -> dict[str, Any]:
    """The essentials Azure sends with the fragment's heading (built here; the alertContext verbatim)."""
    stem = Path(name).stem
    signal, service = {
        "metric": ("Metric", "Platform"), "prometheus": ("Metric", "Prometheus"),
        "log_v1_log_analytics": ("Log", "Log Analytics"),
        "log_v1_application_insights": ("Log", "Application Insights"),
        "log_v2": ("Log", "Log Alerts V2"), "log_simple_log_alert": ("Log", "Simple Log Alert"),
        "activity_log_administrative": ("Activity Log", "Activity Log - Administrative"),
        "activity_log_policy": ("Activity Log", "Activity Log - Policy"),
        "activity_log_autoscale": ("Activity Log", "Activity Log - Autoscale"),
        "activity_log_security": ("Activity Log", "Activity Log - Security"),
        "service_health_maintenance": ("ActivityLog", "ServiceHealth"),
        "resource_health": ("Activity Log", "Resource Health"),
    }[next(k for k in ("metric", "prometheus", "log_v1_log_analytics", "log_v1_application_insights", "log_v2",
                       "log_simple_log_alert", "activity_log_administrative", "activity_log_policy",
                       "activity_log_autoscale", "activity_log_security", "service_health_maintenance",
                       "resource_health") if stem.startswith(k))]
    primary = world.scenario.config.pair(world.scenario.pair).primary
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {
        "alertId": f"/subscriptions/{primary.subscription_id}/providers/Microsoft.AlertsManagement/alerts/{name}",
        "alertRule": f"fragment-{stem}", "severity": "Sev1", "signalType": signal, "monitorCondition": "Fired",
        "monitoringService": service, "alertTargetIDs": [primary.arm_id.lower()],
        "firedDateTime": datetime.now(UTC).isoformat(), "essentialsVersion": "1.0", "alertContextVersion": "1.0"},
        "alertContext": sample(name)["alertContext"]}}


FRAGMENT_VERDICTS = {"metric": "failure", "prometheus": "failure", "log": "failure",
                     "activity_log": "not_a_failure", "service_health_maintenance": "not_a_failure",
                     "resource_health": "not_a_failure"}  # maintenance is Planned; resource health UserInitiated


def test_every_fragment_in_its_envelope_says_what_it_is(azurite: AzuriteEndpoints) -> None:
    names = fragments()
    assert len(names) == 27  # 13 in the payload samples article, 14 in the common schema article
    with durable_world(azurite) as world:
        reconfigure(world, lambda pair: pair.update(auto_failover=False))
        for name in names:
            first, body, again, redelivered = deliver_twice(world, envelope(name, world))
            expected = next(v for k, v in FRAGMENT_VERDICTS.items() if Path(name).stem.startswith(k))
            assert first == 200 and body["verdict"] == expected, (name, body)
            if expected == "failure":
                assert body["status"] == "not_started" and "auto-failover is off" in body["why"], (name, body)
            else:
                assert body["status"] == "recorded", (name, body)
            assert (again, redelivered["status"]) == (200, "duplicate"), name
        assert world.instances() == []


# -- retargeted ---------------------------------------------------------------------------------

def onto_primary(payload: dict[str, Any], world: World) -> None:
    """The sample's alert, about the configured pair's primary, fired just now."""
    primary = world.scenario.config.pair(world.scenario.pair).primary
    e = essentials(payload)
    e["alertTargetIDs"] = [primary.arm_id.lower()]
    e["configurationItems"] = [primary.workspace_name]
    e["firedDateTime"] = datetime.now(UTC).isoformat()


def health_event(status: str, cause: str) -> Edit:
    def edit(payload: dict[str, Any], world: World) -> None:
        onto_primary(payload, world)
        payload["data"]["alertContext"]["properties"].update(currentHealthStatus=status, cause=cause)
    return edit


def service_incident(stage: str, region: str | None) -> Edit:
    """Service Health is subscription-wide: the rule name maps it to the pair, the region names the hub."""
    def edit(payload: dict[str, Any], world: World) -> None:
        essentials(payload)["firedDateTime"] = datetime.now(UTC).isoformat()
        context = payload["data"]["alertContext"]
        context["status"] = "Active" if stage == "Active" else context["status"]
        context["properties"]["stage"] = stage
        names = {"primary": "East US", "secondary": "West US", "global": "Global"}  # the drill's hub regions
        if region is not None:
            context["properties"]["impactedServices"] = [
                {"ImpactedRegions": [{"RegionName": names[region]}], "ServiceName": "Azure Machine Learning"}]
    return edit


def fired_at(moment: Callable[[], datetime]) -> Edit:
    def edit(payload: dict[str, Any], world: World) -> None:
        onto_primary(payload, world)
        essentials(payload)["firedDateTime"] = moment().isoformat()
    return edit


# (sample, how it is retargeted, expected answer status, verdict)
RETARGETED: list[tuple[str, Edit, str, str]] = [
    ("test_action_metric_static.json", onto_primary, "started", "failure"),
    ("test_action_log_v2.json", onto_primary, "started", "failure"),
    ("test_action_log_v1_number_of_results.json", onto_primary, "started", "failure"),
    ("test_action_resource_health.json", health_event("Unavailable", "PlatformInitiated"), "started", "failure"),
    ("test_action_service_health.json", service_incident("Active", "primary"), "started", "failure"),
    # as published, only moved onto the pair: each of these started a failover before
    ("test_action_resource_health.json", onto_primary, "recorded", "not_a_failure"),  # "Rebooted by user"
    ("test_action_service_health.json", service_incident("Resolved", "primary"), "recorded", "resolved"),
    ("common_sample_metric_resolved.json", onto_primary, "recorded", "resolved"),
    ("test_action_metric_static.json", fired_at(lambda: datetime(2019, 3, 22, 13, 58, tzinfo=UTC)),
     "recorded", "stale"),  # years old: its firedDateTime was the report's outage time (detect_s 160,629,707)
    ("test_action_metric_static.json", fired_at(lambda: datetime.now(UTC) + timedelta(hours=1)),
     "recorded", "future"),
    ("test_action_resource_health.json", health_event("Available", "PlatformInitiated"), "recorded", "resolved"),
    ("service_health_maintenance.json", lambda p, w: None, "recorded", "not_a_failure"),  # see the fragments test
    ("test_action_service_health.json", service_incident("Active", "global"), "recorded", "other_region"),
    ("test_action_service_health.json", service_incident("Active", "secondary"), "not_started", "failure"),
    ("test_action_activity_log_administrative.json", onto_primary, "recorded", "not_a_failure"),
    ("test_action_smart_detection.json", onto_primary, "recorded", "not_a_failure"),
    ("test_action_budget.json", onto_primary, "recorded", "not_a_failure"),
]


def retarget(name: str, edit: Edit, world: World) -> dict[str, Any]:
    payload = copy.deepcopy(sample(name)) if "schemaId" in sample(name) else envelope(name, world)
    edit(payload, world)
    return payload


@pytest.mark.parametrize(("name", "edit", "status", "verdict"), [c for c in RETARGETED if c[2] == "started"],
                         ids=[f"{c[0]}-started" for c in RETARGETED if c[2] == "started"])
def test_retargeted_failure_signals_start_one_failover(azurite: AzuriteEndpoints, name: str, edit: Edit,
                                                       status: str, verdict: str) -> None:
    with durable_world(azurite) as world:
        reconfigure(world, lambda pair: pair.update(alert_targets=["test-servicehealthalertrule"]))
        pair = world.scenario.config.pair(world.scenario.pair)
        world.scenario.primary.set_faults("down=1")
        payload = retarget(name, edit, world)
        first, body, again, redelivered = deliver_twice(world, payload)
        assert (first, body["status"], body["verdict"], body["hub"]) == (202, status, verdict, pair.primary.name), body
        assert (again, redelivered["status"]) == (200, "duplicate")
        wait_done(world)
        [instance] = world.instances()
        report = instance.output
        assert (report["outcome"], report["trigger"], report["pointer"]["after"]) == (
            "succeeded", "alert", pair.secondary.name)
        assert report["timeline"]["outage_at"] == datetime.fromisoformat(
            essentials(payload)["firedDateTime"]).isoformat()
        assert 0 <= report["durations"]["detect_s"] < 60
        started = [r for r in services().audit.list(pair.name, "alert") if r.outcome == "started"]
        assert len(started) == 1 and started[0].detail["alert"]["alert_id"] == essentials(payload)["alertId"]


def test_retargeted_samples_that_are_no_failure_of_the_active_hub_start_nothing(azurite: AzuriteEndpoints) -> None:
    with durable_world(azurite) as world:
        reconfigure(world, lambda pair: pair.update(alert_targets=["test-servicehealthalertrule"]))
        pair = world.scenario.config.pair(world.scenario.pair)
        pointer = services().pointers.read(pair.name)
        for name, edit, status, verdict in [c for c in RETARGETED if c[2] != "started"]:
            first, body, again, redelivered = deliver_twice(world, retarget(name, edit, world))
            assert (first, body["status"], body["verdict"]) == (200, status, verdict), (name, body)
            assert (again, redelivered["status"]) == (200, "duplicate"), name
            if status == "not_started":  # an Active incident in the standby's region: about the standby
                assert body["hub"] == pair.secondary.name and "the standby" in body["why"], body
        assert world.instances() == []
        assert services().pointers.read(pair.name) == pointer


def test_an_unreadable_impacted_services_text_is_answered_never_a_5xx(azurite: AzuriteEndpoints) -> None:
    """impactedServices is JSON text in some of Microsoft's samples: text nested past the parser's recursion
    limit was a 503 on every delivery (the action group retrying for nothing). Now it is read as naming no
    region, like any other unreadable text: the alert is about the hub the rule watches."""
    with durable_world(azurite) as world:
        reconfigure(world, lambda pair: pair.update(alert_targets=["test-servicehealthalertrule"],
                                                    auto_failover=False))
        payload = retarget("test_action_service_health.json", service_incident("Active", None), world)
        payload["data"]["alertContext"]["properties"]["impactedServices"] = "[" * 50_000 + "]" * 50_000
        first, body, again, redelivered = deliver_twice(world, payload)
        assert (first, body["status"], body["verdict"]) == (200, "not_started", "failure"), body
        assert "no impacted regions named" in body["signal"] and "auto-failover is off" in body["why"]
        assert (again, redelivered["status"]) == (200, "duplicate")
        assert world.instances() == []
