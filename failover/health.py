"""Detection as hysteresis: a pure decision over probe streaks, never a single failed probe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ProbeStreak:
    """Consecutive results of one hub's probes (one of the two is always 0)."""

    failures: int = 0
    successes: int = 0

    def after(self, ok: bool) -> ProbeStreak:
        return ProbeStreak(0, self.successes + 1) if ok else ProbeStreak(self.failures + 1, 0)


@dataclass(frozen=True)
class Decision:
    start: bool
    why: str


def decide_failover(*, primary: ProbeStreak, secondary: ProbeStreak, threshold: int, auto_failover: bool,
                    failover_running: bool, cooldown_until: datetime | None, now: datetime) -> Decision:
    """Start an automatic failover only when every guard agrees; say which one said no."""
    if primary.failures < threshold:
        return Decision(False, f"primary failed {primary.failures} consecutive probe(s), threshold {threshold}")
    if secondary.successes < 1:
        return Decision(False, "secondary did not pass its last probe: failing over would not help")
    if not auto_failover:
        return Decision(False, "auto-failover is off for this pair: an operator must start it")
    if failover_running:
        return Decision(False, "a failover is already running for this pair")
    if cooldown_until is not None and now < cooldown_until:
        return Decision(False, f"cooldown until {cooldown_until.isoformat()} (acknowledge to lift it)")
    return Decision(True, f"primary failed {primary.failures} consecutive probes and the secondary is healthy")
