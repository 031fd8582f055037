"""One HubClient contract, run against SimulatedHub (real Azurite) and AzureMLHub (real
azure-ai-ml SDK over the emulated transport). Adapter-specific tests follow the contract.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest

from failover.domain.model import (
    ACTIVATION_WAVES,
    DEFAULT_INTERRUPTED_JOB_STATUSES,
    NON_TERMINAL_JOB_STATUSES,
    TAG_GENERATION,
    TAG_SOURCE_JOB,
    VERSIONED_KINDS,
    Artifact,
    ArtifactKind,
    JobRecord,
    resubmission_name,
)
from failover.domain.permissions import SUBMIT_JOBS, WRITE_ACTION, missing, recovery_actions
from failover.domain.ports import ErrorCategory, HubClient, HubError, WriteOutcome
from failover.domain.secrets import secret_fields
from failover.domain.serving import creation_form, state_form
from failover.hubs.azureml_hub import AzureMLHub
from failover.hubs.hub_factory import hub_client_for
from failover.hubs.hub_specs import references
from failover.hubs.simulated_fault import FaultConfig
from failover.hubs.simulated_hub import SimulatedHub
from failover.hubs.simulated_seed import COMPUTES, seed_artifacts, seed_jobs
from replayhost.azurite import AzuriteEndpoints
from tests.azureml_emulator import (
    RESOURCE_GROUP,
    SUBSCRIPTION,
    AzureMLEmulator,
    Fault,
    FixedTokenCredential,
    role_permissions,
)
from tests.waiting import wait_until


@dataclass
class HubPair:
    """A primary and a secondary of one backend, plus the backend's admin knobs."""

    primary: HubClient
    secondary: HubClient
    writes: Callable[[], int]  # writes the secondary received
    set_status: Callable[[str, str], None]  # on the primary
    set_computes: Callable[[Iterable[str]], None]  # on the secondary (admin: replaces the set)
    # On the primary: an item its adapter can't read ("job" or "component"), named so.
    plant_unreadable: Callable[[str, str], None]
    set_datastores: Callable[[Iterable[str]], None]  # on the secondary (admin: replaces the set)
    set_permissions: Callable[[list[dict[str, Any]]], None]  # on the secondary: the identity's role assignments
    emulators: tuple[AzureMLEmulator, AzureMLEmulator] | None = None  # Azure ML backend only

    def add_source_jobs(self, count: int, seed: int = 0) -> list[JobRecord]:
        """Create jobs on the primary through the port, the same way on both backends."""
        scope = getattr(self.primary, "workspace_scope")  # noqa: B009 - both adapters expose it
        jobs = seed_jobs(count, random.Random(seed), seed_artifacts(12, random.Random(seed)), scope)
        for job in jobs:
            self.primary.submit_job(job, new_name=job.name, compute=job.compute, tags={})
        return [self.primary.get_job(j.name) for j in jobs]


def _sim_pair(azurite: AzuriteEndpoints) -> HubPair:
    tag = uuid.uuid4().hex[:8]
    primary = SimulatedHub(f"primary-{tag}", azurite.connection_string)
    secondary = SimulatedHub(f"secondary-{tag}", azurite.connection_string)
    def plant(kind: str, name: str) -> None:
        primary.plant_unreadable(kind, name, None if kind == "job" else "1")

    return HubPair(primary, secondary, lambda: secondary.write_count, primary.set_job_status,
                   secondary.set_computes, plant, secondary.set_datastores, secondary.set_permissions)


def _azureml_pair() -> HubPair:
    primary_ws, secondary_ws = AzureMLEmulator("hub-primary"), AzureMLEmulator("hub-secondary")

    def hub(emulator: AzureMLEmulator) -> AzureMLHub:
        return AzureMLHub(SUBSCRIPTION, RESOURCE_GROUP, emulator.workspace, credential=FixedTokenCredential(),
                          transport=emulator, retry_total=0)

    def set_computes(names: Iterable[str]) -> None:
        secondary_ws.computes = set(names)

    def plant(kind: str, name: str) -> None:
        # Microsoft's own examples that azure-ai-ml can't parse (tests/samples/azureml_rest).
        if kind == "job":  # a sweep job whose search space is a placeholder
            primary_ws.load_example("2025-01-01-preview/Job/SweepJob/createOrUpdate.json", f"/jobs/{name}")
        else:  # a componentSpec without type
            primary_ws.load_example("2024-04-01-preview/Workspace/ComponentVersion/get.json",
                                    f"/components/{name}/versions/1")

    def set_datastores(names: Iterable[str]) -> None:
        secondary_ws.datastores = set(names)

    def set_permissions(permissions: list[dict[str, Any]]) -> None:
        secondary_ws.permissions = permissions

    return HubPair(hub(primary_ws), hub(secondary_ws), secondary_ws.put_count, primary_ws.set_job_status,
                   set_computes, plant, set_datastores, set_permissions, (primary_ws, secondary_ws))


