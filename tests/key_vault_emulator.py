"""A Key Vault stand-in for the real ``SecretClient``: answers GET /secrets/{name}[/{version}] locally.

Key Vault can't be reached from here. The SDK's pipeline (challenge authentication, retries,
deserialisation) runs as it would against Azure; only the bytes come from this transport:
a 401 challenge until a bearer token is presented, then Microsoft's published "Get Secret"
response shape (tests/samples/key_vault/7.5/GetSecret-example.json) with our value.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import HttpRequest

from tests.local_transport import LocalTransport

SAMPLE = Path(__file__).parent / "samples" / "key_vault" / "7.5" / "GetSecret-example.json"
TENANT = "72f988bf-0000-0000-0000-000000000000"
_SECRET_PATH = re.compile(r"^/secrets/(?P<name>[A-Za-z0-9-]+)(?:/(?P<version>[0-9a-f]{32}))?/?$")


class KeyVaultEmulator(LocalTransport):
    """Vaults by host name (``kv-ml.vault.azure.net``) -> secrets by name -> value."""

    def __init__(self, vaults: dict[str, dict[str, str]] | None = None) -> None:
        self.vaults: dict[str, dict[str, str]] = {host: dict(s) for host, s in (vaults or {}).items()}
        self.forbidden: set[str] = set()  # hosts that answer 403 (the identity lacks the role)
        self.unreachable: set[str] = set()
        self.reads: list[tuple[str, str]] = []  # (host, secret name) of every authorised GET
        self.attempts: dict[str, int] = {}  # every request that reached the transport, by host
        self._lock = threading.Lock()
        self._shape = json.loads(SAMPLE.read_text())["responses"]["200"]["body"]

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:
        url = urlsplit(request.url)
        host = url.netloc
        with self._lock:
            self.attempts[host] = self.attempts.get(host, 0) + 1
        if host in self.unreachable:
            raise ServiceRequestError(f"cannot connect to {host}")
        if not (request.headers.get("Authorization") or "").startswith("Bearer "):
            return self.answer(request, 401, _error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP "
                                                    "token."), {"WWW-Authenticate": (
                f'Bearer authorization="https://login.windows.net/{TENANT}", resource="https://vault.azure.net"')})
        if host in self.forbidden:
            return self.answer(request, 403, _error("Forbidden", "Caller is not authorized to perform action on "
                                                    "resource."))
        match = _SECRET_PATH.match(url.path)
        if request.method != "GET" or match is None:
            return self.answer(request, 400, _error("BadParameter", f"unsupported {request.method} {url.path}"))
        name = match["name"]
        with self._lock:
            self.reads.append((host, name))
        value = self.vaults.get(host, {}).get(name)
        if value is None:
            return self.answer(request, 404, _error("SecretNotFound", f"A secret with (name/id) {name} was not found "
                                                    "in this key vault."))
        version = match["version"] or uuid.uuid4().hex
        return self.answer(request, 200, {**self._shape, "value": value,
                                          "id": f"https://{host}/secrets/{name}/{version}"})


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class StaticTokenCredential:
    """Stands in for the managed identity (Entra ID is out of reach): any scope, one token."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("local-token", 4_102_444_800)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.scopes.append(scopes)
        return AccessTokenInfo("local-token", 4_102_444_800)
