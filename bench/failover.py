"""Failover at scale on simulated hubs (not part of `make test`).

    .venv/bin/python bench/failover.py [--jobs 2000] [--artifacts 10000] [--latency-ms 20] [--json PATH]

Seeds a primary with the inventory (every job interrupted), takes it down, gives every call
to the secondary the latency, and runs the real `failover` orchestration through the replay
host. Prints wall seconds, the ideal (hub calls x latency / concurrency), their ratio, history
events, episodes and peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(jobs: int, artifacts: int, latency_ms: float, chunk_size: int, per_chunk: int,
        workers: int, coalesce_ms: float) -> dict[str, Any]:
    from failover.domain.model import DEFAULT_INTERRUPTED_JOB_STATUSES
    from failover.hubs.hub_factory import hub_client_for
    from failover.hubs.simulated_hub import SimulatedHub
    from failover.services import services
    from failover.stores.catalog import sync_catalog
    from rehearsal.scenario import DrillOptions, prepare
    from replayhost.azurite import Azurite
    from replayhost.clock import SkippingClock
    from replayhost.engine import Delivery, ReplayHost
    from replayhost.store import AzureStorageStore

    with Azurite() as azurite:
        conn = azurite.connection_string
        options = DrillOptions(jobs=jobs, artifacts=artifacts, seed=11, chunk_size=chunk_size,
                               concurrency=per_chunk, mode="hot-warm", pair="bench")
        seeded = time.perf_counter()
        scenario = prepare(options, conn)
        # Every seeded job interrupted: the bench wants exactly `jobs` resubmissions.
        for job in scenario.primary.list_jobs():
            if job.status not in DEFAULT_INTERRUPTED_JOB_STATUSES:
                scenario.primary.set_job_status(job.name, "Running")

        svc = services()
        sync = sync_catalog(scenario.config, scenario.pair,
                            lambda ref: hub_client_for(ref, connection_string=conn), svc.catalog)
        setup_s = time.perf_counter() - seeded
        scenario.primary.set_faults("down=1")
        scenario.secondary.set_faults(f"latency_ms={latency_ms}")
        secondary = svc.hub(scenario.secondary.hub_id)
        assert isinstance(secondary, SimulatedHub)
        calls_before = secondary.faults.calls

        from function_app import app

        host = ReplayHost(app, store=AzureStorageStore(conn, "bench"), clock=SkippingClock(),
                          max_activity_workers=workers, delivery=Delivery(coalesce_ms=coalesce_ms))
        request = {"pair": scenario.pair, "trigger": "manual", "reason": "benchmark", "requested_by": "bench"}
        began = time.perf_counter()
        instance = host.start_new("failover", None, request)
        status = host.wait_for(instance, timeout=7200)
        wall = time.perf_counter() - began
        host.stop()
        report = status.output
        calls = secondary.faults.calls - calls_before
        concurrency = workers * per_chunk
        ideal = calls * latency_ms / 1000 / concurrency
        return {
            "jobs": sync.jobs, "artifacts": sum(sync.artifacts.values()), "latency_ms": latency_ms,
            "chunk_size": chunk_size, "concurrency": concurrency, "outcome": report["outcome"],
            "resubmitted": report["jobs"]["resubmitted"],
            "recreated": sum(c["recreated"] for c in report["artifacts"].values()),
            "hub_calls": calls, "wall_s": round(wall, 2), "ideal_s": round(ideal, 2),
            "ratio": round(wall / ideal, 3) if ideal else None,
            "history_events": status.history_events, "episodes": status.episodes,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "setup_s": round(setup_s, 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--artifacts", type=int, default=10000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--chunk-size", type=int, default=50)
    parser.add_argument("--per-chunk", type=int, default=1, help="hub calls in flight within one chunk activity")
    parser.add_argument("--workers", type=int, default=8, help="activities in flight (maxConcurrentActivityFunctions)")
    parser.add_argument("--coalesce-ms", type=float, default=100.0,
                        help="replay host: hold completions this long while more are in flight")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.jobs, args.artifacts, args.latency_ms, args.chunk_size, args.per_chunk, args.workers,
                 args.coalesce_ms)

    from rich.console import Console
    from rich.table import Table

    table = Table(title="Failover benchmark (simulated hubs, replay host, Azurite)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["outcome"] == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
