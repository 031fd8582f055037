"""Key Vault secrets for recovery, read with azure-keyvault-secrets under the app's managed identity.

Key Vault replicates to its paired region and fails over by itself (read-only during an
outage), so the vault URI in the configuration stays valid through a regional failover.

A value is kept in memory for ``ttl`` seconds: a thousand jobs sharing HF_TOKEN cost one read.
A failed read is kept for ``failure_ttl`` seconds, and concurrent reads of one secret wait for one
another: a vault that does not answer (a private endpoint in the failed region) costs one read's
retries and timeouts, not one per job. Retries are the SDK's (azure-core's retry policy): none here;
its connect timeout is short (CLIENT_OPTIONS) so a silent vault fails in seconds, not minutes.
Errors name the secret and the fix and never carry a value; nothing here logs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from failover.domain.secret_map import SecretUnavailable

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.keyvault.secrets import SecretClient

DEFAULT_TTL_S = 300.0
FAILURE_TTL_S = 60.0  # Key Vault fails over by itself: a later activity (its retry) looks again
# azure-core waits 300 s for a connection by default, per try: a blackholed vault would hold each item for
# twenty minutes. The SDK's retries stay (retry_total etc. may be passed).
CLIENT_OPTIONS: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 30}


def parse_secret_uri(uri: str) -> tuple[str, str, str | None]:
    """``https://kv.vault.azure.net/secrets/name[/version]`` -> (vault URL, name, version)."""
    parts = urlsplit(uri)
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme != "https" or not parts.netloc or len(segments) not in (2, 3) or segments[0] != "secrets":
        raise SecretUnavailable(f"{uri!r} is not a Key Vault secret URI (https://<vault>.vault.azure.net/secrets/<name>)")
    return f"https://{parts.netloc}", segments[1], segments[2] if len(segments) == 3 else None


class KeyVaultSecrets:
    """SecretSource over ``SecretClient``: one client per vault, built lazily (no call at construction)."""

    def __init__(self, credential: TokenCredential | None = None, *, ttl: float = DEFAULT_TTL_S,
                 failure_ttl: float = FAILURE_TTL_S, clock: Callable[[], float] = time.monotonic,
                 **client_kwargs: Any) -> None:
        self._credential = credential
        self._client_kwargs = {**CLIENT_OPTIONS, **client_kwargs}  # transport=, retry_total=... reach the SDK
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._clock = clock
        self._clients: dict[str, SecretClient] = {}
        self._values: dict[str, tuple[float, str]] = {}
        self._failures: dict[str, tuple[float, str]] = {}
        self._reading: dict[str, threading.Lock] = {}  # one read of a secret at a time: the others wait for it
        self._lock = threading.Lock()

    def secret(self, uri: str) -> str:
        vault, name, version = parse_secret_uri(uri)
        with self._lock:
            reading = self._reading.setdefault(uri, threading.Lock())
        with reading:
            now = self._clock()
            with self._lock:
                hit, failed = self._values.get(uri), self._failures.get(uri)
            if hit is not None and now < hit[0]:
                return hit[1]
            if failed is not None and now < failed[0]:
                raise SecretUnavailable(failed[1])
            try:
                value = self._read(vault, name, version, uri)
            except SecretUnavailable as exc:
                with self._lock:
                    self._failures[uri] = (self._clock() + self._failure_ttl, str(exc))
                raise
            with self._lock:
                self._values[uri] = (now + self._ttl, value)
                self._failures.pop(uri, None)
            return value

    def _read(self, vault: str, name: str, version: str | None, uri: str) -> str:
        host = urlsplit(vault).netloc.split(".")[0]
        try:
            value = self._client(vault).get_secret(name, version).value
        except ResourceNotFoundError:
            raise SecretUnavailable(f"Key Vault secret {uri} does not exist") from None
        except ClientAuthenticationError:
            raise SecretUnavailable(f"{uri}: the app's identity could not get a token for Key Vault") from None
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise SecretUnavailable(f"{uri}: access denied: give the app's identity the Key Vault Secrets User "
                                        f"role on vault {host} (and check the vault's network rules)") from None
            raise SecretUnavailable(f"{uri}: Key Vault answered {exc.status_code}") from None
        except ServiceRequestError:
            raise SecretUnavailable(f"{uri}: Key Vault {host} is unreachable") from None
        if value is None:
            raise SecretUnavailable(f"Key Vault secret {uri} has no value")
        return value

    def _client(self, vault: str) -> SecretClient:
        with self._lock:
            client = self._clients.get(vault)
            if client is None:
                from azure.keyvault.secrets import SecretClient

                client = SecretClient(vault, self._credential or _default_credential(), **self._client_kwargs)
                self._clients[vault] = client
            return client


def _default_credential() -> TokenCredential:
    from azure.identity import DefaultAzureCredential  # the managed identity in Azure

    return DefaultAzureCredential()
