"""Which alert deliveries were already handled: action groups redeliver, we act once.

One row per (pair, delivery key), created before acting: the Table's create-if-absent is the
lock, so 1,000 concurrent deliveries of one alert act once. The delivery key is more than the
alertId (failover/domain/alerts.py: ``CommonAlert.delivery_key``) and is hashed into the RowKey
(alert ids are ARM ids, full of characters Table keys forbid). A delivery whose handling failed
is released, so the action group's retry can act.

Rows expire after ``ALERT_DEDUPE_TTL`` (8 days): an expired row no longer deduplicates and is
deleted on the pair's next delivery. A redelivery that late is stale anyway (older than
``policy.alert_max_age_minutes``, at most 7 days), so it is recorded, never acted on.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from failover.domain.config import ALERT_DEDUPE_TTL
from failover.stores.table_store import TableStore, table_key

ALERT_TABLE = "dralerts"
_MAX_KEY_CHARS = 4_000  # what is kept of the raw key, for the record
_PURGE_BATCH = 100


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _row(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class AlertDeliveries(TableStore):
    TABLE = ALERT_TABLE

    def claim(self, pair: str, key: str, at: datetime) -> bool:
        """True for the first delivery of ``key`` (or the first after its row expired); False for a redelivery."""
        self._ensure()
        entity = {"PartitionKey": table_key(pair), "RowKey": _row(key), "key": key[:_MAX_KEY_CHARS],
                  "received_at": _utc(at), "state": "handling"}
        try:
            self.table.create_entity(entity)
            return True
        except ResourceExistsError:
            pass
        try:
            found = self.table.get_entity(entity["PartitionKey"], entity["RowKey"])
        except ResourceNotFoundError:  # released in between: the next redelivery claims it
            return False
        if at - datetime.fromisoformat(found["received_at"]) < ALERT_DEDUPE_TTL:
            return False
        try:  # expired: take it over, unless a concurrent delivery did first
            self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=found.metadata["etag"],
                                     match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            return False
        return True

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
