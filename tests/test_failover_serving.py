"""Endpoints, deployments, schedules and the connection/datastore maps through the real `failover`
orchestration (replay host on Azurite, simulated hubs): per mode, warm and full scale, schedules moved
between the hubs, provisioning waits, failback.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from failover.domain.model import Artifact, ArtifactKind
from failover.domain.resource_maps import ResourceMaps
from failover.domain.serving import schedule_enabled
from failover.hubs import hub_retry
from failover.hubs.hub_factory import hub_client_for
from failover.hubs.simulated_hub import SimulatedHub
from failover.hubs.simulated_seed import AI_SERVICES_CONNECTION, SEEDED_DATASTORES
from failover.recovery import check_readiness
from failover.services import services
from failover.stores.catalog import sync_catalog
from replayhost.azurite import AzuriteEndpoints
from tests.test_failover import drill, options

SERVING = ("online_endpoint", "batch_endpoint", "online_deployment", "batch_deployment", "schedule")


def enabled(hub: SimulatedHub) -> set[str]:
    return {s.name for s in hub.list_assets(ArtifactKind.SCHEDULE) if schedule_enabled(s)}


def cataloged(hub: str, kind: ArtifactKind) -> list[Any]:
    snapshot = services().catalog.read(hub)
    assert snapshot is not None
    return snapshot.artifact_list(kind)


def test_hot_cold_recreates_serving_at_the_secondary_size_and_moves_schedules(azurite: AzuriteEndpoints) -> None:
    code, report, opts = drill(azurite, mode="hot-cold", approval="approve")
    assert code == 0, report["errors"]
    for kind in SERVING:
        assert report["artifacts"][kind]["recreated"] == report["artifacts"][kind]["expected"] > 0, kind
    pair = services().config.pair(opts.pair)
    secondary, primary = services().hub(opts.secondary), services().hub(opts.primary)
    assert isinstance(secondary, SimulatedHub) and isinstance(primary, SimulatedHub)
    for deployment in secondary.list_assets(ArtifactKind.ONLINE_DEPLOYMENT):
        size = pair.deployment_map[deployment.name].secondary
        assert deployment.spec["sku"]["capacity"] == size.instance_count  # full size: the pointer moved
        assert deployment.spec["properties"]["instanceType"] == size.instance_type == "Standard_DS2_v2"
    routes = {e.name: e.spec["properties"]["traffic"] for e in cataloged(opts.primary, ArtifactKind.ONLINE_ENDPOINT)}
    assert {e.name: e.spec["properties"]["traffic"] for e in secondary.list_assets(ArtifactKind.ONLINE_ENDPOINT)} \
        == routes  # the traffic split as it was on the primary
    wanted = {s.name for s in cataloged(opts.primary, ArtifactKind.SCHEDULE) if schedule_enabled(s)}
    assert wanted and enabled(secondary) == wanted
    assert enabled(primary) == set()  # fenced once it answered again
    assert report["activation"]["schedule"]["source_pending"] == len(wanted)


def test_a_drill_run_keeps_the_secondary_warm(azurite: AzuriteEndpoints) -> None:
    """--drill recreates the serving chain at its warm size and routes it, but moves no schedule."""
    code, report, opts = drill(azurite, mode="hot-cold", drill_only=True)
    assert code == 0, report["errors"]
    secondary, primary = services().hub(opts.secondary), services().hub(opts.primary)
    assert isinstance(secondary, SimulatedHub) and isinstance(primary, SimulatedHub)
    assert {d.spec["sku"]["capacity"] for d in secondary.list_assets(ArtifactKind.ONLINE_DEPLOYMENT)} == {1}
    activation = report["activation"]
    assert activation["online_deployment"]["deferred"] == activation["online_deployment"]["expected"] > 0
    assert activation["schedule"]["deferred"] == activation["schedule"]["expected"] > 0
    assert activation["online_endpoint"]["activated"] == activation["online_endpoint"]["expected"]
    assert enabled(secondary) == set()
    assert enabled(primary) == {s.name for s in cataloged(opts.primary, ArtifactKind.SCHEDULE) if schedule_enabled(s)}


def test_hot_hot_leaves_serving_alone_and_moves_schedules(azurite: AzuriteEndpoints) -> None:
    code, report, opts = drill(azurite, mode="hot-hot")
    assert code == 0, report["errors"]
    assert list(report["activation"]) == ["schedule"]
    assert all(c["recreated"] == 0 for c in report["artifacts"].values())
    secondary = services().hub(opts.secondary)
    assert isinstance(secondary, SimulatedHub)
    assert enabled(secondary) == {s.name for s in cataloged(opts.primary, ArtifactKind.SCHEDULE) if schedule_enabled(s)}
    assert report["verification"]["schedules_enabled_on_standby"] == 0


def test_the_maps_rewrite_what_the_secondary_gets(azurite: AzuriteEndpoints) -> None:
    code, report, opts = drill(azurite)
    assert code == 0, report["errors"]
    secondary = services().hub(opts.secondary)
    assert isinstance(secondary, SimulatedHub)
    jobs = [j for j in secondary.list_jobs() if j.name.endswith("-fo1")]
    written = json.dumps([j.spec for j in jobs])
    assert "azureml://datastores/replicablobstore/" in written and "connections/ai-services-secondary" in written
    assert f"datastores/{SEEDED_DATASTORES[0]}/" not in written and AI_SERVICES_CONNECTION not in written
    serving = json.dumps([a.spec for kind in (ArtifactKind.ONLINE_DEPLOYMENT, ArtifactKind.DATA, ArtifactKind.SCHEDULE)
                          for a in secondary.list_assets(kind)])
    assert AI_SERVICES_CONNECTION not in serving and f"datastores/{SEEDED_DATASTORES[0]}/" not in serving
    assert AI_SERVICES_CONNECTION not in {c.name for c in secondary.list_connections()}  # replaced, not recreated


def test_readiness_names_missing_mapped_connections_and_datastores(azurite: AzuriteEndpoints) -> None:
    opts = options()
    from rehearsal.scenario import prepare

    scenario = prepare(opts, azurite.connection_string)
    pair = scenario.config.pair(opts.pair)
    maps = ResourceMaps(connection={AI_SERVICES_CONNECTION: "ai-services-nowhere"},
                        datastore={SEEDED_DATASTORES[0]: "replicablobstore", "archive": "archive-dr"})
    result = check_readiness(pair, scenario.secondary, [], [], {}, maps)
    assert not result["ready"]
    assert result["reasons"] == [f"mapped connection missing on {opts.secondary}: ai-services-nowhere",
                                 f"mapped datastore missing on {opts.secondary}: archive-dr"]
    ok = check_readiness(pair, scenario.secondary, [], [], {}, ResourceMaps.of_pair(pair, opts.primary))
    assert ok["ready"], ok["reasons"]


class InFlight:
    """A hub whose calls are counted while they are in flight: how many the caller asked at once."""

    def __init__(self, hub: SimulatedHub) -> None:
        self._hub, self._lock, self.now, self.most = hub, threading.Lock(), 0, 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._hub, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
            try:
                return attr(*args, **kwargs)
            finally:
                with self._lock:
                    self.now -= 1

        return counted


def test_readiness_asks_the_target_everything_at_once(azurite: AzuriteEndpoints,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Readiness is on the RTO's path (no write before it ends): its reads cost one round trip, not four; and a
    down target costs the ping's retries, not four times them."""
    opts = options()
    from rehearsal.scenario import prepare

    scenario = prepare(opts, azurite.connection_string)
    pair = scenario.config.pair(opts.pair)
    maps = ResourceMaps.of_pair(pair, opts.primary)
    scenario.secondary.set_faults("latency_ms=200")  # every call takes a while: the ones asked together overlap
    target = InFlight(scenario.secondary)
    result = check_readiness(pair, target, [], [], {}, maps)  # type: ignore[arg-type]
    assert result["ready"], result["reasons"]
    assert target.most == 4  # the ping, the computes, the connections and the datastores, together

    monkeypatch.setattr(hub_retry, "_backoff", lambda state: 0.0)  # the retries' waits are not what is counted
    scenario.secondary.set_faults("down=1")
    began = time.monotonic()
    down = check_readiness(pair, scenario.secondary, [], [], {}, maps)
    assert not down["ready"] and down["checked"] == {}
    assert len(down["reasons"]) == 1 and down["reasons"][0].startswith(f"target {opts.secondary} unreachable: ")
    sent = Counter(r.operation for r in scenario.secondary.requests.entries(since=began))
    assert sent == {"ping": hub_retry.MAX_ATTEMPTS, "list_computes": 1, "list_assets(connection)": 1,
                    "list_datastores": 1}, sent


