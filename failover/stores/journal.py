"""The recovery journal: what each chunk found on the target before it wrote anything.

A chunk activity can run more than once (a crash, a host retry). Its first run classifies
every item (absent / present / conflict) and records that here *before* writing; every later
run reuses the record. So "recreated" and "already present" mean the same thing however
many times a chunk ran, and a crashed-and-resumed failover reports exactly what an
uninterrupted one does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from failover.stores.table_store import TableStore, table_key

JOURNAL_TABLE = "drjournal"


class RecoveryJournal(TableStore):
    TABLE = JOURNAL_TABLE

    def remember(self, run: str, scope: str, classify: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The first recorded classification of (run, scope); ``classify`` runs only if there is none."""
        self._ensure()
        partition, row = table_key(run), table_key(scope)
        try:
            return dict(json.loads(self.table.get_entity(partition, row)["data"]))
        except ResourceNotFoundError:
            pass
        found = classify()
        try:
            self.table.create_entity({"PartitionKey": partition, "RowKey": row, "data": json.dumps(found)})
        except ResourceExistsError:  # a concurrent run of the same chunk recorded first: its view wins
            return dict(json.loads(self.table.get_entity(partition, row)["data"]))
        return found
