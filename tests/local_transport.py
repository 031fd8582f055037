"""The base of the azure-core transports that stand in for services we can't reach (no network)."""

from __future__ import annotations

import json
from typing import Any, Self

import requests
from azure.core.pipeline._tools import is_rest
from azure.core.pipeline.transport import HttpRequest, HttpTransport, RequestsTransportResponse
from azure.core.rest._requests_basic import RestRequestsTransportResponse


class LocalTransport(HttpTransport):
    """An HttpTransport that answers in-process; subclasses implement send()."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *args: Any) -> None:
        return None

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def answer(request: HttpRequest, status: int, payload: Any, headers: dict[str, str] | None = None) -> Any:
        """A response the SDK parses as it would a real one (legacy or azure.core.rest pipelines)."""
        response = requests.Response()
        response.status_code = status
        response._content = b"" if payload is None else json.dumps(payload).encode()
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        response.headers.update(headers or {})
        response.url = request.url
        response.reason = "Local"
        response._content_consumed = True  # the body is in memory: no socket to stream from
        if is_rest(request):
            rest = RestRequestsTransportResponse(request=request, internal_response=response)
            rest.read()
            return rest
        return RequestsTransportResponse(request, response)
