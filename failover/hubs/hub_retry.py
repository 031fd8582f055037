"""One retry policy for hub calls made inside activities.

azure-core already retries 408/429/5xx inside the Azure ML adapter; this layer covers what
reaches us as a retryable HubError anyway (the simulated hub, exhausted SDK retries, a
throttle with Retry-After). Short on purpose: the activity itself is retried by the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from failover.domain.ports import HubError

T = TypeVar("T")

MAX_ATTEMPTS = 5
MAX_RETRY_AFTER_S = 5.0
_backoff = wait_exponential(multiplier=0.05, min=0.05, max=2.0)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, HubError) and exc.category.retryable


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, HubError) and exc.retry_after is not None:
        return min(exc.retry_after, MAX_RETRY_AFTER_S)  # the service said when: honour it
    return float(_backoff(state))


def call_hub(fn: Callable[[], T], attempts: int = MAX_ATTEMPTS) -> T:
    retrying = Retrying(retry=retry_if_exception(_retryable), wait=_wait, stop=stop_after_attempt(attempts),
                        reraise=True)
    return retrying(fn)
