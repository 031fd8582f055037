"""Probe signals: control-plane pings, and a Log Analytics query through the real LogsQueryClient."""

from __future__ import annotations

import json
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpRequest
from azure.monitor.query import LogsQueryClient

from failover.domain.config import LogQuery
from failover.hubs.probes import log_signal
from tests.local_transport import LocalTransport


class FixedToken:
    """Log Analytics wants an Entra token; there is no Entra here (a boundary, not our code)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("token", 2_000_000_000)


class LogAnalyticsEmulator(LocalTransport):
    """Answers POST /workspaces/{id}/query with one numeric cell, or a status code."""

    def __init__(self, value: float | None = None, status: int = 200) -> None:
        self.value, self.status = value, status
        self.queries: list[dict[str, Any]] = []

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:
        raw = request.body if request.body is not None else getattr(request, "content", None)
        self.queries.append({"url": request.url, "body": json.loads(raw) if raw else None})
        payload = ({"tables": [{"name": "PrimaryResult", "columns": [{"name": "v", "type": "real"}],
                                "rows": [[self.value]]}]} if self.status == 200
                   else {"error": {"code": "ServiceUnavailable", "message": "down"}})
        return self.answer(request, self.status, payload)


QUERY = LogQuery(kql="AmlComputeJobEvent | summarize failures=count()", threshold=10, operator=">",
                 timespan_minutes=15)


def client(emulator: LogAnalyticsEmulator) -> LogsQueryClient:
    return LogsQueryClient(FixedToken(), transport=emulator, retry_total=0)  # type: ignore[arg-type]


def test_log_signal_below_threshold_is_healthy() -> None:
    emulator = LogAnalyticsEmulator(value=3)
    healthy, detail = log_signal(client(emulator), "ws-123", QUERY)
    assert healthy is True and "3" in detail
    assert "/workspaces/ws-123/query" in emulator.queries[0]["url"]
    assert emulator.queries[0]["body"]["query"] == QUERY.kql


def test_log_signal_over_threshold_is_unhealthy() -> None:
    healthy, detail = log_signal(client(LogAnalyticsEmulator(value=42)), "ws-123", QUERY)
    assert healthy is False and "unhealthy" in detail


def test_a_failing_log_query_is_no_signal() -> None:
    healthy, detail = log_signal(client(LogAnalyticsEmulator(status=503)), "ws-123", QUERY)
    assert healthy is None and "no signal" in detail


def test_probe_pair_combines_ping_and_log_signal(azurite, unique_name: str) -> None:  # type: ignore[no-untyped-def]
    from failover.domain.config import FailoverConfig
    from failover.hubs.probes import probe_pair
    from failover.hubs.simulated_hub import SimulatedHub

    def hub(name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "subscription_id": "00000000-0000-0000-0000-000000000001", "resource_group": "rg",
                "workspace_name": f"mlw-{name}", "region": "eastus", "backend": "simulated", **extra}

    config = FailoverConfig.model_validate({"pairs": [{
        "name": "p", "mode": "hot-warm", "primary": hub(f"a{unique_name}", log_analytics_workspace_id="ws-1"),
        "secondary": hub(f"b{unique_name}"), "policy": {"log_query": QUERY.model_dump()}}]})
    pair = config.pair("p")
    hubs = {n: SimulatedHub(n, azurite.connection_string) for n in (pair.primary.name, pair.secondary.name)}
    results = probe_pair(pair, hubs.__getitem__, client(LogAnalyticsEmulator(value=99)))
    assert results[pair.primary.name][0] is False and "log signal" in results[pair.primary.name][1]
    assert results[pair.secondary.name] == (True, "control plane answered")
    hubs[pair.primary.name].set_faults("down=1")
    results = probe_pair(pair, hubs.__getitem__, client(LogAnalyticsEmulator(value=0)))
    assert results[pair.primary.name][0] is False and "control plane" in results[pair.primary.name][1]
