"""What the replay host knows about one orchestration instance, and its JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from replayhost.history import EventType


class RuntimeStatus(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TERMINATED = "Terminated"
    CONTINUED_AS_NEW = "ContinuedAsNew"

    @property
    def is_terminal(self) -> bool:
        return self in (RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED)


@dataclass
class RetryChain:
    """Host-side bookkeeping of one call_*_with_retry: the SDK emits one action for all attempts."""

    kind: str  # "activity" | "suborchestration"
    name: str
    input: str | None
    max_attempts: int
    first_interval_ms: int
    backoff: float = 1.0
    max_interval_ms: int | None = None
    instance_id: str | None = None  # sub-orchestrations
    attempts: list[int] = field(default_factory=list)  # sequence ids of the attempts
    timers: list[int] = field(default_factory=list)  # sequence ids of the retry timers

    def delay_ms(self) -> float:
        delay = self.first_interval_ms * self.backoff ** max(len(self.attempts) - 1, 0)
        return min(delay, self.max_interval_ms) if self.max_interval_ms else delay


@dataclass
class InstanceState:
    instance_id: str
    name: str
    input: str | None
    created_at: datetime
    last_updated_at: datetime
    execution_id: str
    status: RuntimeStatus = RuntimeStatus.PENDING
    output: Any = None
    custom_status: Any = None
    history: list[dict[str, Any]] = field(default_factory=list)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    parent_instance_id: str | None = None
    parent_task_id: int | None = None
    retry_chains: dict[int, RetryChain] = field(default_factory=dict)  # by first attempt's id
    host_ids: set[int] = field(default_factory=set)  # ids the host took for retries, not the SDK
    canceled_timers: set[int] = field(default_factory=set)
    applied_messages: list[str] = field(default_factory=list)  # raised-event ids, for dedupe
    episodes: int = 0
    events_replayed: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["last_updated_at"] = self.last_updated_at.isoformat()
        data["status"] = self.status.value
        data["retry_chains"] = {str(k): asdict(v) for k, v in self.retry_chains.items()}
        data["host_ids"] = sorted(self.host_ids)
        data["canceled_timers"] = sorted(self.canceled_timers)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InstanceState:
        data = dict(data)
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        data["last_updated_at"] = datetime.fromisoformat(data["last_updated_at"])
        data["status"] = RuntimeStatus(data["status"])
        data["retry_chains"] = {int(k): RetryChain(**v) for k, v in data.get("retry_chains", {}).items()}
        data["host_ids"] = set(data.get("host_ids", []))
        data["canceled_timers"] = set(data.get("canceled_timers", []))
        return cls(**data)

    # -- views derived from history -------------------------------------------------------

    def scheduled(self) -> dict[int, dict[str, Any]]:
        return {e["EventId"]: e for e in self.history if e["EventType"] in (
            EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_CREATED, EventType.TIMER_CREATED)}

    def completed_ids(self) -> set[int]:
        done: set[int] = set()
        for e in [*self.history, *self.inbox]:
            kind = e["EventType"]
            if kind == EventType.TIMER_FIRED:
                done.add(e["TimerId"])
            elif kind in (EventType.TASK_COMPLETED, EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_COMPLETED,
                          EventType.SUB_ORCHESTRATION_FAILED):
                done.add(e["TaskScheduledId"])
        return done

    def outstanding(self) -> list[dict[str, Any]]:
        """Scheduled work with no completion yet: what a resumed host must (re)start."""
        done = self.completed_ids()
        return [e for i, e in sorted(self.scheduled().items()) if i not in done and i not in self.canceled_timers]

    def next_sequence(self) -> int:
        return len(self.scheduled())


@dataclass(frozen=True)
class InstanceStatus:
    """What the Durable client's get_status returns."""

    instance_id: str
    name: str
    runtime_status: RuntimeStatus
    input: Any
    output: Any
    custom_status: Any
    created_time: datetime
    last_updated_time: datetime
    episodes: int
    history_events: int
    history: list[dict[str, Any]] | None = None
