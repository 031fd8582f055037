"""The SDK's own DurableOrchestrationClient, bound to the replay host through the management API."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import azure.durable_functions as df
import azure.functions as func
import pytest

from replayhost.clock import RealClock
from replayhost.engine import ReplayHost
from replayhost.management_api import ManagementApi
from replayhost.store import MemoryStore
from tests.durable_world import run
from tests.replay_app import app
from tests.waiting import patience, wait_until

T = TypeVar("T")
Status = df.OrchestrationRuntimeStatus


@pytest.fixture
def api() -> Iterator[ManagementApi]:
    host = ReplayHost(app, store=MemoryStore(), clock=RealClock())
    host.start_background()
    server = ManagementApi(host)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        host.stop()


@pytest.fixture
def client(api: ManagementApi) -> df.DurableOrchestrationClient:
    return df.DurableOrchestrationClient(api.client_binding())




async def settle(client: df.DurableOrchestrationClient, instance_id: str,
                 until: Callable[[Any], bool] | None = None, timeout: float = 10.0) -> Any:
    """Poll get_status until terminal (or `until`): what a client function would do."""
    terminal = {Status.Completed, Status.Failed, Status.Terminated}
    deadline = time.monotonic() + timeout
    while True:
        status = await client.get_status(instance_id)
        if (until(status) if until else status.runtime_status in terminal):
            return status
        assert time.monotonic() < deadline, f"{instance_id} still {status.runtime_status}"
        await asyncio.sleep(0.02)


def awaiting_approval(status: Any) -> bool:
    return status.custom_status == {"stage": "awaiting_approval"}


def http(method: str, url: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    """What curl does with the advertised URLs (plain JSON bodies, no SDK)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw, code, headers = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, code, headers = exc.read(), exc.code, dict(exc.headers)
    return code, json.loads(raw) if raw else None, headers


def test_binding_is_what_the_sdk_reads(api: ManagementApi) -> None:
    binding = json.loads(api.client_binding())
    assert binding["rpcBaseUrl"] == f"{api.base_url}/durabletask/"
    assert binding["baseUrl"] == f"{api.base_url}/runtime/webhooks/durabletask"
    assert binding["managementUrls"]["id"] == "INSTANCEID"
    assert api.base_url.startswith("http://127.0.0.1:")
    payload = df.DurableOrchestrationClient(api.client_binding()).create_http_management_payload("abc")
    assert payload["statusQueryGetUri"] == (
        f"{api.base_url}/runtime/webhooks/durabletask/instances/abc?taskHub=hubfailover&connection=Storage")
    assert payload["id"] == "abc"


def test_start_and_status_to_completion(client: df.DurableOrchestrationClient) -> None:
    async def step() -> tuple[str, Any, Any]:
        instance_id = await client.start_new("fan_out", None, {"n": 3})
        done = await settle(client, instance_id)
        detailed = await client.get_status(instance_id, show_history=True)
        return instance_id, done, detailed

    instance_id, done, detailed = run(step)
    assert done.runtime_status == Status.Completed
    assert done.output == [0, 2, 4]
    assert done.input_ == {"n": 3}  # the SDK names the property input_
    assert done.name == "fan_out" and done.instance_id == instance_id
    assert done.custom_status == {"done": 3}
    assert done.created_time is not None and done.created_time.tzinfo is not None
    # The extension names the field historyEvents; the SDK's `history` argument never sees it.
    assert detailed.history is None
    assert [e["EventType"] for e in detailed.historyEvents][:2] == [12, 0]


def test_unknown_instance_status_is_falsy(client: df.DurableOrchestrationClient) -> None:
    status = run(lambda: client.get_status("nobody"))
    assert not status and status.runtime_status is None


