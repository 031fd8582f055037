"""The operator API's bindings, and 10,000 generated malformed requests that must all be 4xx.

The fuzz calls the real decorated entry points in-process (what `serve` and the Functions host
call), with the SDK's DurableOrchestrationClient bound to the replay host, on one event loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest
from azure.durable_functions.models.utils import http_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failover.services import services
from replayhost.azurite import AzuriteEndpoints
from replayhost.clock import RealClock
from replayhost.functions import registered_functions
from replayhost.history import EventType
from tests.durable_world import World, durable_world, entry_point
from tests.serve_world import principal
from tests.waiting import wait_until

OPERATOR_ROUTES = {
    "list_pairs": ("pairs", ["GET"]),
    "get_pair": ("pairs/{pair}", ["GET"]),
    "start_pair_failover": ("pairs/{pair}/failover", ["POST"]),
    "start_pair_failback": ("pairs/{pair}/failback", ["POST"]),
    "acknowledge_pair": ("pairs/{pair}/acknowledge", ["POST"]),
    "start_pair_recover": ("pairs/{pair}/recover", ["POST"]),
    "get_failover": ("failovers/{instance}", ["GET"]),
    "approve_failover": ("failovers/{instance}/approve", ["POST"]),
    "reject_failover": ("failovers/{instance}/reject", ["POST"]),
}
# How the 10,000 generated requests are split across the routes that take input.
BUDGET = {"start_pair_failover": 2000, "start_pair_recover": 600, "start_pair_failback": 1100, "acknowledge_pair": 1100,
          "approve_failover": 1300, "reject_failover": 1300, "get_pair": 600, "get_failover": 600,
          "alerts": 1400}
assert sum(BUDGET.values()) == 10_000


def bindings() -> dict[str, list[dict[str, Any]]]:
    from function_app import app

    return {fn.get_function_name(): [json.loads(b) for b in fn.get_raw_bindings()]
            for fn in registered_functions(app)}


def test_operator_routes_methods_and_auth_levels() -> None:
    found = bindings()
    for name, (route, methods) in OPERATOR_ROUTES.items():
        http = next(b for b in found[name] if b["type"] == "httpTrigger")
        assert (http["route"], http["methods"], http["authLevel"]) == (route, methods, "FUNCTION"), name
        assert any(b["type"] == "durableClient" for b in found[name]), name
    alerts = next(b for b in found["alerts"] if b["type"] == "httpTrigger")
    assert (alerts["route"], alerts["methods"], alerts["authLevel"]) == ("alerts", ["POST"], "FUNCTION")
    every_http = [b for bs in found.values() for b in bs if b["type"] == "httpTrigger"]
    assert all(b["authLevel"] == "FUNCTION" for b in every_http)  # nothing anonymous


def test_timer_schedules_come_from_app_settings() -> None:
    from failover.domain import settings as app_settings

    found = bindings()
    timers = {name: next(b for b in bs if b["type"] == "timerTrigger") for name, bs in found.items()
              if any(b["type"] == "timerTrigger" for b in bs)}
    assert {n: t["schedule"] for n, t in timers.items()} == {
        "health_probe": "%HEALTH_PROBE_SCHEDULE%", "catalog_sync": "%CATALOG_SYNC_SCHEDULE%",
        "readiness": "%READINESS_SCHEDULE%"}
    assert not any(t["runOnStartup"] for t in timers.values())
    assert {"HEALTH_PROBE_SCHEDULE", "CATALOG_SYNC_SCHEDULE", "READINESS_SCHEDULE"} <= set(app_settings.ALL_SETTINGS)


# -- the fuzz ---------------------------------------------------------------------------------

class Caller:
    """Entry points called in-process on one event loop (the SDK's aiohttp session lives on it)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.loop = asyncio.new_event_loop()
        self.codes: dict[str, Counter[int]] = {}

    def __call__(self, name: str, *, body: bytes = b"", route: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, method: str = "POST") -> func.HttpResponse:
        request = func.HttpRequest(method, f"http://127.0.0.1:7071/api/{name}", body=body, headers=headers or {},
                                   route_params=route or {})
        response: func.HttpResponse = self.loop.run_until_complete(
            entry_point(name)(req=request, client=self.world.binding))
        self.codes.setdefault(name, Counter())[response.status_code] += 1
        return response

    def close(self) -> None:
        self.loop.run_until_complete(http_utils._close_session())
        self.loop.close()


@pytest.fixture
def hot_cold(azurite: AzuriteEndpoints) -> Iterator[tuple[World, Caller]]:
    """A hot-cold world on real time: the approval gate waits (a skipping clock would time it out)."""
    with durable_world(azurite, clock=RealClock(), mode="hot-cold") as world:
        caller = Caller(world)
        try:
            yield world, caller
        finally:
            caller.close()


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                max_size=4), max_leaves=10)
NOT_TEXT = st.none() | st.booleans() | st.integers() | st.floats() | st.lists(st.text(max_size=3), max_size=2) | \
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
NOT_BOOL = st.none() | st.integers() | st.floats() | st.text(max_size=6) | st.lists(st.booleans(), max_size=2)
BLANK = st.text(alphabet=" \t\r\n", max_size=5)
CONTROL = st.tuples(st.text(max_size=8), st.sampled_from([chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127]]),
                    st.text(max_size=8)).map("".join)


