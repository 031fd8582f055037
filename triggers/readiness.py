"""Timer: could each pair's standby take over now? (READINESS_SCHEDULE, every 15 minutes by default.)

The failover's own readiness checks plus drift, catalog age, the standby's probe streak and the
identity's permissions (failover/readiness.py), stored in the pair state and emitted as metrics:
``hubfailover.readiness`` is 0 for a pair that is not ready, and the alert rule infra/ deploys on
it notifies the operators' action group (never /api/alerts: a standby that is not ready is no
reason to fail over).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from failover import telemetry
from failover.readiness import assess_all
from failover.services import services

log = logging.getLogger(__name__)
bp = df.Blueprint()


@bp.timer_trigger(schedule="%READINESS_SCHEDULE%", arg_name="timer", run_on_startup=False)
def readiness(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.warning("readiness check is running late")
    check_all()


def check_all(now: datetime | None = None) -> list[tuple[str, dict[str, Any]]]:
    results = assess_all(services(), now or datetime.now(UTC))
    for pair, result in results:
        with telemetry.decision("readiness", pair, ready=bool(result["ready"]),
                                reasons=len(result["reasons"]), standby=result.get("standby")):
            telemetry.record_readiness(pair, result)
        if result["ready"]:
            log.info("readiness %s: ready (standby %s)", pair, result.get("standby"))
        else:
            log.warning("readiness %s: NOT READY: %s", pair, "; ".join(result["reasons"]))
    return results
