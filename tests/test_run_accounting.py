"""Every run accounted for: plan, readiness and flip failing after their retries still end the run.

Throttling and 5xx from the target's list_computes (the simulated hub's per-call faults), the DR
storage down under the catalog (a real client on a loopback port nothing listens on), a corrupt
catalog snapshot, and the pointer table answering 503 to the flip's write (the real Tables SDK over
a transport that forwards everything else to Azurite). Each time: the instance completes, outcome
``aborted``, a reason naming the stage and the cause, one audit record, ``last_failover`` set, the
custom status at ``done``, the pointer where it was. Through the real replay (the replay host
checks determinism on every episode).
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from azure.core.pipeline.transport import HttpRequest, RequestsTransport
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from failover.services import services
from failover.stores.catalog import CatalogStore
from failover.stores.pointer import PointerStore
from rehearsal.scenario import DrillOptions, Scenario, prepare
from replayhost.azurite import AzuriteEndpoints
from replayhost.engine import ReplayHost
from tests.local_transport import LocalTransport
from tests.waiting import patience


class FailingWrites(RequestsTransport):
    """Azurite behind the real transport, except conditional entity writes (the flip's compare-and-swap): 503."""

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:
        if request.method in ("PUT", "MERGE", "PATCH") and request.headers.get("If-Match"):
            return LocalTransport.answer(request, 503, {"odata.error": {
                "code": "ServerBusy", "message": {"lang": "en-US", "value": "The server is busy."}}})
        return super().send(request, **kwargs)


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again at once: nothing listens there


def storage_down(azurite: AzuriteEndpoints, scenario: Scenario) -> None:
    conn = azurite.connection_string.replace(f":{azurite.blob_port}/", f":{dead_port()}/")
    services().catalog = CatalogStore.from_service(BlobServiceClient.from_connection_string(conn, retry_total=0))


def corrupt_catalog(azurite: AzuriteEndpoints, scenario: Scenario) -> None:
    catalog = services().catalog
    snapshot = catalog.read(scenario.config.pair(scenario.pair).primary.name)
    assert snapshot is not None
    body = json.loads(catalog.container.download_blob(snapshot.name).readall())
    body["jobs"] = body["jobs"][1:]  # a job lost in a bad write: the content hash no longer matches
    catalog.container.upload_blob(snapshot.name, json.dumps(body), overwrite=True)


def flip_refused(azurite: AzuriteEndpoints, scenario: Scenario) -> None:
    tables = TableServiceClient.from_connection_string(azurite.connection_string, transport=FailingWrites(),
                                                       retry_total=0)
    services().pointers = PointerStore.from_service(tables)


def hub_faults(spec: str) -> Callable[[AzuriteEndpoints, Scenario], None]:
    def apply(azurite: AzuriteEndpoints, scenario: Scenario) -> None:
        scenario.secondary.set_faults(spec)
    return apply


CASES = [
    ("readiness: throttled", hub_faults("throttle=1,retry_after=0,only=list_computes"),
     "the readiness check failed after its retries", "429"),
    ("readiness: 5xx", hub_faults("flaky=1,only=list_computes"), "the readiness check failed after its retries",
     "503"),
    ("plan: storage down", storage_down, "planning failed after its retries", "Connection refused"),
    # a damaged catalog with no valid snapshot kept is a plan that says so (not an activity failure)
    ("plan: corrupt catalog", corrupt_catalog, "catalog of", "fails its content hash"),
    ("flip: pointer table 503", flip_refused, "the pointer flip failed after its retries", "The server is busy"),
]


@pytest.mark.parametrize(("case", "breaking", "stage", "cause"), CASES, ids=[c[0] for c in CASES])
def test_a_failure_before_the_flip_ends_the_run_aborted_and_accounted_for(
        azurite: AzuriteEndpoints, case: str, breaking: Callable[[AzuriteEndpoints, Scenario], None],
        stage: str, cause: str) -> None:
    from function_app import app

    tag = uuid.uuid4().hex[:8]
    opts = DrillOptions(jobs=6, artifacts=8, seed=3, chunk_size=4, pair=f"a{tag}", primary=f"pri{tag}",
                        secondary=f"sec{tag}")
    scenario = prepare(opts, azurite.connection_string)
    scenario.primary.set_faults("down=1")
    pointer_before = services().pointers.read(opts.pair)
    breaking(azurite, scenario)
    host = ReplayHost(app)
    iid = host.start_new("failover", f"failover-{opts.pair}", {
        "pair": opts.pair, "trigger": "manual", "reason": case, "requested_by": "test"})
    status = host.wait_for(iid, timeout=patience(120))
    host.stop()

    report = status.output
    print(f"\n{case}: {report['outcome']}: {report['outcome_reason']}")
    assert status.runtime_status.value == "Completed", status.output
    assert report["outcome"] == "aborted"
    assert report["outcome_reason"].startswith(stage) and cause in report["outcome_reason"], report["outcome_reason"]
    assert status.custom_status["stage"] == "done" and status.custom_status["outcome"] == "aborted"
    assert report["errors"] and cause in report["errors"][0]["error"]

    svc = services()
    records = [r for r in svc.audit.list(opts.pair, "failover") if r.key == report["run"]]
    assert len(records) == 1 and records[0].outcome == "aborted"
    assert records[0].detail["outcome_reason"] == report["outcome_reason"]
    last = svc.pair_state.read(opts.pair).last_failover
    assert last is not None and (last["outcome"], last["reason"], last["run"]) == (
        "aborted", report["outcome_reason"], report["run"])
    assert not svc.pair_state.read(opts.pair).in_cooldown()  # nothing moved: no cooldown
    pointer = svc.pointers.read(opts.pair)
    assert (pointer.active, pointer.generation) == (pointer_before.active, pointer_before.generation)
    if case.startswith("flip"):
        assert report["pointer"]["generation_after"] == pointer_before.generation
        assert "not confirmed moved" in report["outcome_reason"]
