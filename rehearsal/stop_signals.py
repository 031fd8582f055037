"""Stop a long local command on SIGTERM, SIGHUP or Ctrl-C without raising inside its work.

A handler that raises lands wherever the main thread happens to be: inside a lock, inside a
storage client's retry, inside the cleanup of an earlier signal. So the work runs in a worker
thread, the main thread only waits, and a signal just sets a flag. The caller then runs its
cleanups (stop Azurite, kill child processes) from the main thread and exits at once, without
waiting for worker threads that may be blocked on storage that is already gone.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class SignalStop:
    def __init__(self) -> None:
        self._wake = threading.Event()
        self.signum: int | None = None

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.signum is None:  # the first signal decides; later ones change nothing
            self.signum = signum
        self._wake.set()

    def check(self) -> None:
        if self.signum is not None:
            raise Stopped(self.signum)

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` in a worker thread; raise Stopped as soon as a stop signal arrives."""
        self.check()
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = work()
            except BaseException as exc:  # handed to the main thread as is
                box["error"] = exc
            finally:
                self._wake.set()

        worker = threading.Thread(target=target, name="stoppable-work", daemon=True)
        worker.start()
        self._wake.wait()  # woken by the worker's end or by a signal handler
        self.check()
        worker.join()
        if "error" in box:
            raise box["error"]
        return box["value"]
