"""One probe round of a pair: the control plane of each hub, plus an optional Log Analytics signal.

Probes never retry: a slow or failing answer *is* the signal, and hysteresis (streaks)
is what keeps a single blip from starting a failover.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from failover.domain.config import HubPair, LogQuery
from failover.domain.ports import HubClient, HubError

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def ping(hub: HubClient) -> tuple[bool, str]:
    try:
        hub.ping()
    except HubError as exc:
        return False, f"control plane: {exc.category.value}: {exc}"
    return True, "control plane answered"


def log_signal(logs: Any, workspace_id: str, query: LogQuery) -> tuple[bool | None, str]:
    """(healthy?, detail) from a LogsQueryClient; None when the query itself could not answer.

    A failed query says nothing about the hub (Log Analytics may be the thing that is down),
    so it never counts as a failed probe on its own.
    """
    try:
        result = logs.query_workspace(workspace_id, query.kql, timespan=timedelta(minutes=query.timespan_minutes))
        tables = getattr(result, "tables", None) or getattr(result, "partial_data", None) or []
        value = float(tables[0].rows[0][0])
    except Exception as exc:  # the SDK raises HttpResponseError, ValueError, IndexError...
        return None, f"log query gave no signal: {type(exc).__name__}: {str(exc)[:200]}"
    unhealthy = _COMPARE[query.operator](value, query.threshold)
    return not unhealthy, f"log signal {value} {query.operator} {query.threshold}: {'unhealthy' if unhealthy else 'ok'}"


def probe_pair(pair: HubPair, hub: Callable[[str], HubClient],
               logs: Any | None = None) -> dict[str, tuple[bool, str]]:
    """hub name -> (ok, detail) for both hubs of the pair; the log signal applies to the primary."""
    results: dict[str, tuple[bool, str]] = {}
    for ref in (pair.primary, pair.secondary):
        ok, detail = ping(hub(ref.name))
        if ok and ref.name == pair.primary.name and pair.policy.log_query and ref.log_analytics_workspace_id and logs:
            healthy, log_detail = log_signal(logs, ref.log_analytics_workspace_id, pair.policy.log_query)
            ok = healthy is not False
            detail = f"{detail}; {log_detail}"
        results[ref.name] = (ok, detail)
    return results
