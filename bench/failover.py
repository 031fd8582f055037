"""Failover at scale on simulated hubs (not part of `make test`).

    .venv/bin/python bench/failover.py [--jobs 2000] [--artifacts 10000] [--latency-ms 20] [--json PATH]
    .venv/bin/python bench/failover.py --arm-throttle [--write-rate 10] [--read-rate 25] [--write-burst 200]
                                       [--read-burst 250] [--latency-ms 200] [--json PATH]

Seeds a primary with the inventory (every job interrupted), takes it down, and runs the real
`failover` orchestration through the replay host.

Flat mode: every call to the secondary takes the latency; prints wall seconds, the ideal (hub
calls x latency / concurrency), their ratio, history events, episodes and peak memory.

--arm-throttle: ARM's token bucket (Microsoft's defaults, scaled by the rate/burst flags) in
front of the secondary, 200 ms per call, 8 activities x 50 calls in flight; prints wall_s
against bound_s (what the bucket allows for the reads and writes needed), jobs_done_s against
jobs_bound_s, http_requests against minimal_requests, 429s, failures, history and memory
(rehearsal/throughput.py).
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


def run_arm(args: argparse.Namespace) -> dict[str, Any]:
    from failover.hubs.simulated_arm import ArmLimits
    from rehearsal.throughput import ThroughputOptions, run_throttled_failover
    from replayhost.azurite import Azurite

    limits = ArmLimits(read_rate=args.read_rate, read_burst=args.read_burst, write_rate=args.write_rate,
                       write_burst=args.write_burst)
    options = ThroughputOptions(jobs=args.jobs, artifacts=args.artifacts,
                                latency_ms=200.0 if args.latency_ms is None else args.latency_ms, limits=limits,
                                chunk_size=args.chunk_size, per_chunk=args.per_chunk or args.chunk_size,
                                workers=args.workers,
                                coalesce_ms=3000.0 if args.coalesce_ms is None else args.coalesce_ms,
                                priority=tuple(args.priority))
    with Azurite() as azurite:
        return run_throttled_failover(azurite.connection_string, options)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--artifacts", type=int, default=10000)
    parser.add_argument("--latency-ms", type=float, default=None, help="per call (default: 20, or 200 with ARM)")
    parser.add_argument("--chunk-size", type=int, default=50)
    parser.add_argument("--per-chunk", type=int, default=None,
                        help="hub calls in flight within one chunk activity (default: 1, or the chunk size with ARM)")
    parser.add_argument("--workers", type=int, default=8, help="activities in flight (maxConcurrentActivityFunctions)")
    parser.add_argument("--coalesce-ms", type=float, default=None,
                        help="replay host: hold completions this long while more are in flight (default: 100, "
                             "or 3000 with ARM)")
    arm = parser.add_argument_group("ARM throttle")
    arm.add_argument("--arm-throttle", action="store_true", help="model ARM's token bucket in front of the secondary")
    arm.add_argument("--write-rate", type=float, default=10.0, help="write tokens refilled per second")
    arm.add_argument("--read-rate", type=float, default=25.0, help="read tokens refilled per second")
    arm.add_argument("--write-burst", type=int, default=200, help="write bucket size")
    arm.add_argument("--read-burst", type=int, default=250, help="read bucket size")
    arm.add_argument("--priority", action="append", default=[], help="a policy.priority entry (repeatable)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.arm_throttle:
        result = run_arm(args)
        title = "Failover benchmark against ARM's throttle (simulated hubs, replay host, Azurite)"
    else:
        result = run(args.jobs, args.artifacts, 20.0 if args.latency_ms is None else args.latency_ms,
                     args.chunk_size, args.per_chunk or 1, args.workers,
                     100.0 if args.coalesce_ms is None else args.coalesce_ms)
        title = "Failover benchmark (simulated hubs, replay host, Azurite)"

    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["outcome"] == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
