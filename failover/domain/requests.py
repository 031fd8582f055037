"""What starts a failover and what an operator answers: validated once, at the edge."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Trigger(StrEnum):
    TIMER = "timer"  # the health probe's consecutive-failure streak
    ALERT = "alert"  # an Azure Monitor alert (Common Alert Schema)
    MANUAL = "manual"  # an operator
    FAILBACK = "failback"  # a planned switch back to the original primary


class FailoverRequest(BaseModel):
    """The input of the `failover` orchestration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pair: str = Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
    trigger: Trigger = Trigger.MANUAL
    reason: str = Field(min_length=1, max_length=500)
    requested_by: str = Field(min_length=1, max_length=200)
    target: str | None = Field(None, description="Hub to make active; default: the pair's standby.")
    dry_run: bool = Field(False, description="Plan and report; write nothing.")
    drill: bool = Field(False, description="Rehearse against the target without flipping the pointer.")
    require_approval: bool = Field(False, description="Ask for approval even where the mode does not.")
    outage_at: datetime | None = Field(None, description="When the primary was first seen failing.")
    detected_at: datetime | None = Field(None, description="When detection decided to fail over.")
    claim: str | None = Field(None, max_length=64, description="The starter's run claim on the pair state, "
                                                               "settled when the run is audited.")


class RecoverRequest(FailoverRequest):
    """The input of the `recover` orchestration: it completes the failover run ``completes`` (the last run
    that moved the pointer, fixed when the recover is started), on the hub that failover made active."""

    completes: str = Field(min_length=1, max_length=300, description="The run id of the failover it completes.")


APPROVAL_EVENT = "approval"
"""The approval gate's event: its payload names a recorded decision (failover.domain.approvals)."""
