"""The HubClient contract for endpoints, deployments and schedules (mutable resources), on both backends
(SimulatedHub on Azurite, AzureMLHub through the real SDK over the emulated transport); then the Azure ML
adapter against Microsoft's published REST example bodies.
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any

import pytest

from failover.domain.model import STATE_FIELDS, Artifact, ArtifactKind, without_fields
from failover.domain.ports import ErrorCategory, HubError, WriteOutcome
from failover.domain.serving import creation_form, state_form, with_schedule_enabled
from failover.hubs.azureml_hub import AzureMLHub
from failover.hubs.simulated_seed import seed_artifacts
from tests.azureml_emulator import (
    RESOURCE_GROUP,
    SUBSCRIPTION,
    AzureMLEmulator,
    Fault,
    FixedTokenCredential,
    example_request,
)
from tests.test_hub_contract import HubPair, hub_pair, recreate

SERVING = (ArtifactKind.ONLINE_ENDPOINT, ArtifactKind.BATCH_ENDPOINT, ArtifactKind.ONLINE_DEPLOYMENT,
           ArtifactKind.BATCH_DEPLOYMENT, ArtifactKind.SCHEDULE)


@pytest.fixture(params=["simulated", "azureml"])
def hubs(request: pytest.FixtureRequest) -> HubPair:
    return hub_pair(request)


def _seeded() -> dict[ArtifactKind, Artifact]:
    """One of each kind the serving chain needs, dependencies first, from the drill's seed."""
    artifacts = seed_artifacts(14, random.Random(42))
    return {a.kind: a for a in reversed(artifacts)}  # the first of each kind


def _chain(hub: Any) -> dict[ArtifactKind, Artifact]:
    seeded = _seeded()
    recreate(hub, seed_artifacts(14, random.Random(42)))
    return seeded


def _with(artifact: Artifact, path: tuple[str, ...], value: Any) -> Artifact:
    spec = copy.deepcopy(artifact.spec)
    node = spec
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return Artifact(artifact.kind, artifact.name, artifact.version, spec)


def test_serving_resources_round_trip_and_list_under_their_endpoint(hubs: HubPair) -> None:
    seeded = _chain(hubs.secondary)
    deployment = seeded[ArtifactKind.ONLINE_DEPLOYMENT]
    assert "/" in deployment.name  # "{endpoint}/{deployment}"
    for kind in SERVING:
        listed = hubs.secondary.list_assets(kind)
        assert [a.name for a in listed] == [seeded[kind].name], kind
        assert listed[0].content_hash == seeded[kind].content_hash, kind
        got = hubs.secondary.get_asset(kind, seeded[kind].name, None)
        assert got.content_hash == seeded[kind].content_hash, kind


def test_same_definition_is_already_present_whatever_its_state(hubs: HubPair) -> None:
    seeded = _chain(hubs.secondary)
    before = hubs.writes()
    for kind, path, value in ((ArtifactKind.ONLINE_DEPLOYMENT, ("sku", "capacity"), 9),
                              (ArtifactKind.ONLINE_DEPLOYMENT, ("properties", "instanceType"), "Standard_F2s_v2"),
                              (ArtifactKind.SCHEDULE, ("properties", "isEnabled"), False),
                              (ArtifactKind.ONLINE_ENDPOINT, ("properties", "traffic"), {})):
        assert hubs.secondary.put_asset(_with(seeded[kind], path, value)) is WriteOutcome.ALREADY_PRESENT, path
    assert hubs.writes() == before
    changed = _with(seeded[ArtifactKind.ONLINE_DEPLOYMENT], ("properties", "environmentVariables"), {"X": "1"})
    with pytest.raises(HubError) as info:
        hubs.secondary.put_asset(changed)
    assert info.value.category is ErrorCategory.CONFLICT  # never overwritten
    assert hubs.writes() == before


