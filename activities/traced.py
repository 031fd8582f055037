"""A span around each activity call (failover.telemetry): its name, the ids of its input, its counts."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from failover import telemetry

Activity = Callable[[dict[str, Any]], dict[str, Any]]


def traced(activity: Activity) -> Activity:
    """Wrap an activity (its one parameter is ``payload``, as every activity here binds it)."""
    @wraps(activity)
    def run(payload: dict[str, Any]) -> dict[str, Any]:
        with telemetry.activity(activity.__name__, payload) as current:
            result = activity(payload)
            telemetry.counted(current, result)
            return result

    return run
