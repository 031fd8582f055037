from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import pytest
from azure.functions.timer import TimerRequest
from azure.storage.blob import ContainerClient

from failover.domain.config import FailoverConfig, HubRef
from failover.domain.model import DEFAULT_INTERRUPTED_JOB_STATUSES, RECOVERY_ORDER, Artifact, ArtifactKind, JobRecord
from failover.domain.ports import HubError
from failover.domain.secrets import MARKER_PREFIX
from failover.domain.serving import with_schedule_enabled
from failover.hubs.simulated_hub import SimulatedHub
from failover.stores.catalog import CatalogError, CatalogStore, sync_all, sync_catalog
from replayhost.azurite import AzuriteEndpoints

T0 = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


def hub_json(name: str, backend: str = "simulated") -> dict:
    return {"name": name, "subscription_id": "aaaaaaaa-0000-0000-0000-000000000001", "resource_group": "rg",
            "workspace_name": f"ws-{name}", "region": "swedencentral", "backend": backend}


def make_config(primary: str, policy: dict | None = None, extra_pairs: list[dict] | None = None) -> FailoverConfig:
    pair = {"name": "ml", "mode": "hot-warm", "primary": hub_json(primary), "secondary": hub_json(primary + "-dr"),
            "policy": policy or {}}
    return FailoverConfig.model_validate({"pairs": [pair, *(extra_pairs or [])]})


class Env:
    """A simulated primary, a config naming it, and a catalog store, all on the session's Azurite."""

    def __init__(self, azurite: AzuriteEndpoints, unique: str, keep: int = 5, policy: dict | None = None,
                 hub: str = "east") -> None:
        self.conn = azurite.connection_string
        self.table = unique
        self.hub_name = f"{hub}-{unique}"
        self.primary = SimulatedHub(self.hub_name, self.conn, table_name=unique)
        self.config = make_config(self.hub_name, policy)
        self.store = CatalogStore(ContainerClient.from_connection_string(self.conn, unique), keep=keep)

    def factory(self, ref: HubRef) -> SimulatedHub:
        return SimulatedHub(ref.name, self.conn, table_name=self.table)

    def sync(self, now: datetime):
        return sync_catalog(self.config, "ml", self.factory, self.store, now=now)

    def raw_snapshot(self) -> str:
        manifest = json.loads(self.store.container.download_blob(f"{self.hub_name}/current.json").readall())
        return self.store.container.download_blob(manifest["snapshot"]).readall().decode()


@pytest.fixture
def env(azurite: AzuriteEndpoints, unique_name: str) -> Env:
    return Env(azurite, unique_name)


def test_nothing_synced_yet(env: Env) -> None:
    assert env.store.read(env.hub_name) is None  # no container, no manifest


def test_round_trip_matches_the_hub(env: Env) -> None:
    env.primary.seed(jobs=30, artifacts=40, seed=7)
    report = env.sync(T0)
    expected_jobs = {j.name: j for j in env.primary.list_jobs() if j.status in DEFAULT_INTERRUPTED_JOB_STATUSES}
    assert 0 < len(expected_jobs) < 30  # the seed mixes finished and in-flight jobs
    assert report.wrote_snapshot and not report.superseded
    assert report.jobs == len(expected_jobs) and report.added == report.jobs + sum(report.artifacts.values())
    assert (report.changed, report.unchanged, report.removed, report.redacted) == (0, 0, 0, [])

    snap = env.store.read(env.hub_name)
    assert snap is not None
    assert snap.taken_at == T0 and snap.content_since == T0 and snap.age(T0 + timedelta(minutes=5)).seconds == 300
    assert snap.name == report.snapshot and snap.pair == "ml"
    got_jobs = {j.name: j for j in snap.job_records()}
    assert got_jobs.keys() == expected_jobs.keys()
    for name, job in expected_jobs.items():
        assert got_jobs[name].content_hash == job.content_hash and got_jobs[name].status == job.status
        assert got_jobs[name].spec == job.spec and got_jobs[name].tags == job.tags
    assert all(j["last_seen"] == "2030-05-01T12:00:00.000000Z" for j in snap.jobs)
    assert list(snap.artifacts) == [k.value for k in RECOVERY_ORDER]
    for kind in ArtifactKind:
        listed = env.primary.list_assets(kind)
        assert [a.content_hash for a in snap.artifact_list(kind)] == [a.content_hash for a in
                                                                       sorted(listed, key=lambda a: a.key)]
        assert report.artifacts[kind.value] == len(listed)
    assert all(a["content_hash"].startswith("sha256:") for items in snap.artifacts.values() for a in items)


