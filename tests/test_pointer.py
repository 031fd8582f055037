from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.data.tables import TableClient, TableServiceClient

from failover.domain.config import FailoverConfig
from failover.domain.settings import Settings
from failover.stores.pointer import (
    ActiveHubResolver,
    FlipOutcome,
    FlipResult,
    InvalidFlip,
    PointerNotFound,
    PointerStore,
    ml_client_for_active_hub,
)
from failover.stores.storage import StorageNotConfigured, blob_service, table_service
from replayhost.azurite import AzuriteEndpoints
from tests.local_transport import LocalTransport


def hub(name: str, workspace: str) -> dict:
    return {"name": name, "subscription_id": "aaaaaaaa-0000-0000-0000-000000000001",
            "resource_group": f"rg-{name}", "workspace_name": workspace, "region": "swedencentral"}


CONFIG = FailoverConfig.model_validate({"pairs": [
    {"name": "ml", "mode": "hot-warm", "primary": hub("east", "ws-east"), "secondary": hub("west", "ws-west")},
]})


def store_for(azurite: AzuriteEndpoints, table: str) -> PointerStore:
    return PointerStore(TableClient.from_connection_string(azurite.connection_string, table))


@pytest.fixture
def store(azurite: AzuriteEndpoints, unique_name: str) -> PointerStore:
    return store_for(azurite, unique_name)


def test_ensure_creates_once_and_never_overwrites(store: PointerStore) -> None:
    first = store.ensure("ml", "east", "west")  # also creates the table on first use
    assert (first.active, first.standby, first.generation, first.changed_by) == ("east", "west", 0, "ensure")
    assert first.changed_at.endswith("Z") and datetime.fromisoformat(first.changed_at).tzinfo is not None
    again = store.ensure("ml", "west", "east")  # 409: the stored pointer stands
    assert again == first
    assert store.read("ml") == first


def test_read_of_unknown_pair(store: PointerStore) -> None:
    store.ensure("other", "a", "b")
    with pytest.raises(PointerNotFound, match="'ml'"):
        store.read("ml")


def test_generation_is_stored_as_int64(store: PointerStore) -> None:
    store.ensure("ml", "east", "west")
    raw = store.table.get_entity("ml", "pointer")
    assert raw["generation"].edm_type == "Edm.Int64"


def test_flip_once_then_replay_then_stale(store: PointerStore) -> None:
    p0 = store.ensure("ml", "east", "west")
    result = store.flip("ml", expected_active="east", expected_generation=0, to="west", by="failover-ml:1",
                        reason="primary down")
    assert result.outcome is FlipOutcome.FLIPPED and result.ok
    stored = store.read("ml")
    assert result.pointer == stored
    assert (stored.active, stored.standby, stored.generation, stored.changed_by, stored.reason) == (
        "west", "east", 1, "failover-ml:1", "primary down")
    assert stored.etag != p0.etag

    replay = store.flip("ml", expected_active="east", expected_generation=0, to="west", by="failover-ml:1",
                        reason="primary down")
    assert replay.outcome is FlipOutcome.ALREADY_FLIPPED and replay.ok
    assert store.read("ml").etag == stored.etag  # no write

    other = store.flip("ml", expected_active="east", expected_generation=0, to="west", by="failover-ml:2",
                       reason="duplicate instance")
    assert other.outcome is FlipOutcome.REFUSED_STALE and not other.ok
    assert other.pointer == stored and store.read("ml").etag == stored.etag

    # a stale instance that read generation 0 can't flip back either
    back = store.flip("ml", expected_active="west", expected_generation=0, to="east", by="failover-ml:3",
                      reason="stale failback")
    assert back.outcome is FlipOutcome.REFUSED_STALE
    assert store.read("ml") == stored

    # the current generation may flip back (failback)
    failback = store.flip("ml", expected_active="west", expected_generation=1, to="east", by="failback-ml:1",
                          reason="primary healthy")
    assert failback.outcome is FlipOutcome.FLIPPED and failback.pointer.generation == 2
    assert FlipResult.from_dict(failback.to_dict()) == failback


