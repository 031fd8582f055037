"""A failover against ARM's throttle, measured: how close to what the bucket allows, and what came back first.

The drill's world (two simulated hubs on Azurite, the real `failover` orchestration through the
replay host) with ARM's token bucket in front of the secondary (simulated_arm.py) and a
per-call latency. Every figure comes from what the hubs answered (their request logs), not from
the run's own report: requests sent, 429s, when each job and artifact was written.

- ``bound_s``: the least time the bucket allows for the reads and writes the run needs
  (one read per item to see whether it is there, one write per missing item), starting full;
  ``ratio`` = wall / bound.
- ``jobs_bound_s``: the same for the interrupted jobs and their dependencies only;
  ``jobs_done_s``: when the last job was resubmitted.
- ``minimal_requests``: those reads and writes, plus one read per endpoint, deployment and schedule
  to see its state and one write per one whose state had to be switched on; ``request_overhead`` =
  requests sent / minimal.

Used by ``bench/failover.py --arm-throttle`` (full size) and by a scaled-down test.
"""

from __future__ import annotations

import gc
import resource
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from failover.domain.model import DEFAULT_INTERRUPTED_JOB_STATUSES, ArtifactKind
from failover.hubs.arm_pacing import ArmPacer
from failover.hubs.hub_factory import hub_client_for
from failover.hubs.simulated_arm import ArmLimits, ArmRequest
from failover.hubs.simulated_hub import SimulatedHub
from failover.recovery import stages_of
from failover.recovery_order import JOBS, closure, dependency_key, job_dependencies
from failover.services import services
from failover.stores.catalog import sync_catalog
from rehearsal.scenario import DrillOptions, prepare

CRITICAL_STAGES = ("priority_artifacts", "priority_jobs", "job_dependencies", "resubmit_jobs")


@dataclass(frozen=True)
class ThroughputOptions:
    jobs: int = 2000
    artifacts: int = 10000
    latency_ms: float = 200.0
    limits: ArmLimits = field(default_factory=ArmLimits)
    chunk_size: int = 50
    per_chunk: int = 50  # hub calls in flight within one chunk activity (policy.max_concurrency)
    workers: int = 8  # activities in flight (maxConcurrentActivityFunctions)
    coalesce_ms: float = 3000.0  # within a wave the orchestrator waits for all: fewer episodes, less CPU
    priority: tuple[str, ...] = ()
    seed: int = 11


def _seconds(limits: ArmLimits, reads: int, writes: int) -> float:
    return max(limits.seconds_for("read", reads), limits.seconds_for("write", writes))


