"""The client resolver through a storage blip: secondary endpoint, last-known-good, never an older generation.

Azurite serves the RA-GZRS secondary endpoint path-style (``/<account>-secondary``); a second
Azurite process stands in for a DR account that goes away; a closed loopback port for a primary
endpoint that refuses connections.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient

from failover.domain.config import FailoverConfig
from failover.domain.settings import Settings
from failover.stores.pointer import (
    RESOLVER_CLIENT_OPTIONS,
    ActiveHubResolver,
    PointerSource,
    PointerStore,
    PointerUnavailable,
    active_hub_resolution,
)
from failover.stores.storage import secondary_table_service, table_service
from replayhost.azurite import Azurite, AzuriteEndpoints
from tests.key_vault_emulator import StaticTokenCredential
from tests.local_transport import LocalTransport
from tests.waiting import patience


def hub(name: str) -> dict:
    return {"name": name, "subscription_id": "aaaaaaaa-0000-0000-0000-000000000001", "resource_group": f"rg-{name}",
            "workspace_name": f"ws-{name}", "region": "swedencentral"}


KEY = AzureNamedKeyCredential("devstoreaccount1", "a2V5")
CONFIG = FailoverConfig.model_validate({"pairs": [
    {"name": "ml", "mode": "hot-warm", "primary": hub("east"), "secondary": hub("west")}]})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed: connection refused


def settings_with(azurite: AzuriteEndpoints, table_endpoint: str, secondary: str | None = None) -> Settings:
    conn = (f"DefaultEndpointsProtocol=http;AccountName={azurite.account};AccountKey={azurite.key};"
            f"TableEndpoint={table_endpoint};" + (f"TableSecondaryEndpoint={secondary};" if secondary else ""))
    return Settings.from_env({"DR_STORAGE_CONNECTION": conn})


def flip(store: PointerStore, times: int) -> None:
    store.ensure("ml", "east", "west")
    for _ in range(times):
        p = store.read("ml")
        store.flip("ml", expected_active=p.active, expected_generation=p.generation, to=p.standby,
                   by=f"t{p.generation}", reason="test")


@pytest.fixture
def dr_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """A DR storage account of its own, so the test can take it away."""
    emulator = Azurite(data_dir=tmp_path_factory.mktemp("dr-account"))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def test_the_secondary_endpoint_answers_when_the_primary_refuses(azurite: AzuriteEndpoints, unique_name: str) -> None:
    flip(PointerStore(TableClient.from_connection_string(azurite.connection_string, unique_name)), 1)
    dead = f"http://127.0.0.1:{closed_port()}/{azurite.account}"
    settings = settings_with(azurite, dead, f"{azurite.table_url}-secondary")
    resolver = ActiveHubResolver(
        CONFIG, PointerStore.from_service(table_service(settings, **RESOLVER_CLIENT_OPTIONS), unique_name),
        secondary=PointerStore.from_service(secondary_table_service(settings, **RESOLVER_CLIENT_OPTIONS),
                                            unique_name))
    started = time.monotonic()
    answer = active_hub_resolution("ml", resolver)
    assert time.monotonic() - started < 10  # fails fast: clients ask on every call
    assert (answer.hub.name, answer.generation, answer.source) == ("west", 1, PointerSource.SECONDARY)
    assert answer.stale and answer.errors and answer.errors[0].startswith("primary: ServiceRequestError")
    assert answer.to_dict()["source"] == "secondary"


def test_the_secondary_endpoint_is_derived_from_the_primary(azurite: AzuriteEndpoints, unique_name: str) -> None:
    flip(PointerStore(TableClient.from_connection_string(azurite.connection_string, unique_name)), 2)
    derived = secondary_table_service(Settings.from_env({"DR_STORAGE_CONNECTION": azurite.connection_string}))
    assert derived.url.rstrip("/").endswith(f"/{azurite.account}-secondary")
    assert PointerStore.from_service(derived, unique_name).read("ml").generation == 2  # Azurite serves it
    managed = secondary_table_service(Settings.from_env({"DR_STORAGE_ACCOUNT": "stdrprod"}),
                                      credential=StaticTokenCredential())
    assert managed.url.startswith("https://stdrprod-secondary.table.core.windows.net")
    host_style = Settings.from_env({"DR_STORAGE_CONNECTION": "DefaultEndpointsProtocol=https;AccountName=stdr;"
                                                             "AccountKey=a2V5;EndpointSuffix=core.windows.net"})
    assert secondary_table_service(host_style).url.startswith("https://stdr-secondary.table.core.windows.net")


def test_last_known_good_is_served_with_its_age_when_the_account_is_gone(dr_account: Azurite) -> None:
    assert dr_account.endpoints is not None
    conn = dr_account.endpoints.connection_string
    store = PointerStore(TableClient.from_connection_string(conn, "drpointers", **RESOLVER_CLIENT_OPTIONS))
    secondary = PointerStore.from_service(
        secondary_table_service(Settings.from_env({"DR_STORAGE_CONNECTION": conn}), **RESOLVER_CLIENT_OPTIONS),
        "drpointers")
    flip(store, 1)
    clock = Clock()
    resolver = ActiveHubResolver(CONFIG, store, ttl=10.0, clock=clock, secondary=secondary)
    fresh = resolver.resolution("ml")
    assert (fresh.hub.name, fresh.source, fresh.age_seconds, fresh.stale) == ("west", PointerSource.PRIMARY, 0.0,
                                                                              False)
    dr_account.stop()  # the DR storage account blips: both endpoints gone
    clock.now += 25
    served = resolver.resolution("ml")
    assert (served.hub.name, served.generation, served.source) == ("west", 1, PointerSource.LAST_KNOWN_GOOD)
    assert served.age_seconds == 25 and served.stale and served.read_at == fresh.read_at
    assert [e.split(":")[0] for e in served.errors] == ["primary", "secondary"]
    clock.now += 5
    assert resolver.resolution("ml").age_seconds == 30  # cached for ttl, still aging
    assert resolver.resolve("ml").name == "west"  # every client keeps working


def test_an_older_generation_is_never_served(azurite: AzuriteEndpoints, unique_name: str) -> None:
    """The secondary lags: it still shows generation 1 when this process has seen generation 2."""
    live = PointerStore(TableClient.from_connection_string(azurite.connection_string, unique_name))
    lagging = PointerStore(TableClient.from_connection_string(azurite.connection_string, unique_name + "lag"))
    flip(lagging, 1)  # the replica's copy: west at generation 1
    flip(live, 2)  # the primary: east again, generation 2
    clock = Clock()
    resolver = ActiveHubResolver(CONFIG, live, ttl=10.0, clock=clock, secondary=lagging)
    assert resolver.resolution("ml").generation == 2
    dead = PointerStore(TableClient(f"http://127.0.0.1:{closed_port()}/{azurite.account}", unique_name,
                                    credential=KEY, **RESOLVER_CLIENT_OPTIONS))
    resolver.store = dead  # the primary endpoint now refuses
    clock.now += 11
    served = resolver.resolution("ml")
    assert (served.hub.name, served.generation, served.source) == ("east", 2, PointerSource.LAST_KNOWN_GOOD)
    assert any("generation 1 is older than generation 2 already seen" in e for e in served.errors)


def test_nothing_answered_and_nothing_known_is_an_error_naming_the_sources(unique_name: str) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/devstoreaccount1"
    resolver = ActiveHubResolver(
        CONFIG, PointerStore(TableClient(dead, unique_name, credential=KEY, **RESOLVER_CLIENT_OPTIONS)),
        secondary=PointerStore(TableClient(dead + "-secondary", unique_name, credential=KEY,
                                           **RESOLVER_CLIENT_OPTIONS)))
    with pytest.raises(PointerUnavailable, match=r"no endpoint answered \(primary: ServiceRequestError; "
                                                 r"secondary: ServiceRequestError\)"):
        resolver.resolve("ml")


def test_a_pair_without_a_pointer_resolves_to_its_primary_from_either_endpoint(azurite: AzuriteEndpoints,
                                                                               unique_name: str) -> None:
    settings = settings_with(azurite, f"http://127.0.0.1:{closed_port()}/{azurite.account}",
                             f"{azurite.table_url}-secondary")
    resolver = ActiveHubResolver(
        CONFIG, PointerStore.from_service(table_service(settings, **RESOLVER_CLIENT_OPTIONS), unique_name),
        secondary=PointerStore.from_service(secondary_table_service(settings, **RESOLVER_CLIENT_OPTIONS), unique_name))
    answer = resolver.resolution("ml")
    assert (answer.hub.name, answer.generation, answer.source) == ("east", 0, PointerSource.SECONDARY)


class _Refusing(LocalTransport):
    """A primary endpoint that refuses every connection, counting the attempts."""

    def __init__(self) -> None:
        self.attempts = 0

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def,override]
        self.attempts += 1
        raise ServiceRequestError("connection refused")


def test_a_failed_endpoint_is_skipped_for_a_while_and_the_change_is_logged_once(
        azurite: AzuriteEndpoints, unique_name: str, caplog: pytest.LogCaptureFixture) -> None:
    flip(PointerStore(TableClient.from_connection_string(azurite.connection_string, unique_name)), 1)
    refusing = _Refusing()
    primary = PointerStore(TableClient(azurite.table_url, unique_name, credential=KEY, transport=refusing,
                                       **RESOLVER_CLIENT_OPTIONS))
    secondary = PointerStore.from_service(secondary_table_service(
        Settings.from_env({"DR_STORAGE_CONNECTION": azurite.connection_string})), unique_name)
    clock = Clock()
    resolver = ActiveHubResolver(CONFIG, primary, ttl=10.0, clock=clock, secondary=secondary, retry_after=30.0)
    with caplog.at_level("WARNING", logger="failover.stores.pointer"):
        assert resolver.resolution("ml").source is PointerSource.SECONDARY
        assert refusing.attempts == 1  # no SDK retry (RESOLVER_CLIENT_OPTIONS): the secondary is the retry
        clock.now += 11  # cache expired, primary still in its 30 s penalty: no client waits on it
        answer = resolver.resolution("ml")
        assert answer.source is PointerSource.SECONDARY and refusing.attempts == 1
        assert "primary: skipped" in answer.errors[0]
        clock.now += 25  # past the penalty: the primary is tried again
        resolver.resolution("ml")
        assert refusing.attempts == 2
    changes = [r.getMessage() for r in caplog.records]
    assert len(changes) == 1 and changes[0].startswith("pointer ml: now answered by secondary")


class _SlowFailingFor(RequestsTransport):
    """The primary endpoint during a blip: the named thread's read hangs until released, then fails; every
    other thread's read gets through to Azurite."""

    def __init__(self, thread: str, release: threading.Event) -> None:
        super().__init__()
        self.thread, self.release = thread, release
        self.held = threading.Event()

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def,override]
        if threading.current_thread().name == self.thread:
            self.held.set()
            self.release.wait(patience(30))
            raise ServiceRequestError("connection reset")
        return super().send(request, **kwargs)


