"""Clients of the DR storage account (pointer table, catalog blobs), built from app settings.

``DR_STORAGE_CONNECTION`` (a connection string: local runs and Azurite) wins over
``DR_STORAGE_ACCOUNT`` (an account name reached with ``DefaultAzureCredential``, i.e. the
Function App's managed identity). Errors name the setting, never its value: a connection
string carries the account key.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

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


def _service(client: type[T], service: str, settings: app_settings.Settings, credential: Any | None) -> T:
    """A connection string when set (local, Azurite), else the account's endpoint with managed identity."""
    if settings.dr_storage_connection:
        try:
            return client.from_connection_string(settings.dr_storage_connection)
        except ValueError:
            raise StorageNotConfigured(
                f"{app_settings.DR_STORAGE_CONNECTION} is not a valid storage connection string") from None
    endpoint = f"https://{_account(settings)}.{service}.core.windows.net"
    return client(endpoint, credential=credential or _default_credential())


def table_service(settings: app_settings.Settings, credential: Any | None = None) -> TableServiceClient:
    return _service(TableServiceClient, "table", settings, credential)


def blob_service(settings: app_settings.Settings, credential: Any | None = None) -> BlobServiceClient:
    return _service(BlobServiceClient, "blob", settings, credential)
