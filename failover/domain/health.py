"""Detection as hysteresis, and every other start decision: pure functions that say why.

An automatic failover needs K consecutive failed probes of the active hub, a healthy standby,
auto-failover on, nothing running and no cooldown. Operators may force past a cooldown, never
past a running failover (the singleton would refuse it anyway). A failback is a planned
switch back, allowed once the old primary has passed N consecutive probes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class Streak(Protocol):
    @property
    def failures(self) -> int: ...

    @property
    def successes(self) -> int: ...


@dataclass(frozen=True)
class Decision:
    start: bool
    why: str
    status: int = 202  # what an HTTP caller is answered: 202 started, 409 refused by a guard

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "why": self.why}


def _refused(why: str) -> Decision:
    return Decision(False, why, 409)


def decide_failover(*, primary: Streak, secondary: Streak, threshold: int, auto_failover: bool,
                    failover_running: bool, cooldown_until: datetime | None, now: datetime) -> Decision:
    """Start an automatic failover only when every guard agrees; say which one said no."""
    if primary.failures < threshold:
        return _refused(f"active hub failed {primary.failures} consecutive probe(s), threshold {threshold}")
    if secondary.successes < 1:
        return _refused("standby did not pass its last probe: failing over would not help")
    return _automatic_start(
        f"active hub failed {primary.failures} consecutive probes and the standby is healthy",
        auto_failover=auto_failover, failover_running=failover_running, cooldown_until=cooldown_until, now=now)


def decide_alert(*, auto_failover: bool, failover_running: bool, cooldown_until: datetime | None,
                 now: datetime) -> Decision:
    """A fired Azure Monitor alert starts a failover under the same guards as the probe."""
    return _automatic_start("alert fired", auto_failover=auto_failover, failover_running=failover_running,
                            cooldown_until=cooldown_until, now=now)


def _automatic_start(why: str, *, auto_failover: bool, failover_running: bool, cooldown_until: datetime | None,
                     now: datetime) -> Decision:
    """The guards every automatic start shares: auto-failover on, nothing running, no cooldown."""
    if not auto_failover:
        return _refused("auto-failover is off for this pair: an operator must start it")
    if failover_running:
        return _refused("a failover is already running for this pair")
    if cooldown_until is not None and now < cooldown_until:
        return _refused(f"cooldown until {cooldown_until.isoformat()} (an operator's acknowledgement lifts it)")
    return Decision(True, why)


def decide_manual_start(*, running: bool, cooldown_until: datetime | None, now: datetime, force: bool) -> Decision:
    if running:
        return _refused("a failover is already running for this pair (terminate it first)")
    if cooldown_until is not None and now < cooldown_until and not force:
        return _refused(f"cooldown until {cooldown_until.isoformat()}: acknowledge it, or force")
    return Decision(True, "operator request" + (" (forced past the cooldown)" if force and cooldown_until
                                                and now < cooldown_until else ""))


def decide_failback(*, original_primary: Streak, active: str, original: str, threshold: int,
                    running: bool) -> Decision:
    if active == original:
        return _refused(f"{original} is already active: nothing to fail back")
    if running:
        return _refused("a failover is already running for this pair")
    if original_primary.successes < threshold:
        return _refused(f"{original} passed {original_primary.successes} consecutive probe(s); "
                        f"failback needs {threshold}")
    return Decision(True, f"{original} passed {original_primary.successes} consecutive probes")
