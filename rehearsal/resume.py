"""`hubfailover drill --break KINDS --resume`: a failover left partly failed, then completed by `recover`.

During the failover, writes of the named kinds on the secondary fail permanently (``break=`` of the
simulated hub's faults): the failover flips, recovers the rest and ends ``failed`` with those items
listed. Then the fault is lifted and the real `recover` orchestration runs, as `hubfailover recover`
would start it (the same guard: decide_recover on the pair state and the pointer).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from failover.domain.health import decide_recover
from failover.domain.requests import RecoverRequest, Trigger
from failover.hubs.simulated_fault import BREAKABLE, FaultConfig
from failover.services import services
from rehearsal.console import DrillConsole
from rehearsal.scenario import DrillOptions, Scenario

# What the drill's report keeps of the recover's own report, under "resume".
RESUME_KEYS = ("instance_id", "run", "outcome", "outcome_reason", "completes", "catalog", "jobs", "artifacts",
               "activation", "durations", "errors")


def parse_kinds(text: str) -> tuple[str, ...]:
    """``model,job`` -> ('model', 'job'); ValueError naming what is not a kind."""
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in BREAKABLE]
    if unknown or not kinds:
        raise ValueError(f"{', '.join(unknown) or repr(text)}: expected some of {', '.join(BREAKABLE)}")
    return kinds


def secondary_faults(options: DrillOptions) -> FaultConfig:
    """The secondary's faults during the failover: ``--faults`` and the kinds ``--break`` names."""
    faults = FaultConfig.parse(options.faults)
    return replace(faults, broken=tuple(options.break_kinds)) if options.break_kinds else faults


def lift_and_ask(scenario: Scenario, console: DrillConsole) -> RecoverRequest | dict[str, Any]:
    """Lift the broken writes, then ask for a recover as the operator API would: its request, or why none
    starts (a report of its own, outcome ``not_started``)."""
    scenario.secondary.set_faults(scenario.secondary.fault_config().lifted())
    console.step("fault lifted: the secondary takes writes of every kind again")
    svc = services()
    pointer = svc.pointers.read(scenario.pair)
    flip = svc.pair_state.read(scenario.pair).last_flip
    decision = decide_recover(running=False, last_flip=flip, active=pointer.active, generation=pointer.generation)
    if not decision.start or flip is None:
        console.step(f"recover not started: {decision.why}")
        return {"outcome": "not_started", "outcome_reason": decision.why}
    console.step(f"recover: {decision.why}")
    return RecoverRequest(pair=scenario.pair, trigger=Trigger.MANUAL, reason="drill: complete the failover",
                          requested_by="hubfailover-drill", completes=str(flip["run"]))


def resume_report(output: Any, runtime: str, history: dict[str, int]) -> dict[str, Any]:
    """The recover's report as the drill keeps it (``resume``); an instance that did not complete says how it ended."""
    if not isinstance(output, dict):
        return {"outcome": "failed", "outcome_reason": f"the recover ended {runtime}: {str(output)[:300]}",
                "history": history}
    return {**{k: output.get(k) for k in RESUME_KEYS}, "history": history}
