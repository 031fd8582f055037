"""The pointer: which hub of a pair is active. One Azure Table entity per pair, fenced by generation.

A flip is a compare-and-swap on the entity's ETag. The caller carries the ``generation`` and
``active`` it read when it decided to fail over, so a stale or duplicate orchestration can
never flip again (or back): its expectation no longer matches. Replaying our own flip (an
activity retried after its write landed) is recognised and reported as success, no write.

Clients follow flips through ``resolve_active_hub`` / ``ml_client_for_active_hub``, which keep
answering through a storage blip (secondary endpoint, then last-known-good; see ActiveHubResolver),
and scoring clients through ``scoring_uri_for_active_hub`` (an endpoint's URI in the active hub).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, TableClient, TableEntity, TableServiceClient, UpdateMode

from failover.domain.config import FailoverConfig, HubRef

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

    from failover.domain.settings import Settings

log = logging.getLogger(__name__)

POINTER_TABLE = "drpointers"
POINTER_ROW = "pointer"
_CAS_ATTEMPTS = 5  # 412s where the fencing fields still match (another field changed): retry


class PointerNotFound(LookupError):
    """No pointer for this pair: ``ensure`` was never called."""


class InvalidFlip(ValueError):
    """The flip itself makes no sense (e.g. ``to`` is not the pair's standby): a caller bug."""


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Pointer:
    pair: str
    active: str
    standby: str
    generation: int
    changed_at: str
    changed_by: str
    reason: str
    etag: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pointer:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})

    @classmethod
    def from_entity(cls, entity: TableEntity) -> Pointer:
        generation = entity["generation"]
        if isinstance(generation, EntityProperty):  # Int64 comes back wrapped
            generation = generation.value
        return cls(pair=entity["PartitionKey"], active=entity["active"], standby=entity["standby"],
                   generation=int(generation), changed_at=entity["changed_at"],
                   changed_by=entity["changed_by"], reason=entity["reason"],
                   etag=entity.metadata.get("etag") or "")


class FlipOutcome(StrEnum):
    FLIPPED = "flipped"  # this call wrote the flip
    ALREADY_FLIPPED = "already_flipped"  # our own earlier flip (a replay): success, nothing written
    REFUSED_STALE = "refused_stale"  # the pointer moved on (or another writer won): nothing written


@dataclass(frozen=True)
class FlipResult:
    outcome: FlipOutcome
    pointer: Pointer  # the pointer as it is now

    @property
    def ok(self) -> bool:
        return self.outcome is not FlipOutcome.REFUSED_STALE

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "pointer": self.pointer.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlipResult:
        return cls(FlipOutcome(data["outcome"]), Pointer.from_dict(data["pointer"]))