def test_provisioning_is_waited_for_on_durable_timers(azurite: AzuriteEndpoints) -> None:
    code, report, _ = drill(azurite, mode="hot-cold", approval="approve", faults="provisioning=3")
    assert code == 0, report["errors"]
    activation = report["activation"]
    assert all(c["pending"] == 0 and c["failed"] == 0 for c in activation.values())
    # Deployments were created at their full size; the routes to them had to wait for their provisioning.
    assert activation["online_deployment"]["already_active"] == activation["online_deployment"]["expected"]
    assert activation["online_endpoint"]["activated"] == activation["online_endpoint"]["expected"] > 0
    journal = services().journal.table.query_entities("PartitionKey eq @run", parameters={
        "run": report["run"].replace("/", "_")}, select=["RowKey"])
    rounds = {row["RowKey"] for row in journal if row["RowKey"].startswith("activate-online_endpoint-")}
    assert any(key.endswith("-r1") for key in rounds), rounds  # asked again after a timer


def test_provisioning_that_never_ends_fails_the_run_at_the_deadline(azurite: AzuriteEndpoints) -> None:
    code, report, _ = drill(azurite, mode="hot-cold", approval="approve", faults="provisioning=1000000")
    assert code == 1 and report["outcome"] == "failed"
    endpoints = report["activation"]["online_endpoint"]
    assert endpoints["pending"] == endpoints["expected"] > 0 and endpoints["activated"] == 0
    assert any("still provisioning after 30 min" in e["error"] for e in report["errors"])
    assert report["pointer"]["generation_after"] == 1  # the flip stands