def run_throttled_failover(connection_string: str, options: ThroughputOptions) -> dict[str, Any]:
    """Seed, sync, take the primary down, put ARM in front of the secondary, fail over, measure."""
    from function_app import app
    from replayhost.clock import SkippingClock
    from replayhost.engine import Delivery, ReplayHost
    from replayhost.store import AzureStorageStore

    tag = uuid.uuid4().hex[:8]
    drill = DrillOptions(jobs=options.jobs, artifacts=options.artifacts, seed=options.seed,
                         chunk_size=options.chunk_size, concurrency=options.per_chunk, mode="hot-warm",
                         pair=f"arm{tag}", primary=f"pri{tag}", secondary=f"sec{tag}",
                         subscription=str(uuid.uuid4()), priority=options.priority)  # own bucket, own pacer
    seeded = time.perf_counter()
    scenario = prepare(drill, connection_string)
    for job in scenario.primary.list_jobs():  # every seeded job interrupted
        if job.status not in DEFAULT_INTERRUPTED_JOB_STATUSES:
            scenario.primary.set_job_status(job.name, "Running")
    svc = services()
    sync_catalog(scenario.config, scenario.pair, lambda ref: hub_client_for(ref, connection_string=connection_string),
                 svc.catalog)
    snapshot = svc.catalog.read(scenario.primary.hub_id)
    assert snapshot is not None
    pair = scenario.config.pair(scenario.pair)
    on_target = {a.key for kind in ArtifactKind for a in scenario.secondary.list_assets(kind)}
    stages = stages_of(snapshot, pair, scenario.primary.hub_id)
    setup_s = time.perf_counter() - seeded

    def needs(stage_names: tuple[str, ...] | None) -> tuple[int, int, set[str]]:
        """(reads, writes, artifact keys) of the items of these stages (None: all)."""
        reads = writes = 0
        keys: set[str] = set()
        for stage in stages:
            if stage_names is not None and stage.name not in stage_names:
                continue
            for wave in stage.waves:
                for what, items in wave.items():
                    reads += len(items)
                    if what == JOBS:
                        writes += len(items)
                    else:
                        keys |= {a.key for a in items}
                        writes += sum(1 for a in items if a.key not in on_target)
        return reads, writes, keys

    reads, writes, _ = needs(None)
    critical_reads, critical_writes, critical_keys = needs(CRITICAL_STAGES)
    priority_keys = needs(("priority_artifacts",))[2] | {a for stage in stages if stage.name == "priority_jobs"
                                                         for wave in stage.waves for a in _job_items(wave)}
    by_key = {dependency_key(a): a for kind in pair.policy.artifact_kinds for a in snapshot.artifact_list(kind)}
    job_needs = {job.name: {by_key[d].key for d in closure(job_dependencies(job.spec), by_key)}
                 for stage in stages for wave in stage.waves for job in wave.get(JOBS, [])}
    limits = options.limits
    scenario.primary.set_faults("down=1")
    scenario.secondary.set_faults(f"arm=1,latency_ms={options.latency_ms},read_rate={limits.read_rate},"
                                  f"read_burst={limits.read_burst},write_rate={limits.write_rate},"
                                  f"write_burst={limits.write_burst}")
    hubs = [scenario.primary, scenario.secondary]
    # The run starts as a new worker would: its pacer knows nothing of ARM yet (the set-up's calls, made
    # before ARM was modelled, taught it that the hub sends no headers).
    fresh = ArmPacer(drill.subscription)
    for hub in hubs:
        hub.pacer = fresh

    host = ReplayHost(app, store=AzureStorageStore(connection_string, f"arm{tag}"), clock=SkippingClock(),
                      max_activity_workers=options.workers, delivery=Delivery(coalesce_ms=options.coalesce_ms))
    request = {"pair": scenario.pair, "trigger": "manual", "reason": "throughput rehearsal", "requested_by": "bench"}
    with _world_frozen() as collecting:
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        began = time.monotonic()
        try:
            instance = host.start_new("failover", None, request)
            status = host.wait_for(instance, timeout=7200)
        finally:
            host.stop()
        wall = time.monotonic() - began
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    report = status.output
    sent = [r for hub in hubs for r in hub.requests.entries(since=began)]
    order = _write_order(scenario.secondary, began, critical_keys, priority_keys, job_needs, report["pointer"])
    failed = (report["jobs"]["failed"] + sum(c["failed"] for c in report["artifacts"].values())
              + sum(c.get("failed", 0) + c.get("pending", 0) for c in (report.get("activation") or {}).values()))
    # Endpoints, deployments and schedules are also switched on (scale, routes, enabled): one read per item to
    # see its state, one write per item whose state had to change (what the run found: already active or not).
    switched = report.get("activation") or {}
    switch_reads = sum(int(c.get("expected", 0)) for c in switched.values())
    switch_writes = sum(int(c.get("activated", 0)) for c in switched.values())
    bound = _seconds(limits, reads + switch_reads, writes + switch_writes)
    jobs_bound = _seconds(limits, critical_reads, critical_writes)
    minimal = reads + writes + switch_reads + switch_writes
    return {
        "outcome": report["outcome"], "items": reads, "jobs": report["jobs"]["interrupted"],
        "artifacts": reads - report["jobs"]["interrupted"], "missing": writes,
        "activated": {"items": switch_reads, "switched": switch_writes}, "latency_ms": options.latency_ms,
        "limits": {"read_rate": limits.read_rate, "read_burst": limits.read_burst, "write_rate": limits.write_rate,
                   "write_burst": limits.write_burst},
        "wall_s": round(wall, 2), "bound_s": round(bound, 2), "ratio": round(wall / bound, 3) if bound else None,
        "jobs_done_s": order["jobs_done_s"], "jobs_bound_s": round(jobs_bound, 2),
        "jobs_ratio": round(order["jobs_done_s"] / jobs_bound, 3) if jobs_bound and order["jobs_done_s"] else None,
        "http_requests": len(sent), "minimal_requests": minimal,
        "request_overhead": round(len(sent) / minimal, 4) if minimal else None,
        "throttled": sum(1 for r in sent if r.status == 429), "failed": failed,
        "history_events": status.history_events, "episodes": status.episodes,
        "flip_s": report["durations"]["flip_s"],
        "peak_rss_mb": round(cpu.ru_maxrss / 1024, 1), "cpu_s": round(cpu_s, 1),
        "gc_s": round(collecting.seconds, 2),
        "stages": [stage.counts() for stage in stages], "order": order,
        "concurrency": options.workers * options.per_chunk, "chunk_size": options.chunk_size,
        "setup_s": round(setup_s, 1),
    }


