"""A small client of the operator API (a deployed Function App or `hubfailover serve`). Plain HTTP.

The base URL and the function key come from the environment (HUBFAILOVER_URL,
HUBFAILOVER_API_KEY). The key travels in the `x-functions-key` header, never in a URL, and
never appears in an error message. Where App Service authentication fronts the app, an Entra ID
access token for it (HUBFAILOVER_TOKEN) goes along as `Authorization: Bearer`, never shown either.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

URL_ENV = "HUBFAILOVER_URL"
KEY_ENV = "HUBFAILOVER_API_KEY"
TOKEN_ENV = "HUBFAILOVER_TOKEN"
DEFAULT_URL = "http://127.0.0.1:7071"
KEY_HEADER = "x-functions-key"


class ApiError(Exception):
    """A non-2xx answer (or no answer): status 0 means the API could not be reached."""

    def __init__(self, status: int, error: str, field: str | None = None, body: Any = None) -> None:
        super().__init__(error)
        self.status, self.error, self.field, self.body = status, error, field, body

    def __str__(self) -> str:
        where = f" (field: {self.field})" if self.field else ""
        return f"HTTP {self.status}: {self.error}{where}" if self.status else f"{self.error}{where}"


class ApiClient:
    def __init__(self, base_url: str, key: str | None, *, timeout: float = 30.0,
                 session: requests.Session | None = None, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._token = token
        self.timeout = timeout
        self._session = session or requests.Session()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiClient:
        env = os.environ if env is None else env
        return cls(env.get(URL_ENV) or DEFAULT_URL, env.get(KEY_ENV) or None, token=env.get(TOKEN_ENV) or None)

    def __repr__(self) -> str:  # the key stays out of reprs and tracebacks
        return f"ApiClient({self.base_url!r})"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
              accept: str = "application/json") -> Any:
        headers = {"Accept": accept}
        if self._key:
            headers[KEY_HEADER] = self._key
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        url = f"{self.base_url}/api/{path}"
        try:
            response = self._session.request(method, url, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ApiError(0, f"cannot reach {self.base_url}: {type(exc).__name__}") from None
        if response.status_code < 400 and accept != "application/json":
            return response.content.decode("utf-8", "replace")
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = {"error": response.text[:300]}
        if response.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            field = data.get("field") if isinstance(data, dict) else None
            raise ApiError(response.status_code, str(error or response.reason or "request failed"), field, data)
        return data

    # -- the routes -------------------------------------------------------------------------

    def pairs(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "pairs")["pairs"])

    def pair(self, pair: str) -> dict[str, Any]:
        return dict(self._call("GET", f"pairs/{quote(pair, safe='')}"))

    def failover(self, pair: str, *, reason: str, requested_by: str, dry_run: bool = False, drill: bool = False,
                 force: bool = False, target: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"reason": reason, "requested_by": requested_by, "dry_run": dry_run, "drill": drill,
                                "force": force}
        if target:
            body["target"] = target
        return dict(self._call("POST", f"pairs/{quote(pair, safe='')}/failover", body))

    def failback(self, pair: str, *, reason: str, requested_by: str) -> dict[str, Any]:
        return dict(self._call("POST", f"pairs/{quote(pair, safe='')}/failback",
                               {"reason": reason, "requested_by": requested_by}))

    def recover(self, pair: str, *, requested_by: str, reason: str | None = None,
                dry_run: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"requested_by": requested_by, "dry_run": dry_run}
        if reason:
            body["reason"] = reason
        return dict(self._call("POST", f"pairs/{quote(pair, safe='')}/recover", body))

    def acknowledge(self, pair: str, *, by: str, comment: str = "") -> dict[str, Any]:
        return dict(self._call("POST", f"pairs/{quote(pair, safe='')}/acknowledge", {"by": by, "comment": comment}))

    def failover_status(self, instance_id: str) -> dict[str, Any]:
        """A failover's or a recover's status (`failover-PAIR`, `recover-PAIR`)."""
        return dict(self._call("GET", f"failovers/{quote(instance_id, safe='')}"))

    def report(self, instance_id: str) -> str:
        """The last run's report as a person reads it (Markdown)."""
        return str(self._call("GET", f"failovers/{quote(instance_id, safe='')}/report", accept="text/markdown"))

    def decide(self, instance_id: str, decision: str, *, by: str, comment: str = "",
               run: str | None = None) -> dict[str, Any]:
        """``run``: decide only if that run is the one waiting (a later run of the instance is refused)."""
        if decision not in ("approve", "reject"):
            raise ValueError(decision)
        body: dict[str, Any] = {"by": by, "comment": comment}
        if run:
            body["run"] = run
        return dict(self._call("POST", f"failovers/{quote(instance_id, safe='')}/{decision}", body))
