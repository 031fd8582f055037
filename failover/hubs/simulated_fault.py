"""Fault injection for the simulated hub: what a drill does to a 'region'.

A FaultConfig is persisted with the hub's state (so one drill process can take the primary
down for every process); the decision to inject is made per call by a seeded RNG, so a run is
repeatable. ``arm=1`` puts ARM's token bucket (simulated_arm.py) in front of the hub, with
Microsoft's default limits unless ``read_rate``/``read_burst``/``write_rate``/``write_burst``
say otherwise, and a per-call latency of ARM_LATENCY_MS unless ``latency_ms`` is given.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from failover.domain.model import ArtifactKind
from failover.domain.ports import ErrorCategory, HubError
from failover.hubs.simulated_arm import ArmLimits

# What an ARM round trip to Azure ML costs when a drill models ARM and names no latency.
ARM_LATENCY_MS = 200.0
_DEFAULT_ARM = ArmLimits()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

# Spec keys accepted by FaultConfig.parse, with the short forms a CLI user types.
_ALIASES = {
    "down": "down",
    "latency_ms": "latency_ms", "latency": "latency_ms",
    "throttle": "throttle_rate", "throttle_rate": "throttle_rate",
    "retry_after": "retry_after_s", "retry_after_s": "retry_after_s",
    "flaky": "flaky_rate", "flaky_rate": "flaky_rate",
    "seed": "seed",
    "only": "operations", "operations": "operations",
    "provisioning": "provisioning_looks", "provisioning_looks": "provisioning_looks",
    "break": "broken", "broken": "broken",
    "arm": "arm",
    "read_rate": "read_rate", "read_burst": "read_burst",
    "write_rate": "write_rate", "write_burst": "write_burst",
}
_BOOLEANS = ("down", "arm")
_INTEGERS = ("seed", "provisioning_looks", "read_burst", "write_burst")
# What ``only=`` may name (several joined by '+'): the simulated hub's calls (connections go through
# list_assets / get_asset / put_asset like every other kind).
HUB_OPERATIONS = ("ping", "list_jobs", "get_job", "submit_job", "list_computes", "list_assets", "get_asset",
                  "put_asset", "list_datastores", "apply_state")
# What ``break=`` may name (several joined by '+'): an artifact kind (its put_asset and apply_state), or
# ``job`` (submit_job).
BREAKABLE = (*(k.value for k in ArtifactKind), "job")
_WRITES = {"put_asset", "apply_state", "submit_job"}


@dataclass(frozen=True)
class FaultConfig:
    down: bool = False
    latency_ms: float = 0.0
    throttle_rate: float = 0.0
    retry_after_s: float = 1.0
    flaky_rate: float = 0.0
    seed: int = 0
    operations: tuple[str, ...] = ()  # only these hub calls are faulted (e.g. readiness's list_computes); () all
    # Endpoints, deployments and schedules are still provisioning after each write for this many looks
    # (apply_state at them, or at an endpoint routing to them): PENDING meanwhile. Counted, not timed,
    # so a drill is repeatable. Not a failure: the hub stays healthy.
    provisioning_looks: int = 0
    # Writes of these kinds fail permanently (a 400 on every try, whatever the retries): the items a
    # failover then reports failed, for a `recover` to complete once the fault is lifted. Reads still work.
    broken: tuple[str, ...] = ()
    arm: bool = False
    read_rate: float = _DEFAULT_ARM.read_rate
    read_burst: int = _DEFAULT_ARM.read_burst
    write_rate: float = _DEFAULT_ARM.write_rate
    write_burst: int = _DEFAULT_ARM.write_burst

    def __post_init__(self) -> None:
        self.limits()  # the bucket's numbers are checked even while arm is off
        object.__setattr__(self, "operations", tuple(self.operations))  # a list after a JSON round trip
        object.__setattr__(self, "broken", tuple(self.broken))
        unknown = [op for op in self.operations if op not in HUB_OPERATIONS]
        if unknown:
            raise ValueError(f"fault operations {unknown}: expected some of {list(HUB_OPERATIONS)}")
        unknown = [kind for kind in self.broken if kind not in BREAKABLE]
        if unknown:
            raise ValueError(f"broken kinds {unknown}: expected some of {list(BREAKABLE)}")
        for name in ("throttle_rate", "flaky_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name}={value}: a rate must be between 0 and 1")
        for name in ("latency_ms", "retry_after_s", "provisioning_looks"):
            if getattr(self, name) < 0:
                raise ValueError(f"fault {name}={getattr(self, name)}: must not be negative")

    @property
    def healthy(self) -> bool:
        return (not self.down and not self.arm and self.latency_ms == 0 and self.throttle_rate == 0
                and self.flaky_rate == 0)

    def limits(self) -> ArmLimits:
        return ArmLimits(read_rate=self.read_rate, read_burst=self.read_burst, write_rate=self.write_rate,
                         write_burst=self.write_burst)

    @property
    def arm_limits(self) -> ArmLimits | None:
        """ARM's buckets in front of the hub, or None when the drill does not model them."""
        return self.limits() if self.arm else None

    def lifted(self) -> FaultConfig:
        """The same faults with the broken writes working again."""
        return FaultConfig.from_dict({**self.to_dict(), "broken": ()})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """``"latency_ms=20,throttle=0.1,flaky=0.05,down=1"`` -> FaultConfig. Empty -> healthy.

        ``only=list_computes+get_asset`` limits the faults to those hub calls.
        """
        values: dict[str, Any] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key, sep, raw = part.partition("=")
            key, raw = key.strip().lower(), raw.strip()
            if not sep or not raw:
                raise ValueError(f"fault spec item {part!r}: expected key=value")
            field_name = _ALIASES.get(key)
            if field_name is None:
                raise ValueError(f"fault spec key {key!r} is unknown; expected one of {sorted(_ALIASES)}")
            try:
                if field_name in _BOOLEANS:
                    if raw.lower() not in _TRUE | _FALSE:
                        raise ValueError
                    values[field_name] = raw.lower() in _TRUE
                elif field_name in _INTEGERS:
                    values[field_name] = int(raw)
                elif field_name == "operations":
                    values[field_name] = tuple(op.strip() for op in raw.split("+") if op.strip())
                    if not set(values[field_name]) <= set(HUB_OPERATIONS):
                        raise ValueError
                elif field_name == "broken":
                    values[field_name] = tuple(kind.strip() for kind in raw.split("+") if kind.strip())
                    if not set(values[field_name]) <= set(BREAKABLE):
                        raise ValueError
                else:
                    values[field_name] = float(raw)
            except ValueError:
                hint = {"operations": f" (one or more of {'+'.join(HUB_OPERATIONS)})",
                        "broken": f" (one or more of {'+'.join(BREAKABLE)})"}.get(field_name, "")
                raise ValueError(f"fault spec value {key}={raw!r} is not valid for {field_name}{hint}") from None
        if values.get("arm") and "latency_ms" not in values:
            values["latency_ms"] = ARM_LATENCY_MS
        return cls(**values)