class PointerStore:
    """Pointer entities in one table. Construction makes no network call."""

    def __init__(self, table: TableClient, clock: Callable[[], datetime] | None = None) -> None:
        self.table = table
        self._now = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_service(cls, service: TableServiceClient, table_name: str = POINTER_TABLE) -> PointerStore:
        return cls(service.get_table_client(table_name))

    @classmethod
    def from_settings(cls, settings: Settings, table_name: str = POINTER_TABLE) -> PointerStore:
        from failover.stores.storage import table_service

        return cls.from_service(table_service(settings), table_name)

    def ensure(self, pair: str, active: str, standby: str) -> Pointer:
        """Create the pointer at generation 0 unless one exists; never overwrite. Returns the stored one."""
        if active == standby:
            raise InvalidFlip(f"pointer {pair!r}: active and standby are both {active!r}")
        entity = self._entity(pair, active, standby, 0, "ensure", "initial pointer")
        with suppress(ResourceExistsError):  # 409: someone created it first, theirs stands
            try:
                self.table.create_entity(entity)
            except ResourceNotFoundError:  # first use of this storage account: no table yet
                with suppress(ResourceExistsError):
                    self.table.create_table()
                self.table.create_entity(entity)
        return self.read(pair)

    def read(self, pair: str) -> Pointer:
        try:
            return Pointer.from_entity(self.table.get_entity(pair, POINTER_ROW))
        except ResourceNotFoundError:
            raise PointerNotFound(f"no pointer for pair {pair!r}") from None

    def flip(self, pair: str, *, expected_active: str, expected_generation: int, to: str,
             by: str, reason: str) -> FlipResult:
        """Make ``to`` active iff the pointer still shows ``expected_active`` at ``expected_generation``."""
        if to == expected_active:
            raise InvalidFlip(f"pointer {pair!r}: cannot flip from {to!r} to itself")
        for _ in range(_CAS_ATTEMPTS):
            current = self.read(pair)
            if current.active != expected_active or current.generation != expected_generation:
                return FlipResult(self._classify(current, expected_generation, to, by), current)
            if current.standby != to:
                raise InvalidFlip(f"pointer {pair!r}: {to!r} is not the standby ({current.standby!r})")
            entity = self._entity(pair, to, expected_active, expected_generation + 1, by, reason)
            try:
                meta = self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.etag,
                                                match_condition=MatchConditions.IfNotModified)
            except ResourceModifiedError:
                continue  # someone wrote between our read and write: re-read and classify
            written = Pointer(pair, to, expected_active, expected_generation + 1, entity["changed_at"], by,
                              reason, str(meta.get("etag") or ""))
            return FlipResult(FlipOutcome.FLIPPED, written)
        current = self.read(pair)  # the fencing fields kept matching while the entity kept changing
        return FlipResult(FlipOutcome.REFUSED_STALE, current)

    @staticmethod
    def _classify(current: Pointer, expected_generation: int, to: str, by: str) -> FlipOutcome:
        own_replay = (current.active == to and current.generation == expected_generation + 1
                      and current.changed_by == by)
        return FlipOutcome.ALREADY_FLIPPED if own_replay else FlipOutcome.REFUSED_STALE

    def _entity(self, pair: str, active: str, standby: str, generation: int, by: str,
                reason: str) -> dict[str, Any]:
        return {"PartitionKey": pair, "RowKey": POINTER_ROW, "active": active, "standby": standby,
                "generation": EntityProperty(generation, EdmType.INT64),  # int64 whatever the value
                "changed_at": _utc_iso(self._now()), "changed_by": by, "reason": reason}


# --------------------------------------------------------------------------- resolver

class PointerSource(StrEnum):
    PRIMARY = "primary"  # the DR storage account's primary table endpoint
    SECONDARY = "secondary"  # its read-only RA-GZRS secondary endpoint (may lag the primary)
    LAST_KNOWN_GOOD = "last_known_good"  # this process's last answer: neither endpoint answered


class PointerUnavailable(RuntimeError):
    """No endpoint answered and this process has never resolved the pair."""


@dataclass(frozen=True)
class Resolution:
    """Which hub is active, and how sure we are: where the answer came from and how old it is."""

    pair: str
    hub: HubRef
    generation: int  # 0 for a pair without a pointer (never failed over: its configured primary)
    source: PointerSource
    read_at: str  # when an endpoint gave this answer (ISO UTC)
    age_seconds: float  # since then: 0 for a fresh read, grows while served from memory
    errors: tuple[str, ...] = ()  # why the fresher sources did not answer (no secrets: types and codes)

    @property
    def stale(self) -> bool:
        return self.source is not PointerSource.PRIMARY

    def to_dict(self) -> dict[str, Any]:
        return {"pair": self.pair, "hub": self.hub.name, "generation": self.generation, "source": self.source.value,
                "read_at": self.read_at, "age_seconds": round(self.age_seconds, 3), "stale": self.stale,
                "errors": list(self.errors)}


@dataclass(frozen=True)
class _Answer:
    resolution: Resolution
    at: float  # clock() when an endpoint gave it


def _why(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" {status}" if status else "")