def hub_pair(request: pytest.FixtureRequest) -> HubPair:
    """The pair of the requested backend: the body of every contract module's ``hubs`` fixture."""
    if request.param == "simulated":
        return _sim_pair(request.getfixturevalue("azurite"))
    return _azureml_pair()


@pytest.fixture(params=["simulated", "azureml"])
def hubs(request: pytest.FixtureRequest) -> HubPair:
    return hub_pair(request)


def _artifacts() -> list[Artifact]:
    """Every kind, dependencies first (components name an environment and code; models data)."""
    artifacts = seed_artifacts(14, random.Random(42))
    assert {a.kind for a in artifacts} == set(ArtifactKind)
    return artifacts


# -- the contract ---------------------------------------------------------------------------------

def test_ping(hubs: HubPair) -> None:
    hubs.primary.ping()
    hubs.secondary.ping()


def test_permissions_tell_what_the_identity_may_do_on_the_hub(hubs: HubPair) -> None:
    every_write = recovery_actions("hot-warm", list(ArtifactKind))
    assert SUBMIT_JOBS in every_write and set(WRITE_ACTION.values()) <= set(every_write)
    # the role infra/ assigns on each workspace (AzureML Data Scientist) allows every write recovery makes
    hubs.set_permissions(role_permissions("azureml_data_scientist.json"))
    assert missing(every_write, hubs.secondary.permissions()) == []
    # a Reader may read the workspace (enough for hot-hot, which writes nothing there) and nothing else
    hubs.set_permissions(role_permissions("reader.json"))
    granted = hubs.secondary.permissions()
    assert missing(recovery_actions("hot-hot", list(ArtifactKind)), granted) == []
    assert missing(every_write, granted) == [a for a in every_write if not a.endswith("/read")]


def test_list_computes_returns_exactly_the_workspace_computes(hubs: HubPair) -> None:
    before = hubs.writes()
    hubs.set_computes(["gpu-cluster-dr", "cpu-cluster-dr", "cpu-small-dr"])
    assert hubs.secondary.list_computes() == ["cpu-cluster-dr", "cpu-small-dr", "gpu-cluster-dr"]
    hubs.set_computes(["gpu-cluster-dr"])  # replaced, not added to
    assert hubs.secondary.list_computes() == ["gpu-cluster-dr"]
    hubs.set_computes([])
    assert hubs.secondary.list_computes() == []
    assert hubs.writes() == before  # reading (and administering) computes is not a write


def test_list_jobs_filters_by_status(hubs: HubPair) -> None:
    running, done, queued = hubs.add_source_jobs(3)
    hubs.set_status(running.name, "Running")
    hubs.set_status(done.name, "Completed")
    hubs.set_status(queued.name, "Queued")
    assert [j.name for j in hubs.primary.list_jobs(NON_TERMINAL_JOB_STATUSES)] == sorted([running.name, queued.name])
    assert [j.name for j in hubs.primary.list_jobs(["Completed"])] == [done.name]
    everything = hubs.primary.list_jobs()
    assert {j.name: j.status for j in everything} == {running.name: "Running", done.name: "Completed",
                                                      queued.name: "Queued"}


def test_get_missing_job_is_not_found(hubs: HubPair) -> None:
    with pytest.raises(HubError) as info:
        hubs.secondary.get_job("no-such-job")
    assert info.value.category is ErrorCategory.NOT_FOUND


def test_submit_creates_named_job_on_mapped_compute_with_tags(hubs: HubPair) -> None:
    (listed,) = hubs.add_source_jobs(1, seed=3)
    # As the catalog holds a running job: its outputs were already given a location.
    spec = copy.deepcopy(listed.spec)
    spec["properties"]["outputs"]["model_output"]["uri"] = "azureml://datastores/workspaceblobstore/paths/run1/"
    source = dataclasses.replace(listed, spec=spec)
    new_name = resubmission_name(source.name, 4)
    tags = {TAG_SOURCE_JOB: source.name, TAG_GENERATION: "4"}
    mapped = "gpu-cluster" if source.compute != "gpu-cluster" else "cpu-small"
    result = hubs.secondary.submit_job(source, new_name=new_name, compute=mapped, tags=tags)
    assert (result.name, result.outcome) == (new_name, WriteOutcome.CREATED)
    created = hubs.secondary.get_job(new_name)
    assert created.name == new_name
    assert created.compute == mapped
    assert created.status == "Queued"
    assert created.experiment_name == source.experiment_name
    assert created.tags == {**source.tags, **tags}
    outputs = created.spec["properties"]["outputs"]
    assert outputs and all("uri" not in o for o in outputs.values())  # fresh output locations


