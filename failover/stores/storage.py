"""Clients of the DR storage account (pointer table, catalog blobs), built from app settings.

``DR_STORAGE_CONNECTION`` (a connection string: local runs and Azurite) wins over
``DR_STORAGE_ACCOUNT`` (an account name reached with ``DefaultAzureCredential``, i.e. the
Function App's managed identity). Errors name the setting, never its value: a connection
string carries the account key.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from failover.domain import settings as app_settings

T = TypeVar("T", TableServiceClient, BlobServiceClient)

_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")


class StorageNotConfigured(RuntimeError):
    """Neither DR storage setting is usable."""


def _account(settings: app_settings.Settings) -> str:
    name = settings.dr_storage_account
    if name is None:
        raise StorageNotConfigured(
            f"DR storage is not configured: set {app_settings.DR_STORAGE_CONNECTION} (connection string, "
            f"local/Azurite) or {app_settings.DR_STORAGE_ACCOUNT} (account name, managed identity)")
    if not _ACCOUNT_NAME.match(name):
        raise StorageNotConfigured(
            f"{app_settings.DR_STORAGE_ACCOUNT}: {name!r} is not a storage account name "
            "(3-24 lowercase letters and digits)")
    return name


def _default_credential() -> Any:
    from azure.identity import DefaultAzureCredential  # lazy: only the managed-identity path needs it

    return DefaultAzureCredential()


def _service(client: type[T], service: str, settings: app_settings.Settings, credential: Any | None,
             options: dict[str, Any]) -> T:
    """A connection string when set (local, Azurite), else the account's endpoint with managed identity.

    ``options`` (retry_total=, connection_timeout=, ...) reach the client's azure-core pipeline."""
    if settings.dr_storage_connection:
        try:
            return client.from_connection_string(settings.dr_storage_connection, **options)
        except ValueError:
            raise StorageNotConfigured(
                f"{app_settings.DR_STORAGE_CONNECTION} is not a valid storage connection string") from None
    endpoint = f"https://{_account(settings)}.{service}.core.windows.net"
    return client(endpoint, credential=credential or _default_credential(), **options)


def table_service(settings: app_settings.Settings, credential: Any | None = None, **options: Any) -> TableServiceClient:
    return _service(TableServiceClient, "table", settings, credential, options)


def blob_service(settings: app_settings.Settings, credential: Any | None = None, **options: Any) -> BlobServiceClient:
    return _service(BlobServiceClient, "blob", settings, credential, options)


def secondary_table_service(settings: app_settings.Settings, credential: Any | None = None,
                            **options: Any) -> TableServiceClient:
    """The read-only secondary endpoint of the DR account's tables (RA-GZRS / RA-GRS):
    ``https://<account>-secondary.table.core.windows.net``. From a connection string: its
    ``TableSecondaryEndpoint``, else the table endpoint with ``-secondary`` after the account name
    (Azurite serves path-style ``http://127.0.0.1:<port>/<account>-secondary``)."""
    if not settings.dr_storage_connection:
        endpoint = f"https://{_account(settings)}-secondary.table.core.windows.net"
        return TableServiceClient(endpoint, credential=credential or _default_credential(), **options)
    parts = _connection_parts(settings.dr_storage_connection)
    account = parts.get("accountname") or ""
    endpoint = parts.get("tablesecondaryendpoint") or _secondary_of(parts, account)
    if credential is None and parts.get("accountkey"):
        from azure.core.credentials import AzureNamedKeyCredential

        credential = AzureNamedKeyCredential(account, parts["accountkey"])
    elif credential is None and parts.get("sharedaccesssignature"):
        from azure.core.credentials import AzureSasCredential

        credential = AzureSasCredential(parts["sharedaccesssignature"])
    return TableServiceClient(endpoint, credential=credential, **options)


def _connection_parts(connection: str) -> dict[str, str]:
    parts = {}
    for item in connection.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            parts[key.strip().lower()] = value.strip()
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        parts.setdefault("accountname", "devstoreaccount1")
        parts.setdefault("tableendpoint", "http://127.0.0.1:10002/devstoreaccount1")
    if not parts.get("accountname"):
        raise StorageNotConfigured(f"{app_settings.DR_STORAGE_CONNECTION} names no AccountName")
    return parts


def _secondary_of(parts: dict[str, str], account: str) -> str:
    primary = parts.get("tableendpoint")
    if primary is None:
        scheme = parts.get("defaultendpointsprotocol", "https")
        return f"{scheme}://{account}-secondary.table.{parts.get('endpointsuffix', 'core.windows.net')}"
    url = urlsplit(primary)
    if url.netloc.startswith(f"{account}."):  # host style: <account>.table.core.windows.net
        return urlunsplit((url.scheme, f"{account}-secondary{url.netloc[len(account):]}", url.path, "", ""))
    path = url.path.rstrip("/")  # path style (Azurite): http://host:port/<account>
    return urlunsplit((url.scheme, url.netloc, f"{path}-secondary", "", ""))