def test_failback_moves_schedules_back_and_inverts_the_maps(azurite: AzuriteEndpoints) -> None:
    from function_app import app
    from replayhost.engine import ReplayHost

    code, report, opts = drill(azurite)
    assert code == 0, report["errors"]
    svc = services()
    config = svc.config
    primary, secondary = svc.hub(opts.primary), svc.hub(opts.secondary)
    assert isinstance(primary, SimulatedHub) and isinstance(secondary, SimulatedHub)
    sync_catalog(config, opts.pair, lambda ref: hub_client_for(ref, connection_string=azurite.connection_string),
                 svc.catalog, hub_name=opts.secondary)  # the timer syncs the active hub
    host = ReplayHost(app)
    iid = host.start_new("failover", f"failback-{opts.pair}", {
        "pair": opts.pair, "trigger": "failback", "target": opts.primary, "reason": "primary healthy again",
        "requested_by": "test"})
    back = host.wait_for(iid).output
    host.stop()
    assert back["outcome"] == "succeeded", back["errors"]
    assert back["pointer"]["after"] == opts.primary and back["pointer"]["generation_after"] == 2
    # The primary still held everything: the inverted maps give back exactly its own specs.
    for kind in ("data", "online_deployment", "schedule"):
        assert back["artifacts"][kind]["already_present"] == back["artifacts"][kind]["expected"] > 0, kind
    schedules = back["activation"]["schedule"]
    assert schedules["source_disabled"] == schedules["activated"] > 0  # the secondary answered: no double run
    assert enabled(secondary) == set()
    assert enabled(primary) == {s.name for s in cataloged(opts.primary, ArtifactKind.SCHEDULE) if schedule_enabled(s)}
    pair = config.pair(opts.pair)
    for deployment in primary.list_assets(ArtifactKind.ONLINE_DEPLOYMENT):
        assert deployment.spec["sku"]["capacity"] == pair.deployment_map[deployment.name].primary.instance_count
    returned = json.dumps([j.spec for j in primary.list_jobs() if j.name.endswith("-fo2")])
    assert "replicablobstore" not in returned and "ai-services-secondary" not in returned
    assert f"datastores/{SEEDED_DATASTORES[0]}/" in returned


def test_readiness_names_job_dependencies_neither_cataloged_nor_on_the_target(azurite: AzuriteEndpoints) -> None:
    """A job's environment or data that no catalog entry recreates must already be on the target: the checks
    after the ping are asked at once, and each missing one is named (one that is there is not)."""
    opts = options()
    from rehearsal.scenario import prepare

    scenario = prepare(opts, azurite.connection_string)
    pair = scenario.config.pair(opts.pair)
    present = scenario.secondary.list_assets(ArtifactKind.ENVIRONMENT)[0]
    job = replace(scenario.primary.list_jobs()[0], compute=None, spec={"properties": {
        "environmentId": f"azureml:{present.name}:{present.version}",
        "inputs": {"train": {"uri": "azureml:nowhere-data:3"}, "test": {"uri": "azureml:nowhere-data:4"}}}})
    result = check_readiness(pair, scenario.secondary, [job], [], {}, ResourceMaps.of_pair(pair, opts.primary))
    assert result["reasons"] == [f"job dependencies neither cataloged nor on {opts.secondary}: "
                                 "data:nowhere-data:3, data:nowhere-data:4"]
    assert result["checked"]["missing_dependencies"] == 2
    cataloged = [Artifact(ArtifactKind.DATA, "nowhere-data", version) for version in ("3", "4")]
    assert check_readiness(pair, scenario.secondary, [job], cataloged, {})["ready"]