def test_policy_limits_what_is_cataloged(azurite: AzuriteEndpoints, unique_name: str) -> None:
    env = Env(azurite, unique_name, policy={"interrupted_statuses": ["Running"], "artifact_kinds": ["model"]})
    env.primary.seed(jobs=40, artifacts=30, seed=3)
    env.sync(T0)
    snap = env.store.read(env.hub_name)
    assert snap is not None and snap.jobs
    assert {j["status"] for j in snap.jobs} == {"Running"}
    assert list(snap.artifacts) == ["model"] and snap.artifacts["model"]


def test_incremental_counts_and_no_write_when_unchanged(env: Env) -> None:
    env.primary.seed(jobs=20, artifacts=12, seed=11)
    first = env.sync(T0)
    total = first.added

    second = env.sync(T0 + timedelta(minutes=15))
    assert not second.wrote_snapshot and second.snapshot == first.snapshot
    assert (second.added, second.changed, second.unchanged, second.removed) == (0, 0, total, 0)
    assert env.store.snapshot_names(env.hub_name) == [first.snapshot]  # no new blob
    snap = env.store.read(env.hub_name)
    assert snap is not None
    assert snap.taken_at == T0 + timedelta(minutes=15)  # the RPO clock moved
    assert snap.content_since == T0  # the content did not

    jobs = [j for j in env.primary.list_jobs() if j.status in DEFAULT_INTERRUPTED_JOB_STATUSES]
    finishing, progressing = jobs[0], next(j for j in jobs[1:] if j.status != "Running")
    env.primary.set_job_status(finishing.name, "Completed")  # leaves the catalog
    env.primary.set_job_status(progressing.name, "Running")  # a status change is a change
    env.primary.put_asset(Artifact(ArtifactKind.MODEL, "new-model", "1", {"type": "custom_model",
                                                                           "path": "azureml://x/"}))
    third = env.sync(T0 + timedelta(minutes=30))
    assert third.wrote_snapshot and third.snapshot != first.snapshot
    assert (third.added, third.changed, third.removed) == (1, 1, 1)
    assert third.unchanged == total - 2
    snap = env.store.read(env.hub_name)
    assert snap is not None and snap.content_since == T0 + timedelta(minutes=30)
    assert finishing.name not in {j["name"] for j in snap.jobs}
    assert next(j for j in snap.jobs if j["name"] == progressing.name)["status"] == "Running"


def test_old_snapshots_are_pruned(azurite: AzuriteEndpoints, unique_name: str) -> None:
    env = Env(azurite, unique_name, keep=3)
    names = []
    for i in range(6):  # twelve hours apart: only the newest three and the last day's are kept
        env.primary.put_asset(Artifact(ArtifactKind.DATA, f"d{i}", "1", {"type": "uri_file", "path": f"https://x/{i}"}))
        names.append(env.sync(T0 + timedelta(hours=12 * i)).snapshot)
    assert env.store.snapshot_names(env.hub_name) == names[-3:]
    snap = env.store.read(env.hub_name)
    assert snap is not None and snap.name == names[-1] and len(snap.artifacts["data"]) == 6
    pinned = env.store.read_snapshot(env.hub_name, names[-2])  # a plan may pin an older one
    assert len(pinned.artifacts["data"]) == 5 and pinned.taken_at == T0 + timedelta(hours=48)
    with pytest.raises(CatalogError, match="does not exist"):
        env.store.read_snapshot(env.hub_name, names[0])


