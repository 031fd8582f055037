"""Replay cost of fan-outs through the replay host (not part of `make test`).

    .venv/bin/python bench/replay.py [--sizes 100,1000,5000] [--batches all,100,10,1] [--budget-s 90] [--json PATH]

Each case runs in its own process (so peak RSS is the case's own) and prints episodes,
history events replayed, wall seconds and peak memory. Cases whose estimated cost is above
the budget are listed as skipped with the estimate (the SDK replays the whole history on
every episode, so one-by-one delivery of n completions costs O(n^2)).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import timeit
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

US_PER_EVENT = 46e-6  # measured replay cost per history event per episode (docs/replay-host.md)


def build_app() -> Any:
    import azure.durable_functions as df

    app = df.DFApp()

    @app.activity_trigger(input_name="value")
    def bench_double(value: int) -> int:
        return value * 2

    @app.orchestration_trigger(context_name="context")
    def bench_fan_out(context: df.DurableOrchestrationContext) -> Any:
        n = context.get_input()
        results = yield context.task_all([context.call_activity("bench_double", i) for i in range(n)])
        return sum(results)

    return app


def run_case(n: int, batch: str) -> dict[str, Any]:
    from replayhost.engine import Delivery, ReplayHost

    delivery = {
        "all": Delivery(),
        "coalesced": Delivery(coalesce_ms=60_000),
    }.get(batch) or Delivery(batch_size=int(batch))
    host = ReplayHost(build_app(), delivery=delivery, max_activity_workers=8)
    began = time.perf_counter()
    iid = host.start_new("bench_fan_out", None, n)
    status = host.wait_for(iid, timeout=3600)
    wall = time.perf_counter() - began
    host.stop()
    assert status.output == n * (n - 1), status.output
    state = host._instances[iid]
    return {"n": n, "batch": batch, "episodes": state.episodes, "events_replayed": state.events_replayed,
            "history_events": len(state.history), "wall_s": round(wall, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def estimate_s(n: int, batch: str) -> float:
    episodes = 2.0 if batch in ("all", "coalesced") else n / int(batch) + 1
    history = 3 * n + 4  # scheduled + completed per activity, plus episode markers
    return episodes * history / 2 * US_PER_EVENT


def timestamp_parse_costs() -> list[tuple[str, float]]:
    """What the SDK pays per event to parse the Timestamp the host writes (dateutil)."""
    from dateutil.parser import parse

    rows = []
    for text in ("2025-01-01T00:06:00.090000Z", "2025-01-01T00:06:00Z", "2025-01-01T00:06:00"):
        rows.append((text, timeit.timeit(partial(parse, text), number=5000) / 5000 * 1e6))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--batches", default="coalesced,all,100,10,1")
    parser.add_argument("--budget-s", type=float, default=90.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--case", nargs=2, metavar=("N", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(int(args.case[0]), args.case[1])))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Replay host: fan-out of n activities, by delivery batch size")
    for col in ("n", "delivery", "episodes", "events replayed", "history events", "wall s", "peak RSS MB"):
        table.add_column(col, justify="right")
    rows: list[dict[str, Any]] = []
    for n in (int(x) for x in args.sizes.split(",")):
        for batch in args.batches.split(","):
            est = estimate_s(n, batch)
            if est > args.budget_s:
                rows.append({"n": n, "batch": batch, "skipped": True, "estimated_s": round(est, 1)})
                table.add_row(str(n), batch, "-", "-", "-", f"skipped (est. {est:.0f} s)", "-")
                continue
            out = subprocess.run([sys.executable, __file__, "--case", str(n), batch], capture_output=True,
                                 text=True, check=True, cwd=ROOT)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            table.add_row(str(n), batch, str(row["episodes"]), f"{row['events_replayed']:,}",
                          f"{row['history_events']:,}", f"{row['wall_s']:.2f}", f"{row['peak_rss_mb']:.0f}")
    console.print(table)
    parse_rows = timestamp_parse_costs()
    ts = Table(title="SDK cost to parse one history Timestamp (dateutil), by format the host writes")
    ts.add_column("format")
    ts.add_column("us per event", justify="right")
    for text, us in parse_rows:
        ts.add_row(text, f"{us:.1f}")
    console.print(ts)
    if args.json:
        args.json.write_text(json.dumps({"cases": rows, "timestamp_parse_us": dict(parse_rows)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