def test_flip_arguments_that_make_no_sense(store: PointerStore) -> None:
    store.ensure("ml", "east", "west")
    with pytest.raises(InvalidFlip):
        store.flip("ml", expected_active="east", expected_generation=0, to="east", by="x", reason="r")
    with pytest.raises(InvalidFlip, match="not the standby"):
        store.flip("ml", expected_active="east", expected_generation=0, to="north", by="x", reason="r")
    with pytest.raises(PointerNotFound):
        store.flip("nope", expected_active="east", expected_generation=0, to="west", by="x", reason="r")
    assert store.read("ml").generation == 0


class _InterleavingTable(TableClient):
    """The real SDK client; before our first CAS, another writer touches an unfenced field."""

    interleaved = 0

    def update_entity(self, entity, *args, **kwargs):  # type: ignore[override]
        if entity.get("changed_by") == "b" and self.interleaved == 0:
            self.interleaved += 1
            other = TableClient.from_connection_string(self._conn, self.table_name)
            current = other.get_entity("ml", "pointer")
            current["note"] = "operator looked at it"
            other.update_entity(current)
        return super().update_entity(entity, *args, **kwargs)


def test_flip_retries_when_only_unfenced_fields_changed(azurite: AzuriteEndpoints, unique_name: str) -> None:
    """A 412 from a write that left active/generation alone is not a lost race: re-read, CAS again."""
    table = _InterleavingTable.from_connection_string(azurite.connection_string, unique_name)
    table._conn = azurite.connection_string  # type: ignore[attr-defined]
    store = PointerStore(table)
    store.ensure("ml", "east", "west")
    result = store.flip("ml", expected_active="east", expected_generation=0, to="west", by="b", reason="r")
    assert table.interleaved == 1
    assert result.outcome is FlipOutcome.FLIPPED
    stored = store.read("ml")
    assert (stored.generation, stored.active, stored.etag) == (1, "west", result.pointer.etag)


def _race(azurite: AzuriteEndpoints, table: str, n: int, attempts: int) -> dict[str, list[FlipOutcome]]:
    barrier = threading.Barrier(n)
    outcomes: dict[str, list[FlipOutcome]] = {}
    errors: list[BaseException] = []

    def flipper(i: int) -> None:
        mine = store_for(azurite, table)  # its own TableClient, like separate workers
        by = f"failover-ml:{i}"
        try:
            barrier.wait()
            outcomes[by] = [mine.flip("ml", expected_active="east", expected_generation=0, to="west", by=by,
                                      reason="race").outcome for _ in range(attempts)]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=flipper, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return outcomes


def test_twenty_concurrent_flippers_one_wins(azurite: AzuriteEndpoints, unique_name: str) -> None:
    store = store_for(azurite, unique_name)
    store.ensure("ml", "east", "west")
    outcomes = _race(azurite, unique_name, 20, attempts=1)
    firsts = [o[0] for o in outcomes.values()]
    assert firsts.count(FlipOutcome.FLIPPED) == 1
    assert firsts.count(FlipOutcome.REFUSED_STALE) == 19
    final = store.read("ml")
    assert final.generation == 1 and final.active == "west"
    assert outcomes[final.changed_by] == [FlipOutcome.FLIPPED]