def test_a_snapshot_a_plan_pinned_outlives_many_syncs_of_a_busy_hub(azurite: AzuriteEndpoints,
                                                                     unique_name: str) -> None:
    """A failover pins the snapshot its plan read and reads it again in later stages; a hub whose jobs change
    at every sync (every 5 minutes here) writes a snapshot each time. An approval wait of an hour must not
    cost the failover its catalog: snapshots of the last day are kept, however many there are."""
    env = Env(azurite, unique_name, keep=3)
    env.primary.seed(jobs=3, artifacts=2, seed=4)
    pinned = env.sync(T0).snapshot
    for i in range(1, 13):
        env.primary.put_asset(Artifact(ArtifactKind.DATA, f"d{i}", "1", {"type": "uri_file", "path": f"https://x/{i}"}))
        assert env.sync(T0 + timedelta(minutes=5 * i)).pruned == 0
    assert env.store.read_snapshot(env.hub_name, pinned).name == pinned
    assert len(env.store.snapshot_names(env.hub_name)) == 13
    env.primary.put_asset(Artifact(ArtifactKind.DATA, "late", "1", {"type": "uri_file", "path": "https://x/late"}))
    later = env.sync(T0 + timedelta(hours=25))  # a day on: down to the newest three
    assert later.pruned == 11 and len(env.store.snapshot_names(env.hub_name)) == 3
    with pytest.raises(CatalogError, match="does not exist"):
        env.store.read_snapshot(env.hub_name, pinned)


def test_an_unreadable_item_is_named_and_the_rest_cataloged(env: Env) -> None:
    env.primary.seed(jobs=20, artifacts=20, seed=5)
    first = env.sync(T0)
    assert first.unreadable == []
    job = next(j for j in env.primary.list_jobs() if j.status in DEFAULT_INTERRUPTED_JOB_STATUSES)
    component = env.primary.list_assets(ArtifactKind.COMPONENT)[0]
    # Both turn into something the adapter can't read (as a body azure-ai-ml can't parse), and one
    # job that never was readable appears.
    env.primary.plant_unreadable("job", job.name, status=job.status)
    env.primary.plant_unreadable("component", component.name, component.version)
    env.primary.plant_unreadable("job", "never-readable", status="Running")

    second = env.sync(T0 + timedelta(minutes=15))
    assert [(u["key"], u["kept_previous"]) for u in second.unreadable] == [
        (component.key, True), (f"job:{job.name}", True), ("job:never-readable", False)]
    assert all(u["reason"] for u in second.unreadable)
    # Nothing was lost: the last readable copies stay, and they are what they were.
    assert (second.jobs, second.artifacts) == (first.jobs, first.artifacts)
    assert (second.added, second.changed, second.removed) == (0, 0, 0)
    assert not second.wrote_snapshot
    snap = env.store.read(env.hub_name)
    assert snap is not None
    kept = next(j for j in snap.jobs if j["name"] == job.name)
    assert kept["last_seen"] == "2030-05-01T12:00:00.000000Z"  # when it was last read
    assert component.key in {a.key for a in snap.artifact_list(ArtifactKind.COMPONENT)}
    summary = second.summary()
    assert "UNREADABLE=3" in summary and "job:never-readable" in summary and component.key in summary


def test_no_secret_value_reaches_the_catalog(env: Env) -> None:
    env.primary.seed(jobs=10, artifacts=10, seed=5)
    source = JobRecord("train-1", "Running", "exp", "cpu", {"properties": {"environmentVariables": {
        "OPENAI_API_KEY": "sk-live-0123456789", "LOG_LEVEL": "debug"}, "jobType": "Command"}})
    env.primary.submit_job(source, new_name="train-1-with-secret", compute="cpu", tags={})
    env.primary.set_job_status("train-1-with-secret", "Running")
    env.primary.put_asset(Artifact(ArtifactKind.DATA, "sas-data", "1", {
        "type": "uri_file", "path": "https://acct.blob.core.windows.net/c/f.csv?sv=2022-11-02&sig=SECRETSIGVALUE"}))
    report = env.sync(T0)
    text = env.raw_snapshot()
    assert "sk-live-0123456789" not in text and "SECRETSIGVALUE" not in text
    assert "debug" in text and MARKER_PREFIX in text
    assert sorted(report.redacted) == [
        "data:sas-data:1.spec.path",
        "job:train-1-with-secret.spec.properties.environmentVariables.OPENAI_API_KEY",
    ]
    assert "sk-live" not in report.summary() and "SECRETSIG" not in report.summary()
    snap = env.store.read(env.hub_name)  # the stored hashes are those of the redacted specs
    assert snap is not None and snap.artifact_list(ArtifactKind.DATA)


