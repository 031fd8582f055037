"""The adapters the activities and triggers use, built once per process from app settings.

Activities run thousands of times per failover: clients, config and immutable catalog
snapshots are cached here instead of being rebuilt (and re-downloaded) per call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from failover.domain import settings as app_settings
from failover.domain.config import FailoverConfig, HubPair, load_config
from failover.domain.ports import HubClient
from failover.domain.secret_map import SecretResolver, SecretSource
from failover.hubs.hub_factory import hub_client_for
from failover.recovery import stages_of
from failover.recovery_order import RecoveryStage
from failover.stores.alert_deliveries import AlertDeliveries
from failover.stores.audit import AuditLog
from failover.stores.catalog import CatalogSnapshot, CatalogStore
from failover.stores.decisions import ApprovalDecisions
from failover.stores.journal import RecoveryJournal
from failover.stores.pair_state import PairStateStore
from failover.stores.pointer import PointerStore
from failover.stores.reports import ReportStore
from failover.stores.storage import blob_service, table_service

_SNAPSHOTS_KEPT = 4
# azure-core options of the probe clients (they reach every MLClient pipeline).
PROBE_CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 5, "read_timeout": 10}
# ... and of the clients that recover and sync: one attempt per call (the one retry layer is
# hub_retry.call_hub), bounded so an attempt can't eat a chunk's time; paced to ARM's bucket.
HUB_CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 10, "read_timeout": 60}


@dataclass
class Services:
    settings: app_settings.Settings
    config: FailoverConfig
    pointers: PointerStore
    catalog: CatalogStore
    audit: AuditLog
    journal: RecoveryJournal
    pair_state: PairStateStore
    alerts: AlertDeliveries
    decisions: ApprovalDecisions
    reports: ReportStore
    _hubs: dict[str, HubClient] = field(default_factory=dict)
    _snapshots: OrderedDict[tuple[str, str], CatalogSnapshot] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _logs: Any | None = None
    _items: OrderedDict[tuple[str, str, str], list[Any]] = field(default_factory=OrderedDict)
    _building: dict[tuple[str, str, str], threading.Lock] = field(default_factory=dict)
    secret_source: SecretSource | None = None  # Key Vault (managed identity), built on first use

    def secrets(self, pair: str) -> SecretResolver:
        """What resolves the secrets the catalog withheld from this pair's jobs and artifacts."""
        settings = self.config.pair(pair).secrets
        if settings.map and self.secret_source is None:
            from failover.hubs.key_vault import KeyVaultSecrets

            with self._lock:
                if self.secret_source is None:
                    self.secret_source = KeyVaultSecrets()
        return SecretResolver(pair, settings, self.secret_source)

    def hub(self, name: str) -> HubClient:
        """The client recovery and the catalog sync use: paced to ARM, no SDK retries (wrap calls in call_hub)."""
        return self._client(name, name, {"paced": True, **HUB_CLIENT_OPTIONS})

    def probe_hub(self, name: str) -> HubClient:
        """A client for health probes: no SDK retries, short timeouts. A slow answer is the signal,
        and streaks (not retries) are what absorb a blip."""
        if self.config.hub(name).backend == "simulated":
            return self.hub(name)  # its faults are its state: one instance per process
        return self._client(f"probe:{name}", name, PROBE_CLIENT_OPTIONS)

    def _client(self, key: str, name: str, options: dict[str, Any]) -> HubClient:
        with self._lock:
            client = self._hubs.get(key)
            if client is None:
                client = hub_client_for(self.config.hub(name), connection_string=self.settings.dr_storage_connection,
                                        **options)
                self._hubs[key] = client
            return client

    def logs_client(self) -> Any | None:
        """A LogsQueryClient (managed identity) when some pair probes Log Analytics, else None."""
        if not any(p.policy.log_query for p in self.config.pairs):
            return None
        with self._lock:
            if self._logs is None:
                from azure.identity import DefaultAzureCredential
                from azure.monitor.query import LogsQueryClient

                self._logs = LogsQueryClient(DefaultAzureCredential())
            return self._logs

    def chunk_items(self, hub: str, name: str, what: str, build: Callable[[CatalogSnapshot], list[Any]]) -> list[Any]:
        """A snapshot's items in chunking order, built once per (snapshot, kind) per process."""
        key = (hub, name, what)
        with self._lock:
            cached = self._items.get(key)
            if cached is not None:  # in use: the last to go (a long failover's stages outlive other pairs' plans)
                self._items.move_to_end(key)
            building = self._building.setdefault(key, threading.Lock())
        if cached is None:
            with building:  # the chunks of a wave start together: one builds, the others wait for it
                with self._lock:
                    cached = self._items.get(key)
                if cached is None:
                    cached = build(self.snapshot(hub, name))
                    with self._lock:
                        self._items[key] = cached
                        while len(self._items) > _SNAPSHOTS_KEPT * 8:
                            self._building.pop(oldest := next(iter(self._items)), None)
                            self._items.pop(oldest)
        return cached

    def pin_snapshot(self, snapshot: CatalogSnapshot) -> None:
        """Keep a snapshot just read (the plan's) for the activities after it, as ``snapshot`` would read it."""
        named = replace(snapshot, taken_at=snapshot.content_since, manifest_etag="", fallback=None)
        with self._lock:
            self._snapshots[(snapshot.hub, snapshot.name)] = named
            self._snapshots.move_to_end((snapshot.hub, snapshot.name))
            while len(self._snapshots) > _SNAPSHOTS_KEPT:
                self._snapshots.popitem(last=False)

    def recovery_stages(self, pair: HubPair, hub: str, name: str) -> list[RecoveryStage]:
        """A snapshot's recovery stages for a pair (recovery_order.py), built once per process."""
        return self.chunk_items(hub, name, f"stages:{pair.name}", lambda snapshot: stages_of(snapshot, pair, hub))

    def snapshot(self, hub: str, name: str) -> CatalogSnapshot:
        """A named snapshot: immutable once written, so safe to cache for the process's life."""
        key = (hub, name)
        with self._lock:
            cached = self._snapshots.get(key)
            if cached is not None:
                self._snapshots.move_to_end(key)
                return cached
        snapshot = self.catalog.read_snapshot(hub, name)
        with self._lock:
            self._snapshots[key] = snapshot
            while len(self._snapshots) > _SNAPSHOTS_KEPT:
                self._snapshots.popitem(last=False)
        return snapshot


_built: dict[tuple[str | None, ...], Services] = {}
_build_lock = threading.Lock()


def services(env: Mapping[str, str] | None = None) -> Services:
    settings = app_settings.Settings.from_env(env)
    key = (settings.failover_config, settings.dr_storage_connection, settings.dr_storage_account)
    with _build_lock:
        built = _built.get(key)
        if built is None:
            tables, blobs = table_service(settings), blob_service(settings)
            built = Services(settings=settings, config=load_config(env), pointers=PointerStore.from_service(tables),
                             catalog=CatalogStore.from_service(blobs), audit=AuditLog.from_service(tables),
                             journal=RecoveryJournal.from_service(tables),
                             pair_state=PairStateStore.from_service(tables),
                             alerts=AlertDeliveries.from_service(tables),
                             decisions=ApprovalDecisions.from_service(tables),
                             reports=ReportStore.from_service(blobs))
            _built[key] = built
        return built


def reset_services() -> None:
    """Forget built services (tests and drills that change settings within one process)."""
    with _build_lock:
        _built.clear()