class _Collections:
    """Time the garbage collector spent while the run was measured (one collection at a time: CPython never
    starts one while another runs, whatever the thread)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None


@contextmanager
def _world_frozen() -> Iterator[_Collections]:
    """The simulated hubs hold, in this process, what Azure holds on its servers (every row of both hubs in
    memory, simulated_mirror.py): hundreds of thousands of objects the garbage collector would otherwise
    walk on every full collection of the run, some 0.6 s each on two cores, a cost the orchestrator never
    pays in Azure. Frozen out of the collector (gc.freeze) for the run; what the run allocates, the catalog
    snapshot it reads included, is collected as usual, and its collection time is reported (``gc_s``)."""
    gc.collect()
    gc.freeze()
    collections = _Collections()
    gc.callbacks.append(collections)
    try:
        yield collections
    finally:
        gc.callbacks.remove(collections)
        gc.unfreeze()


def _job_items(wave: dict[str, list[Any]]) -> list[str]:
    return [job.name for job in wave.get(JOBS, [])]


def _write_order(secondary: SimulatedHub, began: float, critical_keys: set[str], priority_keys: set[str],
                 job_needs: dict[str, set[str]], pointer: dict[str, Any]) -> dict[str, Any]:
    """When jobs, their dependencies and the rest of the inventory were written (successful writes only)."""
    writes: list[ArmRequest] = [r for r in secondary.requests.entries(since=began)  # recreations (not switches)
                                if r.kind == "write" and r.status == 200 and r.item is not None
                                and not r.operation.startswith("apply_state")]
    generation = f"-fo{pointer['generation_after']}"
    first = [r.at for r in writes if (r.item or "").removesuffix(generation) in priority_keys]
    others = [r.at for r in writes if (r.item or "").removesuffix(generation) not in priority_keys]
    written = {r.item: r.at for r in writes if r.operation != "submit_job"}
    late = [r.item for r in writes if r.operation == "submit_job"
            and any(written.get(need, 0.0) > r.at for need in job_needs[(r.item or "").removesuffix(generation)])]
    jobs = [r.at for r in writes if r.operation == "submit_job"]
    dependencies = [r.at for r in writes if r.operation != "submit_job" and r.item in critical_keys]
    rest = [r.at for r in writes if r.operation != "submit_job" and r.item not in critical_keys]

    def since(moment: float | None) -> float | None:
        return round(moment - began, 2) if moment is not None else None

    return {
        "first_write_s": since(min((r.at for r in writes), default=None)),
        "jobs_done_s": since(max(jobs, default=None)),
        "first_job_s": since(min(jobs, default=None)),
        "dependencies_done_s": since(max(dependencies, default=None)),
        "first_other_artifact_s": since(min(rest, default=None)),
        "jobs_written": len(jobs), "dependencies_written": len(dependencies), "others_written": len(rest),
        # every job resubmitted before any artifact no job needs; each job after everything it needs
        "jobs_before_other_artifacts": not jobs or not rest or max(jobs) < min(rest),
        "dependencies_before_jobs": not late, "jobs_before_their_dependencies": len(late),
        # with a priority list: everything it names (and what that needs) before anything else
        "priority_written": len(first),
        "priority_before_others": not first or not others or max(first) < min(others),
    }
