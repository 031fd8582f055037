"""`hubfailover drill`: a whole failover rehearsed on a laptop.

Embedded Azurite, two simulated hubs, a synced catalog, the primary taken down, detection by
probe streak, the real `failover` orchestration through the replay host (with ``--resume``, then
the real `recover`: rehearsal/resume.py), then the secondary read back and verified. Exit 0 only
when the outcome (the recover's, with ``--resume``) is `succeeded` and verification holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from failover import telemetry
from failover.domain.health import decide_failover
from failover.domain.model import ArtifactKind
from failover.domain.ports import HubClient, HubError
from failover.domain.report_markdown import render
from failover.domain.requests import APPROVAL_EVENT, FailoverRequest, Trigger
from failover.domain.run import FailoverRun
from failover.hubs.simulated_fault import FaultConfig
from failover.recovery import fence_standby_schedules
from failover.services import services
from failover.stores.pair_state import HubStreak
from rehearsal.console import DrillConsole
from rehearsal.resume import lift_and_ask, resume_report, secondary_faults
from rehearsal.scenario import DrillOptions, Scenario, prepare
from rehearsal.stop_signals import SignalStop, Stopped
from rehearsal.verify import verify
from replayhost.azurite import Azurite
from replayhost.clock import SkippingClock
from replayhost.engine import Delivery, ReplayHost
from replayhost.store import AzureStorageStore

ROOT = Path(__file__).resolve().parent.parent
PROBE_INTERVAL = timedelta(seconds=30)
# Completions that arrive within this window go to the orchestrator together: fewer replays.
COALESCE_MS = 25.0


def _answers(hub: HubClient) -> bool:
    try:
        hub.ping()
    except HubError:
        return False
    return True


@dataclass
class Detection:
    decided: bool
    at: datetime
    decisions: list[dict[str, Any]]


def detect(scenario: Scenario, clock: SkippingClock, console: DrillConsole) -> Detection:
    """Probe both hubs on the (skipped) schedule until the decision says fail over, or give up."""
    pair = scenario.config.pair(scenario.pair)
    primary, secondary = HubStreak(), HubStreak()
    decisions: list[dict[str, Any]] = []
    for _ in range(pair.policy.probe_failure_threshold + 5):
        primary = primary.after(_answers(scenario.primary), clock.now())
        secondary = secondary.after(_answers(scenario.secondary), clock.now())
        with telemetry.decision("probe_decision", pair.name, trigger="timer") as span:
            decision = decide_failover(primary=primary, secondary=secondary,
                                       threshold=pair.policy.probe_failure_threshold,
                                       auto_failover=pair.auto_failover, failover_running=False,
                                       cooldown_since=None)
            telemetry.annotate(span, started=decision.start, why=decision.why, active_failures=primary.failures,
                               standby_successes=secondary.successes)
        console.probe(primary.failures, secondary.successes, decision.why)
        decisions.append({"at": clock.now().isoformat(), "primary_failures": primary.failures,
                          "standby_successes": secondary.successes, "start": decision.start, "why": decision.why})
        if decision.start:
            return Detection(True, clock.now(), decisions)
        clock.advance_to(clock.now() + PROBE_INTERVAL)
    return Detection(False, clock.now(), decisions)


def _not_started(scenario: Scenario, request: FailoverRequest, instance_id: str, detection: Detection
                 ) -> dict[str, Any]:
    """Detection declined: the report says so (outcome, reason, the decisions), through the run's own accounting."""
    pair = scenario.config.pair(scenario.pair)
    last = detection.decisions[-1]["why"] if detection.decisions else "no probe ran"
    plan = {"pair": pair.name, "mode": pair.mode, "source": pair.primary.name, "target": pair.secondary.name,
            "generation": scenario.generation_before}
    reason = f"detection declined to fail over after {len(detection.decisions)} probe rounds: {last}"
    return FailoverRun(instance_id, request, detection.at).not_started(detection.at, reason, plan)


def run_drill(options: DrillOptions, console: DrillConsole, json_path: Path | None = None,
              connection_string: str | None = None, report_md: Path | None = None) -> tuple[int, dict[str, Any]]:
    """Rehearse on the given storage, or on an embedded Azurite started (and stopped) here."""
    if connection_string is not None:
        code, report = rehearse(options, console, connection_string)
    else:
        with Azurite() as azurite:
            console.step(f"Azurite on 127.0.0.1 (blob {azurite.blob_port}, table {azurite.table_port})")
            code, report = rehearse(options, console, azurite.connection_string)
    return (code if _publish(report, console, json_path, report_md) else 1), report


def _publish(report: dict[str, Any], console: DrillConsole, json_path: Path | None,
             report_md: Path | None = None) -> bool:
    """Show the report and write it where asked; False when it could not be written (said, not raised)."""
    console.summary(report)
    written = True
    for path, text in ((json_path, lambda: json.dumps(report, indent=2, default=str)),
                       (report_md, lambda: render(report))):
        if path is None:
            continue
        try:
            path.write_text(text(), encoding="utf-8")
        except OSError as exc:  # the path went away or became unwritable during the run
            console.step(f"the report could not be written to {path}: {exc.strerror or exc}")
            written = False
    return written


