"""Timer triggers for `serve`: each timer function on its NCRONTAB schedule, one thread each.

As on Azure: the schedule comes from the app setting named in `%...%`, a run never overlaps
itself, a run that starts late is `past_due`, and a failed run is logged, not fatal.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.functions.timer import TimerRequest

from rehearsal.ncrontab import Schedule, ScheduleError
from rehearsal.serve_functions import Invoker, TimerFunction

log = logging.getLogger(__name__)
PAST_DUE_AFTER = timedelta(seconds=2)


def resolve_schedule(bound: str, env: Mapping[str, str] | None = None) -> Schedule:
    """`%NAME%` -> the app setting's value (as the host resolves binding expressions), parsed."""
    env = os.environ if env is None else env
    text = bound
    if bound.startswith("%") and bound.endswith("%"):
        name = bound.strip("%")
        text = env.get(name, "")
        if not text:
            raise ScheduleError(f"app setting {name} (the schedule of a timer) is not set")
    return Schedule.parse(text)


class TimerLoop:
    def __init__(self, timer: TimerFunction, schedule: Schedule, invoker: Invoker, binding: Callable[[], str],
                 stopping: threading.Event, clock: Callable[[], datetime] | None = None) -> None:
        self.timer, self.schedule, self.invoker, self.binding = timer, schedule, invoker, binding
        self.stopping = stopping
        self._now = clock or (lambda: datetime.now(UTC))
        self.runs = 0
        self.failures = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"timer-{timer.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        due = self._now() if self.timer.run_on_startup else self.schedule.next_after(self._now())
        while not self.stopping.is_set():
            wait = (due - self._now()).total_seconds()
            if wait > 0 and self.stopping.wait(wait):
                return
            self.fire(past_due=self._now() - due > PAST_DUE_AFTER)
            due = self.schedule.next_after(max(due, self._now() - PAST_DUE_AFTER))

    def fire(self, *, past_due: bool = False) -> None:
        kwargs: dict[str, Any] = {self.timer.timer_name: TimerRequest(past_due=past_due)}
        if self.timer.client_name:
            kwargs[self.timer.client_name] = self.binding()
        try:
            self.invoker.call(self.timer.entry, kwargs)
            self.runs += 1
        except Exception as exc:
            self.failures += 1
            self.last_error = str(exc)[:500]
            log.error("timer %s failed: %s", self.timer.name, self.last_error)
