"""Which alert deliveries were already handled: action groups redeliver, we act once.

One row per (pair, alertId, monitorCondition), created before acting: the Table's
create-if-absent is the lock, so 1,000 concurrent deliveries of one alert act once. A
delivery whose handling failed is released, so the action group's retry can act.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from failover.stores.table_store import TableStore

ALERT_TABLE = "dralerts"


def _row(alert_id: str, condition: str) -> str:
    return hashlib.sha256(f"{alert_id}|{condition}".encode()).hexdigest()


class AlertDeliveries(TableStore):
    TABLE = ALERT_TABLE

    def claim(self, pair: str, alert_id: str, condition: str, at: datetime) -> bool:
        """True for the first delivery of (alert, condition); False for every redelivery."""
        self._ensure()
        try:
            self.table.create_entity({"PartitionKey": pair, "RowKey": _row(alert_id, condition), "alert_id": alert_id,
                                      "condition": condition, "received_at": at.isoformat(), "state": "handling"})
        except ResourceExistsError:
            return False
        return True

    def finish(self, pair: str, alert_id: str, condition: str, outcome: str) -> None:
        self.table.update_entity({"PartitionKey": pair, "RowKey": _row(alert_id, condition), "state": outcome},
                                 mode=UpdateMode.MERGE)

    def release(self, pair: str, alert_id: str, condition: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self.table.delete_entity(pair, _row(alert_id, condition))
