"""The ports of the core: what the failover logic needs from the outside world.

Adapters live in failover/hubs/ (Azure ML, simulated hub) and failover/stores/ (Azure Storage). Every hub
error is mapped to a HubError with a category, so retry policy is decided in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from failover.domain.model import Artifact, ArtifactKind, JobRecord


class ErrorCategory(StrEnum):
    TRANSIENT = "transient"  # 5xx, connection reset, timeout: retry
    THROTTLED = "throttled"  # 429: retry after retry_after
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # exists with different content, or a concurrent writer
    PERMANENT = "permanent"  # bad request, auth: do not retry

    @property
    def retryable(self) -> bool:
        return self in (ErrorCategory.TRANSIENT, ErrorCategory.THROTTLED)


class HubError(Exception):
    def __init__(self, category: ErrorCategory, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.category = category
        self.retry_after = retry_after


class WriteOutcome(StrEnum):
    CREATED = "created"
    ALREADY_PRESENT = "already_present"  # same name/version and same content hash: nothing written
    UPDATED = "updated"  # apply_state changed a mutable resource's state (scale, traffic, enabled)
    PENDING = "pending"  # apply_state: the resource is still provisioning; nothing written, ask again later


@dataclass(frozen=True)
class SubmitResult:
    name: str
    outcome: WriteOutcome


T = TypeVar("T")

JOB_ITEM = "job"  # UnreadableItem.kind of a job; artifacts use their ArtifactKind value


@dataclass(frozen=True)
class UnreadableItem:
    """Something a hub holds that its adapter could not turn into a record or spec.

    Reported by name, never guessed at: a spec rebuilt from half a body would be recreated wrong.
    ``reason`` is the adapter's one-line why (the SDK's message); it never carries a body.
    """

    kind: str  # JOB_ITEM or an ArtifactKind value
    name: str
    version: str | None
    reason: str

    @property
    def key(self) -> str:
        """The catalog key the item would have had (``job:<name>``, or the artifact's key)."""
        return f"{JOB_ITEM}:{self.name}" if self.kind == JOB_ITEM else f"{self.kind}:{self.name}:{self.version or ''}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key}


class Listing(list[T], Generic[T]):
    """What a list call read: the readable items (it *is* the list of them, so callers that only
    want those need nothing new) and, in ``unreadable``, what the hub holds but could not be read.

    One item the adapter can't parse must not take the others down with it, nor vanish silently.
    """

    def __init__(self, items: Iterable[T] = (), unreadable: Iterable[UnreadableItem] = ()) -> None:
        super().__init__(items)
        self.unreadable: tuple[UnreadableItem, ...] = tuple(unreadable)


def unreadable_of(listed: Iterable[object]) -> tuple[UnreadableItem, ...]:
    """The unreadable items beside a list call's result (none for a plain list)."""
    return listed.unreadable if isinstance(listed, Listing) else ()


@runtime_checkable
class HubClient(Protocol):
    """One Azure ML workspace / AI Studio hub (or project), as recovery sees it."""

    @property
    def hub_id(self) -> str: ...

    def ping(self) -> None:
        """Cheap control-plane call. Raises HubError when the hub does not answer."""

    def list_computes(self) -> list[str]:
        """Names of the compute targets of the workspace. Raises HubError."""

    def list_jobs(self, statuses: Iterable[str] | None = None) -> Listing[JobRecord]:
        """Jobs (with ``statuses``: only those), sorted by name. A job that can't be read is in
        ``unreadable`` when its status is wanted or can't be told; never raised, never dropped."""

    def get_job(self, name: str) -> JobRecord:
        """Raises HubError: NOT_FOUND, or PERMANENT (with the reason) for a job that can't be read."""

    def submit_job(self, source: JobRecord, *, new_name: str, compute: str | None,
                   tags: dict[str, str]) -> SubmitResult:
        """Create ``new_name`` from ``source`` unless a job of that name already exists."""

    def list_assets(self, kind: ArtifactKind) -> Listing[Artifact]:
        """Every version of every asset of ``kind``; what can't be read is in ``unreadable``."""

    def get_asset(self, kind: ArtifactKind, name: str, version: str | None) -> Artifact:
        """``version`` None: the latest. Raises HubError: NOT_FOUND, or PERMANENT for one that can't be read."""

    def put_asset(self, artifact: Artifact) -> WriteOutcome:
        """Write unless the same name/version with the same content hash is present.

        Same name/version with different content raises HubError(CONFLICT): versions are
        immutable in Azure ML, and recovery never overwrites what the secondary already has.
        """

    def list_connections(self) -> Listing[Artifact]: ...

    def permissions(self) -> list[dict[str, Any]]:
        """What this client's identity may do on the hub: Azure RBAC's answer at the hub's scope (one
        ``{actions, notActions, dataActions, notDataActions}`` per role assignment). Raises HubError."""

    def put_connection(self, connection: Artifact) -> WriteOutcome: ...

    def list_datastores(self) -> list[str]:
        """Names of the workspace's datastores (never their credentials). Raises HubError."""

    def apply_state(self, artifact: Artifact) -> WriteOutcome:
        """Set a mutable resource's state (STATE_FIELDS: traffic, default deployment, instance count,
        schedule enabled) to ``artifact``'s; its definition is left as it is.

        UPDATED when written, ALREADY_PRESENT when it already was, PENDING while the resource is still
        provisioning (nothing written). NOT_FOUND when the resource is absent; PERMANENT when the
        service refuses the state (traffic to a deployment that does not exist, a failed deployment).
        """