def test_resubmitting_twice_leaves_one_job(hubs: HubPair) -> None:
    (source,) = hubs.add_source_jobs(1, seed=5)
    new_name = resubmission_name(source.name, 1)
    before = hubs.writes()
    first = hubs.secondary.submit_job(source, new_name=new_name, compute=None, tags={TAG_GENERATION: "1"})
    second = hubs.secondary.submit_job(source, new_name=new_name, compute=None, tags={TAG_GENERATION: "1"})
    assert (first.outcome, second.outcome) == (WriteOutcome.CREATED, WriteOutcome.ALREADY_PRESENT)
    assert hubs.writes() - before == 1
    assert [j.name for j in hubs.secondary.list_jobs()] == [new_name]
    assert hubs.secondary.get_job(new_name).compute == source.compute  # compute=None keeps the source's


def test_same_asset_twice_is_written_once(hubs: HubPair) -> None:
    environment = next(a for a in _artifacts() if a.kind is ArtifactKind.ENVIRONMENT)
    before = hubs.writes()
    assert hubs.secondary.put_asset(environment) is WriteOutcome.CREATED
    assert hubs.secondary.put_asset(environment) is WriteOutcome.ALREADY_PRESENT
    assert hubs.writes() - before == 1


def test_same_version_different_content_is_a_conflict(hubs: HubPair) -> None:
    data = next(a for a in _artifacts() if a.kind is ArtifactKind.DATA)
    hubs.secondary.put_asset(data)
    changed = Artifact(data.kind, data.name, data.version, {**data.spec, "description": "edited after the fact"})
    before = hubs.writes()
    with pytest.raises(HubError) as info:
        hubs.secondary.put_asset(changed)
    assert info.value.category is ErrorCategory.CONFLICT
    assert hubs.writes() == before
    assert hubs.secondary.get_asset(data.kind, data.name, data.version).content_hash == data.content_hash


def test_connections_never_carry_secret_values(hubs: HubPair) -> None:
    clean = Artifact(ArtifactKind.CONNECTION, "feature-store-git", None,
                     {"type": "git", "target": "https://example.com/org/repo.git", "metadata": {"team": "ds"},
                      "expiry_time": None, "is_shared_to_all": False, "extra": {}})
    leaky = Artifact(ArtifactKind.CONNECTION, "openai-leaky", None,
                     {"type": "custom", "target": "https://x.example.com/",
                      "metadata": {}, "credentials": {"key": "sk-do-not-store"}})
    before = hubs.writes()
    with pytest.raises(HubError) as info:
        hubs.secondary.put_connection(leaky)
    assert info.value.category is ErrorCategory.PERMANENT
    assert "sk-do-not-store" not in str(info.value)
    assert hubs.writes() == before
    assert hubs.secondary.put_connection(clean) is WriteOutcome.CREATED
    listed = hubs.secondary.list_connections()
    assert [c.name for c in listed] == ["feature-store-git"]
    assert all(secret_fields(c.spec) == [] for c in listed)
    assert listed[0].content_hash == clean.content_hash


def recreate(hub: HubClient, artifacts: list[Artifact]) -> None:
    """As recovery does: every artifact in its creation form, in recovery order; then the state of the
    mutable ones (routes once their deployments exist, full scale, schedules as cataloged)."""
    for artifact in artifacts:  # seeded in recovery order: references exist before use
        for kind, name, version in references(artifact):
            assert any((a.kind, a.name, a.version) == (kind, name, version) for a in artifacts)
        assert hub.put_asset(creation_form(artifact, None, warm=True)) is WriteOutcome.CREATED
    for wave in ACTIVATION_WAVES:
        for artifact in artifacts:
            if artifact.kind in wave:
                assert hub.apply_state(state_form(artifact, None)) in (WriteOutcome.UPDATED,
                                                                       WriteOutcome.ALREADY_PRESENT)


def test_every_artifact_kind_round_trips_with_its_content_hash(hubs: HubPair) -> None:
    artifacts = _artifacts()
    recreate(hubs.secondary, artifacts)
    for artifact in artifacts:
        got = hubs.secondary.get_asset(artifact.kind, artifact.name, artifact.version)
        assert (got.key, got.content_hash) == (artifact.key, artifact.content_hash), artifact.kind
    for kind in ArtifactKind:
        expected = sorted(a.content_hash for a in artifacts if a.kind is kind)
        assert sorted(a.content_hash for a in hubs.secondary.list_assets(kind)) == expected, kind


