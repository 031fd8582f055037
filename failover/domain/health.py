"""Detection as hysteresis, and every other start decision: pure functions that say why.

An automatic failover needs K consecutive failed probes of the active hub, a healthy standby,
auto-failover on, nothing running and no cooldown. An alert starts one only when it is about
the hub that is active now, never when it is about the standby (after a failover, the old
primary is the standby and keeps failing). The cooldown a failover starts lasts until an
operator acknowledges it. Operators may force past a cooldown, never past a running failover.
A failback is a planned switch back, allowed once the old primary has passed N consecutive probes.
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

    @property
    def last_ok(self) -> bool | None: ...


@dataclass(frozen=True)
class Decision:
    start: bool
    why: str
    status: int = 202  # what an HTTP caller is answered: 202 started, 409 refused by a guard

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "why": self.why}


def _refused(why: str) -> Decision:
    return Decision(False, why, 409)


def _cooldown(since: datetime) -> str:
    return f"cooldown since the failover of {since.isoformat()}: only an operator's acknowledgement lifts it"


def decide_failover(*, primary: Streak, secondary: Streak, threshold: int, auto_failover: bool,
                    failover_running: bool, cooldown_since: datetime | None) -> Decision:
    """Start an automatic failover only when every guard agrees; say which one said no.

    ``primary`` is the streak of the hub that is active now, ``secondary`` that of the standby.
    """
    if primary.failures < threshold:
        return _refused(f"active hub failed {primary.failures} consecutive probe(s), threshold {threshold}")
    if secondary.successes < 1:
        return _refused("standby did not pass its last probe: failing over would not help")
    return _automatic_start(
        f"active hub failed {primary.failures} consecutive probes and the standby is healthy",
        auto_failover=auto_failover, failover_running=failover_running, cooldown_since=cooldown_since)


def decide_alert(*, hub: str, active: str, standby: str, standby_streak: Streak, auto_failover: bool,
                 failover_running: bool, cooldown_since: datetime | None) -> Decision:
    """A failure signal about ``hub`` (see failover/domain/alerts.py) starts a failover away from it,
    only while it is the active hub and the standby did not fail its last probe."""
    if hub != active:
        return _refused(f"the alert is about {hub}, the standby ({active} is active): failing over would go "
                        "back into the outage")
    if standby_streak.last_ok is False:
        return _refused(f"standby {standby} failed its last probe: failing over would not help")
    return _automatic_start(f"alert on {hub}, the active hub", auto_failover=auto_failover,
                            failover_running=failover_running, cooldown_since=cooldown_since)


def _automatic_start(why: str, *, auto_failover: bool, failover_running: bool,
                     cooldown_since: datetime | None) -> Decision:
    """The guards every automatic start shares: auto-failover on, nothing running, no cooldown."""
    if not auto_failover:
        return _refused("auto-failover is off for this pair: an operator must start it")
    if failover_running:
        return _refused("a failover is already running for this pair")
    if cooldown_since is not None:
        return _refused(_cooldown(cooldown_since))
    return Decision(True, why)


def decide_manual_start(*, running: bool, cooldown_since: datetime | None, force: bool) -> Decision:
    if running:
        return _refused("a failover is already running for this pair (terminate it first)")
    if cooldown_since is not None and not force:
        return _refused(f"{_cooldown(cooldown_since)}; or force")
    return Decision(True, "operator request" + (" (forced past the cooldown)" if force and cooldown_since else ""))


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


def decide_recover(*, running: bool, last_flip: dict[str, Any] | None, active: str, generation: int) -> Decision:
    """A recover completes the last run that moved the pointer, on the hub it made active, at the generation it
    flipped to: anything else is nothing to complete (409), and so is a pair whose pointer never moved."""
    if running:
        return _refused("a failover or recover is already running for this pair: wait for it to end")
    if not last_flip:
        return _refused("nothing to complete: no failover has moved this pair's pointer (start a failover instead)")
    if (last_flip.get("target"), last_flip.get("generation")) != (active, generation):
        return _refused(f"nothing to complete: the pointer moved since failover {last_flip.get('run')} (it flipped to "
                        f"{last_flip.get('target')} at generation {last_flip.get('generation')}; {active} is active "
                        f"at generation {generation})")
    if not last_flip.get("snapshot"):
        return _refused(f"nothing to complete: failover {last_flip.get('run')} ran without a catalog snapshot")
    return Decision(True, f"completes failover {last_flip.get('run')} ({last_flip.get('outcome')}) on {active}")
