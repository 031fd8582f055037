"""Which alert deliveries were already handled: action groups redeliver, we act once.

One row per (pair, delivery key), created before acting: the Table's create-if-absent is the
lock, so 1,000 concurrent deliveries of one alert act once. The delivery key is more than the
alertId (failover/domain/alerts.py: ``CommonAlert.delivery_key``) and is hashed into the RowKey
(alert ids are ARM ids, full of characters Table keys forbid). A delivery whose handling failed
is released, so the action group's retry can act.

A delivery that finds its row still being handled is told so (``IN_FLIGHT``: the webhook answers
503, and the action group retries), not "duplicate": if that handling then fails, nobody else would
ever retry the alert. A row left "handling" longer than ``HANDLING_LEASE`` belongs to a delivery
that died (a worker recycled mid-call): the next delivery takes it over. Acting twice is safe; the
run claim and the cooldown still allow one start.

Rows expire after ``ALERT_DEDUPE_TTL`` (8 days): an expired row no longer deduplicates and is
deleted on the pair's next delivery. A redelivery that late is stale anyway (older than
``policy.alert_max_age_minutes``, at most 7 days), so it is recorded, never acted on.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from failover.domain.config import ALERT_DEDUPE_TTL
from failover.stores.table_store import TableStore, table_key

ALERT_TABLE = "dralerts"
_MAX_KEY_CHARS = 4_000  # what is kept of the raw key, for the record
_PURGE_BATCH = 100
_HANDLING = "handling"
HANDLING_LEASE = timedelta(minutes=2)  # handling takes seconds; a row "handling" this long was abandoned


class Claim(StrEnum):
    NEW = "new"  # this delivery acts
    DUPLICATE = "duplicate"  # handled already: nothing to do
    IN_FLIGHT = "in_flight"  # another delivery is handling it now: come back later


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _row(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class AlertDeliveries(TableStore):
    TABLE = ALERT_TABLE

    def claim(self, pair: str, key: str, at: datetime) -> Claim:
        """NEW for the first delivery of ``key`` (or the first after its row expired or its handler died)."""
        self._ensure()
        entity = {"PartitionKey": table_key(pair), "RowKey": _row(key), "key": key[:_MAX_KEY_CHARS],
                  "received_at": _utc(at), "state": _HANDLING}
        try:
            self.table.create_entity(entity)
            return Claim.NEW
        except ResourceExistsError:
            pass
        try:
            found = self.table.get_entity(entity["PartitionKey"], entity["RowKey"])
        except ResourceNotFoundError:  # released in between: the action group's retry claims it
            return Claim.IN_FLIGHT
        age = at - datetime.fromisoformat(found["received_at"])
        handling = found.get("state") == _HANDLING
        if age < ALERT_DEDUPE_TTL and not (handling and age >= HANDLING_LEASE):
            return Claim.IN_FLIGHT if handling else Claim.DUPLICATE
        try:  # expired, or abandoned: take it over, unless a concurrent delivery did first
            self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=found.metadata["etag"],
                                     match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            return Claim.IN_FLIGHT
        return Claim.NEW

    def finish(self, pair: str, key: str, outcome: str) -> None:
        self.table.update_entity({"PartitionKey": table_key(pair), "RowKey": _row(key), "state": outcome},
                                 mode=UpdateMode.MERGE)

    def release(self, pair: str, key: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self.table.delete_entity(table_key(pair), _row(key))

    def purge_expired(self, pair: str, now: datetime) -> int:
        """Delete up to a batch of the pair's expired rows; how many went."""
        self._ensure()
        cutoff = _utc(now - ALERT_DEDUPE_TTL)  # one format and offset: the string order is the time order
        rows = self.table.query_entities("PartitionKey eq @pair and received_at lt @cutoff",
                                         parameters={"pair": table_key(pair), "cutoff": cutoff},
                                         select=["PartitionKey", "RowKey"], results_per_page=_PURGE_BATCH)
        gone = 0
        for row in rows:
            with contextlib.suppress(ResourceNotFoundError):
                self.table.delete_entity(row["PartitionKey"], row["RowKey"])
            gone += 1
            if gone >= _PURGE_BATCH:
                break
        return gone
