"""Approval decisions in Table storage: one row per failover run, written once.

The approve/reject route inserts the row before it raises the `approval` event; the insert is
conditional (create, never upsert), so the first decision of a run wins and any later one, from
whoever, is refused. The orchestration reads the row back (activities.approval) before it acts.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from failover.domain.approvals import ApprovalRecord
from failover.stores.table_store import TableStore

DECISION_TABLE = "drdecisions"


class AlreadyDecided(Exception):
    """The run has a decision already: the one recorded first stands."""

    def __init__(self, existing: ApprovalRecord | None) -> None:
        super().__init__("a decision is already recorded for this run")
        self.existing = existing


def _row(run: str) -> str:
    # A run id holds characters a RowKey may not ('/', '#', '?' are possible in an instance id).
    return hashlib.sha256(run.encode()).hexdigest()


class ApprovalDecisions(TableStore):
    TABLE = DECISION_TABLE

    def record(self, *, pair: str, instance_id: str, run: str, decision: Literal["approve", "reject"], by: str,
               identity: dict[str, Any], comment: str, at: datetime) -> ApprovalRecord:
        """Insert the run's decision. Raises AlreadyDecided when the run has one."""
        self._ensure()
        record = ApprovalRecord(decision_id=uuid.uuid4().hex, pair=pair, instance_id=instance_id, run=run,
                                decision=decision, by=by, identity=identity, comment=comment, at=at)
        try:
            self.table.create_entity({"PartitionKey": pair, "RowKey": _row(run), "decision_id": record.decision_id,
                                      "decision": decision, "by": by, "run": run, "record": record.model_dump_json()})
        except ResourceExistsError:
            raise AlreadyDecided(self.read(pair, run)) from None
        return record

    def read(self, pair: str, run: str) -> ApprovalRecord | None:
        self._ensure()
        try:
            entity = self.table.get_entity(pair, _row(run))
        except ResourceNotFoundError:
            return None
        return ApprovalRecord.model_validate_json(entity["record"])

    def withdraw(self, record: ApprovalRecord) -> bool:
        """Delete this record (and no later one) when its event could not be delivered, so a retry can decide."""
        self._ensure()
        try:
            entity = self.table.get_entity(record.pair, _row(record.run))
            if entity["decision_id"] != record.decision_id:
                return False
            self.table.delete_entity(record.pair, _row(record.run), etag=entity.metadata["etag"],
                                     match_condition=MatchConditions.IfNotModified)
        except (ResourceNotFoundError, ResourceModifiedError):
            return False
        return True
