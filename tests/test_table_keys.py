"""Keys built from outside input (alert ids, rule names, principals, pair names) on real Azurite.

Table storage forbids ``/ \\ # ?`` and control characters in keys (Azurite answers 500, Azure 400), and
every Azure Monitor alert id is an ARM id. Every store that keys on outside text goes through
``table_key``; these tests write arbitrary text through the stores and read it back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.data.tables import TableServiceClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failover.domain.config import ALERT_DEDUPE_TTL, ALERT_MAX_AGE_LIMIT_MINUTES
from failover.stores.alert_deliveries import HANDLING_LEASE, AlertDeliveries, Claim
from failover.stores.audit import AuditLog
from failover.stores.journal import RecoveryJournal
from failover.stores.table_store import table_key
from replayhost.azurite import AzuriteEndpoints

# Real alert ids from Microsoft's samples (tests/samples/azure_monitor), and the characters Table keys refuse.
ALERT_IDS = [
    "/subscriptions/<subscription ID>/providers/Microsoft.AlertsManagement/alerts/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
    "/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/resourceGroups/test-RG/providers/microsoft.insights/"
    "activityLogAlerts/Test_Alert",
    "a#b?c\\d/e\x00f\x1fg\x7fh%i'j~k",
    "lone \ud800 surrogate",
    "x" * 1024,
]
TEXT = st.text(max_size=300) | st.sampled_from(ALERT_IDS)
KEY_SAFE = st.text(alphabet=st.characters(blacklist_characters="/\\#?%'~", blacklist_categories=["Cc", "Cs"]),
                   min_size=1, max_size=255)


def tables(azurite: AzuriteEndpoints) -> TableServiceClient:
    return TableServiceClient.from_connection_string(azurite.connection_string)


@given(KEY_SAFE)
def test_a_safe_key_is_kept_as_it_is(text: str) -> None:
    assert table_key(text) == text


@given(TEXT, TEXT)
def test_keys_are_deterministic_safe_and_distinct(a: str, b: str) -> None:
    for text in (a, b):
        key = table_key(text)
        assert key == table_key(text) and len(key.encode("utf-8")) <= 1024
        assert not any(c in key for c in "/\\#?") and all(ord(c) >= 32 and not 127 <= ord(c) <= 159 for c in key)
    assert (table_key(a) == table_key(b)) == (a == b)


def test_audit_records_under_any_key_actor_and_pair(azurite: AzuriteEndpoints, unique_name: str) -> None:
    audit = AuditLog.from_service(tables(azurite), unique_name)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(TEXT, st.text(max_size=200), st.sampled_from(["unmapped", "ml-prod", "p/with#slash"]))
    def record(key: str, actor: str, pair: str) -> None:
        written = audit.record(pair, key, "alert_recorded", actor=actor, outcome="resolved", detail={"k": key})
        again = audit.record(pair, key, "alert_recorded", actor=actor, outcome="resolved", detail={"k": key})
        assert written.key == again.key == key
        found = [r for r in audit.list(pair, "alert_recorded") if r.key == key]
        assert len(found) == 1 and found[0].detail == {"k": key} and found[0].pair == pair  # one row, raw key kept

    record()


def test_alert_deliveries_claim_once_per_key_whatever_it_holds(azurite: AzuriteEndpoints, unique_name: str) -> None:
    deliveries = AlertDeliveries.from_service(tables(azurite), unique_name)
    now = datetime(2030, 1, 1, tzinfo=UTC)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(TEXT)
    def claim(key: str) -> None:
        deliveries.release("ml-prod", key)  # hypothesis may repeat an example
        assert deliveries.claim("ml-prod", key, now) is Claim.NEW
        assert deliveries.claim("ml-prod", key, now + timedelta(minutes=1)) is Claim.IN_FLIGHT  # being handled
        deliveries.finish("ml-prod", key, "recorded")
        assert deliveries.claim("ml-prod", key, now + timedelta(days=1)) is Claim.DUPLICATE

    claim()


def test_dedupe_rows_expire_after_the_ttl_and_are_purged(azurite: AzuriteEndpoints, unique_name: str) -> None:
    deliveries = AlertDeliveries.from_service(tables(azurite), unique_name)
    first = datetime(2030, 1, 1, tzinfo=UTC)
    assert timedelta(minutes=ALERT_MAX_AGE_LIMIT_MINUTES) < ALERT_DEDUPE_TTL  # an expired row's alert is stale
    assert deliveries.claim("ml-prod", ALERT_IDS[0], first) is Claim.NEW
    assert deliveries.claim("ml-prod", ALERT_IDS[1], first + timedelta(days=5)) is Claim.NEW
    for key in ALERT_IDS[:2]:
        deliveries.finish("ml-prod", key, "recorded")
    assert deliveries.claim("ml-prod", ALERT_IDS[0], first + ALERT_DEDUPE_TTL - timedelta(seconds=1)) is (
        Claim.DUPLICATE)
    # past the TTL the row no longer deduplicates: the delivery is new (and stale: recorded, never acted on)
    assert deliveries.claim("ml-prod", ALERT_IDS[0], first + ALERT_DEDUPE_TTL + timedelta(seconds=1)) is Claim.NEW
    assert deliveries.claim("ml-prod", ALERT_IDS[2], first) is Claim.NEW
    later = first + ALERT_DEDUPE_TTL + timedelta(days=1)
    assert deliveries.purge_expired("ml-prod", later) == 1  # ALERT_IDS[2]; the others are younger than the TTL
    assert deliveries.purge_expired("ml-prod", later) == 0
    assert deliveries.claim("ml-prod", ALERT_IDS[2], later) is Claim.NEW  # purged: a new first delivery


def test_a_delivery_being_handled_is_in_flight_until_its_lease_lapses(azurite: AzuriteEndpoints,
                                                                      unique_name: str) -> None:
    """A handler that died (worker recycled mid-call) leaves its row "handling": after HANDLING_LEASE the next
    delivery takes it over instead of being told "duplicate" for 8 days."""
    deliveries = AlertDeliveries.from_service(tables(azurite), unique_name)
    first = datetime(2030, 1, 1, tzinfo=UTC)
    assert deliveries.claim("ml-prod", ALERT_IDS[1], first) is Claim.NEW
    assert deliveries.claim("ml-prod", ALERT_IDS[1], first + HANDLING_LEASE - timedelta(seconds=1)) is (
        Claim.IN_FLIGHT)
    assert deliveries.claim("ml-prod", ALERT_IDS[1], first + HANDLING_LEASE) is Claim.NEW  # taken over
    assert deliveries.claim("ml-prod", ALERT_IDS[1], first + HANDLING_LEASE) is Claim.IN_FLIGHT  # by that one
    deliveries.finish("ml-prod", ALERT_IDS[1], "started")
    assert deliveries.claim("ml-prod", ALERT_IDS[1], first + 2 * HANDLING_LEASE) is Claim.DUPLICATE


def test_the_journal_keys_any_run_and_scope(azurite: AzuriteEndpoints, unique_name: str) -> None:
    journal = RecoveryJournal.from_service(tables(azurite), unique_name)
    for text in ALERT_IDS:
        assert journal.remember(text, text, lambda: {"states": ["absent"]}) == {"states": ["absent"]}
        assert journal.remember(text, text, lambda: {"states": ["present"]}) == {"states": ["absent"]}
    assert journal.remember("run/a", "s", lambda: {"v": 1}) != journal.remember("run_a", "s", lambda: {"v": 2})
