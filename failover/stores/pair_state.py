"""Per-pair detection state in Table storage: probe streaks, the last failover, the cooldown, the run claim,
the last readiness check.

One row per pair. Written by the health probe (streaks), the starters (the decision and the run
claim), the runs' audit activity (last failover, the last flip a recover completes, the last
recover, cooldown, claim settled), the readiness timer (the last readiness check) and operators
(acknowledge); every write is a read-modify-write with an ETag condition, so a probe and an
acknowledgement at the same moment can't lose each other, and of two starters that both saw
"nothing running", only one can write the claim.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
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


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    return dict(json.loads(text)) if text else None


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
class RunClaim:
    """A failover of this pair is being started or runs: written before ``start_new``, settled at its end.

    ``token`` travels in the orchestration's input, so the claim can tell its own run from an
    older run of the same instance id.
    """

    token: str
    instance_id: str
    claimed_at: datetime
    trigger: str
    requested_by: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "claimed_at": self.claimed_at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunClaim:
        return cls(str(data["token"]), str(data["instance_id"]), datetime.fromisoformat(data["claimed_at"]),
                   str(data.get("trigger", "")), str(data.get("requested_by", "")))


@dataclass(frozen=True)
class PairState:
    pair: str
    streaks: dict[str, HubStreak] = field(default_factory=dict)
    last_failover: dict[str, Any] | None = None
    cooldown_since: datetime | None = None  # set by a failover that moved the pointer; None once acknowledged
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    last_decision: dict[str, Any] | None = None
    claim: RunClaim | None = None
    # The last run that moved the pointer: what a `recover` completes (its source, target, generation and
    # catalog snapshot). Runs that did not move it (aborted, dry runs, drills) leave it as it was.
    last_flip: dict[str, Any] | None = None
    last_recover: dict[str, Any] | None = None
    readiness: dict[str, Any] | None = None  # the last readiness check (failover.readiness)

    def streak(self, hub: str) -> HubStreak:
        return self.streaks.get(hub, HubStreak())

    def in_cooldown(self) -> bool:
        """Only an acknowledgement ends a cooldown: no timer lifts it (docs/runbook.md)."""
        return self.cooldown_since is not None

    def to_dict(self) -> dict[str, Any]:
        return {"pair": self.pair, "streaks": {h: s.to_dict() for h, s in self.streaks.items()},
                "last_failover": self.last_failover, "cooldown_since": _iso(self.cooldown_since),
                "acknowledged_by": self.acknowledged_by, "acknowledged_at": _iso(self.acknowledged_at),
                "last_decision": self.last_decision, "claim": self.claim.to_dict() if self.claim else None,
                "last_flip": self.last_flip, "last_recover": self.last_recover, "readiness": self.readiness}

    @classmethod
    def from_entity(cls, pair: str, entity: dict[str, Any]) -> PairState:
        return cls(pair=pair,
                   streaks={h: HubStreak.from_dict(s) for h, s in json.loads(entity.get("streaks") or "{}").items()},
                   last_failover=json.loads(entity["last_failover"]) if entity.get("last_failover") else None,
                   # rows written before the cooldown lost its timer carry cooldown_until: in force until acknowledged
                   cooldown_since=_dt(entity.get("cooldown_since")) or _dt(entity.get("cooldown_until")),
                   acknowledged_by=entity.get("acknowledged_by") or None,
                   acknowledged_at=_dt(entity.get("acknowledged_at")),
                   last_decision=json.loads(entity["last_decision"]) if entity.get("last_decision") else None,
                   claim=RunClaim.from_dict(json.loads(entity["run_claim"])) if entity.get("run_claim") else None,
                   last_flip=_json_or_none(entity.get("last_flip")),
                   last_recover=_json_or_none(entity.get("last_recover")),
                   readiness=_json_or_none(entity.get("readiness")))

    def to_entity(self) -> dict[str, Any]:
        return {"PartitionKey": self.pair, "RowKey": _ROW,
                "streaks": json.dumps({h: s.to_dict() for h, s in self.streaks.items()}),
                "last_failover": json.dumps(self.last_failover) if self.last_failover else "",
                "cooldown_since": _iso(self.cooldown_since) or "", "cooldown_until": "",
                "acknowledged_by": self.acknowledged_by or "", "acknowledged_at": _iso(self.acknowledged_at) or "",
                "last_decision": json.dumps(self.last_decision) if self.last_decision else "",
                "run_claim": json.dumps(self.claim.to_dict()) if self.claim else "",
                "last_flip": json.dumps(self.last_flip) if self.last_flip else "",
                "last_recover": json.dumps(self.last_recover) if self.last_recover else "",
                "readiness": json.dumps(self.readiness) if self.readiness else ""}


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

    def decide(self, pair: str, decide: Callable[[PairState], tuple[dict[str, Any], RunClaim | None]]) -> PairState:
        """Decide on the current state and write the decision, and the run claim when it starts one, at once.

        ``decide`` runs again on a fresh read whenever another writer got in first: of two
        starters that both saw no claim, the second re-decides and sees the first one's.
        """
        def change(state: PairState) -> PairState:
            record, claim = decide(state)
            return replace(state, last_decision=record, claim=claim or state.claim)

        return self.update(pair, change)

    def release_claim(self, pair: str, token: str, decision: dict[str, Any]) -> PairState:
        """Drop our claim (the start failed), only if it is still ours, and record why nothing started."""
        def change(state: PairState) -> PairState:
            ours = state.claim is not None and state.claim.token == token
            return replace(state, claim=None if ours else state.claim, last_decision=decision)

        return self.update(pair, change)

    def record_failover(self, pair: str, *, instance_id: str, run: str, outcome: str, reason: str,
                        target: str | None, completed_at: datetime, moved: bool,
                        claim: str | None = None, flip: dict[str, Any] | None = None,
                        only_if_claimed: bool = False) -> PairState:
        """A finished run: its run claim is settled; a pointer that moved starts the cooldown, which
        lasts until an operator acknowledges it, and is the flip a `recover` completes (``flip``: its
        source, generation and catalog snapshot). ``only_if_claimed``: nothing is written unless
        ``claim`` is still the pair's run claim (a run settled by whoever saw it end, once)."""
        def change(state: PairState) -> PairState:
            if only_if_claimed and _settled(state.claim, claim) is state.claim:
                return state
            last = {"instance_id": instance_id, "run": run, "outcome": outcome, "reason": reason[:500],
                    "target": target, "moved": moved, "completed_at": completed_at.isoformat()}
            return replace(state, last_failover=last,
                           last_flip={**last, **(flip or {})} if moved else state.last_flip,
                           cooldown_since=completed_at if moved else state.cooldown_since,
                           acknowledged_by=None if moved else state.acknowledged_by,
                           acknowledged_at=None if moved else state.acknowledged_at,
                           claim=_settled(state.claim, claim))

        return self.update(pair, change)

    def record_recover(self, pair: str, *, instance_id: str, run: str, outcome: str, reason: str,
                       completes: str | None, completed_at: datetime, claim: str | None = None,
                       only_if_claimed: bool = False) -> PairState:
        """A finished recover: its claim is settled; the flip it completed says by which run, once one
        succeeded. The cooldown and the last failover are the failover's: a recover moves nothing."""
        def change(state: PairState) -> PairState:
            if only_if_claimed and _settled(state.claim, claim) is state.claim:
                return state
            flip = state.last_flip
            if flip is not None and outcome == "succeeded" and flip.get("run") == completes:
                flip = {**flip, "completed_by": run}
            return replace(state, last_recover={"instance_id": instance_id, "run": run, "outcome": outcome,
                                                "reason": reason[:500], "completes": completes,
                                                "completed_at": completed_at.isoformat()},
                           last_flip=flip, claim=_settled(state.claim, claim))

        return self.update(pair, change)

    def record_readiness(self, pair: str, readiness: dict[str, Any]) -> PairState:
        return self.update(pair, lambda state: replace(state, readiness=readiness))

    def acknowledge(self, pair: str, by: str, at: datetime) -> PairState:
        return self.update(pair, lambda state: replace(state, cooldown_since=None, acknowledged_by=by,
                                                        acknowledged_at=at))


def _settled(held: RunClaim | None, token: str | None) -> RunClaim | None:
    """The claim a finished run leaves: none if it held it, else whoever's claim is there."""
    return None if held is not None and token is not None and held.token == token else held