def test_running_singleton_refuses_a_second_start(client: df.DurableOrchestrationClient) -> None:
    async def step() -> None:
        await client.start_new("approval", "failover-pairA")
        await settle(client, "failover-pairA", awaiting_approval)
        # On 409 the SDK raises a bare Exception whose argument is the response body (a dict).
        with pytest.raises(Exception, match="start refused") as caught:
            await client.start_new("approval", "failover-pairA")
        assert isinstance(caught.value.args[0], dict)
        with pytest.raises(Exception, match="no orchestrator named 'nope'"):
            await client.start_new("nope")

    run(step)


def test_raise_event_completes_the_approval(client: df.DurableOrchestrationClient) -> None:
    async def step() -> Any:
        instance_id = await client.start_new("approval", None, None)
        waiting = await settle(client, instance_id, awaiting_approval)
        assert waiting.runtime_status == Status.Running
        await client.raise_event(instance_id, "approval", {"approved": True, "by": "ops"})
        return await settle(client, instance_id)

    done = run(step)
    assert done.runtime_status == Status.Completed
    assert done.output == {"decision": {"approved": True, "by": "ops"}}


def test_raise_event_to_unknown_or_finished_instances(client: df.DurableOrchestrationClient) -> None:
    async def step() -> None:
        with pytest.raises(Exception, match="No instance with ID ghost found"):
            await client.raise_event("ghost", "approval", "yes")
        instance_id = await client.start_new("sequence")
        await settle(client, instance_id)
        with pytest.raises(Exception, match="is gone"):
            await client.raise_event(instance_id, "approval", "yes")

    run(step)


def test_terminate(client: df.DurableOrchestrationClient) -> None:
    async def step() -> Any:
        instance_id = await client.start_new("approval", "to-stop")
        await settle(client, instance_id, awaiting_approval)
        await client.terminate(instance_id, "operator abort")
        stopped = await settle(client, instance_id)
        await client.terminate(instance_id, "again")  # 410: the SDK treats a finished instance as done
        with pytest.raises(Exception, match="No instance with ID 'ghost' found"):
            await client.terminate("ghost", "x")
        return stopped

    stopped = run(step)
    assert stopped.runtime_status == Status.Terminated
    assert stopped.output == "operator abort"


def test_status_queries(client: df.DurableOrchestrationClient) -> None:
    async def step() -> None:
        before = datetime.now(UTC) - timedelta(seconds=1)
        done_id = await client.start_new("sequence", "q-done")
        await settle(client, done_id)
        await client.start_new("approval", "q-waiting")
        await settle(client, "q-waiting", awaiting_approval)

        everything = {s.instance_id: s.runtime_status for s in await client.get_status_all()}
        assert everything == {"q-done": Status.Completed, "q-waiting": Status.Running}
        completed = await client.get_status_by(runtime_status=[Status.Completed])
        assert [s.instance_id for s in completed] == ["q-done"]
        both = await client.get_status_by(runtime_status=[Status.Completed, Status.Running])
        assert {s.instance_id for s in both} == {"q-done", "q-waiting"}
        assert await client.get_status_by(runtime_status=[Status.Canceled]) == []
        prefixed = await client.get_status_by(instance_id_prefix="q-w")
        assert [s.instance_id for s in prefixed] == ["q-waiting"]
        assert len(await client.get_status_by(created_time_from=before)) == 2
        assert await client.get_status_by(created_time_from=datetime.now(UTC) + timedelta(hours=1)) == []

    run(step)


def test_status_list_pages_with_continuation(api: ManagementApi) -> None:
    for n in range(3):
        api.host.start_new("sequence", f"page-{n}")
    url = f"{api.base_url}/durabletask/instances/?top=2"
    code, first, headers = http("GET", url)
    assert code == 200 and len(first) == 2
    req = urllib.request.Request(url, headers={"x-ms-continuation-token": headers["x-ms-continuation-token"]})
    with urllib.request.urlopen(req, timeout=10) as resp:
        rest = json.loads(resp.read())
        assert "x-ms-continuation-token" not in resp.headers
    assert {s["instanceId"] for s in first + rest} == {"page-0", "page-1", "page-2"}