def rehearse(options: DrillOptions, console: DrillConsole, conn: str) -> tuple[int, dict[str, Any]]:
    """The drill, in one span (``drill``): detection's decisions and the orchestration's spans are in it."""
    with telemetry.span("drill", pair=options.pair, mode=options.mode) as span:
        code, report = _rehearse(options, console, conn)
        verified = bool((report.get("verification") or {}).get("ok"))
        telemetry.annotate(span, outcome=report.get("outcome"), verified=verified)
    return code, report


def _rehearse(options: DrillOptions, console: DrillConsole, conn: str) -> tuple[int, dict[str, Any]]:
    scenario = prepare(options, conn)
    console.step(f"seeded {options.jobs} jobs and {options.artifacts} artifacts on the primary; "
                 f"catalog synced ({scenario.catalog_taken['snapshot']})")

    clock = SkippingClock()
    outage_at = clock.now()
    scenario.primary.set_faults(FaultConfig(down=True))
    faults = secondary_faults(options)
    if faults != FaultConfig():
        scenario.secondary.set_faults(faults)
    shown = ", ".join(filter(None, [options.faults, "broken writes: " + "+".join(options.break_kinds)
                                    if options.break_kinds else ""]))
    console.step("primary taken down" + (f"; secondary faults: {shown}" if shown else ""))
    detection = detect(scenario, clock, console)

    request = FailoverRequest(
        pair=scenario.pair, trigger=Trigger.TIMER, reason="drill: primary failed consecutive probes",
        requested_by="hubfailover-drill", dry_run=options.dry_run, drill=options.drill_only,
        require_approval=options.require_approval, outage_at=outage_at,
        detected_at=detection.at if detection.decided else None)
    instance_id = scenario.config.pair(scenario.pair).instance_id
    if not detection.decided:
        console.step("detection declined: no failover was started")
        return _finish_report(scenario, options, _not_started(scenario, request, instance_id, detection),
                              detection, console, killed=False)
    task_hub = f"drill{scenario.pair}"
    payload = request.model_dump(mode="json")
    killed = bool(options.crash_at) and crash_and_restart(conn, task_hub, instance_id, payload, options.crash_at,
                                                          console)

    from function_app import app  # the real app: every orchestration and activity registered

    host = ReplayHost(app, store=AzureStorageStore(conn, task_hub), clock=clock,
                      delivery=Delivery(coalesce_ms=COALESCE_MS))
    try:
        if host.get_status(instance_id) is None:
            host.start_new("failover", instance_id, payload)
        drive(host, instance_id, options.approval, console)
        status = host.get_status(instance_id)
        resumed = resume(scenario, host, console) if options.resume else None
    finally:
        host.stop()
    assert status is not None
    report: dict[str, Any] = status.output if isinstance(status.output, dict) else {
        "instance_id": instance_id, "outcome": "failed", "outcome_reason": f"the orchestration ended "
        f"{status.runtime_status.value}: {str(status.output)[:300]}",
        "errors": [{"where": "orchestrator", "error": str(status.output)}]}
    report["history"] = {"episodes": status.episodes, "events": status.history_events}
    if resumed is not None:
        report["resume"] = resumed
    return _finish_report(scenario, options, report, detection, console, killed=killed)


def resume(scenario: Scenario, host: ReplayHost, console: DrillConsole) -> dict[str, Any]:
    """The failover has ended: lift the broken writes and run `recover` to completion on the same host."""
    asked = lift_and_ask(scenario, console)
    if isinstance(asked, dict):
        return asked
    instance_id = scenario.config.pair(scenario.pair).recover_instance_id
    host.start_new("recover", instance_id, asked.model_dump(mode="json"))
    drive(host, instance_id, "approve", console)
    status = host.get_status(instance_id)
    assert status is not None
    return resume_report(status.output, status.runtime_status.value,
                         {"episodes": status.episodes, "events": status.history_events})


def _finish_report(scenario: Scenario, options: DrillOptions, report: dict[str, Any], detection: Detection,
                   console: DrillConsole, *, killed: bool) -> tuple[int, dict[str, Any]]:
    report.setdefault("history", {"episodes": 0, "events": 0})
    report["decisions"] = detection.decisions
    scenario.secondary.clear_faults()  # read back what is there, not what a fault hides
    report["after_outage"] = primary_returns(scenario, console)
    report["verification"] = verify(scenario, report)
    report["catalog_sync"] = scenario.catalog_taken
    report["options"] = dict(vars(options))
    report["crash"] = {"at": options.crash_at, "killed": killed}
    # With --resume the recover's outcome is the one that counts: the failover was meant to leave items failed.
    ended = (report.get("resume") or {}).get("outcome") if options.resume else report.get("outcome")
    ok = ended == "succeeded" and report["verification"]["ok"]
    return (0 if ok else 1), report


