"""Azure Monitor alerts in the Common Alert Schema: parsed, mapped to a hub, and read for what they say.

Parsing is strict where the schema is fixed and lenient where Microsoft's own samples vary
(a budget alert has no rule, severity, signal type or targets; firedDateTime has 2 to 7
fractional digits). Everything a webhook can get wrong is answered with a message that names
the problem, so a misconfigured action group is fixed from its delivery log, not from ours.

What each kind of alert means here (docs/alerts.md) is decided by ``assess_alert``: only a
failure signal about one of the pair's hubs, fresh, may go on to the start guards
(failover/domain/health.py: ``decide_alert``); everything else is recorded with its reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from failover.domain.config import FailoverConfig, HubPair

COMMON_ALERT_SCHEMA = "azureMonitorCommonAlertSchema"
# firedDateTime may be this far in the future (clock skew between Azure Monitor and us) and still count.
CLOCK_SKEW = timedelta(minutes=5)
MAX_ALERT_BODY_BYTES = 256 * 1024
"""Azure Monitor caps a common-schema alert at 256 KB (a bigger log search alert is sent without its
search results), and ours are a few KB: anything larger is not an alert and is not parsed (413)."""


class AlertPayloadError(ValueError):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class Essentials(BaseModel):
    model_config = ConfigDict(extra="allow")

    alertId: str = Field(min_length=1, max_length=1024)
    alertRule: str | None = Field(None, min_length=1, max_length=1024)  # null in budget alerts
    severity: Literal["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"] | None = None
    signalType: str | None = Field(None, min_length=1)
    monitorCondition: Literal["Fired", "Resolved"] | None = None  # null in older budget alerts
    monitoringService: str = Field(min_length=1, max_length=200)
    alertTargetIDs: list[str] | None = None
    firedDateTime: datetime
    resolvedDateTime: datetime | None = None
    description: str | None = Field(None, max_length=4096)

    @field_validator("firedDateTime", "resolvedDateTime")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # A time without an offset is UTC in Azure Monitor's payloads; naive times can't be compared.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @property
    def targets(self) -> list[str]:
        return self.alertTargetIDs or []

    @property
    def rule(self) -> str:
        return self.alertRule or f"({self.monitoringService})"


class AlertData(BaseModel):
    model_config = ConfigDict(extra="allow")

    essentials: Essentials
    alertContext: dict[str, Any] | None = None
    customProperties: dict[str, Any] | None = None


class CommonAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    schemaId: Literal["azureMonitorCommonAlertSchema"]
    data: AlertData

    @property
    def essentials(self) -> Essentials:
        return self.data.essentials

    @property
    def context(self) -> dict[str, Any]:
        return self.data.alertContext or {}

    def delivery_key(self) -> str:
        """What makes two deliveries the same alert: Microsoft's test actions share one alertId across
        kinds, and a resolution shares its alertId with the firing."""
        e = self.essentials
        return "|".join([e.alertId, e.monitorCondition or "-", e.firedDateTime.isoformat(), e.alertRule or "-"])


def parse_alert(body: bytes) -> CommonAlert:
    if len(body) > MAX_ALERT_BODY_BYTES:
        raise AlertPayloadError(413, f"body is larger than {MAX_ALERT_BODY_BYTES} bytes", "body")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise AlertPayloadError(400, f"body is not JSON: {exc}") from None
    except RecursionError:  # deeper than any alert (a few levels): refused, not a 500
        raise AlertPayloadError(400, "body is nested too deeply to be an alert", "body") from None
    if not isinstance(document, dict):
        raise AlertPayloadError(400, f"body must be a JSON object, got {type(document).__name__}")
    schema = document.get("schemaId")
    if schema != COMMON_ALERT_SCHEMA:
        shown = json.dumps(schema)[:80]
        raise AlertPayloadError(422, f"schemaId must be {COMMON_ALERT_SCHEMA!r} (enable the common alert schema "
                                     f"on the action group), got {shown}", "schemaId")
    try:
        return CommonAlert.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AlertPayloadError(422, f"{where}: {first['msg']}", where) from None


# ------------------------------------------------------------------------------- which hub


@dataclass(frozen=True)
class AlertSubject:
    """A pair an alert concerns, and the hub of that pair it is about."""

    pair: HubPair
    hub: str
    matched: str  # the target or rule name that matched, for the record


def alert_subjects(config: FailoverConfig, alert: CommonAlert) -> list[AlertSubject]:
    """Every pair the alert concerns (its targets, then its rule name), one subject per pair, first match first.

    See ``FailoverConfig.alert_target_hubs``: ``alert_targets`` are about the pair's primary, a
    hub's own ARM id names that hub. A standby shared by several pairs matches each of them.
    """
    found: dict[str, AlertSubject] = {}
    e = alert.essentials
    for target in [*e.targets, *([e.alertRule] if e.alertRule else [])]:
        for pair, hub in config.alert_target_hubs(target):
            found.setdefault(pair.name, AlertSubject(pair, hub, target))
    return list(found.values())


# ------------------------------------------------------------------------------- what it says


class AlertKind(StrEnum):
    METRIC = "metric"
    LOG = "log"
    ACTIVITY_LOG = "activity_log"  # Administrative, Policy, Autoscale, Security, Recommendation
    SERVICE_HEALTH = "service_health"
    RESOURCE_HEALTH = "resource_health"
    SMART_DETECTION = "smart_detection"
    BUDGET = "budget"
    OTHER = "other"


class Verdict(StrEnum):
    FAILURE = "failure"  # a failure signal about a hub of the pair: the start guards decide
    RESOLVED = "resolved"  # a resolution or recovery notice
    NOT_A_FAILURE = "not_a_failure"  # user-initiated, maintenance, an operation record, cost, anomaly
    STALE = "stale"  # fired longer ago than policy.alert_max_age_minutes
    FUTURE = "future"  # fired later than now (beyond clock skew)
    OTHER_REGION = "other_region"  # a Service Health incident in none of the pair's regions, or in both


@dataclass(frozen=True)
class AlertAssessment:
    kind: AlertKind
    verdict: Verdict
    why: str
    hub: str  # the hub the alert is about

    @property
    def failure(self) -> bool:
        return self.verdict is Verdict.FAILURE

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "verdict": self.verdict.value, "why": self.why, "hub": self.hub}


def _squash(text: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).lower()) if text is not None else ""


def alert_kind(alert: CommonAlert) -> AlertKind:
    e = alert.essentials
    service, signal = _squash(e.monitoringService), _squash(e.signalType)
    if service == "servicehealth":
        return AlertKind.SERVICE_HEALTH
    if service == "resourcehealth":
        return AlertKind.RESOURCE_HEALTH
    if service == "smartdetector":
        return AlertKind.SMART_DETECTION
    if service in ("costalerts", "budget", "actualcostbudget", "forecastedbudget"):
        return AlertKind.BUDGET
    if service.startswith("activitylog"):
        return AlertKind.ACTIVITY_LOG
    if signal == "metric":
        return AlertKind.METRIC
    if signal == "log":
        return AlertKind.LOG
    return AlertKind.OTHER


def _properties(alert: CommonAlert) -> dict[str, Any]:
    props = alert.context.get("properties")
    return props if isinstance(props, dict) else {}


def _text(value: Any) -> str:
    return str(value).strip() if isinstance(value, str | int | float) else ""


def impacted_regions(alert: CommonAlert) -> set[str]:
    """Service Health's impactedServices[].ImpactedRegions[].RegionName, squashed ("East US" -> "eastus").

    Microsoft publishes impactedServices both as an array and as a JSON-encoded string.
    """
    services: Any = _properties(alert).get("impactedServices")
    if isinstance(services, str):
        try:
            services = json.loads(services)
        except (ValueError, RecursionError):
            return set()
    return {_squash(region.get("RegionName")) for service in _dicts(services)
            for region in _dicts(service.get("ImpactedRegions")) if region.get("RegionName")}


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _signal(alert: CommonAlert, kind: AlertKind) -> tuple[Verdict, str]:
    """What the alert says, from its kind, essentials.monitorCondition and alertContext."""
    e = alert.essentials
    if e.monitorCondition is None:
        return Verdict.NOT_A_FAILURE, "no monitorCondition: a notification, not a firing"
    if e.monitorCondition == "Resolved":
        return Verdict.RESOLVED, f"{kind.value} alert resolved"
    props, status = _properties(alert), _text(alert.context.get("status"))
    if kind in (AlertKind.METRIC, AlertKind.LOG):
        return Verdict.FAILURE, f"{kind.value} alert fired"
    if kind is AlertKind.SERVICE_HEALTH:
        incident, stage = _text(props.get("incidentType")), _text(props.get("stage"))
        if "resolved" in (_squash(stage), _squash(status)):
            return Verdict.RESOLVED, (f"Service Health resolution notice (stage {stage or '-'}, status "
                                      f"{status or '-'}; monitorCondition stays Fired)")
        if _squash(incident) != "incident":
            return Verdict.NOT_A_FAILURE, f"Service Health {incident or 'event'} (not an incident)"
        if _squash(stage or status) != "active":
            return Verdict.NOT_A_FAILURE, f"Service Health incident at stage {stage or status or '-'}, not Active"
        return Verdict.FAILURE, "Service Health incident, Active"
    if kind is AlertKind.RESOURCE_HEALTH:
        health, cause = _text(props.get("currentHealthStatus")), _text(props.get("cause"))
        title = _text(props.get("title"))
        if _squash(status) == "resolved" or _squash(health) == "available":
            return Verdict.RESOLVED, f"Resource Health recovery (status {status or '-'}, health {health or '-'})"
        if _squash(health) not in ("unavailable", "degraded"):
            return Verdict.NOT_A_FAILURE, f"Resource Health status {health or '-'} is not Unavailable or Degraded"
        if _squash(cause) != "platforminitiated":
            return Verdict.NOT_A_FAILURE, (f"Resource Health {health}, cause {cause or '-'} (only a "
                                           f"PlatformInitiated event is acted on)" + (f": {title}" if title else ""))
        return Verdict.FAILURE, f"Resource Health {health}, platform-initiated" + (f": {title}" if title else "")
    reasons = {
        AlertKind.ACTIVITY_LOG: f"{e.monitoringService}: an operation record, not a health signal",
        AlertKind.SMART_DETECTION: "smart detection reports an anomaly, not an outage",
        AlertKind.BUDGET: "a budget alert is about cost, not health",
        AlertKind.OTHER: f"monitoringService {e.monitoringService!r} is not a kind this app acts on",
    }
    return Verdict.NOT_A_FAILURE, reasons[kind]


def _service_health_hub(subject: AlertSubject, regions: set[str]) -> tuple[str | None, str]:
    """The hub a Service Health incident is about, from the regions it names (None: not one hub of the pair)."""
    pair = subject.pair
    if not regions:
        return subject.hub, "no impacted regions named: taken as about the hub the rule watches"
    hit = [hub.name for hub in (pair.primary, pair.secondary) if _squash(hub.region) in regions]
    if len(hit) == 1:
        return hit[0], f"impacts the region of {hit[0]}"
    shown = ", ".join(sorted(regions))
    if hit:
        return None, f"impacts both regions of the pair ({shown}): failing over would not help"
    return None, f"impacts none of the pair's regions ({shown})"


def assess_alert(alert: CommonAlert, subject: AlertSubject, *, now: datetime, max_age: timedelta) -> AlertAssessment:
    """A failure signal, fresh, about one hub of the pair; or why the alert is only recorded."""
    kind = alert_kind(alert)
    verdict, why = _signal(alert, kind)
    if verdict is not Verdict.FAILURE:
        return AlertAssessment(kind, verdict, why, subject.hub)
    fired = alert.essentials.firedDateTime
    if now - fired > max_age:
        return AlertAssessment(kind, Verdict.STALE, f"fired at {fired.isoformat()}, more than "
                               f"{max_age.total_seconds() / 60:.0f} min ago (policy.alert_max_age_minutes)",
                               subject.hub)
    if fired - now > CLOCK_SKEW:
        return AlertAssessment(kind, Verdict.FUTURE, f"fired at {fired.isoformat()}, in the future (clock skew "
                               "or a forged alert)", subject.hub)
    if kind is AlertKind.SERVICE_HEALTH:
        hub, where = _service_health_hub(subject, impacted_regions(alert))
        if hub is None:
            return AlertAssessment(kind, Verdict.OTHER_REGION, f"{why}: {where}", subject.hub)
        return AlertAssessment(kind, Verdict.FAILURE, f"{why}: {where}", hub)
    return AlertAssessment(kind, verdict, why, subject.hub)
