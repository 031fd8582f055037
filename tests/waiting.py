"""Waiting for what another thread or process does: poll a condition until a deadline.

A fixed timeout is either too long on a quiet laptop or too short on a busy 2-core CI box. So
every deadline here is a nominal time scaled by the load measured when the wait starts (the
1-minute load average per core, at least 1): a condition that holds returns at once, and a
loaded machine gets proportionally more time instead of a flaky failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

MAX_FACTOR = 8.0
POLL_S = 0.05


def load_factor() -> float:
    try:
        per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        return 1.0
    return min(MAX_FACTOR, max(1.0, per_core))


def patience(seconds: float) -> float:
    """A nominal timeout, scaled to how busy the machine is right now."""
    return seconds * load_factor()


def wait_until(condition: Callable[[], T], seconds: float, what: str | Callable[[], str]) -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + patience(seconds)
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"still waiting after {patience(seconds):.0f} s: "
                                 f"{what() if callable(what) else what}")
        time.sleep(POLL_S)
