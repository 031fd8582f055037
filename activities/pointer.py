"""Stage 4: the fenced flip. A replay of our own flip is a success; a stale one writes nothing."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.traced import traced
from failover.services import services

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
@traced
def flip_pointer(payload: dict[str, Any]) -> dict[str, Any]:
    result = services().pointers.flip(
        payload["pair"], expected_active=payload["expected_active"],
        expected_generation=int(payload["expected_generation"]), to=payload["to"], by=payload["by"],
        reason=payload["reason"])
    return result.to_dict()