def test_concurrent_flippers_that_retry_their_own_flip(azurite: AzuriteEndpoints, unique_name: str) -> None:
    store = store_for(azurite, unique_name)
    store.ensure("ml", "east", "west")
    outcomes = _race(azurite, unique_name, 20, attempts=3)  # each flip, then two replays of it
    final = store.read("ml")
    assert final.generation == 1
    winner = final.changed_by
    assert outcomes[winner] == [FlipOutcome.FLIPPED, FlipOutcome.ALREADY_FLIPPED, FlipOutcome.ALREADY_FLIPPED]
    for by, got in outcomes.items():
        if by != winner:
            assert got == [FlipOutcome.REFUSED_STALE] * 3, (by, got)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_resolver_follows_a_flip_after_its_ttl(store: PointerStore) -> None:
    clock = _Clock()
    resolver = ActiveHubResolver(CONFIG, store, ttl=10.0, clock=clock)
    assert resolver.resolve("ml").name == "east"  # no pointer yet: the configured primary
    store.ensure("ml", "east", "west")
    store.flip("ml", expected_active="east", expected_generation=0, to="west", by="b", reason="r")
    clock.now += 9.9
    assert resolver.resolve("ml").name == "east"  # cached
    clock.now += 0.2
    west = resolver.resolve("ml")
    assert west == CONFIG.pair("ml").secondary
    store.flip("ml", expected_active="west", expected_generation=1, to="east", by="b2", reason="r")
    resolver.invalidate("ml")
    assert resolver.resolve("ml").name == "east"
    with pytest.raises(KeyError, match="no hub pair named"):
        resolver.resolve("unknown")


class _NoNetwork(LocalTransport):
    """Any request at all fails the test."""

    requests: list[object] = []

    def send(self, request, **kwargs):  # type: ignore[override]
        self.requests.append(request)
        raise ServiceRequestError("network is not allowed in this test")


class _NoToken:
    def get_token(self, *scopes: str, **kwargs: object):
        raise AssertionError("no token may be requested at construction")


@pytest.mark.filterwarnings("ignore:The `ordered` `class Meta` option is deprecated")
def test_ml_client_for_the_active_hub_without_network(store: PointerStore) -> None:
    store.ensure("ml", "east", "west")
    store.flip("ml", expected_active="east", expected_generation=0, to="west", by="b", reason="r")
    resolver = ActiveHubResolver(CONFIG, store)
    transport = _NoNetwork()
    client = ml_client_for_active_hub("ml", _NoToken(), resolver=resolver, transport=transport)
    assert client.workspace_name == "ws-west"
    assert client.resource_group_name == "rg-west"
    assert client.subscription_id == "aaaaaaaa-0000-0000-0000-000000000001"
    assert transport.requests == []


def test_storage_clients_from_settings(azurite: AzuriteEndpoints) -> None:
    local = Settings.from_env({"DR_STORAGE_CONNECTION": azurite.connection_string})
    assert table_service(local).url.startswith(azurite.table_url)
    assert list(table_service(local).list_tables()) is not None  # talks to Azurite
    assert blob_service(local).url.startswith(azurite.blob_url)
    cloud = Settings.from_env({"DR_STORAGE_ACCOUNT": "drstore01"})
    assert table_service(cloud, credential=_NoToken()).url.startswith("https://drstore01.table.core.windows.net")
    assert blob_service(cloud, credential=_NoToken()).url.startswith("https://drstore01.blob.core.windows.net")
    assert isinstance(table_service(local), TableServiceClient)


def test_storage_settings_errors_name_the_setting_not_the_value() -> None:
    with pytest.raises(StorageNotConfigured, match=r"DR_STORAGE_CONNECTION.*DR_STORAGE_ACCOUNT"):
        table_service(Settings.from_env({}))
    with pytest.raises(StorageNotConfigured, match="DR_STORAGE_ACCOUNT: 'Bad_Name'"):
        blob_service(Settings.from_env({"DR_STORAGE_ACCOUNT": "Bad_Name"}))
    secret = "AccountName=x;AccountKey=c2VjcmV0"
    with pytest.raises(StorageNotConfigured) as info:
        table_service(Settings.from_env({"DR_STORAGE_CONNECTION": "garbage;" + secret}))
    assert "DR_STORAGE_CONNECTION" in str(info.value) and "c2VjcmV0" not in str(info.value)


def test_changed_at_comes_from_the_injected_clock(azurite: AzuriteEndpoints, unique_name: str) -> None:
    moment = datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    store = PointerStore(TableClient.from_connection_string(azurite.connection_string, unique_name),
                         clock=lambda: moment)
    assert store.ensure("ml", "east", "west").changed_at == "2030-01-02T03:04:05.600000Z"
