"""The running account of one failover: progress for the custom status, and the final report.

Pure and deterministic: the orchestrator rebuilds it on every replay from activity results
and orchestration time, so it must never read a clock or the environment itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from failover.domain.requests import FailoverRequest
from failover.domain.secrets import scrub

MAX_REPORTED_ERRORS = 50
# Stages that write nothing (the flip writes only when it succeeds): a run that ends in one was aborted.
_BEFORE_ANY_WRITE = {"plan", "readiness", "awaiting_approval", "flip"}
_STAGE_NAMES = {"plan": "planning", "readiness": "the readiness check", "awaiting_approval": "the approval gate",
                "flip": "the pointer flip", "priority_artifacts": "recreation of the priority artifacts",
                "priority_jobs": "resubmission of the priority jobs",
                "job_dependencies": "recreation of the jobs' dependencies", "recreate_artifacts": "artifact recreation",
                "activate": "activation", "resubmit_jobs": "job resubmission"}


def first_line(text: str) -> str:
    """The message of an activity failure, without the details the host appends after a newline."""
    return text.strip().split("\n")[0].strip()[:300] if text.strip() else "unknown error"

# Activation outcomes per kind (besides "expected"): switched on now, already so, left for the flip
# (a drill), still provisioning at the deadline, failed; schedules also count their source hub's side.
ACTIVATION_OUTCOMES = ("activated", "already_active", "deferred", "pending", "failed", "source_disabled",
                       "source_pending")


def recover_step(pair: str) -> dict[str, str]:
    """How an operator completes a run's recovery: the CLI command and the API route (docs/runbook.md)."""
    return {"command": f"hubfailover recover {pair} --by YOU", "route": f"POST /api/pairs/{pair}/recover"}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def objectives(plan: dict[str, Any], outcome: str | None, total_s: float | None,
               catalog_age_s: float | None) -> dict[str, Any]:
    """The run against the pair's objectives: RTO (outage, or start, to the end of recovery) and RPO
    (the catalog's age). ``met`` is None where it does not apply: no objective known, nothing was failed
    over (aborted, or the target was already active), or no catalog was read."""
    wanted = plan.get("objectives") or {}
    rto, rpo = wanted.get("rto_minutes"), wanted.get("rpo_minutes")
    moved = outcome in ("succeeded", "failed") and not plan.get("noop")
    rto_met: bool | None = None
    if rto is not None and moved and total_s is not None:
        rto_met = outcome == "succeeded" and total_s <= rto * 60  # a partial recovery misses it
    rpo_met = None if rpo is None or catalog_age_s is None else catalog_age_s <= rpo * 60
    return {"rto": {"objective_minutes": rto, "measured_s": total_s if moved else None, "met": rto_met},
            "rpo": {"objective_minutes": rpo, "measured_s": catalog_age_s, "met": rpo_met}}


