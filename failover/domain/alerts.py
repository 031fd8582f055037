"""Azure Monitor alerts in the Common Alert Schema: parsed strictly, mapped to a hub pair.

Everything a webhook can get wrong is answered with a message that names the problem, so a
misconfigured action group is fixed from its delivery log, not from ours.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from failover.domain.config import FailoverConfig, HubPair

COMMON_ALERT_SCHEMA = "azureMonitorCommonAlertSchema"
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
    alertRule: str = Field(min_length=1, max_length=1024)
    severity: Literal["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"]
    signalType: str = Field(min_length=1)
    monitorCondition: Literal["Fired", "Resolved"]
    monitoringService: str = Field(min_length=1)
    alertTargetIDs: list[str] = Field(default_factory=list)
    firedDateTime: datetime
    resolvedDateTime: datetime | None = None
    description: str | None = Field(None, max_length=4096)


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


def parse_alert(body: bytes) -> CommonAlert:
    if len(body) > MAX_ALERT_BODY_BYTES:
        raise AlertPayloadError(413, f"body is larger than {MAX_ALERT_BODY_BYTES} bytes", "body")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise AlertPayloadError(400, f"body is not JSON: {exc}") from None
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


def pair_for_alert(config: FailoverConfig, alert: CommonAlert) -> HubPair | None:
    """The pair whose alert targets (or primary/secondary ARM ids) name one of the alert's targets or its rule."""
    for target in [*alert.essentials.alertTargetIDs, alert.essentials.alertRule]:
        pair = config.pair_for_alert_target(target)
        if pair is not None:
            return pair
    return None