def test_a_reader_never_sees_a_missing_or_partial_snapshot(env: Env) -> None:
    env.primary.seed(jobs=8, artifacts=8, seed=2)
    env.sync(T0)
    stop = threading.Event()
    seen: list[str] = []
    errors: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                snap = env.store.read(env.hub_name, attempts=1)  # no retry: a dangling manifest would raise
            except BaseException as exc:
                errors.append(exc)
                return
            assert snap is not None
            seen.append(snap.name)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(15):
            env.primary.put_asset(Artifact(ArtifactKind.CODE, f"c{i}", "1", {"path": f"https://x/{i}/"}))
            env.sync(T0 + timedelta(seconds=i + 1))
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert len(set(seen)) >= 3  # the reader really ran across several swaps


def test_a_failing_hub_leaves_the_previous_snapshot(env: Env) -> None:
    env.primary.seed(jobs=5, artifacts=5, seed=1)
    first = env.sync(T0)
    env.primary.set_faults("down=1")
    with pytest.raises(HubError):
        env.sync(T0 + timedelta(minutes=15))
    snap = env.store.read(env.hub_name)
    assert snap is not None and snap.name == first.snapshot and snap.taken_at == T0


def test_sync_all_reports_each_pair(azurite: AzuriteEndpoints, unique_name: str) -> None:
    env = Env(azurite, unique_name)
    env.primary.seed(jobs=3, artifacts=3, seed=1)
    down = SimulatedHub(f"south-{unique_name}", env.conn, table_name=unique_name)
    down.set_faults("down=1")
    env.config = make_config(env.hub_name, extra_pairs=[{
        "name": "ml2", "mode": "hot-hot", "primary": hub_json(down.hub_id), "secondary": hub_json("north")}])
    results = sync_all(env.config, env.factory, env.store, now=T0)
    assert [r.pair for r in results] == ["ml", "ml2"]
    assert results[0].report is not None and results[0].error is None
    assert results[1].report is None and results[1].error is not None and "unreachable" in results[1].error
    assert "\n" not in results[1].error


def test_manifest_swap_is_conditional(env: Env) -> None:
    env.primary.seed(jobs=2, artifacts=2, seed=1)
    env.sync(T0)
    snap = env.store.read(env.hub_name)
    assert snap is not None
    env.sync(T0 + timedelta(minutes=1))  # moves the manifest's etag on
    assert env.store.swap_manifest(env.hub_name, {"snapshot": "bogus"}, snap.manifest_etag) is False
    assert env.store.swap_manifest(env.hub_name, {"snapshot": "bogus"}, None) is False  # exists already
    assert env.store.read(env.hub_name) is not None


def test_a_tampered_snapshot_is_detected(env: Env) -> None:
    env.primary.seed(jobs=4, artifacts=4, seed=1)
    report = env.sync(T0)
    body = json.loads(env.store.container.download_blob(report.snapshot).readall())
    body["jobs"][0]["spec"]["injected"] = True
    env.store.container.upload_blob(report.snapshot, json.dumps(body), overwrite=True)
    with pytest.raises(CatalogError, match="content hash"):
        env.store.read(env.hub_name)