@dataclass
class FailoverRun:
    instance_id: str
    request: FailoverRequest
    started_at: datetime
    kind: str = "failover"  # or "recover": completes the last failover's recovery, never flips
    stage: str = "plan"
    done: int = 0
    total: int = 0
    plan: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    outcome_reason: str = ""
    pointer_after: str | None = None
    generation_after: int | None = None
    flipped_at: datetime | None = None
    completed_at: datetime | None = None
    approval: dict[str, Any] | None = None
    jobs: dict[str, int] = field(default_factory=lambda: {
        "interrupted": 0, "resubmitted": 0, "already_present": 0, "failed": 0, "skipped": 0})
    artifacts: dict[str, dict[str, int]] = field(default_factory=dict)
    activation: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    errors_dropped: int = 0
    # Orchestration time (context.current_utc_datetime): each stage's start and end for the report's
    # timeline. None: stages are not timed. on_stage_end sees each stage as it closes (telemetry).
    clock: Callable[[], datetime] | None = field(default=None, repr=False, compare=False)
    on_stage_end: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False, compare=False)
    stages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        """One failover run: the instance id is reused per pair, its start time is not."""
        return f"{self.instance_id}@{self.started_at.isoformat()}"

    # -- progress ------------------------------------------------------------------------

    def enter(self, stage: str, total: int = 0) -> dict[str, Any]:
        if stage != self.stage or not self.stages:
            self._time_stage(stage)
        self.stage, self.done, self.total = stage, 0, total
        return self.status()

    def _time_stage(self, stage: str | None) -> None:
        """Close the open stage (if any) and open ``stage`` (None: only close), at orchestration time."""
        if self.clock is None:
            return
        now = _iso(self.clock())
        if self.stages and self.stages[-1]["ended_at"] is None:
            closed = self.stages[-1]
            closed["ended_at"] = now
            if self.on_stage_end is not None:
                self.on_stage_end({**closed, "pair": self.request.pair, "instance_id": self.instance_id,
                                   "run": self.run_id})
        if stage is not None:
            self.stages.append({"stage": stage, "started_at": now, "ended_at": None})

    def status(self) -> dict[str, Any]:
        status = {"instance_id": self.instance_id, "run": self.run_id, "pair": self.request.pair, "stage": self.stage,
                  "done": self.done, "total": self.total, "started_at": _iso(self.started_at),
                  "outcome": self.outcome}
        return {**status, "outcome_reason": self.outcome_reason} if self.outcome else status

    def interrupted(self, error: str) -> tuple[str, str]:
        """An exception ended the run in its current stage (an activity failed after its retries):
        ``aborted`` if nothing was written yet, ``failed`` after. The reason names the stage and the cause."""
        stage, message = self.stage, first_line(error)
        self.error(stage, message)
        what = f"{_STAGE_NAMES.get(stage, stage)} failed after its retries: {message}"
        if stage == "flip":
            return "aborted", f"{what}; the pointer was not confirmed moved: check it (hubfailover status)"
        return ("aborted" if stage in _BEFORE_ANY_WRITE else "failed"), what

    def error(self, where: str, message: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"where": where, "error": scrub(message)[:500]})
        else:
            self.errors_dropped += 1

    # -- results -------------------------------------------------------------------------

    def take_plan(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.jobs["interrupted"] = int(plan["inventory"]["jobs"])
        for kind, count in plan["inventory"]["artifacts"].items():
            self.artifacts[kind] = {"expected": int(count), "recreated": 0, "already_present": 0, "failed": 0}
        for kind in plan.get("activation_kinds") or []:
            self.activation[kind] = {"expected": int(plan["inventory"]["artifacts"].get(kind, 0)),
                                     **dict.fromkeys(ACTIVATION_OUTCOMES, 0)}

    def take_artifact_chunk(self, kind: str, result: dict[str, Any]) -> None:
        counts = self.artifacts[kind]
        for key in ("recreated", "already_present", "failed"):
            counts[key] += int(result.get(key, 0))
        self._take_errors(f"artifacts.{kind}", result)
        self.done += 1

    def fail_artifact_chunk(self, kind: str, items: int, message: str) -> None:
        self.artifacts[kind]["failed"] += items
        self.error(f"artifacts.{kind}", message)
        self.done += 1

    def take_activation_round(self, kind: str, result: dict[str, Any], *, final: bool) -> None:
        """One round of one activation chunk. Items still provisioning are asked about again in the next
        round, so they count only once they resolve, or as pending after the last round."""
        counts = self.activation[kind]
        for key in ACTIVATION_OUTCOMES:
            if key != "pending" or final:
                counts[key] += int(result.get(key, 0))
        self._take_errors(f"activation.{kind}", result)
        if final:
            self.done += 1

    def fail_activation_chunk(self, kind: str, items: int, message: str) -> None:
        self.activation[kind]["failed"] += items
        self.error(f"activation.{kind}", message)
        self.done += 1

    @property
    def failed_items(self) -> int:
        """Items that were not recovered: failed jobs, artifacts and activations, and activations still
        pending when the stage gave up waiting."""
        return (self.jobs["failed"] + sum(c["failed"] for c in self.artifacts.values())
                + sum(c["failed"] + c["pending"] for c in self.activation.values()))

    def recovery_ending(self) -> tuple[str, str]:
        """How a run that went through the recovery stages ends: every item recovered, or how many were not."""
        failed = self.failed_items
        return ("succeeded", "") if failed == 0 else ("failed", f"{failed} item(s) could not be recovered")

    def take_job_chunk(self, result: dict[str, Any]) -> None:
        for key in ("resubmitted", "already_present", "failed", "skipped"):
            self.jobs[key] += int(result.get(key, 0))
        self._take_errors("jobs", result)
        self.done += 1

    def fail_job_chunk(self, items: int, message: str) -> None:
        self.jobs["failed"] += items
        self.error("jobs", message)
        self.done += 1

    def _take_errors(self, where: str, result: dict[str, Any]) -> None:
        for item in result.get("errors", []):
            self.error(f"{where}:{item.get('item')}", str(item.get("error")))

    def not_started(self, at: datetime, reason: str, plan: dict[str, Any]) -> dict[str, Any]:
        """The report of a run that never began (e.g. detection declined): aborted, nothing counted."""
        self.plan = plan
        return self.finish("aborted", at, reason)

    def finish(self, outcome: str, at: datetime, reason: str = "") -> dict[str, Any]:
        self.outcome, self.outcome_reason, self.completed_at = outcome, reason, at
        self._time_stage(None)
        self.stage = "done"
        step = self.next_step()
        if step is not None:
            self.outcome_reason = (f"{reason}; " if reason else "") + (
                f"to complete the recovery on the active hub: {step['command']} ({step['route']})")
        return self.report()

    def next_step(self) -> dict[str, str] | None:
        """A `recover` completes this run's work: the run moved the pointer (or is a recover) and left items
        failed or pending, or it found the pointer already on its target (a failover asked again)."""
        if self.outcome is None or self.request.dry_run or self.request.drill:
            return None
        moved = self.generation_after is not None and self.generation_after > int(self.plan.get("generation") or 0)
        if (self.outcome == "failed" and (moved or self.kind == "recover")) or (
                self.outcome == "aborted" and self.plan.get("noop")):
            return recover_step(self.request.pair)
        return None

    def report(self) -> dict[str, Any]:
        plan = self.plan
        catalog = plan.get("catalog") or {}
        request = self.request
        start = request.outage_at or self.started_at
        recover_from = self.flipped_at or self.started_at
        total_s = _seconds(start, self.completed_at)
        report = {
            "instance_id": self.instance_id,
            "run": self.run_id,
            "kind": self.kind,
            "pair": request.pair,
            "mode": plan.get("mode"),
            "trigger": request.trigger.value,
            "outcome": self.outcome,
            "outcome_reason": self.outcome_reason,
            "dry_run": request.dry_run,
            "drill": request.drill,
            "requested_by": request.requested_by,
            "reason": request.reason,
            "pointer": {  # where the pointer was at plan time (a recover's: its target, left in place)
                "before": plan.get("active", plan.get("source")),
                "after": self.pointer_after or plan.get("active", plan.get("source")),
                "target": plan.get("target"),
                "generation_before": plan.get("generation"),
                "generation_after": self.generation_after if self.generation_after is not None
                else plan.get("generation"),
            },
            "catalog": {"taken_at": catalog.get("taken_at"), "age_seconds": catalog.get("age_seconds"),
                        "snapshot": catalog.get("snapshot"), "fallback": catalog.get("fallback"),
                        "missing": catalog.get("missing")},
            "approval": self.approval,
            "jobs": {k: self.jobs[k] for k in ("interrupted", "resubmitted", "already_present", "failed",
                                               "skipped")},
            "artifacts": self.artifacts,
            "activation": self.activation,
            "timeline": {
                "outage_at": _iso(request.outage_at),
                "detected_at": _iso(request.detected_at),
                "started_at": _iso(self.started_at),
                "pointer_flipped_at": _iso(self.flipped_at),
                "completed_at": _iso(self.completed_at),
            },
            "durations": {
                "detect_s": _seconds(request.outage_at, request.detected_at),
                "flip_s": _seconds(self.started_at, self.flipped_at),
                "recover_s": _seconds(recover_from, self.completed_at),
                "total_s": total_s,
            },
            "stages": [dict(s) for s in self.stages],
            "objectives": objectives(plan, self.outcome, total_s, catalog.get("age_seconds")),
            "errors": self.errors,
            "errors_dropped": self.errors_dropped,
            "recover": self.next_step(),
        }
        if self.kind == "recover":
            report["completes"] = plan.get("completes")  # the failover run this one completes
        return report


def unaudited_report(*, instance_id: str, request: FailoverRequest, kind: str, runtime_status: str, custom: Any,
                     ended_at: datetime, pointer_active: str, pointer_standby: str, pointer_generation: int,
                     pointer_changed_by: str | None) -> dict[str, Any]:
    """The report of a run that ended without one (terminated through the Durable API, failed by the host), from
    what its last custom status says and the pointer now: ``aborted`` if it ended before any write, ``failed``
    after (its flip wrote the run id as the pointer's ``changed_by``)."""
    status = custom if isinstance(custom, dict) else {}
    try:
        started_at = datetime.fromisoformat(str(status["started_at"]))
    except (KeyError, ValueError):
        started_at = ended_at
    run = FailoverRun(instance_id, request, started_at, kind=kind)
    stage = str(status.get("stage") or "plan")
    moved = kind == "failover" and pointer_changed_by == run.run_id
    plan: dict[str, Any] = {"pair": request.pair, "source": pointer_active, "target": request.target,
                            "generation": pointer_generation}
    if moved:  # flipped by this run: it went from the hub that is the standby now, one generation ago
        plan.update(source=pointer_standby, target=pointer_active, generation=pointer_generation - 1)
        run.pointer_after, run.generation_after = pointer_active, pointer_generation
    run.plan, run.stage = plan, stage
    where = _STAGE_NAMES.get(stage, stage)
    reason = (f"the run ended {runtime_status} at {where} without its audit record (terminated through the "
              "Durable API, or failed by the host)" + ("; the pointer had moved" if moved else ""))
    run.error(stage, reason)
    return run.finish("failed" if moved or stage not in _BEFORE_ANY_WRITE else "aborted", ended_at, reason)
