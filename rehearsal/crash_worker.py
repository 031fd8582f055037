"""The drill's orchestration process for `--crash-at K`: it SIGKILLs itself after K activities.

    python -m rehearsal.crash_worker CONN TASK_HUB INSTANCE REQUEST_JSON K [ORCHESTRATION]
ORCHESTRATION is `failover` (default) or `recover`.
Settings (FAILOVER_CONFIG, DR_STORAGE_CONNECTION) come from the environment, as on Azure.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from replayhost.clock import SkippingClock
from replayhost.engine import Delivery, ReplayHost
from replayhost.store import AzureStorageStore


def main() -> int:
    conn, hub, instance_id, request, crash_at = sys.argv[1:6]
    orchestration = sys.argv[6] if len(sys.argv) > 6 else "failover"
    limit = int(crash_at)

    def die_at_limit(_instance: str, _activity: str, completed: int) -> None:
        if completed >= limit:
            os.kill(os.getpid(), signal.SIGKILL)

    from function_app import app

    host = ReplayHost(app, store=AzureStorageStore(conn, hub), clock=SkippingClock(),
                      delivery=Delivery(coalesce_ms=25.0), on_activity_done=die_at_limit)
    host.start_new(orchestration, instance_id, json.loads(request))
    # Stop at the approval gate too: the parent process plays the operator.
    def at_approval_gate() -> bool:
        status = host.get_status(instance_id)
        return status is not None and (status.custom_status or {}).get("stage") == "awaiting_approval"

    host.run_until_idle(timeout=3600, stop_when=at_approval_gate)
    status = host.get_status(instance_id)
    if status is not None and not status.runtime_status.is_terminal:
        os.kill(os.getpid(), signal.SIGKILL)  # a crash while waiting is a crash too
    host.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