def test_timer_trigger_binding_and_run(azurite: AzuriteEndpoints, unique_name: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from triggers.catalog_sync import bp

    app = df.DFApp()
    app.register_functions(bp)
    (function,) = [f for f in app.get_functions() if f.get_function_name() == "catalog_sync"]
    binding = function.get_raw_bindings()[0]
    assert '"schedule": "%CATALOG_SYNC_SCHEDULE%"' in binding and '"runOnStartup": false' in binding
    assert '"name": "timer"' in binding and '"type": "timerTrigger"' in binding

    healthy = SimulatedHub(f"east-{unique_name}", azurite.connection_string)  # the default table
    healthy.seed(jobs=4, artifacts=4, seed=9)
    down = SimulatedHub(f"south-{unique_name}", azurite.connection_string)
    down.set_faults("down=1")
    config = make_config(healthy.hub_id, extra_pairs=[{
        "name": "ml2", "mode": "hot-hot", "primary": hub_json(down.hub_id), "secondary": hub_json("north")}])
    monkeypatch.setenv("FAILOVER_CONFIG", config.model_dump_json(by_alias=True, exclude_none=True))
    monkeypatch.setenv("DR_STORAGE_CONNECTION", azurite.connection_string)
    monkeypatch.delenv("DR_STORAGE_ACCOUNT", raising=False)
    with pytest.raises(RuntimeError, match=r"catalog sync failed for pair\(s\): ml2$"):
        function.get_user_function()(TimerRequest(past_due=False))
    store = CatalogStore(ContainerClient.from_connection_string(azurite.connection_string, "drcatalog"))
    snap = store.read(healthy.hub_id)
    assert snap is not None and len(snap.jobs) == len([j for j in healthy.list_jobs()
                                                       if j.status in DEFAULT_INTERRUPTED_JOB_STATUSES])


def test_sync_follows_the_pointer_to_the_active_hub(azurite: AzuriteEndpoints, unique_name: str) -> None:
    """After a failover the secondary is the active hub: its catalog is what a failback needs."""
    primary = SimulatedHub(f"pri-{unique_name}", azurite.connection_string)
    secondary = SimulatedHub(f"sec-{unique_name}", azurite.connection_string)
    secondary.seed(jobs=3, artifacts=6, seed=4)
    config = FailoverConfig.model_validate({"pairs": [{
        "name": "ml", "mode": "hot-warm", "primary": hub_json(primary.hub_id),
        "secondary": hub_json(secondary.hub_id)}]})
    store = CatalogStore(ContainerClient.from_connection_string(azurite.connection_string, "drcatalog"))
    factory = lambda ref: SimulatedHub(ref.name, azurite.connection_string)  # noqa: E731
    [result] = sync_all(config, factory, store, active_hub=lambda _pair: secondary.hub_id)
    assert result.error is None and result.report is not None and result.report.hub == secondary.hub_id
    assert store.read(primary.hub_id) is None
    snap = store.read(secondary.hub_id)
    assert snap is not None and sum(len(v) for v in snap.artifacts.values()) == 6


def test_timer_disables_on_the_standby_the_schedules_the_active_hub_runs(
        azurite: AzuriteEndpoints, unique_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a failover whose source did not answer, the old primary comes back with its schedules enabled:
    the next sync disables them there (and only those the active hub runs)."""
    from triggers.catalog_sync import bp

    app = df.DFApp()
    app.register_functions(bp)
    (function,) = [f for f in app.get_functions() if f.get_function_name() == "catalog_sync"]
    active = SimulatedHub(f"act-{unique_name}", azurite.connection_string)
    standby = SimulatedHub(f"sby-{unique_name}", azurite.connection_string)
    _, seeded = active.seed(jobs=2, artifacts=80, seed=5)
    schedules = [a for a in seeded if a.kind is ArtifactKind.SCHEDULE]
    runs = [s for s in schedules if s.spec["properties"]["isEnabled"]]
    assert runs and len(runs) < len(schedules)  # one stays disabled on the active hub
    standby_own = Artifact(ArtifactKind.SCHEDULE, "standby-only-report", None, {"properties": {"isEnabled": True}})
    for schedule in [*schedules, standby_own]:  # the standby runs every one of them, and one of its own
        standby.put_asset(with_schedule_enabled(schedule, True))
    standby.set_faults("down=1")
    pair = f"p-{unique_name}".lower()  # the session's pointer table is shared: a pair of its own
    config = FailoverConfig.model_validate({"pairs": [{
        "name": pair, "mode": "hot-warm", "primary": hub_json(standby.hub_id), "secondary": hub_json(active.hub_id)}]})
    monkeypatch.setenv("FAILOVER_CONFIG", config.model_dump_json(by_alias=True, exclude_none=True))
    monkeypatch.setenv("DR_STORAGE_CONNECTION", azurite.connection_string)
    monkeypatch.delenv("DR_STORAGE_ACCOUNT", raising=False)
    from failover.services import reset_services, services

    reset_services()
    services().pointers.ensure(pair, standby.hub_id, active.hub_id)
    services().pointers.flip(pair, expected_active=standby.hub_id, expected_generation=0, to=active.hub_id,
                             by="test", reason="failover while the primary was down")
    function.get_user_function()(TimerRequest(past_due=False))  # the standby is down: no error, nothing changed
    standby.clear_faults()
    assert {s.name for s in standby.list_assets(ArtifactKind.SCHEDULE) if s.spec["properties"]["isEnabled"]} == \
        {s.name for s in schedules} | {"standby-only-report"}
    function.get_user_function()(TimerRequest(past_due=False))
    still = {s.name for s in standby.list_assets(ArtifactKind.SCHEDULE) if s.spec["properties"]["isEnabled"]}
    assert still == {"standby-only-report"} | {s.name for s in schedules if s not in runs}
    reset_services()


def _corrupt(env: Env, name: str) -> None:
    body = json.loads(env.store.container.download_blob(name).readall())
    body["artifacts"]["data"][0]["spec"]["path"] = "https://elsewhere/"  # bit rot: content no longer matches
    env.store.container.upload_blob(name, json.dumps(body), overwrite=True)


def test_a_corrupt_newest_snapshot_falls_back_to_the_newest_valid_one_and_the_next_sync_heals(env: Env) -> None:
    env.primary.seed(jobs=4, artifacts=6, seed=1)
    older = env.sync(T0)
    env.primary.put_asset(Artifact(ArtifactKind.DATA, "late", "1", {"type": "uri_file", "path": "https://x/late"}))
    newest = env.sync(T0 + timedelta(minutes=15))
    env.sync(T0 + timedelta(minutes=30))  # unchanged: only the manifest's taken_at moves
    _corrupt(env, newest.snapshot)

    snap = env.store.read(env.hub_name)
    assert snap is not None and snap.name == older.snapshot
    assert snap.fallback is not None and snap.fallback.wanted == newest.snapshot
    assert "fails its content hash" in snap.fallback.reason
    assert snap.taken_at == T0  # the RPO of the snapshot actually used, not the manifest's
    described = snap.describe(T0 + timedelta(minutes=40))
    assert described["snapshot"] == older.snapshot and described["age_seconds"] == 2400
    assert described["fallback"] == {"wanted": newest.snapshot, "reason": snap.fallback.reason}

    healed = env.sync(T0 + timedelta(minutes=45))  # the hub still has "late": a fresh snapshot
    assert healed.healed is not None and newest.snapshot in healed.healed and "HEALED" in healed.summary()
    assert healed.wrote_snapshot and healed.snapshot not in (older.snapshot, newest.snapshot)
    assert (healed.added, healed.removed) == (1, 0)  # compared with the fallback, the snapshot it can trust
    snap = env.store.read(env.hub_name)
    assert snap is not None and snap.fallback is None and snap.name == healed.snapshot
    assert snap.taken_at == T0 + timedelta(minutes=45)
    assert env.sync(T0 + timedelta(minutes=60)).healed is None  # healed once, then ordinary syncs


def test_when_no_snapshot_verifies_the_reader_says_why_and_a_sync_still_heals(env: Env) -> None:
    env.primary.seed(jobs=3, artifacts=3, seed=2)
    first = env.sync(T0)
    env.store.container.upload_blob(f"{env.hub_name}/current.json", b"{not json", overwrite=True)
    with pytest.raises(CatalogError, match="manifest is not readable"):
        _corrupt_and_read(env, first.snapshot)
    report = env.sync(T0 + timedelta(minutes=5))
    assert report.healed is not None and "manifest is not readable" in report.healed
    snap = env.store.read(env.hub_name)
    assert snap is not None and snap.fallback is None and snap.name == report.snapshot


def _corrupt_and_read(env: Env, name: str) -> None:
    _corrupt(env, name)
    env.store.read(env.hub_name)


def test_a_missing_manifest_with_kept_snapshots_falls_back(env: Env) -> None:
    env.primary.seed(jobs=2, artifacts=2, seed=3)
    first = env.sync(T0)
    env.store.container.delete_blob(f"{env.hub_name}/current.json")
    snap = env.store.read(env.hub_name)
    assert snap is not None and snap.name == first.snapshot
    assert snap.fallback is not None and snap.fallback.wanted is None and "missing" in snap.fallback.reason
    assert env.sync(T0 + timedelta(minutes=1)).healed is not None


def test_a_manifest_naming_another_hubs_snapshot_is_not_used(azurite: AzuriteEndpoints, unique_name: str) -> None:
    """A manifest copied from another hub (by hand, by a tool): that hub's items must not be recovered as this
    hub's. The reader falls back to this hub's own snapshots; the next sync heals."""
    env = Env(azurite, unique_name)
    other = Env(azurite, unique_name, hub="west")  # the same catalog container
    other.primary.seed(jobs=3, artifacts=3, seed=9)
    other.sync(T0)
    env.primary.seed(jobs=2, artifacts=2, seed=8)
    own = env.sync(T0)
    foreign = other.store.container.download_blob(f"{other.hub_name}/current.json").readall()
    env.store.container.upload_blob(f"{env.hub_name}/current.json", foreign, overwrite=True)
    snap = env.store.read(env.hub_name)
    assert snap is not None and snap.name == own.snapshot and snap.hub == env.hub_name
    assert snap.fallback is not None and "does not belong to hub" in snap.fallback.reason
    assert env.sync(T0 + timedelta(minutes=1)).healed is not None


def _verifications(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the item-by-item verifications (every fingerprint recomputed) of snapshots read."""
    from failover.stores import catalog

    calls: list[int] = []
    real = catalog._fingerprints

    def counting(jobs: list, artifacts: dict) -> dict[str, str]:
        calls.append(len(jobs))
        return real(jobs, artifacts)

    monkeypatch.setattr(catalog, "_fingerprints", counting)
    return calls


def test_a_snapshot_as_its_sync_wrote_it_is_read_without_rehashing_every_item(env: Env,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    env.primary.seed(jobs=4, artifacts=6, seed=1)
    report = env.sync(T0)
    properties = env.store.container.get_blob_client(report.snapshot).get_blob_properties()
    assert len(properties.metadata["bodysha256"]) == 64  # the digest of its bytes, written with them
    verifications = _verifications(monkeypatch)

    read = env.store.read(env.hub_name)
    assert read is not None and read.name == report.snapshot and read.fallback is None
    assert env.store.read_snapshot(env.hub_name, report.snapshot).content_hash == read.content_hash
    assert verifications == []
    # Rewritten (the metadata does not follow a new upload), even with the same content: item by item.
    env.store.container.upload_blob(report.snapshot, env.raw_snapshot(), overwrite=True)
    assert env.store.read(env.hub_name).fallback is None
    assert len(verifications) == 1


def test_bytes_that_no_longer_match_their_digest_fail_the_content_hash(env: Env) -> None:
    env.primary.seed(jobs=4, artifacts=6, seed=1)
    older = env.sync(T0)
    env.primary.put_asset(Artifact(ArtifactKind.DATA, "late", "1", {"type": "uri_file", "path": "https://x/late"}))
    newest = env.sync(T0 + timedelta(minutes=15))
    blob = env.store.container.get_blob_client(newest.snapshot)
    digest = blob.get_blob_properties().metadata
    body = json.loads(blob.download_blob().readall())
    body["artifacts"]["data"][0]["spec"]["path"] = "https://elsewhere/"  # damaged, the digest kept with it
    blob.upload_blob(json.dumps(body, separators=(",", ":")), overwrite=True, metadata=digest)

    snap = env.store.read(env.hub_name)
    assert snap is not None and snap.name == older.snapshot
    assert snap.fallback is not None and "fails its content hash (its bytes changed)" in snap.fallback.reason
    with pytest.raises(CatalogError, match="its bytes changed"):
        env.store.read_snapshot(env.hub_name, newest.snapshot)


def test_the_items_a_run_keeps_using_outlive_the_ones_built_after_them(env: Env, azurite: AzuriteEndpoints,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A long failover's stages are read by every chunk; other pairs' plans since must not push them out."""
    from failover.services import reset_services, services

    monkeypatch.setenv("FAILOVER_CONFIG", env.config.model_dump_json(by_alias=True, exclude_none=True))
    monkeypatch.setenv("DR_STORAGE_CONNECTION", azurite.connection_string)
    monkeypatch.delenv("DR_STORAGE_ACCOUNT", raising=False)
    reset_services()
    svc = services()
    env.primary.seed(jobs=2, artifacts=3, seed=1)
    env.sync(T0)
    snapshot = env.store.read(env.hub_name)
    assert snapshot is not None
    svc.pin_snapshot(snapshot)  # as a plan does
    builds: list[str] = []

    def items(what: str) -> list[str]:
        return svc.chunk_items(env.hub_name, snapshot.name, what, lambda s: builds.append(what) or [what])

    items("the run's")
    for i in range(100):  # far more than are kept; the run's chunks keep asking meanwhile
        items(f"other {i}")
        assert items("the run's") == ["the run's"]
    assert builds.count("the run's") == 1 and builds.count("other 0") == 1
    assert items("other 0") == ["other 0"] and builds.count("other 0") == 2  # unused since: gone, built again
    reset_services()