def too_long(limit: int) -> st.SearchStrategy[str]:
    return st.integers(min_value=limit + 1, max_value=limit + 50).map(lambda n: "x" * n)


def bad_text(limit: int, optional: bool) -> st.SearchStrategy[Any]:
    wrong = NOT_TEXT.filter(lambda v: v is not None) if optional else NOT_TEXT
    return st.one_of(wrong, BLANK, CONTROL, too_long(limit))


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def bodies(valid: dict[str, Any], bad: dict[str, st.SearchStrategy[Any]],
           required: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    """Malformed requests: junk bytes, JSON that isn't an object, one bad field, an unknown field,
    a missing field, a lone surrogate, an oversized body."""
    one_bad = st.sampled_from(sorted(bad)).flatmap(lambda key: bad[key].map(lambda v: {**valid, key: v}))
    unknown = st.text(min_size=1, max_size=12).filter(lambda k: k not in valid and k not in bad).flatmap(
        lambda key: JSON.map(lambda v: {**valid, key: v}))
    missing = st.sampled_from(required).map(lambda key: {k: v for k, v in valid.items() if k != key})
    surrogate = st.sampled_from(sorted(k for k in bad if isinstance(valid.get(k, ""), str))).map(
        lambda key: json.dumps({**valid, key: "PLACEHOLDER"}).replace("PLACEHOLDER", "\\ud800x").encode())
    return st.one_of(
        st.binary(max_size=200).filter(lambda b: not _is_object(b)),
        JSON.filter(lambda v: not isinstance(v, dict)).map(encode),
        one_bad.map(encode), unknown.map(encode), missing.map(encode), surrogate,
        st.just(b'{"reason": "' + b"x" * 70_000 + b'"}'),
        st.just(b"[" * 50_000 + b"]" * 50_000),
    )


def _is_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):
        return False