def primary_returns(scenario: Scenario, console: DrillConsole) -> dict[str, Any]:
    """The failed region comes back. The catalog sync then disables, on the standby, the schedules that
    run on the active hub: the ones a failover could not disable while the primary did not answer."""
    scenario.primary.clear_faults()
    active_name = services().pointers.read(scenario.pair).active
    active, standby = ((scenario.secondary, scenario.primary) if active_name == scenario.secondary.hub_id
                       else (scenario.primary, scenario.secondary))
    fenced = fence_standby_schedules(standby, active.list_assets(ArtifactKind.SCHEDULE))
    console.step(f"primary back; schedules fenced on the standby {standby.hub_id}: {fenced['disabled']} disabled, "
                 f"{fenced['already_disabled']} already disabled")
    return {"schedules_fenced": fenced}


def drive(host: ReplayHost, instance_id: str, approval: str, console: DrillConsole) -> None:
    """Run the orchestration; answer the approval gate the way the rehearsed operator would."""
    answered = False

    def pause() -> bool:
        status = host.get_status(instance_id)
        if status is None:
            return False
        custom = status.custom_status or {}
        console.progress(custom)
        return status.runtime_status.is_terminal or (custom.get("stage") == "awaiting_approval" and not answered)

    while True:
        host.run_until_idle(timeout=3600, stop_when=pause)
        status = host.get_status(instance_id)
        if status is None or status.runtime_status.is_terminal:
            return
        if (status.custom_status or {}).get("stage") == "awaiting_approval" and not answered:
            answered = True
            console.step(f"approval requested: the rehearsed operator answers {approval!r}")
            if approval in ("approve", "reject"):
                answer(host, status.custom_status or {}, approval)
            continue  # "timeout": nobody answers, the durable timer fires
        raise RuntimeError(f"orchestration {instance_id} is idle but not finished: {status.custom_status}")


def answer(host: ReplayHost, waiting: dict[str, Any], decision: str) -> None:
    """What the approve/reject route does: record the decision for the waiting run, then ring the gate."""
    operator = "drill-operator"
    record = services().decisions.record(
        pair=waiting["pair"], instance_id=waiting["instance_id"], run=waiting["run"],
        decision="approve" if decision == "approve" else "reject", by=operator, comment="rehearsal",
        identity={"name": operator, "verified": False, "claimed_in": "drill", "credential": "drill"},
        at=datetime.now(UTC))
    host.raise_event(waiting["instance_id"], APPROVAL_EVENT, {"decision_id": record.decision_id})


def crash_and_restart(conn: str, task_hub: str, instance_id: str, payload: dict[str, Any], crash_at: int,
                      console: DrillConsole, orchestration: str = "failover") -> bool:
    """Run the orchestration in a child process that SIGKILLs itself after `crash_at` activities.

    True when the child was killed; False when the run ended before the crash point.
    """
    console.step(f"orchestration process will be killed (SIGKILL) after {crash_at} activities")
    proc = subprocess.Popen([sys.executable, "-m", "rehearsal.crash_worker", conn, task_hub, instance_id,
                             json.dumps(payload), str(crash_at), orchestration], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    _children.append(proc)
    _, stderr = proc.communicate()
    _children.remove(proc)
    if proc.returncode not in (0, -9):
        raise RuntimeError(f"crash worker failed ({proc.returncode}): {stderr[-1500:]}")
    killed = proc.returncode == -9
    console.step("killed; resuming from the history in Azurite" if killed
                 else "the run finished before the crash point")
    return killed


def run_drill_command(args: Any) -> int:
    options = DrillOptions(
        jobs=args.jobs, artifacts=args.artifacts, seed=args.seed, mode=args.mode, faults=args.faults or "",
        crash_at=args.crash_at, approval=args.approval, dry_run=args.dry_run, drill_only=args.drill_only,
        chunk_size=args.chunk_size, require_approval=args.require_approval, break_kinds=args.break_kinds,
        resume=args.resume)
    # A closed terminal, a kill or Ctrl-C: the embedded Azurite and any child are stopped, always.
    stop = SignalStop()
    stop.install()
    console = DrillConsole()
    azurite = Azurite()
    try:
        endpoints = azurite.start()
        console.step(f"Azurite on 127.0.0.1 (blob {endpoints.blob_port}, table {endpoints.table_port})")
        code, report = stop.run(lambda: rehearse(options, console, endpoints.connection_string))
    except Stopped as stopped:
        _stop_children()
        azurite.stop()
        console.step(f"{stopped}: the embedded Azurite is stopped; nothing was flipped outside it")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(stopped.exit_code)  # worker threads may be blocked on the storage just stopped
    except Exception as exc:  # the drill's own machinery failed: a report that says so, never a traceback
        _stop_children()
        code, report = 1, {"outcome": "failed", "outcome_reason": f"the drill could not run: "
                                                                  f"{type(exc).__name__}: {str(exc)[:500]}",
                           "options": dict(vars(options)), "errors": [{"where": "drill", "error": str(exc)[:2000]}]}
    finally:
        azurite.stop()
    return code if _publish(report, console, args.json, args.report_md) else 1


# Child processes of this drill (the crash worker): stopped with it.
_children: list[subprocess.Popen[str]] = []


def _stop_children() -> None:
    for proc in list(_children):
        if proc.poll() is None:
            proc.kill()
