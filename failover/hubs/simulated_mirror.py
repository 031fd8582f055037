"""ARM mode's in-memory copy of a simulated hub: so the simulator keeps up with ARM's rates on two cores.

A failover at ten times ARM's default rates sends about 270 requests a second. Answered from
Azurite, each costs the simulator some 5 ms of Python in the Tables SDK plus Azurite's own time:
more than a 2-core machine has, so the benchmark would measure the simulator, not the run. While
a hub models ARM (faults ``arm=1``), it answers from this copy instead: loaded from Azurite once
when ARM mode starts, changed by this instance's writes (with the same create-once and ETag rules
as the table), which reach Azurite (in entity group transactions of 100) when ARM mode ends or an
admin helper (counts, write_count, seed...) runs. The modelled latency stands for the service's
time either way.

Consistency is one process's view: while ARM mode is on, another process's writes to the same
hub are not seen, and this one's reach Azurite only when it ends (a killed process loses them).
ARM mode models the throughput of one worker process (the benchmark, a drill); crash drills and
multi-process drills keep it off.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import TableClient, TableEntity, UpdateMode

BATCH = 100  # entity group transaction limit
_etags = itertools.count(1)


def _row(entity: dict[str, Any]) -> TableEntity:
    row = TableEntity(entity)
    row._metadata = {"etag": f'W/"mirror-{next(_etags)}"', "timestamp": datetime.now(UTC)}  # as Azurite stamps
    return row


class HubMirror:
    """One hub partition in memory, written back to its table in batches."""

    def __init__(self, table: TableClient, partition: str) -> None:
        self._table = table
        self._rows: dict[str, TableEntity] = {
            str(e["RowKey"]): e for e in table.query_entities("PartitionKey eq @pk", parameters={"pk": partition})}
        self._pending: dict[str, dict[str, Any]] = {}  # RowKey -> the row as it must reach the table
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # flushes reach the table in order

    def entity(self, row_key: str) -> TableEntity | None:
        """The row as the table would return it (metadata included); callers must not change it."""
        with self._lock:
            return self._rows.get(row_key)

    def get(self, row_key: str) -> dict[str, Any] | None:
        row = self.entity(row_key)
        return dict(row) if row is not None else None

    def scan(self, prefix: str) -> Iterator[TableEntity]:
        with self._lock:
            rows = [row for key, row in self._rows.items() if key.startswith(prefix)]
        yield from sorted(rows, key=lambda r: str(r["RowKey"]))

    def create(self, entity: dict[str, Any]) -> bool:
        """Add ``entity`` unless its RowKey is taken; False when it is."""
        key = str(entity["RowKey"])
        with self._lock:
            if key in self._rows:
                return False
            self._rows[key] = _row(entity)
            self._pending[key] = dict(entity)
        return True

    def update(self, entity: dict[str, Any], *, mode: UpdateMode, etag: str | None) -> None:
        """Replace or merge a row if it is unchanged since ``etag``; ResourceModifiedError otherwise."""
        key = str(entity["RowKey"])
        with self._lock:
            current = self._rows.get(key)
            if current is None or current.metadata["etag"] != etag:
                raise ResourceModifiedError("the row changed since it was read")
            updated = dict(entity) if mode is UpdateMode.REPLACE else {**current, **entity}
            self._rows[key] = _row(updated)
            self._pending[key] = updated

    def flush(self) -> None:
        """Every pending write to the table, in batches."""
        with self._lock:
            entities, self._pending = list(self._pending.values()), {}
        with self._write_lock:
            for start in range(0, len(entities), BATCH):
                self._table.submit_transaction([("upsert", e, {"mode": UpdateMode.REPLACE})
                                                for e in entities[start:start + BATCH]])