class FaultInjector:
    """Applies a FaultConfig before each call; counts what it injected."""

    def __init__(self, hub_id: str) -> None:
        self.hub_id = hub_id
        self.calls = 0
        self.injected: Counter[str] = Counter()
        self._config: FaultConfig | None = None
        self._rng = random.Random(0)
        self._lock = threading.Lock()  # calls come from many activity threads at once

    def apply(self, config: FaultConfig, operation: str) -> float:
        """Raise the injected failure, if any; else return the call's modelled service time (s).

        The caller pads the call to that time *including* its own storage round trip: a hub
        "at 20 ms per call" answers in 20 ms, whatever the simulator's bookkeeping costs.
        """
        call, _, argument = operation.partition("(")
        if config.broken and not config.down and call in _WRITES and (argument.rstrip(")") or "job") in config.broken:
            with self._lock:
                self.injected["broken"] += 1
            raise HubError(ErrorCategory.PERMANENT, f"{self.hub_id}: {operation}: 400 bad request "
                                                    "(writes of this kind are broken in this drill)")
        if config.operations and call not in config.operations:
            return 0.0  # not one of the faulted calls
        with self._lock:
            if config != self._config:
                # A new config restarts the seeded sequence: the same drill injects the same faults.
                self._config = config
                self._rng = random.Random(config.seed)
            self.calls += 1
            if config.down:
                self.injected["down"] += 1
                raise HubError(ErrorCategory.TRANSIENT,
                               f"{self.hub_id}: {operation}: unreachable (connection refused)")
            if config.latency_ms > 0:
                self.injected["latency"] += 1
            # Draw both numbers on every call so one rate does not shift the other's sequence.
            throttle_draw, flaky_draw = self._rng.random(), self._rng.random()
            throttled = throttle_draw < config.throttle_rate
            flaky = not throttled and flaky_draw < config.flaky_rate
            if throttled:
                self.injected["throttled"] += 1
            elif flaky:
                self.injected["flaky"] += 1
        latency = config.latency_ms / 1000.0
        if throttled or flaky:
            time.sleep(latency)  # an error answer takes the service's time too
        if throttled:
            raise HubError(ErrorCategory.THROTTLED, f"{self.hub_id}: {operation}: 429 too many requests",
                           retry_after=config.retry_after_s)
        if flaky:
            raise HubError(ErrorCategory.TRANSIENT, f"{self.hub_id}: {operation}: 503 service unavailable")
        return latency
