"""Time for the replay host: virtual by default (tests and drills don't wait for timers)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    virtual: bool

    def now(self) -> datetime: ...

    def advance_to(self, moment: datetime) -> None: ...


class VirtualClock:
    """Moves only when the host fires a timer: a 30-minute approval timeout takes no wall time."""

    virtual = True

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            self._now = max(self._now, moment)


class RealClock:
    virtual = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    def advance_to(self, moment: datetime) -> None:
        """Real time can't be moved; the host waits instead."""


class SkippingClock:
    """Wall time plus every timer skipped: real durations for work, no waiting for timers.

    Drills use it: activities take the time they take, but a 30-minute approval timeout or
    a retry back-off fires as soon as nothing else can run.
    """

    virtual = True

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            gap = moment - (datetime.now(UTC) + self._offset)
            if gap > timedelta(0):
                self._offset += gap
