"""Azure Resource Manager's request throttle, as the simulated hub answers it.

Every Azure ML asset and job call is an ARM request. Since 2024 ARM throttles with a token
bucket per subscription, per service principal, per region and per operation type
(Microsoft Learn, "Understand how Azure Resource Manager throttles requests"): reads 250
tokens refilled at 25/s, writes and deletes 200 refilled at 10/s. A request with no token left
is answered 429 with Retry-After; every answer tells how many tokens remain
(``x-ms-ratelimit-remaining-subscription-reads`` / ``-writes``). docs/throughput.md has the
details this project relies on.

This module is the service side of that model: the buckets the simulated hubs of one
subscription share, and a log of the requests a hub answered (what the benchmark and the tests
count). The client side, which paces to the bucket, is ``failover.hubs.arm_pacing``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

OperationClass = Literal["read", "write"]

# Port operations that write (everything else reads): the simulated hub's operation names.
_WRITE_OPERATIONS = ("put_", "submit_", "apply_state")
REQUEST_LOG_LIMIT = 200_000  # a long-running `hubfailover serve` must not grow without bound


def operation_class(operation: str) -> OperationClass:
    """ARM's class of a simulated port operation: writes create, everything else reads."""
    return "write" if operation.startswith(_WRITE_OPERATIONS) else "read"


@dataclass(frozen=True)
class ArmLimits:
    """One principal's buckets in one subscription (Microsoft's 2024 defaults)."""

    read_rate: float = 25.0
    read_burst: int = 250
    write_rate: float = 10.0
    write_burst: int = 200

    def __post_init__(self) -> None:
        for name in ("read_rate", "write_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ARM {name}={getattr(self, name)}: must be > 0 tokens per second")
        for name in ("read_burst", "write_burst"):
            if getattr(self, name) < 1:
                raise ValueError(f"ARM {name}={getattr(self, name)}: must be at least 1 token")

    def rate(self, kind: OperationClass) -> float:
        return self.write_rate if kind == "write" else self.read_rate

    def burst(self, kind: OperationClass) -> int:
        return self.write_burst if kind == "write" else self.read_burst

    def seconds_for(self, kind: OperationClass, requests: int) -> float:
        """The least time the bucket allows ``requests`` in, starting full."""
        return max(0.0, requests - self.burst(kind)) / self.rate(kind)


@dataclass(frozen=True)
class ArmAnswer:
    allowed: bool
    remaining: int  # the x-ms-ratelimit-remaining-subscription-* header's value
    retry_after: float | None = None  # whole seconds, like ARM's Retry-After


class ArmBucket:
    """The read and write token buckets of one subscription."""

    def __init__(self, limits: ArmLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        now = clock()
        self._tokens: dict[OperationClass, float] = {"read": float(limits.read_burst),
                                                     "write": float(limits.write_burst)}
        self._stamp: dict[OperationClass, float] = {"read": now, "write": now}
        self._lock = threading.Lock()
        self.throttled: Counter[OperationClass] = Counter()

    def take(self, kind: OperationClass) -> ArmAnswer:
        """Spend a token of ``kind``, or answer as ARM does when there is none."""
        with self._lock:
            now = self._clock()
            rate, burst = self.limits.rate(kind), self.limits.burst(kind)
            tokens = min(float(burst), self._tokens[kind] + (now - self._stamp[kind]) * rate)
            self._stamp[kind] = now
            if tokens >= 1.0:
                self._tokens[kind] = tokens - 1.0
                return ArmAnswer(True, int(tokens - 1.0))
            self._tokens[kind] = tokens
            self.throttled[kind] += 1
            return ArmAnswer(False, 0, float(max(1, math.ceil((1.0 - tokens) / rate))))


_buckets: dict[tuple[str, ArmLimits], ArmBucket] = {}
_buckets_lock = threading.Lock()


def arm_bucket(subscription: str, limits: ArmLimits) -> ArmBucket:
    """The process's bucket for a subscription: every simulated hub of it draws from the same one.

    Keyed by the limits too, so a drill that changes them starts from a full bucket. The model
    lives in the process (the drill and the benchmark run every activity in one), like ARM's
    own bucket lives in ARM and not in any client.
    """
    key = (subscription.lower(), limits)
    with _buckets_lock:
        bucket = _buckets.get(key)
        if bucket is None:
            bucket = _buckets[key] = ArmBucket(limits)
        return bucket


@dataclass(frozen=True)
class ArmRequest:
    at: float  # time.monotonic() when the answer left
    operation: str
    kind: OperationClass
    status: int  # 200, 429, or the status of an injected fault (503 for down/flaky)
    item: str | None = None  # artifact key or job name for writes


class RequestLog:
    """The requests one simulated hub answered, in order (bounded)."""

    def __init__(self, limit: int = REQUEST_LOG_LIMIT) -> None:
        self._entries: deque[ArmRequest] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def record(self, entry: ArmRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, since: float = 0.0) -> list[ArmRequest]:
        with self._lock:
            return [e for e in self._entries if e.at >= since]
