"""Every app setting the application reads, by name, in one module.

Infra (Bicep app settings), local.settings.sample.json and the docs are checked against the
names here, so a setting cannot be renamed in one place and forgotten in another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

FAILOVER_CONFIG = "FAILOVER_CONFIG"
"""The hub-pair configuration: a path to a JSON file, or the JSON itself."""

DR_STORAGE_CONNECTION = "DR_STORAGE_CONNECTION"
"""Connection string of the DR storage account (local runs and Azurite only)."""

DR_STORAGE_ACCOUNT = "DR_STORAGE_ACCOUNT"
"""Name of the DR storage account, reached with the app's managed identity in Azure."""

HEALTH_PROBE_SCHEDULE = "HEALTH_PROBE_SCHEDULE"
CATALOG_SYNC_SCHEDULE = "CATALOG_SYNC_SCHEDULE"
READINESS_SCHEDULE = "READINESS_SCHEDULE"
"""Six-field NCRONTAB of the readiness timer (every 15 minutes by default): could each standby take over now?"""
DURABLE_TASK_HUB_NAME = "DURABLE_TASK_HUB_NAME"

APP_SERVICE_AUTH_ENABLED = "APP_SERVICE_AUTH_ENABLED"
""""true" only where App Service authentication (Easy Auth, Entra ID) fronts the operator routes:
then, and only then, the x-ms-client-principal* headers name a verified caller (Easy Auth strips
client-sent copies). Anything else: the caller is a function key holder whose name is a claim."""

ALL_SETTINGS: tuple[str, ...] = (
    FAILOVER_CONFIG,
    DR_STORAGE_CONNECTION,
    DR_STORAGE_ACCOUNT,
    HEALTH_PROBE_SCHEDULE,
    CATALOG_SYNC_SCHEDULE,
    READINESS_SCHEDULE,
    DURABLE_TASK_HUB_NAME,
    APP_SERVICE_AUTH_ENABLED,
)

LOCAL_ONLY_SETTINGS: tuple[str, ...] = (DR_STORAGE_CONNECTION,)
"""Settings of local runs only (Azurite). Never set in Azure: a connection string carries the
account key, and the deployed app reaches the DR account by name with its managed identity.
infra/ sets every other name of ALL_SETTINGS (tests/test_infra.py checks both ways)."""


@dataclass(frozen=True)
class Settings:
    failover_config: str | None
    dr_storage_connection: str | None
    dr_storage_account: str | None
    task_hub: str
    app_service_auth: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            failover_config=env.get(FAILOVER_CONFIG) or None,
            dr_storage_connection=env.get(DR_STORAGE_CONNECTION) or None,
            dr_storage_account=env.get(DR_STORAGE_ACCOUNT) or None,
            task_hub=env.get(DURABLE_TASK_HUB_NAME) or "hubfailover",
            # Only an explicit "true" trusts identity headers: a typo fails safe (nothing trusted).
            app_service_auth=(env.get(APP_SERVICE_AUTH_ENABLED) or "").strip().lower() == "true",
        )
