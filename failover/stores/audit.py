"""The audit log: who did what to which pair, when, and how it ended. Table storage.

One row per (pair, instance or request, kind), written with upsert so a retried activity
records once. Records hold ids, counts and outcomes: never specs, never secret values. Keys
often come from outside (an alert id is an ARM id, full of ``/``): they go through
``table_key``, and the raw key is kept as a property.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.data.tables import TableClient, UpdateMode

from failover.domain.secrets import scrub_all
from failover.stores.table_store import TableStore, table_key

AUDIT_TABLE = "draudit"
_MAX_DETAIL_CHARS = 30_000  # a Table string property holds 32K UTF-16 code units


@dataclass(frozen=True)
class AuditRecord:
    pair: str
    key: str  # instance id or request id: the idempotency key
    kind: str  # failover, approval, alert, probe_decision, acknowledge, ...
    actor: str
    outcome: str
    at: str
    detail: dict[str, Any]


class AuditLog(TableStore):
    TABLE = AUDIT_TABLE

    def __init__(self, table: TableClient, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(table)
        self._now = clock or (lambda: datetime.now(UTC))

    def record(self, pair: str, key: str | None, kind: str, *, actor: str, outcome: str,
               detail: dict[str, Any] | None = None) -> AuditRecord:
        """Upsert one record. ``key`` makes a retried write land on the same row; None: a new event."""
        self._ensure()
        if key is None:
            key = f"{self._now().astimezone(UTC).isoformat()}-{uuid.uuid4().hex[:8]}"
        text = json.dumps(scrub_all(detail or {}), sort_keys=True, default=str)  # no secret, whatever the caller
        if len(text) > _MAX_DETAIL_CHARS:
            text = json.dumps({"truncated": True, "outcome": outcome, "chars": len(text)})
        at = self._now().astimezone(UTC).isoformat()
        self.table.upsert_entity({"PartitionKey": table_key(pair), "RowKey": table_key(f"{kind}|{key}"),
                                  "kind": kind, "key": key,
                                  "actor": actor, "outcome": outcome, "at": at, "detail": text},
                                 mode=UpdateMode.REPLACE)
        return AuditRecord(pair, key, kind, actor, outcome, at, json.loads(text))

    def list(self, pair: str, kind: str | None = None) -> list[AuditRecord]:
        self._ensure()
        query = "PartitionKey eq @pair" + (" and kind eq @kind" if kind else "")
        params = {"pair": table_key(pair), **({"kind": kind} if kind else {})}
        rows = self.table.query_entities(query, parameters=params)
        records = [AuditRecord(pair, e["key"], e["kind"], e["actor"], e["outcome"], e["at"],
                               json.loads(e["detail"])) for e in rows]
        return sorted(records, key=lambda r: r.at)