def test_a_deployment_needs_its_endpoint_and_routes_need_their_deployments(hubs: HubPair) -> None:
    seeded = _seeded()
    recreate(hubs.secondary, [a for a in seed_artifacts(14, random.Random(42)) if a.kind not in SERVING])
    before = hubs.writes()
    with pytest.raises(HubError) as info:
        hubs.secondary.put_asset(creation_form(seeded[ArtifactKind.ONLINE_DEPLOYMENT], None, warm=True))
    assert info.value.category is ErrorCategory.NOT_FOUND
    endpoint = seeded[ArtifactKind.ONLINE_ENDPOINT]
    assert hubs.secondary.put_asset(creation_form(endpoint, None, warm=True)) is WriteOutcome.CREATED
    with pytest.raises(HubError) as info:
        hubs.secondary.apply_state(endpoint)  # traffic to a deployment that is not there yet
    assert info.value.category is ErrorCategory.PERMANENT and "blue" in str(info.value)
    assert hubs.writes() == before + 1
    assert hubs.secondary.get_asset(endpoint.kind, endpoint.name, None).spec["properties"]["traffic"] == {}


def test_apply_state_scales_routes_and_switches_schedules(hubs: HubPair) -> None:
    seeded = _chain(hubs.secondary)
    deployment = seeded[ArtifactKind.ONLINE_DEPLOYMENT]
    before = hubs.writes()
    scaled = _with(deployment, ("sku", "capacity"), 7)
    assert hubs.secondary.apply_state(scaled) is WriteOutcome.UPDATED
    assert hubs.secondary.apply_state(scaled) is WriteOutcome.ALREADY_PRESENT
    got = hubs.secondary.get_asset(deployment.kind, deployment.name, None)
    assert got.spec["sku"]["capacity"] == 7 and got.definition_hash == deployment.definition_hash
    # apply_state changes state only: a definition field in the request is ignored
    assert hubs.secondary.apply_state(_with(scaled, ("properties", "description"), "edited")) is \
        WriteOutcome.ALREADY_PRESENT
    schedule = seeded[ArtifactKind.SCHEDULE]
    assert hubs.secondary.apply_state(with_schedule_enabled(schedule, False)) is WriteOutcome.UPDATED
    listed = hubs.secondary.list_assets(ArtifactKind.SCHEDULE)  # disabled schedules are listed too
    assert [a.spec["properties"]["isEnabled"] for a in listed] == [False]
    assert hubs.writes() == before + 2
    with pytest.raises(HubError) as info:
        hubs.secondary.apply_state(Artifact(ArtifactKind.SCHEDULE, "no-such-schedule", None, {}))
    assert info.value.category is ErrorCategory.NOT_FOUND


def test_list_datastores_returns_exactly_the_workspace_datastores(hubs: HubPair) -> None:
    before = hubs.writes()
    hubs.set_datastores(["workspaceblobstore", "replicablobstore"])
    assert hubs.secondary.list_datastores() == ["replicablobstore", "workspaceblobstore"]
    hubs.set_datastores([])
    assert hubs.secondary.list_datastores() == []
    assert hubs.writes() == before


# -- Azure ML adapter: Microsoft's published example bodies ------------------------------------------------