def fuzz(budget: int, strategy: st.SearchStrategy[Any], check: Callable[[Any], None]) -> None:
    @settings(max_examples=budget, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(example: Any) -> None:
        check(example)

    run()


def assert_4xx(response: func.HttpResponse, example: Any) -> None:
    assert 400 <= response.status_code < 500, (example, response.status_code, response.get_body()[:300])
    body = json.loads(response.get_body())
    assert body["error"], body


def test_10000_malformed_requests_are_4xx_and_start_nothing(hot_cold: tuple[World, Caller]) -> None:
    world, call = hot_cold
    svc = services()
    pair = world.scenario.pair
    instance = f"failover-{pair}"
    pointer_before = svc.pointers.read(pair)
    state_before = svc.pair_state.read(pair)
    hubs = (world.options.primary, world.options.secondary)
    began = time.perf_counter()

    failover_valid = {"reason": "fuzz", "requested_by": "fuzzer", "dry_run": False, "drill": False, "force": False}
    failover_bad = {"reason": bad_text(500, False), "requested_by": bad_text(200, True),
                    "dry_run": NOT_BOOL, "drill": NOT_BOOL, "force": NOT_BOOL, "require_approval": NOT_BOOL,
                    "target": st.one_of(bad_text(100, True), st.text(min_size=1, max_size=20).filter(
                        lambda t: t.strip() not in hubs and t.strip() != "" and t.isprintable()))}
    no_identity = st.just(encode({"reason": "no one asked"}))  # neither requested_by nor a principal
    fuzz(BUDGET["start_pair_failover"],
         st.one_of(bodies(failover_valid, failover_bad, ("reason",)), no_identity),
         lambda raw: assert_4xx(call("start_pair_failover", body=raw, route={"pair": pair}), raw))

    failback_valid = {"reason": "fuzz", "requested_by": "fuzzer"}
    fuzz(BUDGET["start_pair_failback"],
         st.one_of(bodies(failback_valid, {"reason": bad_text(500, False), "requested_by": bad_text(200, True)},
                          ("reason",)), no_identity),
         lambda raw: assert_4xx(call("start_pair_failback", body=raw, route={"pair": pair}), raw))

    recover_valid = {"requested_by": "fuzzer", "reason": "fuzz", "dry_run": False}
    fuzz(BUDGET["start_pair_recover"],
         st.one_of(bodies(recover_valid, {"reason": bad_text(500, True), "requested_by": bad_text(200, True),
                                          "dry_run": NOT_BOOL}, ("requested_by",)), no_identity),
         lambda raw: assert_4xx(call("start_pair_recover", body=raw, route={"pair": pair}), raw))

    by_valid = {"by": "fuzzer", "comment": "x"}
    by_bad = {"by": bad_text(200, True), "comment": st.one_of(NOT_TEXT, CONTROL, too_long(1000))}
    fuzz(BUDGET["acknowledge_pair"], st.one_of(bodies(by_valid, by_bad, ("by",)), st.just(b"{}")),
         lambda raw: assert_4xx(call("acknowledge_pair", body=raw, route={"pair": pair}), raw))

    # unknown pairs and instances, on every route that names one
    not_pair = st.text(max_size=70).filter(lambda p: p != pair)
    not_instance = st.text(max_size=110).filter(lambda i: i not in (instance, f"recover-{pair}"))
    pair_routes = ["get_pair", "start_pair_failover", "start_pair_failback", "acknowledge_pair", "start_pair_recover"]
    fuzz(BUDGET["get_pair"], st.tuples(st.sampled_from(pair_routes), not_pair),
         lambda ex: assert_4xx(call(ex[0], route={"pair": ex[1]}, body=encode(failover_valid)
                                    if ex[0] != "get_pair" else b"", method="GET" if ex[0] == "get_pair"
                                    else "POST"), ex))
    instance_routes = ["get_failover", "approve_failover", "reject_failover"]
    fuzz(BUDGET["get_failover"], st.tuples(st.sampled_from(instance_routes), not_instance),
         lambda ex: assert_4xx(call(ex[0], route={"instance": ex[1]}, body=encode(by_valid)), ex))

    # the alert webhook too: junk and non-schema JSON
    fuzz(BUDGET["alerts"], st.one_of(st.binary(max_size=200), JSON.map(encode)),
         lambda raw: assert_4xx(call("alerts", body=raw), raw))

    assert world.instances() == [], "a malformed request started an orchestration"

    # approve / reject while a hot-cold failover really waits at its gate
    started = call("start_pair_failover", body=encode({"reason": "gate", "requested_by": "op"}), route={"pair": pair})
    assert started.status_code == 202
    wait_until(lambda: (world.host.get_status(instance).custom_status or {}).get("stage") == "awaiting_approval",
               30, "the failover to wait at its approval gate")
    history_before = len(world.host.get_status(instance, show_history=True).history or [])
    fuzz_began = time.perf_counter()
    decision_bad = {**by_bad, "run": bad_text(200, True)}
    for verdict in ("approve_failover", "reject_failover"):
        fuzz(BUDGET[verdict], st.one_of(bodies(by_valid, decision_bad, ("by",)), st.just(b"{}")),
             lambda raw, verdict=verdict: assert_4xx(call(verdict, body=raw, route={"instance": instance}), raw))
    waiting = world.host.get_status(instance, show_history=True)
    assert waiting.runtime_status.value == "Running"
    assert waiting.custom_status["stage"] == "awaiting_approval"
    assert not [e for e in waiting.history if e["EventType"] == EventType.EVENT_RAISED]
    assert len(waiting.history) == history_before
    gate_s = time.perf_counter() - fuzz_began

    elapsed = time.perf_counter() - began
    fuzzed = {name: sum(codes.values()) for name, codes in call.codes.items()}
    fuzzed["start_pair_failover"] -= 1  # the one valid start that opened the gate
    total = sum(fuzzed.values())
    statuses: Counter[int] = Counter()
    for codes in call.codes.values():
        statuses.update(codes)
    statuses[202] -= 1
    four_xx = sum(n for code, n in statuses.items() if 400 <= code < 500)
    print(f"\nfuzz: {total} malformed requests over {len(fuzzed)} routes in {elapsed:.1f} s "
          f"(approve/reject phase {gate_s:.1f} s); 4xx: {four_xx}; statuses {dict(sorted(statuses.items()))}; "
          f"per route {dict(sorted(fuzzed.items()))}; orchestrations started by them: 0")
    assert total >= 10_000 and four_xx == total
    assert [s.instance_id for s in world.instances()] == [instance]  # only the deliberate one
    assert services().pointers.read(pair) == pointer_before
    after = services().pair_state.read(pair)
    assert after.cooldown_since == state_before.cooldown_since is None
    assert not after.acknowledged_by and not state_before.acknowledged_by  # nobody acknowledged anything
    world.host.terminate(instance, "fuzz done")


def test_a_principal_header_is_a_claim_unless_app_service_authentication_is_on(
        hot_cold: tuple[World, Caller], monkeypatch: pytest.MonkeyPatch) -> None:
    from failover.domain.identity import FUNCTION_KEY_HOLDER

    world, call = hot_cold
    pair = world.scenario.pair
    claimed = {"x-ms-client-principal-name": "ops@contoso.com"}
    for setting in (None, "false", "yes", "TRUE "):  # only "true" (any case) trusts the headers
        if setting is None:
            monkeypatch.delenv("APP_SERVICE_AUTH_ENABLED", raising=False)
        else:
            monkeypatch.setenv("APP_SERVICE_AUTH_ENABLED", setting)
        response = call("acknowledge_pair", body=encode({"by": "someone"}), route={"pair": pair}, headers=claimed)
        assert response.status_code == 200
        actor = f"{FUNCTION_KEY_HOLDER} (unverified: ops@contoso.com)"
        assert (json.loads(response.get_body())["acknowledged_by"] == actor) == (setting != "TRUE "), setting
    records = services().audit.list(pair, "acknowledge")
    assert records[0].actor == actor and records[0].detail["identity"] == {
        "name": "ops@contoso.com", "verified": False, "claimed_in": "x-ms-client-principal-name",
        "credential": "function key", "principal_id": None}
    # authentication on: the headers are Easy Auth's, the body's name is ignored
    monkeypatch.setenv("APP_SERVICE_AUTH_ENABLED", "true")
    signed_in = {**claimed, "x-ms-client-principal-id": "5b5450db-eb26-4c1a-981c-ba1d25f0483d",
                 "x-ms-client-principal": principal(("roles", "Failover.Approve"))}
    response = call("acknowledge_pair", body=encode({"by": "someone-else"}), route={"pair": pair}, headers=signed_in)
    assert response.status_code == 200 and json.loads(response.get_body())["acknowledged_by"] == "ops@contoso.com"
    last = services().audit.list(pair, "acknowledge")[-1]
    assert last.actor == "ops@contoso.com" and last.detail["identity"]["verified"] is True
    assert last.detail["identity"]["principal_id"] == "5b5450db-eb26-4c1a-981c-ba1d25f0483d"
    # ... and a request that reached the app without a signed-in principal is refused
    response = call("acknowledge_pair", body=encode({"by": "x"}), route={"pair": pair})
    assert response.status_code == 401 and json.loads(response.get_body())["field"] == "x-ms-client-principal-name"
    bad = call("acknowledge_pair", body=encode({"by": "x"}), route={"pair": pair},
               headers={**signed_in, "x-ms-client-principal": "not base64!"})
    assert bad.status_code == 400 and json.loads(bad.get_body())["field"] == "x-ms-client-principal"
    bad = call("acknowledge_pair", body=encode({"by": "x"}), route={"pair": pair},
               headers={"x-ms-client-principal-name": "bad\x00name"})
    assert bad.status_code == 400 and json.loads(bad.get_body())["field"] == "x-ms-client-principal-name"
    response = call("start_pair_failover", body=encode({"reason": "r", "requested_by": "x", "target": "elsewhere"}),
                    route={"pair": pair}, headers=signed_in)
    assert response.status_code == 422 and json.loads(response.get_body())["field"] == "target"
    assert world.instances() == []