def test_purge(client: df.DurableOrchestrationClient) -> None:
    async def step() -> None:
        start = datetime.now(UTC) - timedelta(seconds=1)
        instance_id = await client.start_new("sequence")
        await settle(client, instance_id)
        assert (await client.purge_instance_history(instance_id)).instances_deleted == 1
        assert not await client.get_status(instance_id)
        assert (await client.purge_instance_history(instance_id)).instances_deleted == 0  # 404
        await client.start_new("approval", "live")
        await settle(client, "live", awaiting_approval)
        with pytest.raises(Exception, match="412"):  # a running instance can't be purged
            await client.purge_instance_history("live")
        for name in ("sequence", "first_of"):
            await settle(client, await client.start_new(name))
        purged = await client.purge_instance_history_by(created_time_from=start,
                                                        runtime_status=[Status.Completed])
        assert purged.instances_deleted == 2
        assert [s.instance_id for s in await client.get_status_all()] == ["live"]

    run(step)


def test_check_status_response_urls_work_without_the_sdk(
        api: ManagementApi, client: df.DurableOrchestrationClient) -> None:
    instance_id = run(lambda: client.start_new("approval", "curl-me"))
    request = func.HttpRequest(method="POST", url=f"{api.base_url}/api/failover", body=b"")
    response = client.create_check_status_response(request, instance_id)
    assert response.status_code == 202
    urls = json.loads(response.get_body())
    assert response.headers["Location"] == urls["statusQueryGetUri"]

    def at_the_gate() -> tuple[int, Any, Any] | None:
        got = http("GET", urls["statusQueryGetUri"])
        return got if got[1] and got[1]["customStatus"] == {"stage": "awaiting_approval"} else None

    code, body, headers = wait_until(at_the_gate, 10, "the instance to wait for its approval")
    assert code == 202 and body["runtimeStatus"] == "Running" and body["instanceId"] == "curl-me"
    assert headers["Retry-After"] == "5" and headers["Location"] == urls["statusQueryGetUri"]

    code, _, _ = http("POST", urls["sendEventPostUri"].replace("{eventName}", "approval"), "approved")
    assert code == 202
    assert api.host.wait_for(instance_id, timeout=patience(10)).output == {"decision": "approved"}
    code, body, _ = http("GET", urls["statusQueryGetUri"])
    assert code == 200 and body["output"] == {"decision": "approved"}
    assert http("POST", urls["terminatePostUri"].replace("{text}", "late"))[0] == 410
    assert http("DELETE", urls["purgeHistoryDeleteUri"])[:2] == (200, {"instancesDeleted": 1})
    assert http("GET", urls["statusQueryGetUri"])[0] == 404


def test_public_creation_route_and_wait_for_completion(
        api: ManagementApi, client: df.DurableOrchestrationClient) -> None:
    template = json.loads(api.client_binding())["creationUrls"]["createAndWaitOnNewInstancePostUri"]
    url = (template.replace("{functionName}", "fan_out").replace("[/{instanceId}]", "/web-1")
           .replace("{timeoutInSeconds}", "10").replace("{intervalInSeconds}", "0.05"))
    code, body, _ = http("POST", url, {"n": 2})
    assert (code, body) == (200, [0, 2])

    code, body, headers = http("POST", f"{api.base_url}/runtime/webhooks/durabletask/orchestrators/approval")
    assert code == 202 and headers["Location"] == body["statusQueryGetUri"]
    assert http("POST", f"{api.base_url}/durabletask/orchestrators/nope")[0] == 400
    assert http("GET", f"{api.base_url}/durabletask/nothing-here")[0] == 404

    request = func.HttpRequest(method="POST", url=f"{api.base_url}/api/x", body=b"")
    waited = run(lambda: client.wait_for_completion_or_create_check_status_response(request, "web-1", 2000, 100))
    assert waited.status_code == 200 and json.loads(waited.get_body()) == [0, 2]