class ActiveHubResolver:
    """Which hub is active for a pair, cached for ``ttl`` seconds so clients can ask on every call.

    A storage blip must not take every client down with it: when the primary endpoint fails, the
    RA-GZRS secondary endpoint (``secondary``) is read; when both fail, the last answer this
    process got (its last-known-good, with its age) is served. A stale answer is better than
    none; an older generation than one already seen is never served, whichever endpoint says so
    (the secondary lags the primary). A pair without a pointer resolves to its configured primary.
    """

    def __init__(self, config: FailoverConfig, store: PointerStore, *, ttl: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, secondary: PointerStore | None = None,
                 retry_after: float = 30.0) -> None:
        self.config = config
        self.store = store
        self.secondary = secondary
        self.ttl = ttl
        self.retry_after = retry_after  # an endpoint that failed is skipped this long: no client waits on it
        self._clock = clock
        self._cache: dict[str, tuple[float, _Answer]] = {}
        self._known: dict[str, _Answer] = {}  # last-known-good: the newest generation seen
        self._down_until: dict[PointerSource, float] = {}
        self._served_from: dict[str, PointerSource] = {}
        self._uris: dict[tuple[str, str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def resolve(self, pair: str) -> HubRef:
        return self.resolution(pair).hub

    def resolution(self, pair: str) -> Resolution:
        """The active hub with its source and age (see PointerSource)."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(pair)
        if hit is not None and now < hit[0]:
            return self._aged(hit[1], now)
        answer = self._read(pair, now)
        with self._lock:
            newest = self._known.get(pair)
            if newest is not None and newest.resolution.generation > answer.resolution.generation:
                answer = newest  # another client of this process saw a newer generation while we read
            self._cache[pair] = (now + self.ttl, answer)
        source, errors = answer.resolution.source, "; ".join(answer.resolution.errors)
        with self._lock:
            changed = self._served_from.get(pair, PointerSource.PRIMARY) is not source
            self._served_from[pair] = source
        if changed:  # once per change of source, not once per cache refresh
            log.warning("pointer %s: now answered by %s%s", pair, source.value, f" ({errors})" if errors else "")
        return self._aged(answer, now)

    def _read(self, pair: str, now: float) -> _Answer:
        pair_config = self.config.pair(pair)  # KeyError for an unknown pair, before any I/O
        errors: list[str] = []
        sources = [(PointerSource.PRIMARY, self.store)]
        if self.secondary is not None:
            sources.append((PointerSource.SECONDARY, self.secondary))
        for source, store in sources:
            with self._lock:
                down_until = self._down_until.get(source, 0.0)
            if now < down_until:
                errors.append(f"{source.value}: skipped for {down_until - now:.0f} s more after a failure")
                continue
            try:
                pointer = store.read(pair)
                active, generation = pointer.active, pointer.generation
            except PointerNotFound:
                active, generation = pair_config.primary.name, 0
            except AzureError as exc:
                errors.append(f"{source.value}: {_why(exc)}")
                with self._lock:
                    self._down_until[source] = now + self.retry_after
                continue
            answer = _Answer(Resolution(pair, pair_config.hub(active), generation, source,
                                        _utc_iso(datetime.now(UTC)), 0.0, tuple(errors)), now)
            with self._lock:  # compared with the newest seen now: other clients read while this one waited
                known = self._known.get(pair)
                if known is None or generation >= known.resolution.generation:
                    self._known[pair] = answer
                    return answer
            errors.append(f"{source.value}: generation {generation} is older than generation "
                          f"{known.resolution.generation} already seen")
        with self._lock:
            known = self._known.get(pair)
        if known is None:
            raise PointerUnavailable(f"pointer of pair {pair!r}: no endpoint answered ({'; '.join(errors)}) "
                                     "and this process has no earlier answer")
        served = replace(known.resolution, source=PointerSource.LAST_KNOWN_GOOD, errors=tuple(errors))
        return _Answer(served, known.at)

    def _aged(self, answer: _Answer, now: float) -> Resolution:
        return replace(answer.resolution, age_seconds=max(0.0, now - answer.at))

    def invalidate(self, pair: str | None = None) -> None:
        """Forget cached answers (the last-known-good stays: it is the floor of what may be served)."""
        with self._lock:
            if pair is None:
                self._cache.clear()
            else:
                self._cache.pop(pair, None)

    def ml_client(self, pair: str, credential: Any | None = None, **kwargs: Any) -> MLClient:
        return ml_client_for_hub(self.resolve(pair), credential, **kwargs)

    def scoring_uri(self, pair: str, endpoint: str, *, batch: bool = False, credential: Any | None = None,
                    **kwargs: Any) -> str:
        """The scoring URI of ``endpoint`` (online, or batch) in the pair's active hub.

        Each hub gives an endpoint its own URI (its region is in the host name), so a caller that follows
        the pointer asks here instead of keeping one. One GET of the endpoint in the active hub, cached with
        the active hub for ``ttl`` seconds. Keys are never read: authenticate with Entra ID or fetch them
        from Key Vault.
        """
        hub = self.resolve(pair)
        if hub.backend != "azureml":
            raise ValueError(f"hub {hub.name!r} is {hub.backend}: it has no scoring URIs")
        key = (hub.name, "batch" if batch else "online", endpoint)
        now = self._clock()
        with self._lock:
            hit = self._uris.get(key)
        if hit is not None and now < hit[0]:
            return hit[1]
        client = ml_client_for_hub(hub, credential, **kwargs)
        found = (client.batch_endpoints if batch else client.online_endpoints).get(endpoint)
        uri = str(found.scoring_uri)
        with self._lock:
            self._uris[key] = (now + self.ttl, uri)
        return uri


def ml_client_for_hub(hub: HubRef, credential: Any | None = None, **kwargs: Any) -> MLClient:
    """An MLClient for ``hub``. No network call: MLClient and the credential connect lazily."""
    from azure.ai.ml import MLClient  # lazy: azure.ai.ml takes seconds to import

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return MLClient(credential, subscription_id=hub.subscription_id, resource_group_name=hub.resource_group,
                    workspace_name=hub.workspace_name, **kwargs)


_default_resolver: ActiveHubResolver | None = None
_default_lock = threading.Lock()


# Clients ask on every call: a failing endpoint must fail fast, not after azure-core's default
# retries. No SDK retry: the next source (secondary, then last-known-good) is the retry.
RESOLVER_CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 2, "read_timeout": 3}


def default_resolver(env: Mapping[str, str] | None = None) -> ActiveHubResolver:
    """The process-wide resolver, from FAILOVER_CONFIG and the DR storage settings (built once)."""
    global _default_resolver  # noqa: PLW0603 - one cache per process is the point
    with _default_lock:
        if _default_resolver is None:
            from failover.domain.config import load_config
            from failover.domain.settings import Settings
            from failover.stores.storage import StorageNotConfigured, secondary_table_service, table_service

            settings = Settings.from_env(env)
            try:
                secondary: PointerStore | None = PointerStore.from_service(
                    secondary_table_service(settings, **RESOLVER_CLIENT_OPTIONS))
            except StorageNotConfigured as exc:  # e.g. a SAS-only connection string: no account to derive from
                log.warning("pointer resolver: no secondary endpoint (%s)", exc)
                secondary = None
            _default_resolver = ActiveHubResolver(
                load_config(env), PointerStore.from_service(table_service(settings, **RESOLVER_CLIENT_OPTIONS)),
                secondary=secondary)
        return _default_resolver


def resolve_active_hub(pair: str, resolver: ActiveHubResolver | None = None) -> HubRef:
    return (resolver or default_resolver()).resolve(pair)


def active_hub_resolution(pair: str, resolver: ActiveHubResolver | None = None) -> Resolution:
    """The active hub, the source that answered (primary, secondary, last-known-good) and its age."""
    return (resolver or default_resolver()).resolution(pair)


def ml_client_for_active_hub(pair: str, credential: Any | None = None, *,
                             resolver: ActiveHubResolver | None = None, **kwargs: Any) -> MLClient:
    """An MLClient for the pair's active hub: notebooks and services follow a flip without redeploying."""
    return (resolver or default_resolver()).ml_client(pair, credential, **kwargs)


def scoring_uri_for_active_hub(pair: str, endpoint: str, *, batch: bool = False, credential: Any | None = None,
                               resolver: ActiveHubResolver | None = None, **kwargs: Any) -> str:
    """The scoring URI of ``endpoint`` in the pair's active hub: a scoring client follows a flip."""
    return (resolver or default_resolver()).scoring_uri(pair, endpoint, batch=batch, credential=credential,
                                                         **kwargs)
