"""Map azure-core (and azure-ai-ml) exceptions to HubError categories, in one place.

Both hub adapters use this: the Azure ML one for the workspace's REST calls, the simulated one
for its Table storage calls, so retry policy upstream sees one vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies._utils import parse_retry_after

from failover.domain.ports import ErrorCategory, HubError

_TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})


def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """Retry-After (seconds or HTTP date), else retry-after-ms / x-ms-retry-after-ms; keys lower-cased."""
    if headers.get("retry-after"):
        return parse_retry_after(headers["retry-after"])
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if headers.get(name):
            return parse_retry_after(headers[name]) / 1000.0
    return None


def retry_after_seconds(error: HttpResponseError) -> float | None:
    """The Retry-After of an error's response, if it had one."""
    response = error.response
    if response is None:
        return None
    raw_headers: Any = getattr(response, "headers", None) or {}
    return retry_after_from_headers({str(k).lower(): str(v) for k, v in raw_headers.items()})


# The errors that come from talking to the service. azure-ai-ml's own exceptions (MlException and its
# ValidationException, JobParsingError...) are AzureErrors too, but raised on this side of the wire.
_WIRE_ERRORS = (HttpResponseError, ServiceRequestError, ServiceResponseError)


def _wire_error(error: BaseException) -> AzureError | None:
    """The service's answer (or the connection's failure) behind ``error``: azure-ai-ml sometimes
    wraps the HTTP error in an MlException, so look down the chain."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _WIRE_ERRORS):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def to_hub_error(error: BaseException, what: str) -> HubError:
    """Translate ``error`` (raised while doing ``what``) into a categorised HubError.

    The message names the operation and the service's status, never request bodies: a body
    could carry a secret.
    """
    if isinstance(error, HubError):
        return error
    azure_error = _wire_error(error)
    if azure_error is None:
        # Raised on this side of the wire: azure-ai-ml's ValidationException / JobParsingError /
        # MlException, a body the SDK can't parse, a bad spec. Asking again gets the same answer.
        detail = str(error).strip() or str(getattr(error, "message", "")).strip()
        return HubError(ErrorCategory.PERMANENT, f"{what}: {type(error).__name__}: {detail[:500]}")
    if isinstance(azure_error, ResourceNotFoundError):
        return HubError(ErrorCategory.NOT_FOUND, f"{what}: not found")
    if isinstance(azure_error, ResourceExistsError | ResourceModifiedError):
        return HubError(ErrorCategory.CONFLICT, f"{what}: conflict ({azure_error.status_code})")
    if not isinstance(azure_error, HttpResponseError):  # no answer: the connection failed
        return HubError(ErrorCategory.TRANSIENT, f"{what}: connection error: {type(azure_error).__name__}")
    status = azure_error.status_code
    if status == 429:
        return HubError(ErrorCategory.THROTTLED, f"{what}: throttled (429)",
                        retry_after=retry_after_seconds(azure_error))
    if status in _TRANSIENT_STATUSES or (status is not None and status >= 500):
        return HubError(ErrorCategory.TRANSIENT, f"{what}: service error ({status})",
                        retry_after=retry_after_seconds(azure_error))
    if status == 404:
        return HubError(ErrorCategory.NOT_FOUND, f"{what}: not found")
    if status in (409, 412):
        return HubError(ErrorCategory.CONFLICT, f"{what}: conflict ({status})")
    return HubError(ErrorCategory.PERMANENT, f"{what}: rejected ({status})")