def test_a_slow_failure_never_overwrites_a_newer_generation_another_thread_saw(azurite: AzuriteEndpoints,
                                                                             unique_name: str) -> None:
    """Two clients of one process during a blip, just after a flip: one reads generation 2 from the primary
    while the other's primary read hangs and fails; that one falls to the lagging secondary (generation 1). It
    must not serve generation 1, nor make it the process's last-known-good or cached answer."""
    live = TableClient.from_connection_string(azurite.connection_string, unique_name)
    lagging = PointerStore(TableClient.from_connection_string(azurite.connection_string, unique_name + "lag"))
    flip(lagging, 1)
    flip(PointerStore(live), 2)
    release = threading.Event()
    transport = _SlowFailingFor("slow-client", release)
    primary = PointerStore(TableClient(azurite.table_url, unique_name, credential=AzureNamedKeyCredential(
        azurite.account, azurite.key), transport=transport, **RESOLVER_CLIENT_OPTIONS))
    clock = Clock()
    resolver = ActiveHubResolver(CONFIG, primary, ttl=10.0, clock=clock, secondary=lagging)
    answers: dict[str, int] = {}
    slow = threading.Thread(target=lambda: answers.update(slow=resolver.resolution("ml").generation),
                            name="slow-client")
    slow.start()
    assert transport.held.wait(patience(30))
    assert resolver.resolution("ml").generation == 2  # the other client: the primary answered
    release.set()
    slow.join(patience(30))
    assert answers == {"slow": 2}
    assert resolver.resolution("ml").generation == 2  # the cache holds the newest generation seen
    clock.now += 11
    resolver.store = lagging  # and later answers never go back either
    assert resolver.resolution("ml").generation == 2