# (kind, artifact name, {workspace-relative path: example GET body}, example create request) per example.
_ONLINE = "2024-01-01-preview/OnlineDeployment"
EXAMPLES = [
    (ArtifactKind.ONLINE_ENDPOINT, "string",
     {"/onlineEndpoints/string": "2024-01-01-preview/Workspace/OnlineEndpoint/get.json"},
     "2024-01-01-preview/Workspace/OnlineEndpoint/createOrUpdate.json"),
    (ArtifactKind.ONLINE_DEPLOYMENT, "string/string",
     {"/onlineEndpoints/string": "2024-01-01-preview/Workspace/OnlineEndpoint/get.json",
      "/onlineEndpoints/string/deployments/string": f"{_ONLINE}/ManagedOnlineDeployment/get.json"},
     f"{_ONLINE}/ManagedOnlineDeployment/createOrUpdate.json"),
    (ArtifactKind.ONLINE_DEPLOYMENT, "string/string",
     {"/onlineEndpoints/string": "2024-01-01-preview/Workspace/OnlineEndpoint/get.json",
      "/onlineEndpoints/string/deployments/string": f"{_ONLINE}/KubernetesOnlineDeployment/get.json"},
     f"{_ONLINE}/KubernetesOnlineDeployment/createOrUpdate.json"),
    (ArtifactKind.BATCH_ENDPOINT, "string",
     {"/batchEndpoints/string": "2024-01-01-preview/Workspace/BatchEndpoint/get.json"},
     "2024-04-01/Workspace/BatchEndpoint/createOrUpdate.json"),
    (ArtifactKind.BATCH_DEPLOYMENT, "string/string",
     {"/batchEndpoints/string": "2024-01-01-preview/Workspace/BatchEndpoint/get.json",
      "/batchEndpoints/string/deployments/string": "2024-01-01-preview/Workspace/BatchDeployment/get.json"},
     "2024-04-01/Workspace/BatchDeployment/createOrUpdate.json"),
    (ArtifactKind.SCHEDULE, "string", {"/schedules/string": "2024-01-01-preview/Schedule/get.json"},
     "2024-01-01-preview/Schedule/createOrUpdate.json"),
]
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _placeholders(value: Any) -> Any:
    """The examples' generated ``{<random GUID>: null}`` map keys differ between files: compare them as one."""
    if isinstance(value, dict):
        return {("<guid>" if _GUID.match(str(k)) else k): _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return value


def _azureml(emulator: AzureMLEmulator) -> AzureMLHub:
    return AzureMLHub(SUBSCRIPTION, RESOURCE_GROUP, emulator.workspace, credential=FixedTokenCredential(),
                      transport=emulator, retry_total=0)


@pytest.mark.parametrize(("kind", "name", "served", "create_request"), EXAMPLES,
                         ids=[f"{e[0].value}:{e[3].split('/')[-2]}" for e in EXAMPLES])
def test_published_examples_are_cataloged_and_recreated_field_for_field(
        kind: ArtifactKind, name: str, served: dict[str, str], create_request: str) -> None:
    primary, secondary = AzureMLEmulator("hub-primary"), AzureMLEmulator("hub-secondary")
    for path, source in served.items():
        primary.load_example(source, path)
    (cataloged,) = _azureml(primary).list_assets(kind)
    assert cataloged.name == name
    props = cataloged.spec["properties"]
    assert not {"provisioningState", "scoringUri", "swaggerUri", "keys"} & set(props)  # read-only, or secret
    assert "principalId" not in str(cataloged.spec)  # identities keep their type and ids, not principals

    if kind is ArtifactKind.ONLINE_DEPLOYMENT:  # its endpoint exists on the target, as recovery orders it
        secondary.load_example(served["/onlineEndpoints/string"], "/onlineEndpoints/string")
    if kind is ArtifactKind.BATCH_DEPLOYMENT:
        secondary.load_example(served["/batchEndpoints/string"], "/batchEndpoints/string")
    assert _azureml(secondary).put_asset(creation_form(cataloged, None, warm=False)) is WriteOutcome.CREATED
    (put,) = secondary.calls_matching("PUT", ".")
    request = example_request(create_request)
    if kind is not ArtifactKind.SCHEDULE:  # a tracked resource: created in the target's region
        assert put.body.pop("location") == secondary.location == "westeurope"
        assert request.pop("location") == "string"
    state = STATE_FIELDS.get(kind, ())
    # Every field the create request accepts is written (state fields come in the activation stage).
    assert _placeholders(without_fields(put.body, state)) == _placeholders(without_fields(request, state))


def test_a_schedule_the_sdk_entity_layer_drops_is_cataloged() -> None:
    """azure-ai-ml's schedules.list skips InvokeBatchEndpoint schedules (printing a line): not this adapter."""
    primary = AzureMLEmulator("hub-primary")
    primary.load_example("2024-01-01-preview/Schedule/get.json", "/schedules/string")
    hub = _azureml(primary)
    assert list(hub.ml.schedules.list(list_view_type="All")) == []  # what the entity layer would give
    (schedule,) = hub.list_assets(ArtifactKind.SCHEDULE)
    assert schedule.spec["properties"]["action"]["actionType"] == "InvokeBatchEndpoint"
    assert not schedule.spec["properties"]["isEnabled"]
    listed = primary.calls_matching("GET", "^/schedules$")
    assert listed[-1].query["listViewType"] == "All"  # disabled schedules are cataloged too


def test_endpoint_keys_are_never_read_or_cataloged() -> None:
    primary = AzureMLEmulator("hub-primary")
    (body,) = primary.load_example("2024-01-01-preview/Workspace/OnlineEndpoint/get.json", "/onlineEndpoints/string")
    body["properties"]["keys"] = {"primaryKey": "do-not-catalog", "secondaryKey": "do-not-catalog"}
    (endpoint,) = _azureml(primary).list_assets(ArtifactKind.ONLINE_ENDPOINT)
    assert "do-not-catalog" not in str(endpoint.spec)
    assert not [c for c in primary.calls if c.method == "POST"]  # no listKeys / token call


def test_recreate_and_activate_count_requests() -> None:
    """Per item: a create is a GET (absent) and a PUT; a state switch a GET and a PUT; the workspace's
    region is read once."""
    emulator = AzureMLEmulator("hub-secondary")
    hub = _azureml(emulator)
    seeded = _seeded()
    recreate(hub, [a for a in seed_artifacts(14, random.Random(42)) if a.kind not in SERVING])
    emulator.calls.clear()
    endpoint, deployment = seeded[ArtifactKind.ONLINE_ENDPOINT], seeded[ArtifactKind.ONLINE_DEPLOYMENT]
    hub.put_asset(creation_form(endpoint, None, warm=True))
    hub.put_asset(creation_form(deployment, None, warm=True))
    assert [(c.method, c.path) for c in emulator.calls] == [
        ("GET", f"/onlineEndpoints/{endpoint.name}"), ("GET", ""), ("PUT", f"/onlineEndpoints/{endpoint.name}"),
        ("GET", f"/onlineEndpoints/{deployment.name.replace('/', '/deployments/')}"),
        ("PUT", f"/onlineEndpoints/{deployment.name.replace('/', '/deployments/')}")]
    emulator.calls.clear()
    assert hub.apply_state(state_form(deployment, None)) is WriteOutcome.UPDATED
    assert [c.method for c in emulator.calls] == ["GET", "PUT"]
    emulator.calls.clear()
    assert hub.apply_state(endpoint) is WriteOutcome.UPDATED  # routes: its deployments are looked at first
    assert [(c.method, c.path.count("/")) for c in emulator.calls] == [("GET", 2), ("GET", 3), ("PUT", 2)]


def test_pending_while_provisioning_then_switched() -> None:
    emulator = AzureMLEmulator("hub-secondary")
    hub = _azureml(emulator)
    seeded = _seeded()
    recreate(hub, [a for a in seed_artifacts(14, random.Random(42)) if a.kind not in SERVING])
    endpoint, deployment = seeded[ArtifactKind.ONLINE_ENDPOINT], seeded[ArtifactKind.ONLINE_DEPLOYMENT]
    hub.put_asset(creation_form(endpoint, None, warm=True))
    emulator.provisioning_reads = 2
    hub.put_asset(creation_form(deployment, None, warm=True))
    puts = emulator.put_count()
    assert hub.apply_state(endpoint) is WriteOutcome.PENDING  # its deployment is still "Creating"
    assert hub.apply_state(state_form(deployment, None)) is WriteOutcome.PENDING
    assert emulator.put_count() == puts  # nothing written while provisioning
    assert hub.apply_state(state_form(deployment, None)) is WriteOutcome.UPDATED
    assert hub.apply_state(endpoint) is WriteOutcome.UPDATED
    assert emulator.resource(f"/onlineEndpoints/{endpoint.name}")["properties"]["traffic"] == \
        endpoint.spec["properties"]["traffic"]


def test_a_failed_deployment_is_refused_permanently() -> None:
    emulator = AzureMLEmulator("hub-secondary")
    hub = _azureml(emulator)
    seeded = _chain(hub)
    deployment = seeded[ArtifactKind.ONLINE_DEPLOYMENT]
    stored = emulator.resource(f"/onlineEndpoints/{deployment.name.replace('/', '/deployments/')}")
    assert stored is not None
    stored["properties"]["provisioningState"] = "Failed"
    with pytest.raises(HubError) as info:
        hub.apply_state(_with(deployment, ("sku", "capacity"), 5))
    assert info.value.category is ErrorCategory.PERMANENT and "Failed" in str(info.value)


def test_a_lost_put_response_is_recognised_as_already_present() -> None:
    emulator = AzureMLEmulator("hub-secondary")
    hub = _azureml(emulator)
    endpoint = creation_form(_seeded()[ArtifactKind.ONLINE_ENDPOINT], None, warm=True)
    emulator.inject(Fault(status=503, method="PUT", path_regex="^/onlineEndpoints/", after_effect=True))
    assert hub.put_asset(endpoint) is WriteOutcome.ALREADY_PRESENT
    assert emulator.put_count("^/onlineEndpoints/") == 1  # written once, not twice


def test_specs_are_the_same_from_either_workspace() -> None:
    """ARM ids of the workspace's own resources are stored under a portable scope: a deployment read from
    the primary and the same one read from the secondary have one definition."""
    seeded = _seeded()
    hashes = []
    for workspace in ("hub-primary", "hub-secondary"):
        emulator = AzureMLEmulator(workspace)
        hub = _azureml(emulator)
        recreate(hub, seed_artifacts(14, random.Random(42)))
        name = seeded[ArtifactKind.ONLINE_DEPLOYMENT].name
        stored = emulator.resource(f"/onlineEndpoints/{name.replace('/', '/deployments/')}")
        assert stored is not None and f"/workspaces/{workspace}/models/" in stored["properties"]["model"]
        hashes.append(hub.get_asset(ArtifactKind.ONLINE_DEPLOYMENT, name, None).content_hash)
    assert hashes[0] == hashes[1] == seeded[ArtifactKind.ONLINE_DEPLOYMENT].content_hash


def test_an_endpoint_routes_to_the_deployments_the_target_has(hubs: HubPair) -> None:
    """A deployment that could not be recreated (no quota for its instance type in the secondary's region, a
    secret not mapped) must not take its endpoint down: its share goes to the deployments that are there."""
    seeded = _chain(hubs.secondary)
    endpoint = _with(seeded[ArtifactKind.ONLINE_ENDPOINT], ("properties", "traffic"), {"blue": 90, "green": 10})
    hubs.secondary.apply_state(_with(endpoint, ("properties", "traffic"), {}))  # as recreated: no routes yet
    assert hubs.secondary.apply_state(endpoint) is WriteOutcome.UPDATED  # green is not there
    routed = hubs.secondary.get_asset(endpoint.kind, endpoint.name, None).spec["properties"]["traffic"]
    assert routed == {"blue": 100}
    assert hubs.secondary.apply_state(endpoint) is WriteOutcome.ALREADY_PRESENT  # asked again: the same answer
    nothing_left = _with(endpoint, ("properties", "traffic"), {"green": 100})
    with pytest.raises(HubError) as info:
        hubs.secondary.apply_state(nothing_left)
    assert info.value.category is ErrorCategory.PERMANENT and "green" in str(info.value)


def test_a_failed_deployment_gets_no_traffic_on_azure_ml() -> None:
    """The service keeps a deployment whose provisioning failed (quota): it is there, but can't serve."""
    emulator = AzureMLEmulator("hub-secondary")
    hub = _azureml(emulator)
    seeded = _chain(hub)
    blue = seeded[ArtifactKind.ONLINE_DEPLOYMENT]
    green = Artifact(blue.kind, blue.name.replace("/blue", "/green"), None, blue.spec)
    hub.put_asset(creation_form(green, None, warm=True))
    path = f"/onlineEndpoints/{green.name.replace('/', '/deployments/')}"
    stored = emulator.resource(path)
    assert stored is not None
    stored["properties"]["provisioningState"] = "Failed"
    endpoint = _with(seeded[ArtifactKind.ONLINE_ENDPOINT], ("properties", "traffic"), {"blue": 75, "green": 25})
    hub.apply_state(_with(endpoint, ("properties", "traffic"), {}))
    assert hub.apply_state(endpoint) is WriteOutcome.UPDATED
    assert hub.get_asset(endpoint.kind, endpoint.name, None).spec["properties"]["traffic"] == {"blue": 100}
