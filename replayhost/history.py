"""Durable Functions history events and actions, in the JSON shapes the extension uses.

See docs/replay-host.md ("The replay protocol"). Only what the replay host
needs: constructors for history events, and the action list flattened in the order in
which the SDK assigns sequence ids.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any


class EventType(IntEnum):
    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_RAISED = 15


class ActionType(IntEnum):
    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    WHEN_ANY = 11
    WHEN_ALL = 12


# Actions that take a sequence id and leave a "scheduled" event in history.
SCHEDULING_ACTIONS = {
    ActionType.CALL_ACTIVITY: EventType.TASK_SCHEDULED,
    ActionType.CALL_ACTIVITY_WITH_RETRY: EventType.TASK_SCHEDULED,
    ActionType.CALL_SUB_ORCHESTRATOR: EventType.SUB_ORCHESTRATION_CREATED,
    ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY: EventType.SUB_ORCHESTRATION_CREATED,
    ActionType.CREATE_TIMER: EventType.TIMER_CREATED,
}
SCHEDULED_EVENTS = frozenset(SCHEDULING_ACTIONS.values())

# Completion events and the field that names the task they complete.
COMPLETION_KEYS = {
    EventType.TASK_COMPLETED: "TaskScheduledId",
    EventType.TASK_FAILED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_COMPLETED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_FAILED: "TaskScheduledId",
    EventType.TIMER_FIRED: "TimerId",
}


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def event(kind: EventType, at: datetime, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False, "Timestamp": format_timestamp(at),
            **fields}


def execution_started(at: datetime, name: str, instance_id: str, execution_id: str, input_json: str | None,
                      parent: dict[str, Any] | None = None) -> dict[str, Any]:
    return event(EventType.EXECUTION_STARTED, at, Name=name, Version="", Input=input_json,
                 OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
                 ParentInstance=parent, Tags=None)


def flatten_actions(actions: list[Any]) -> list[dict[str, Any]]:
    """Leaf actions in the order the SDK assigned their sequence ids (compound children in order)."""
    leaves: list[dict[str, Any]] = []

    def walk(action: Any) -> None:
        if isinstance(action, list):
            for item in action:
                walk(item)
        elif action.get("actionType") in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            for child in action.get("compoundActions", []):
                walk(child)
        else:
            leaves.append(action)

    walk(actions)
    return leaves


def action_name(action: dict[str, Any]) -> str:
    kind = ActionType(action["actionType"])
    if kind == ActionType.CREATE_TIMER:
        return "timer"
    if kind == ActionType.WAIT_FOR_EXTERNAL_EVENT:
        return str(action.get("externalEventName"))
    return str(action.get("functionName"))


def scheduled_name(ev: dict[str, Any]) -> str:
    return "timer" if ev["EventType"] == EventType.TIMER_CREATED else str(ev.get("Name"))
