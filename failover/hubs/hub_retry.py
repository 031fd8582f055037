"""The one retry layer for hub calls.

Every hub client that recovery and the catalog sync use makes exactly one attempt per call:
azure-core's RetryPolicy is off in them (``retry_total=0``, see hub_factory.py) and the
simulated hub never retries. So every retry of a hub call happens here, once, on errors that
were classified once (hub_errors.to_hub_error):

- TRANSIENT and THROTTLED are retried; NOT_FOUND, CONFLICT and PERMANENT are answers.
- The wait honours the service's Retry-After, capped at RETRY_AFTER_CAP_S (ARM's answer can be
  long; the pacer in arm_pacing.py holds every other request of the process meanwhile), plus a
  little jitter; without one, exponential backoff with full jitter.
- At most MAX_ATTEMPTS attempts, and no wait that would end more than RETRY_BUDGET_S after the
  call first failed, nor past the caller's ``deadline`` (recovery passes its chunk's, so a chunk
  activity ends well inside the Functions timeout whatever the hub does).

The activity itself is retried by the Durable host only when it fails as a whole (storage,
a recycled worker); items that fail here come back as data, not as exceptions.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from failover.domain.model import Artifact, ArtifactKind, JobRecord
from failover.domain.ports import HubClient, HubError, Listing, SubmitResult, WriteOutcome

T = TypeVar("T")

MAX_ATTEMPTS = 6
RETRY_AFTER_CAP_S = 30.0
RETRY_BUDGET_S = 90.0
# A chunk activity stops starting retries after this long: the Functions timeout is 10 min
# (host.json), and a chunk's last attempts and its journal writes must fit in what is left.
CHUNK_RETRY_DEADLINE_S = 300.0
_backoff = wait_random_exponential(multiplier=0.5, max=8.0)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, HubError) and exc.category.retryable


def retry_after_wait(retry_after: float, cap: float = RETRY_AFTER_CAP_S) -> float:
    """Retry-After capped, plus up to 10% (at most 1 s) so a crowd of callers doesn't return at once."""
    honoured = min(max(retry_after, 0.0), cap)
    return honoured + random.uniform(0.0, min(1.0, 0.1 * honoured))


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, HubError) and exc.retry_after is not None:
        return retry_after_wait(exc.retry_after)  # the service said when: honour it (capped)
    return float(_backoff(state))


class _Stop:
    """Attempts, the per-call budget from the first failure, and the caller's deadline."""

    def __init__(self, attempts: int, budget: float, deadline: float | None) -> None:
        self.attempts, self.budget, self.deadline = attempts, budget, deadline
        self.first_failure: float | None = None

    def __call__(self, state: RetryCallState) -> bool:
        now = time.monotonic()
        if self.first_failure is None:
            self.first_failure = now
        resumes = now + (state.upcoming_sleep or 0.0)
        return (state.attempt_number >= self.attempts or resumes > self.first_failure + self.budget
                or (self.deadline is not None and resumes > self.deadline))


def call_hub(fn: Callable[[], T], *, attempts: int = MAX_ATTEMPTS, budget: float = RETRY_BUDGET_S,
             deadline: float | None = None) -> T:
    """Run ``fn`` (one hub call), retrying what is worth retrying; ``deadline`` is a time.monotonic()."""
    retrying = Retrying(retry=retry_if_exception(_retryable), wait=_wait, stop=_Stop(attempts, budget, deadline),
                        reraise=True)
    return retrying(fn)


class RetryingHub:
    """A HubClient whose every call goes through call_hub: for callers that are not per item (the catalog sync)."""

    def __init__(self, hub: HubClient) -> None:
        self._hub = hub

    @property
    def hub_id(self) -> str:
        return self._hub.hub_id

    def ping(self) -> None:
        call_hub(self._hub.ping)

    def list_computes(self) -> list[str]:
        return call_hub(self._hub.list_computes)

    def list_jobs(self, statuses: Iterable[str] | None = None) -> Listing[JobRecord]:
        return call_hub(lambda: self._hub.list_jobs(statuses))

    def get_job(self, name: str) -> JobRecord:
        return call_hub(lambda: self._hub.get_job(name))

    def submit_job(self, source: JobRecord, *, new_name: str, compute: str | None,
                   tags: dict[str, str]) -> SubmitResult:
        return call_hub(lambda: self._hub.submit_job(source, new_name=new_name, compute=compute, tags=tags))

    def list_assets(self, kind: ArtifactKind) -> Listing[Artifact]:
        return call_hub(lambda: self._hub.list_assets(kind))

    def get_asset(self, kind: ArtifactKind, name: str, version: str | None) -> Artifact:
        return call_hub(lambda: self._hub.get_asset(kind, name, version))

    def put_asset(self, artifact: Artifact) -> WriteOutcome:
        return call_hub(lambda: self._hub.put_asset(artifact))

    def list_connections(self) -> Listing[Artifact]:
        return call_hub(self._hub.list_connections)

    def put_connection(self, connection: Artifact) -> WriteOutcome:
        return call_hub(lambda: self._hub.put_connection(connection))

    def permissions(self) -> list[dict[str, Any]]:
        return call_hub(self._hub.permissions)

    def list_datastores(self) -> list[str]:
        return call_hub(self._hub.list_datastores)

    def apply_state(self, artifact: Artifact) -> WriteOutcome:
        return call_hub(lambda: self._hub.apply_state(artifact))
