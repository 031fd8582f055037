"""The ports of the core: what the failover logic needs from the outside world.

Adapters live in failover/hubs/ (Azure ML, simulated hub) and failover/stores/ (Azure Storage). Every hub
error is mapped to a HubError with a category, so retry policy is decided in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

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


@dataclass(frozen=True)
class SubmitResult:
    name: str
    outcome: WriteOutcome


@runtime_checkable
class HubClient(Protocol):
    """One Azure ML workspace / AI Studio hub (or project), as recovery sees it."""

    @property
    def hub_id(self) -> str: ...

    def ping(self) -> None:
        """Cheap control-plane call. Raises HubError when the hub does not answer."""

    def list_computes(self) -> list[str]:
        """Names of the compute targets of the workspace. Raises HubError."""

    def list_jobs(self, statuses: Iterable[str] | None = None) -> list[JobRecord]: ...

    def get_job(self, name: str) -> JobRecord: ...

    def submit_job(self, source: JobRecord, *, new_name: str, compute: str | None,
                   tags: dict[str, str]) -> SubmitResult:
        """Create ``new_name`` from ``source`` unless a job of that name already exists."""

    def list_assets(self, kind: ArtifactKind) -> list[Artifact]: ...

    def get_asset(self, kind: ArtifactKind, name: str, version: str | None) -> Artifact: ...

    def put_asset(self, artifact: Artifact) -> WriteOutcome:
        """Write unless the same name/version with the same content hash is present.

        Same name/version with different content raises HubError(CONFLICT): versions are
        immutable in Azure ML, and recovery never overwrites what the secondary already has.
        """

    def list_connections(self) -> list[Artifact]: ...

    def put_connection(self, connection: Artifact) -> WriteOutcome: ...
