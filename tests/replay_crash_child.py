"""A replay host process that gets killed on purpose (SIGKILL), for the resume tests.

    python -m tests.replay_crash_child CONN TASK_HUB INSTANCE ORCHESTRATOR INPUT_JSON KILL_AFTER
KILL_AFTER > 0: die after that many activities completed; 0: die once the instance is idle.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from replayhost.engine import ReplayHost
from replayhost.store import AzureStorageStore
from tests.replay_app import app


def main() -> None:
    conn, hub, instance_id, orchestrator, payload, kill_after = sys.argv[1:7]
    limit = int(kill_after)

    def maybe_die(_instance: str, _name: str, completed: int) -> None:
        if limit and completed >= limit:
            os.kill(os.getpid(), signal.SIGKILL)

    host = ReplayHost(app, store=AzureStorageStore(conn, hub), max_activity_workers=4, on_activity_done=maybe_die)
    host.start_new(orchestrator, instance_id, json.loads(payload))
    host.run_until_idle(timeout=60, stop_when=lambda: bool(host.get_status(instance_id).custom_status or {}))
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
