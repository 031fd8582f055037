"""Stage 7: the audit record of a run (its report: ids, counts, outcome; no specs, no secrets), the
Markdown report a person reads beside it, and the run's metrics.

The same call settles the pair state: the run claim its starter wrote, and for a failover
``last_failover``, the flip a `recover` completes (when the pointer moved) and the cooldown (in
force until an operator acknowledges it); for a recover ``last_recover``. Idempotent: the audit row
is keyed by the run, the pair-state write sets the same values again, the report blob is
overwritten with the same text.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.traced import traced
from failover.run_accounts import record_run
from failover.services import services

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
@traced
def record_audit(payload: dict[str, Any]) -> dict[str, Any]:
    return record_run(services(), pair=payload["pair"], instance_id=payload["instance_id"], kind=payload["kind"],
                      report=payload["report"], claim=payload.get("claim"))
