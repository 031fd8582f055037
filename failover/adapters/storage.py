"""Clients of the DR storage account (pointer table, catalog blobs), built from app settings.

``DR_STORAGE_CONNECTION`` (a connection string: local runs and Azurite) wins over
``DR_STORAGE_ACCOUNT`` (an account name reached with ``DefaultAzureCredential``, i.e. the
Function App's managed identity). Errors name the setting, never its value: a connection
string carries the account key.
"""

from __future__ import annotations

import re
from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from failover import settings as app_settings

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


def table_service(settings: app_settings.Settings, credential: Any | None = None) -> TableServiceClient:
    if settings.dr_storage_connection:
        try:
            return TableServiceClient.from_connection_string(settings.dr_storage_connection)
        except ValueError:
            raise StorageNotConfigured(
                f"{app_settings.DR_STORAGE_CONNECTION} is not a valid storage connection string") from None
    endpoint = f"https://{_account(settings)}.table.core.windows.net"
    return TableServiceClient(endpoint=endpoint, credential=credential or _default_credential())


def blob_service(settings: app_settings.Settings, credential: Any | None = None) -> BlobServiceClient:
    if settings.dr_storage_connection:
        try:
            return BlobServiceClient.from_connection_string(settings.dr_storage_connection)
        except ValueError:
            raise StorageNotConfigured(
                f"{app_settings.DR_STORAGE_CONNECTION} is not a valid storage connection string") from None
    endpoint = f"https://{_account(settings)}.blob.core.windows.net"
    return BlobServiceClient(account_url=endpoint, credential=credential or _default_credential())
