"""The failover orchestration when the catalog is missing or damaged: real replay, Azurite, simulated hubs."""

from __future__ import annotations

import json
import uuid
from typing import Any

from failover.services import reset_services, services
from rehearsal.scenario import DrillOptions, Scenario, prepare
from replayhost.azurite import AzuriteEndpoints
from tests.waiting import patience


def _scenario(azurite: AzuriteEndpoints, mode: str) -> tuple[Scenario, DrillOptions]:
    tag = uuid.uuid4().hex[:8]
    opts = DrillOptions(jobs=8, artifacts=12, seed=4, chunk_size=6, mode=mode, pair=f"c{tag}",
                        primary=f"pri{tag}", secondary=f"sec{tag}")
    scenario = prepare(opts, azurite.connection_string)
    scenario.primary.set_faults("down=1")
    return scenario, opts


def _failover(opts: DrillOptions) -> dict[str, Any]:
    from function_app import app
    from replayhost.engine import ReplayHost

    reset_services()  # no process keeps a catalog snapshot in memory
    host = ReplayHost(app)
    try:
        iid = host.start_new("failover", None, {"pair": opts.pair, "trigger": "manual", "reason": "catalog test",
                                                "requested_by": "test"})
        status = host.wait_for(iid, timeout=patience(120))
    finally:
        host.stop()
    assert status.runtime_status.value == "Completed", status.output  # never Failed, whatever the catalog
    report: dict[str, Any] = status.output
    return report


def _delete_catalog(hub: str) -> None:
    container = services().catalog.container
    for blob in list(container.list_blobs(name_starts_with=f"{hub}/")):
        container.delete_blob(blob.name)


def test_hot_hot_flips_without_any_catalog(azurite: AzuriteEndpoints) -> None:
    _, opts = _scenario(azurite, "hot-hot")
    _delete_catalog(opts.primary)
    report = _failover(opts)
    assert report["outcome"] == "succeeded", report
    assert report["pointer"]["after"] == opts.secondary and report["pointer"]["generation_after"] == 1
    assert report["catalog"]["snapshot"] is None
    assert "no catalog snapshot" in report["catalog"]["missing"] and "only flips" in report["catalog"]["missing"]
    assert services().pointers.read(opts.pair).active == opts.secondary


def test_hot_hot_flips_when_no_snapshot_verifies(azurite: AzuriteEndpoints) -> None:
    _, opts = _scenario(azurite, "hot-hot")
    services().catalog.container.upload_blob(f"{opts.primary}/current.json", b"garbage", overwrite=True)
    for blob in services().catalog.container.list_blobs(name_starts_with=f"{opts.primary}/snapshots/"):
        services().catalog.container.upload_blob(blob.name, b"{}", overwrite=True)
    report = _failover(opts)
    assert report["outcome"] == "succeeded" and report["pointer"]["generation_after"] == 1
    assert "manifest is not readable" in report["catalog"]["missing"]


def test_hot_warm_without_a_catalog_aborts_before_any_write_and_says_why(azurite: AzuriteEndpoints) -> None:
    scenario, opts = _scenario(azurite, "hot-warm")
    _delete_catalog(opts.primary)
    writes = scenario.secondary.write_count
    report = _failover(opts)
    assert report["outcome"] == "aborted" and "run a catalog sync first" in report["outcome_reason"]
    assert services().pointers.read(opts.pair).generation == 0
    assert scenario.secondary.write_count == writes
    [record] = services().audit.list(opts.pair, "failover")
    assert record.outcome == "aborted"


def test_a_corrupt_newest_snapshot_is_skipped_and_the_report_says_which_was_used(azurite: AzuriteEndpoints) -> None:
    scenario, opts = _scenario(azurite, "hot-warm")
    good = services().catalog.read(opts.primary)
    assert good is not None
    # A later sync wrote a newer snapshot, then storage damaged it.
    scenario.primary.set_faults("")
    scenario.primary.set_job_status(good.job_records()[0].name, "Completed")  # leaves the catalog
    from failover.stores.catalog import sync_catalog

    newer = sync_catalog(scenario.config, opts.pair, lambda ref: services().hub(ref.name), services().catalog)
    assert newer.wrote_snapshot
    body = json.loads(services().catalog.container.download_blob(newer.snapshot).readall())
    body["jobs"] = body["jobs"][1:]
    services().catalog.container.upload_blob(newer.snapshot, json.dumps(body), overwrite=True)
    scenario.primary.set_faults("down=1")

    report = _failover(opts)
    assert report["outcome"] == "succeeded", report["errors"]
    catalog = report["catalog"]
    assert catalog["snapshot"] == good.name
    assert catalog["fallback"]["wanted"] == newer.snapshot
    assert "fails its content hash" in catalog["fallback"]["reason"]
    assert catalog["taken_at"] == good.taken_at.isoformat()  # the RPO basis of the snapshot actually used
    assert report["jobs"]["resubmitted"] == report["jobs"]["interrupted"] == len(good.job_records()) > 0
