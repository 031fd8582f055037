"""What an alert says (failover/domain/alerts.py), as pure functions over generated payloads.

The end-to-end cases with Microsoft's samples are in tests/test_alert_samples.py; here the rules
are held over every combination: a resolution notice, a user-initiated health event or an old
alert is never a failure signal, whatever else the payload says.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from failover.domain.alerts import AlertSubject, Verdict, alert_subjects, assess_alert, parse_alert
from failover.domain.config import parse_config
from rehearsal.scenario import DrillOptions, drill_config

SAMPLES = Path(__file__).parent / "samples" / "azure_monitor"
NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
MAX_AGE = timedelta(minutes=60)
CONFIG = parse_config(json.dumps(drill_config(DrillOptions())))
PAIR = CONFIG.pairs[0]
SUBJECT = AlertSubject(PAIR, PAIR.primary.name, "test")
CASED = st.sampled_from(["Active", "active", "ACTIVE", "Resolved", "resolved", "RESOLVED", "Planned", "InProgress",
                         "Complete", "", None])


def payload(name: str, **essentials: Any) -> dict[str, Any]:
    data = json.loads((SAMPLES / name).read_text())
    data["data"]["essentials"].update({"firedDateTime": NOW.isoformat(), **essentials})
    return data


def assess(data: dict[str, Any], now: datetime = NOW) -> Any:
    return assess_alert(parse_alert(json.dumps(data).encode()), SUBJECT, now=now, max_age=MAX_AGE)


@given(stage=CASED, status=CASED, incident=st.sampled_from(["Incident", "incident", "Maintenance", "Information",
                                                            "Security", "ActionRequired", None]))
def test_a_service_health_event_is_a_failure_only_as_an_active_incident(stage: str | None, status: str | None,
                                                                         incident: str | None) -> None:
    data = payload("test_action_service_health.json")
    context = data["data"]["alertContext"]
    context["status"], context["properties"]["stage"] = status, stage
    context["properties"]["incidentType"] = incident
    context["properties"]["impactedServices"] = [{"ImpactedRegions": [{"RegionName": "East US"}]}]
    verdict = assess(data).verdict
    resolved = "resolved" in (str(stage).lower(), str(status).lower())
    active = str(stage or status).lower() == "active"
    assert (verdict is Verdict.FAILURE) == (not resolved and active and str(incident).lower() == "incident")
    if resolved:
        assert verdict is Verdict.RESOLVED  # although monitorCondition stays Fired


@given(health=st.sampled_from(["Unavailable", "Degraded", "Available", "Unknown", None]),
       cause=st.sampled_from(["PlatformInitiated", "platforminitiated", "UserInitiated", "Unknown", "", None]),
       status=st.sampled_from(["Active", "Resolved", "In Progress", None]))
def test_a_resource_health_event_is_a_failure_only_when_platform_initiated(health: str | None, cause: str | None,
                                                                           status: str | None) -> None:
    data = payload("test_action_resource_health.json")
    context = data["data"]["alertContext"]
    context["status"] = status
    context["properties"].update(currentHealthStatus=health, cause=cause)
    failure = (health in ("Unavailable", "Degraded") and str(cause).lower() == "platforminitiated"
               and status != "Resolved")
    assert (assess(data).verdict is Verdict.FAILURE) == failure


@given(seconds=st.integers(min_value=-10 * 3600, max_value=10 * 3600))
def test_age_and_clock_skew(seconds: int) -> None:
    fired = NOW - timedelta(seconds=seconds)
    verdict = assess(payload("test_action_metric_static.json", firedDateTime=fired.isoformat())).verdict
    if seconds > MAX_AGE.total_seconds():
        assert verdict is Verdict.STALE
    elif -seconds > 5 * 60:
        assert verdict is Verdict.FUTURE
    else:
        assert verdict is Verdict.FAILURE


def test_a_resolved_alert_and_a_null_condition_are_never_failures() -> None:
    for name in ("test_action_metric_static.json", "test_action_log_v2.json", "test_action_resource_health.json"):
        assert assess(payload(name, monitorCondition="Resolved")).verdict is Verdict.RESOLVED
        assert assess(payload(name, monitorCondition=None)).verdict is Verdict.NOT_A_FAILURE


def test_a_time_without_offset_is_utc() -> None:
    naive = payload("test_action_metric_static.json", firedDateTime="2030-01-01T11:30:00")
    assert assess(naive).verdict is Verdict.FAILURE  # 30 min old, not a TypeError


def test_service_health_names_its_hub_by_region() -> None:
    def incident(*regions: str) -> Any:
        data = payload("test_action_service_health.json")
        props = data["data"]["alertContext"]["properties"]
        data["data"]["alertContext"]["status"] = props["stage"] = "Active"
        props["impactedServices"] = json.dumps([{"ImpactedRegions": [{"RegionName": r} for r in regions]}])
        return assess(data)

    assert (incident("East US").verdict, incident("East US").hub) == (Verdict.FAILURE, PAIR.primary.name)
    assert (incident("West US").verdict, incident("West US").hub) == (Verdict.FAILURE, PAIR.secondary.name)
    assert incident("Global").verdict is Verdict.OTHER_REGION
    assert incident("East US", "West US").verdict is Verdict.OTHER_REGION  # both: failing over would not help


def test_a_standby_shared_by_two_pairs_concerns_both() -> None:
    config = drill_config(DrillOptions())
    second = json.loads(json.dumps(config["pairs"][0]))
    second.update(name="other", alert_targets=["other-rule"])
    second["primary"].update(name="primary-other", workspace_name="mlw-other")
    config["pairs"].append(second)  # same secondary, repeated verbatim
    parsed = parse_config(json.dumps(config))
    shared = parsed.pairs[0].secondary
    alert = payload("test_action_metric_static.json", alertTargetIDs=[shared.arm_id.upper()])
    subjects = alert_subjects(parsed, parse_alert(json.dumps(alert).encode()))
    assert [(s.pair.name, s.hub) for s in subjects] == [("drill", shared.name), ("other", shared.name)]
    by_rule = payload("test_action_metric_static.json", alertTargetIDs=None, alertRule="OTHER-RULE")
    [subject] = alert_subjects(parsed, parse_alert(json.dumps(by_rule).encode()))
    assert (subject.pair.name, subject.hub) == ("other", "primary-other")  # alert_targets: about the primary
