"""Per-pair detection state in Table storage: probe streaks, the last failover, the cooldown.

One row per pair. Written by the health probe (streaks), the failover's audit activity (last
failover, cooldown) and operators (acknowledge); every write is a read-modify-write with an
ETag condition, so a probe and an acknowledgement at the same moment can't lose each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from failover.stores.table_store import TableStore

PAIR_STATE_TABLE = "drpairstate"
_ROW = "state"
_CAS_ATTEMPTS = 20


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class HubStreak:
    """Consecutive probe results of one hub (one of failures/successes is always 0)."""

    failures: int = 0
    successes: int = 0
    failing_since: datetime | None = None  # first failure of the current failure streak
    last_ok: bool | None = None
    last_at: datetime | None = None
    last_detail: str = ""

    def after(self, ok: bool, at: datetime, detail: str = "") -> HubStreak:
        if ok:
            return HubStreak(0, self.successes + 1, None, True, at, detail)
        return HubStreak(self.failures + 1, 0, self.failing_since or at, False, at, detail)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failing_since": _iso(self.failing_since), "last_at": _iso(self.last_at)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HubStreak:
        return cls(int(data.get("failures", 0)), int(data.get("successes", 0)), _dt(data.get("failing_since")),
                   data.get("last_ok"), _dt(data.get("last_at")), str(data.get("last_detail", "")))


@dataclass(frozen=True)
class PairState:
    pair: str
    streaks: dict[str, HubStreak] = field(default_factory=dict)
    last_failover: dict[str, Any] | None = None
    cooldown_until: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    last_decision: dict[str, Any] | None = None

    def streak(self, hub: str) -> HubStreak:
        return self.streaks.get(hub, HubStreak())

    def in_cooldown(self, now: datetime) -> bool:
        return self.cooldown_until is not None and now < self.cooldown_until

    def to_dict(self) -> dict[str, Any]:
        return {"pair": self.pair, "streaks": {h: s.to_dict() for h, s in self.streaks.items()},
                "last_failover": self.last_failover, "cooldown_until": _iso(self.cooldown_until),
                "acknowledged_by": self.acknowledged_by, "acknowledged_at": _iso(self.acknowledged_at),
                "last_decision": self.last_decision}

    @classmethod
    def from_entity(cls, pair: str, entity: dict[str, Any]) -> PairState:
        return cls(pair=pair,
                   streaks={h: HubStreak.from_dict(s) for h, s in json.loads(entity.get("streaks") or "{}").items()},
                   last_failover=json.loads(entity["last_failover"]) if entity.get("last_failover") else None,
                   cooldown_until=_dt(entity.get("cooldown_until")),
                   acknowledged_by=entity.get("acknowledged_by") or None,
                   acknowledged_at=_dt(entity.get("acknowledged_at")),
                   last_decision=json.loads(entity["last_decision"]) if entity.get("last_decision") else None)

    def to_entity(self) -> dict[str, Any]:
        return {"PartitionKey": self.pair, "RowKey": _ROW,
                "streaks": json.dumps({h: s.to_dict() for h, s in self.streaks.items()}),
                "last_failover": json.dumps(self.last_failover) if self.last_failover else "",
                "cooldown_until": _iso(self.cooldown_until) or "", "acknowledged_by": self.acknowledged_by or "",
                "acknowledged_at": _iso(self.acknowledged_at) or "",
                "last_decision": json.dumps(self.last_decision) if self.last_decision else ""}


class PairStateStore(TableStore):
    TABLE = PAIR_STATE_TABLE

    def read(self, pair: str) -> PairState:
        self._ensure()
        try:
            return PairState.from_entity(pair, dict(self.table.get_entity(pair, _ROW)))
        except ResourceNotFoundError:
            return PairState(pair)

    def update(self, pair: str, change: Callable[[PairState], PairState]) -> PairState:
        """Read, change, write back only if nobody wrote in between (else read again)."""
        self._ensure()
        for _ in range(_CAS_ATTEMPTS):
            try:
                entity = self.table.get_entity(pair, _ROW)
            except ResourceNotFoundError:
                new = change(PairState(pair))
                try:
                    self.table.create_entity(new.to_entity())
                    return new
                except ResourceExistsError:
                    continue
            new = change(PairState.from_entity(pair, dict(entity)))
            try:
                self.table.update_entity(new.to_entity(), mode=UpdateMode.REPLACE, etag=entity.metadata["etag"],
                                         match_condition=MatchConditions.IfNotModified)
                return new
            except ResourceModifiedError:
                continue
        raise RuntimeError(f"pair state of {pair!r}: too many concurrent writers")

    # -- the writes the app makes ----------------------------------------------------------

    def record_probe(self, pair: str, results: dict[str, tuple[bool, str]], at: datetime) -> PairState:
        """Fold one probe round (hub -> (ok, detail)) into the streaks."""
        def change(state: PairState) -> PairState:
            streaks = dict(state.streaks)
            for hub, (ok, detail) in results.items():
                streaks[hub] = state.streak(hub).after(ok, at, detail)
            return replace(state, streaks=streaks)

        return self.update(pair, change)

    def record_decision(self, pair: str, decision: dict[str, Any]) -> PairState:
        return self.update(pair, lambda state: replace(state, last_decision=decision))

    def record_failover(self, pair: str, *, instance_id: str, outcome: str, target: str | None,
                        completed_at: datetime, cooldown: timedelta | None) -> PairState:
        """A finished failover; a pointer that moved starts the cooldown (only an acknowledgement lifts it)."""
        def change(state: PairState) -> PairState:
            return replace(state, last_failover={"instance_id": instance_id, "outcome": outcome, "target": target,
                                                 "completed_at": completed_at.isoformat()},
                           cooldown_until=completed_at + cooldown if cooldown else state.cooldown_until,
                           acknowledged_by=None if cooldown else state.acknowledged_by,
                           acknowledged_at=None if cooldown else state.acknowledged_at)

        return self.update(pair, change)

    def acknowledge(self, pair: str, by: str, at: datetime) -> PairState:
        return self.update(pair, lambda state: replace(state, cooldown_until=None, acknowledged_by=by,
                                                        acknowledged_at=at))