def test_an_unreadable_item_is_named_and_everything_else_listed(hubs: HubPair) -> None:
    jobs = hubs.add_source_jobs(3, seed=4)
    for job in jobs:
        hubs.set_status(job.name, "Running")
    hubs.plant_unreadable("job", "unparsable-sweep")
    artifacts = [a for a in _artifacts() if a.kind in VERSIONED_KINDS]
    for artifact in artifacts:
        hubs.primary.put_asset(artifact)
    hubs.plant_unreadable("component", "unparsable_component")

    listed = hubs.primary.list_jobs(DEFAULT_INTERRUPTED_JOB_STATUSES)
    assert [j.name for j in listed] == sorted(j.name for j in jobs)
    assert [(u.kind, u.name, u.key) for u in listed.unreadable] == [("job", "unparsable-sweep", "job:unparsable-sweep")]
    assert hubs.primary.list_jobs(["Completed"]).unreadable == ()  # its status is readable, and not wanted
    components = hubs.primary.list_assets(ArtifactKind.COMPONENT)
    assert sorted(a.key for a in components) == sorted(a.key for a in artifacts if a.kind is ArtifactKind.COMPONENT)
    assert [u.key for u in components.unreadable] == ["component:unparsable_component:1"]
    assert all(u.reason for u in (*listed.unreadable, *components.unreadable))
    for read in (partial(hubs.primary.get_job, "unparsable-sweep"),
                 partial(hubs.primary.get_asset, ArtifactKind.COMPONENT, "unparsable_component", "1")):
        with pytest.raises(HubError) as info:
            read()
        assert info.value.category is ErrorCategory.PERMANENT and "unparsable" in str(info.value)


def test_factory_picks_the_backend(azurite: AzuriteEndpoints) -> None:
    @dataclass
    class Ref:
        name: str
        backend: str
        subscription_id: str = SUBSCRIPTION
        resource_group: str = RESOURCE_GROUP
        workspace_name: str = "hub-secondary"

    simulated = hub_client_for(Ref("drill-primary", "simulated"), connection_string=azurite.connection_string)
    assert isinstance(simulated, SimulatedHub) and simulated.hub_id == "drill-primary"
    emulator = AzureMLEmulator("hub-secondary")
    real = hub_client_for(Ref("weu", "azureml"), credential=FixedTokenCredential(), transport=emulator)
    assert isinstance(real, AzureMLHub) and real.hub_id == "weu"
    real.ping()
    assert emulator.calls[-1].method == "GET" and emulator.calls[-1].path == ""
    with pytest.raises(ValueError, match="connection string"):
        hub_client_for(Ref("x", "simulated"))


# -- SimulatedHub specifics -----------------------------------------------------------------------

@pytest.fixture
def sim(azurite: AzuriteEndpoints) -> Iterator[SimulatedHub]:
    yield SimulatedHub(f"sim-{uuid.uuid4().hex[:8]}", azurite.connection_string)


def test_down_is_seen_by_every_instance(sim: SimulatedHub, azurite: AzuriteEndpoints,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from failover.hubs import simulated_hub

    monkeypatch.setattr(simulated_hub, "FAULT_CONFIG_TTL_S", 0.2)
    other = SimulatedHub(sim.hub_id, azurite.connection_string)
    sim.set_faults(FaultConfig(down=True))
    with pytest.raises(HubError) as info:
        other.list_jobs()
    assert info.value.category is ErrorCategory.TRANSIENT and "unreachable" in str(info.value)
    assert other.injected_faults == {"down": 1}
    sim.clear_faults()
    sim.ping()  # the instance that changed the faults sees the change at once
    with pytest.raises(HubError):
        other.ping()  # another instance keeps its cached view for at most the TTL...
    wait_until(lambda: _answers(other), 2, "the other instance to see the faults cleared")  # ...then reads the new one


def _answers(hub: SimulatedHub) -> bool:
    try:
        hub.ping()
    except HubError:
        return False
    return True


def test_throttle_carries_retry_after(sim: SimulatedHub) -> None:
    sim.set_faults("throttle=1,retry_after=2.5")
    with pytest.raises(HubError) as info:
        sim.get_job("anything")
    assert info.value.category is ErrorCategory.THROTTLED and info.value.retry_after == 2.5


def _flaky_failures(hub: SimulatedHub, calls: int) -> list[int]:
    failed = []
    for i in range(calls):
        try:
            hub.ping()
        except HubError as err:
            assert err.category is ErrorCategory.TRANSIENT and "503" in str(err)
            failed.append(i)
    return failed


def test_flaky_rate_is_observed_and_repeatable(sim: SimulatedHub, azurite: AzuriteEndpoints) -> None:
    sim.set_faults(FaultConfig(flaky_rate=0.2, seed=11))
    failed = _flaky_failures(sim, 400)
    assert 0.14 <= len(failed) / 400 <= 0.26
    assert sim.injected_faults["flaky"] == len(failed)
    again = SimulatedHub(sim.hub_id, azurite.connection_string)
    assert _flaky_failures(again, 400) == failed  # same seed, same faults


def test_latency_is_added_to_each_call(sim: SimulatedHub) -> None:
    sim.ping()
    start = time.perf_counter()
    for _ in range(3):
        sim.ping()
    baseline = time.perf_counter() - start
    sim.set_faults("latency_ms=40")
    start = time.perf_counter()
    for _ in range(3):
        sim.ping()
    assert time.perf_counter() - start >= baseline + 0.12
    assert sim.injected_faults["latency"] == 3


@pytest.mark.parametrize(("spec", "message"), [
    ("bogus=1", "bogus"),
    ("throttle=lots", "throttle='lots'"),
    ("flaky=1.5", "flaky_rate=1.5"),
    ("down=maybe", "down='maybe'"),
    ("latency_ms", "latency_ms"),
    ("latency_ms=-3", "latency_ms=-3"),
])
def test_fault_spec_errors_name_the_bad_item(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        FaultConfig.parse(spec)


def test_fault_spec_parses_every_key() -> None:
    parsed = FaultConfig.parse("latency_ms=20, throttle=0.1,flaky=0.05,down=1,retry_after=3,seed=9")
    assert parsed == FaultConfig(down=True, latency_ms=20, throttle_rate=0.1, retry_after_s=3, flaky_rate=0.05,
                                 seed=9)
    assert FaultConfig.parse("") == FaultConfig()


def test_state_is_shared_with_another_process(sim: SimulatedHub, azurite: AzuriteEndpoints) -> None:
    script = (
        "import sys\n"
        "from failover.hubs.simulated_hub import SimulatedHub\n"
        "from failover.domain.model import Artifact, ArtifactKind\n"
        "hub = SimulatedHub(sys.argv[1], sys.argv[2])\n"
        "hub.put_asset(Artifact(ArtifactKind.ENVIRONMENT, 'from-child', '1', {'image': 'img:1'}))\n"
        "hub.set_faults('down=1')\n"
    )
    subprocess.run([sys.executable, "-c", script, sim.hub_id, azurite.connection_string], check=True, timeout=60)
    assert sim.fault_config().down
    with pytest.raises(HubError, match="unreachable"):
        sim.ping()
    sim.clear_faults()
    assert sim.get_asset(ArtifactKind.ENVIRONMENT, "from-child", "1").spec == {"image": "img:1"}
    assert sim.write_count == 1


def test_seed_is_deterministic_and_consistent(azurite: AzuriteEndpoints) -> None:
    hubs = [SimulatedHub(f"seed-{uuid.uuid4().hex[:8]}", azurite.connection_string) for _ in range(3)]
    for hub, seed in zip(hubs, (7, 7, 8), strict=True):
        hub.seed(jobs=40, artifacts=30, seed=seed)

    def fingerprint(hub: SimulatedHub) -> list[object]:
        # Job specs name their hub's own ARM scope, so compare jobs by their visible fields.
        return [(j.name, j.status, j.compute, j.experiment_name, j.tags) for j in hub.list_jobs()] + [
            a.content_hash for kind in ArtifactKind for a in hub.list_assets(kind)]

    assert fingerprint(hubs[0]) == fingerprint(hubs[1]) != fingerprint(hubs[2])
    counts = hubs[0].counts()
    assert counts["jobs"] == 40 and sum(counts[k.value] for k in ArtifactKind) == 30
    assert all(counts[k.value] > 0 for k in ArtifactKind)
    assert hubs[0].write_count == 0  # seeding is administration, not traffic
    assets = {(a.kind, a.name, a.version) for kind in ArtifactKind for a in hubs[0].list_assets(kind)}
    components = hubs[0].list_assets(ArtifactKind.COMPONENT)
    assert all(len(references(c)) == 2 and set(references(c)) <= assets for c in components)
    jobs = hubs[0].list_jobs()
    assert {j.compute for j in jobs} <= {"cpu-cluster", "gpu-cluster", "cpu-small"}
    assert any(j.status in NON_TERMINAL_JOB_STATUSES for j in jobs)


def test_seed_registers_the_computes_its_jobs_use_and_clear_removes_them(azurite: AzuriteEndpoints) -> None:
    hub = SimulatedHub(f"seed-{uuid.uuid4().hex[:8]}", azurite.connection_string)
    jobs, _ = hub.seed(jobs=40, artifacts=10, seed=7)
    used = sorted({j.compute for j in jobs if j.compute})
    assert used and set(used) <= set(COMPUTES)
    assert hub.list_computes() == used
    assert all(j.compute in hub.list_computes() for j in hub.list_jobs())
    assert hub.counts()["jobs"] == 40  # compute rows are neither jobs nor artifacts
    assert hub.write_count == 0
    hub.clear()
    assert hub.list_computes() == []
    assert hub.list_jobs() == []


def test_list_computes_on_a_down_hub_raises(sim: SimulatedHub) -> None:
    sim.set_computes(["cpu-cluster"])
    sim.set_faults(FaultConfig(down=True))
    with pytest.raises(HubError) as info:
        sim.list_computes()
    assert info.value.category is ErrorCategory.TRANSIENT and "unreachable" in str(info.value)
    assert sim.injected_faults == {"down": 1}
    sim.set_computes(["cpu-cluster", "gpu-cluster"])  # administration is never faulted
    sim.clear_faults()
    assert sim.list_computes() == ["cpu-cluster", "gpu-cluster"]


def test_list_computes_goes_through_throttling(sim: SimulatedHub) -> None:
    sim.set_faults("throttle=1,retry_after=4")
    with pytest.raises(HubError) as info:
        sim.list_computes()
    assert info.value.category is ErrorCategory.THROTTLED and info.value.retry_after == 4


def test_large_spec_round_trips(sim: SimulatedHub) -> None:
    big = Artifact(ArtifactKind.ENVIRONMENT, "big-conda", "1",
                   {"image": "img:1", "conda_file": {"dependencies": [f"pkg{i}=={i}.0" for i in range(20_000)]}})
    assert sim.put_asset(big) is WriteOutcome.CREATED
    assert sim.get_asset(big.kind, big.name, big.version).content_hash == big.content_hash


def test_set_job_status_rejects_unknown_status(sim: SimulatedHub) -> None:
    with pytest.raises(ValueError, match="Exploded"):
        sim.set_job_status("x", "Exploded")


# -- AzureMLHub specifics ---------------------------------------------------------------------------

def _azureml(emulator: AzureMLEmulator, **kwargs: Any) -> AzureMLHub:
    options: dict[str, Any] = {"retry_total": 0, **kwargs}
    return AzureMLHub(SUBSCRIPTION, RESOURCE_GROUP, emulator.workspace, credential=FixedTokenCredential(),
                      transport=emulator, **options)


@pytest.mark.parametrize(("fault", "category", "retry_after"), [
    (Fault(status=404), ErrorCategory.NOT_FOUND, None),
    (Fault(status=429, headers={"Retry-After": "7"}), ErrorCategory.THROTTLED, 7.0),
    (Fault(status=503), ErrorCategory.TRANSIENT, None),
    (Fault(status=408), ErrorCategory.TRANSIENT, None),
    (Fault(status=400), ErrorCategory.PERMANENT, None),
    (Fault(status=403), ErrorCategory.PERMANENT, None),
    (Fault(status=None), ErrorCategory.TRANSIENT, None),  # connection refused
])
def test_azureml_error_mapping(fault: Fault, category: ErrorCategory, retry_after: float | None) -> None:
    emulator = AzureMLEmulator()
    emulator.inject(fault)
    with pytest.raises(HubError) as info:
        _azureml(emulator).ping()
    assert info.value.category is category
    assert info.value.retry_after == retry_after


@pytest.mark.parametrize(("fault", "category"), [
    (Fault(status=503, path_regex="^/computes"), ErrorCategory.TRANSIENT),
    (Fault(status=403, path_regex="^/computes"), ErrorCategory.PERMANENT),
    (Fault(status=None, path_regex="^/computes"), ErrorCategory.TRANSIENT),
])
def test_azureml_list_computes_error_mapping(fault: Fault, category: ErrorCategory) -> None:
    emulator = AzureMLEmulator()
    emulator.inject(fault)
    with pytest.raises(HubError) as info:
        _azureml(emulator).list_computes()
    assert info.value.category is category and "list_computes" in str(info.value)


def test_azureml_permissions_are_one_authorized_read_at_the_workspace() -> None:
    emulator = AzureMLEmulator()
    assert _azureml(emulator).permissions() == role_permissions("azureml_data_scientist.json")
    [call] = emulator.calls
    assert (call.method, call.path.lower(), call.api_version) == (
        "GET", "/providers/microsoft.authorization/permissions", "2022-04-01")
    assert call.headers["Authorization"] == "Bearer emulator-token"
    emulator.inject(Fault(status=403, path_regex="permissions"))
    with pytest.raises(HubError) as info:
        _azureml(emulator).permissions()
    assert info.value.category is ErrorCategory.PERMANENT and "permissions" in str(info.value)


def test_azureml_list_computes_is_one_get() -> None:
    emulator = AzureMLEmulator()
    emulator.computes = {"cpu-cluster-dr", "gpu-cluster-dr"}
    assert _azureml(emulator).list_computes() == ["cpu-cluster-dr", "gpu-cluster-dr"]
    assert [(c.method, c.path, c.api_version) for c in emulator.calls] == [
        ("GET", "/computes", "2023-08-01-preview")]


def test_azureml_409_on_put_is_a_conflict_for_assets() -> None:
    emulator = AzureMLEmulator()
    emulator.inject(Fault(status=409, method="PUT"))
    with pytest.raises(HubError) as info:
        _azureml(emulator).put_asset(Artifact(ArtifactKind.ENVIRONMENT, "e", "1",
                                              {"image": "i:1", "conda_file": None, "description": None, "tags": {}}))
    assert info.value.category is ErrorCategory.CONFLICT


def test_azureml_503_is_transient_after_azure_core_retries() -> None:
    emulator = AzureMLEmulator()
    emulator.inject(Fault(status=503, times=10))
    hub = _azureml(emulator, retry_total=2, retry_backoff_factor=0.01, retry_backoff_max=0.05)
    with pytest.raises(HubError) as info:
        hub.ping()
    assert info.value.category is ErrorCategory.TRANSIENT
    assert len(emulator.calls) == 3  # the first attempt and azure-core's two retries


def test_azureml_single_503_is_absorbed_by_azure_core() -> None:
    emulator = AzureMLEmulator()
    emulator.inject(Fault(status=503, times=1))
    _azureml(emulator, retry_total=2, retry_backoff_factor=0.01, retry_backoff_max=0.05).ping()
    assert len(emulator.calls) == 2


def test_azureml_409_on_job_create_confirmed_by_get_is_already_present() -> None:
    pair = _azureml_pair()
    (source,) = pair.add_source_jobs(1, seed=9)
    assert pair.emulators is not None
    secondary_ws, secondary = pair.emulators[1], pair.secondary
    # A concurrent submitter creates the job just before our PUT: the service answers 409.
    secondary_ws.inject(Fault(status=409, method="PUT", path_regex="^/jobs/", after_effect=True))
    result = secondary.submit_job(source, new_name="job-fo1", compute=None, tags={})
    assert result.outcome is WriteOutcome.ALREADY_PRESENT
    assert [c.method for c in secondary_ws.calls] == ["GET", "PUT", "GET"]


def test_azureml_resubmission_mutates_the_entity() -> None:
    pair = _azureml_pair()
    assert pair.emulators is not None
    (primary_ws, secondary_ws), primary, secondary = pair.emulators, pair.primary, pair.secondary
    (source,) = pair.add_source_jobs(1, seed=2)
    # The primary's stored job has an output path and services, as a running job would.
    stored = primary_ws.resources[f"/jobs/{source.name}".lower()]["properties"]
    stored["outputs"]["model_output"]["uri"] = "azureml://datastores/workspaceblobstore/paths/old-run/"
    stored["services"] = {"Studio": {"endpoint": "https://ml.azure.com/runs/old"}}
    source = primary.get_job(source.name)
    assert source.spec["properties"]["outputs"]["model_output"].get("uri")
    # The catalog's record is authoritative for the experiment, not the spec's copy of it.
    del source.spec["properties"]["experimentName"]

    secondary.submit_job(source, new_name="resub-fo3", compute="gpu-cluster", tags={TAG_GENERATION: "3"})
    (put,) = secondary_ws.calls_matching("PUT", "^/jobs/")
    body = put.body["properties"]
    assert put.path == "/jobs/resub-fo3" and put.api_version == "2025-01-01-preview"
    assert body["experimentName"] == source.experiment_name
    assert all("uri" not in out for out in body["outputs"].values())
    assert not body.get("services")
    assert body["computeId"].endswith("/workspaces/hub-secondary/computes/gpu-cluster")
    assert "/workspaces/hub-secondary/codes/" in body["codeId"]
    assert "hub-primary" not in str(body)  # nothing points back at the failed region
    assert body["tags"][TAG_GENERATION] == "3"
    # experiment_name= was passed: no GET of the old job on the secondary before the PUT
    assert [c.method for c in secondary_ws.calls] == ["GET", "PUT"]


# The REST surface of the adapter (method, path template, api-version): fails when an SDK
# upgrade changes it, so the docs and the emulator are revisited. No datastore GET: an mltable
# data asset is recreated from its cataloged body, without reading its MLTable file.
EXPECTED_REST_CALLS = {
    ("GET", "", "2024-10-01-preview"),
    ("GET", "/computes", "2023-08-01-preview"),
    ("GET", "/jobs", "2024-01-01-preview"),
    ("GET", "/jobs/{name}", "2024-01-01-preview"),
    ("PUT", "/jobs/{name}", "2025-01-01-preview"),
    ("GET", "/environments", "2023-04-01-preview"),
    ("GET", "/environments/{name}/versions", "2023-04-01-preview"),
    ("GET", "/environments/{name}/versions/{version}", "2023-04-01-preview"),
    ("PUT", "/environments/{name}/versions/{version}", "2023-04-01-preview"),
    ("GET", "/data", "2023-04-01-preview"),
    ("GET", "/data/{name}/versions", "2023-04-01-preview"),
    ("GET", "/data/{name}/versions/{version}", "2023-04-01-preview"),
    ("PUT", "/data/{name}/versions/{version}", "2023-04-01-preview"),
    ("GET", "/codes", "2023-04-01"),
    ("GET", "/codes/{name}/versions", "2023-04-01"),
    ("GET", "/codes/{name}/versions/{version}", "2023-04-01"),
    ("PUT", "/codes/{name}/versions/{version}", "2023-04-01"),
    ("GET", "/components", "2024-01-01-preview"),
    ("GET", "/components/{name}/versions", "2024-01-01-preview"),
    ("GET", "/components/{name}/versions/{version}", "2024-01-01-preview"),
    ("PUT", "/components/{name}/versions/{version}", "2024-01-01-preview"),
    ("GET", "/models", "2023-08-01-preview"),
    ("GET", "/models/{name}/versions", "2023-08-01-preview"),
    ("GET", "/models/{name}/versions/{version}", "2023-08-01-preview"),
    ("PUT", "/models/{name}/versions/{version}", "2023-08-01-preview"),
    ("GET", "/connections", "2024-04-01-preview"),
    ("GET", "/connections/{name}", "2024-04-01-preview"),
    ("PUT", "/connections/{name}", "2024-04-01-preview"),
    ("GET", "/datastores", "2024-10-01-preview"),
    # endpoints, deployments and schedules: the operation groups' generated ARM clients (azureml_resources.py)
    ("GET", "/onlineEndpoints", "2022-02-01-preview"),
    ("GET", "/onlineEndpoints/{name}", "2022-02-01-preview"),
    ("PUT", "/onlineEndpoints/{name}", "2022-02-01-preview"),
    ("GET", "/onlineEndpoints/{name}/deployments", "2023-04-01-preview"),
    ("GET", "/onlineEndpoints/{name}/deployments/{name}", "2023-04-01-preview"),
    ("PUT", "/onlineEndpoints/{name}/deployments/{name}", "2023-04-01-preview"),
    ("GET", "/batchEndpoints", "2023-10-01"),
    ("GET", "/batchEndpoints/{name}", "2023-10-01"),
    ("PUT", "/batchEndpoints/{name}", "2023-10-01"),
    ("GET", "/batchEndpoints/{name}/deployments", "2024-01-01-preview"),
    ("GET", "/batchEndpoints/{name}/deployments/{name}", "2024-01-01-preview"),
    ("PUT", "/batchEndpoints/{name}/deployments/{name}", "2024-01-01-preview"),
    ("GET", "/schedules", "2023-06-01-preview"),
    ("GET", "/schedules/{name}", "2023-06-01-preview"),
    ("PUT", "/schedules/{name}", "2023-06-01-preview"),
}


def _template(path: str) -> str:
    path = re.sub(r"/versions/[^/]+$", "/versions/{version}", path)
    path = re.sub(r"/deployments/[^/]+$", "/deployments/{name}", path)
    return re.sub(r"^/(\w+)/(?!versions)[^/]+", r"/\1/{name}", path)


def test_azureml_rest_surface_is_the_documented_one() -> None:
    pair = _azureml_pair()
    pair.primary.ping()
    pair.primary.list_computes()
    (source,) = pair.add_source_jobs(1)
    pair.primary.list_jobs()
    artifacts = seed_artifacts(30, random.Random(3))
    recreate(pair.primary, artifacts)
    for artifact in artifacts:
        pair.primary.get_asset(artifact.kind, artifact.name, artifact.version)
    for kind in ArtifactKind:
        pair.primary.list_assets(kind)
    pair.primary.list_datastores()
    assert pair.emulators is not None
    calls = {(c.method, _template(c.path), c.api_version) for c in pair.emulators[0].calls}
    assert calls == EXPECTED_REST_CALLS
    assert source.name


def test_probe_client_answers_on_the_first_failure() -> None:
    """Probes use no SDK retries: a 503 is one failed probe at once; a normal client retries it away."""
    from failover.services import PROBE_CLIENT_OPTIONS

    emulator = AzureMLEmulator()
    probe = AzureMLHub(SUBSCRIPTION, RESOURCE_GROUP, emulator.workspace, credential=FixedTokenCredential(),
                       transport=emulator, retry_backoff_factor=0, **PROBE_CLIENT_OPTIONS)
    emulator.inject(Fault(status=503, times=1))
    with pytest.raises(HubError) as info:
        probe.ping()
    assert info.value.category is ErrorCategory.TRANSIENT
    assert len(emulator.calls) == 1

    patient = AzureMLHub(SUBSCRIPTION, RESOURCE_GROUP, emulator.workspace, credential=FixedTokenCredential(),
                         transport=emulator, retry_total=2, retry_backoff_factor=0)
    emulator.inject(Fault(status=503, times=1))
    patient.ping()  # azure-core's own retry absorbs one 503
    assert len(emulator.calls) == 3
