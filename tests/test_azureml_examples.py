"""The Azure ML adapter against Microsoft's published REST examples (tests/samples/azureml_rest,
sources in SOURCES.md there), served through the emulated transport under the real azure-ai-ml SDK.

For every kind the adapter handles: list, get, catalog, recreate. A recreated asset's request body
is compared with the example createOrUpdate request of its kind: what the example create carries
(and the source had), the recreation carries too. Sockets are closed for the whole module: nothing
the SDK does here may leave the process (no storage read for an mltable, no token endpoint).
"""

from __future__ import annotations

import base64
import copy
import json
import random
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from azure.ai.ml.exceptions import ErrorTarget, JobParsingError, MlException, ValidationException
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerClient

from failover.domain.config import FailoverConfig
from failover.domain.model import (
    ACTIVE_JOB_STATUSES,
    DEFAULT_INTERRUPTED_JOB_STATUSES,
    HELD_JOB_STATUSES,
    KNOWN_JOB_STATUSES,
    TERMINAL_JOB_STATUSES,
    UNDETERMINED_JOB_STATUSES,
    VERSIONED_KINDS,
    Artifact,
    ArtifactKind,
)
from failover.domain.ports import ErrorCategory, HubError, WriteOutcome
from failover.hubs.azureml_hub import AzureMLHub
from failover.hubs.hub_errors import to_hub_error
from failover.hubs.hub_retry import call_hub
from failover.hubs.simulated_seed import seed_artifacts
from failover.recovery import job_dependencies
from failover.stores.catalog import CatalogStore, sync_catalog
from replayhost.azurite import AzuriteEndpoints
from tests.azureml_emulator import (
    RESOURCE_GROUP,
    SAMPLES,
    SUBSCRIPTION,
    AzureMLAudienceCredential,
    AzureMLEmulator,
    FixedTokenCredential,
    example_request,
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only loopback (the session's Azurite): the SDK's traffic must all go through the transport."""
    connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"a connection to {address} was attempted: everything must go through the transport")
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    yield


def hub(emulator: AzureMLEmulator, credential: Any = None) -> AzureMLHub:
    return AzureMLHub(SUBSCRIPTION, RESOURCE_GROUP, emulator.workspace, credential=credential or FixedTokenCredential(),
                      transport=emulator, retry_total=0)


def puts(emulator: AzureMLEmulator, path_regex: str) -> list[Any]:
    return [c.body for c in emulator.calls_matching("PUT", path_regex) if not c.faulted]


# -- assets: list, get, catalog, recreate ------------------------------------------------------------

# kind, the examples whose resources are served, where, and the example create request to compare with.
ASSET_EXAMPLES = [
    (ArtifactKind.ENVIRONMENT, "2023-04-01-preview/Workspace/EnvironmentVersion/list.json",
     "/environments/docker-build/versions/1", "2023-04-01-preview/Workspace/EnvironmentVersion/createOrUpdate.json"),
    (ArtifactKind.CODE, "2023-04-01/Workspace/CodeVersion/list.json", "/codes/train-src/versions/3",
     "2023-04-01/Workspace/CodeVersion/createOrUpdate.json"),
    (ArtifactKind.DATA, "2023-04-01/Workspace/DataVersionBase/list.json", "/data/churn-csv/versions/2",
     "2023-04-01-preview/Workspace/DataVersionBase/createOrUpdate.json"),
    (ArtifactKind.MODEL, "2023-08-01-preview/Workspace/ModelVersion/list.json", "/models/churn-model/versions/7",
     "2023-08-01-preview/Workspace/ModelVersion/createOrUpdate.json"),
]


@pytest.mark.parametrize(("kind", "served", "path", "create"), ASSET_EXAMPLES, ids=[e[0].value for e in ASSET_EXAMPLES])
def test_each_asset_kind_is_listed_read_and_recreated_with_every_field(
        kind: ArtifactKind, served: str, path: str, create: str) -> None:
    primary_ws, secondary_ws = AzureMLEmulator("hub-primary"), AzureMLEmulator("hub-secondary")
    primary_ws.load_example(served, path)
    _, _, name, _, version = path.split("/")

    (listed,) = hub(primary_ws).list_assets(kind)
    assert (listed.name, listed.version) == (name, version)
    assert hub(primary_ws).get_asset(kind, name, version).content_hash == listed.content_hash
    if kind is not ArtifactKind.CODE:  # code has no "latest" label
        assert hub(primary_ws).get_asset(kind, name, None).content_hash == listed.content_hash

    # Recreated in another workspace from the catalog's copy (the spec survives JSON).
    cataloged = Artifact.from_dict(json.loads(json.dumps(listed.to_dict())))
    assert hub(secondary_ws).put_asset(cataloged) is WriteOutcome.CREATED
    (sent,) = puts(secondary_ws, f"^{path}$")
    assert sent == example_request(create), "the recreation carries exactly what the example create carries"
    assert hub(secondary_ws).get_asset(kind, name, version).content_hash == listed.content_hash
    assert hub(secondary_ws).put_asset(cataloged) is WriteOutcome.ALREADY_PRESENT


def test_environment_keeps_its_build_context_and_inference_config() -> None:
    emulator = AzureMLEmulator("hub-primary")
    emulator.load_example("2023-04-01-preview/Workspace/EnvironmentVersion/get.json",
                          "/environments/serving/versions/1")
    spec = hub(emulator).get_asset(ArtifactKind.ENVIRONMENT, "serving", "1").spec
    assert spec["build"] == {"path": "https://storage-account.blob.core.windows.net/azureml/DockerBuildContext/"
                                     "95ddede6b9b8c4e90472db3acd0a8d28/", "dockerfile_path": "prod/Dockerfile"}
    assert spec["inference_config"]["scoring_route"] == {"path": "string", "port": 1}
    assert spec["image"] == "docker.io/tensorflow/serving:latest"
    assert (spec["description"], spec["tags"], spec["properties"]) == ("string", {"string": "string"},
                                                                       {"string": "string"})
    assert "environmentType" not in json.dumps(spec)  # the service's, not part of a create request


def test_a_build_only_environment_is_recreated_from_its_context() -> None:
    primary_ws, secondary_ws = AzureMLEmulator("hub-primary"), AzureMLEmulator("hub-secondary")
    (resource,) = primary_ws.load_example("2023-04-01-preview/Workspace/EnvironmentVersion/get.json",
                                          "/environments/docker-only/versions/2")
    del resource["properties"]["image"]  # built from its Docker context alone
    (environment,) = hub(primary_ws).list_assets(ArtifactKind.ENVIRONMENT)
    hub(secondary_ws).put_asset(environment)
    (sent,) = puts(secondary_ws, "^/environments/")
    assert "image" not in sent["properties"]
    assert sent["properties"]["build"] == resource["properties"]["build"]


def test_containers_listing_uses_the_published_container_shape() -> None:
    """The container list examples name containers the version examples then fill."""
    emulator = AzureMLEmulator("hub-primary")
    body = json.loads((SAMPLES / "2023-04-01/Workspace/EnvironmentContainer/list.json").read_text())
    (container,) = body["responses"]["200"]["body"]["value"]
    emulator.load_example("2023-04-01-preview/Workspace/EnvironmentVersion/get.json",
                          f"/environments/{container['name']}/versions/1")
    assert [a.name for a in hub(emulator).list_assets(ArtifactKind.ENVIRONMENT)] == [container["name"]]


def test_connections_keep_expiry_and_sharing_and_never_credentials() -> None:
    primary_ws, secondary_ws = AzureMLEmulator("hub-primary"), AzureMLEmulator("hub-secondary")
    (resource,) = primary_ws.load_example("2024-04-01-preview/WorkspaceConnection/get.json",
                                          "/connections/connection-1")
    (connection,) = hub(primary_ws).list_connections()
    assert connection.spec["expiry_time"] == "2024-03-15T14:30:00Z"
    assert hub(secondary_ws).put_connection(connection) is WriteOutcome.CREATED
    (sent,) = puts(secondary_ws, "^/connections/")
    assert sent == example_request("2024-04-01-preview/WorkspaceConnection/create.json")

    # Not in any example, but in the API: a connection shared with nobody stays so (azure-ai-ml's
    # entity would have recreated it shared to all).
    resource["properties"]["isSharedToAll"] = False
    (private,) = hub(primary_ws).list_connections()
    other = AzureMLEmulator("hub-other")
    hub(other).put_connection(private)
    (sent,) = puts(other, "^/connections/")
    assert sent["properties"]["isSharedToAll"] is False


def test_a_listed_connection_with_a_pat_is_recreated_without_it() -> None:
    primary_ws, secondary_ws = AzureMLEmulator("hub-primary"), AzureMLEmulator("hub-secondary")
    primary_ws.load_example("2024-07-01-preview/WorkspaceConnection/list.json",
                            "/connections/connection-1", "/connections/connection-2")
    listed = hub(primary_ws).list_connections()
    assert [c.name for c in listed] == ["connection-1", "connection-2"] and not listed.unreadable
    for connection in listed:
        assert "PAT" not in json.dumps(connection.spec)  # not even the kind of secret
        hub(secondary_ws).put_connection(connection)
    assert [b["properties"]["authType"] for b in puts(secondary_ws, "^/connections/")] == ["None", "None"]


def test_a_component_spec_without_type_is_reported_and_the_others_listed() -> None:
    emulator = AzureMLEmulator("hub-primary")
    emulator.load_example("2024-01-01-preview/Workspace/ComponentVersion/list.json",
                          "/components/placeholder/versions/1")
    seeded = [a for a in seed_artifacts(14, random.Random(42)) if a.kind in VERSIONED_KINDS]
    for artifact in seeded:
        hub(emulator).put_asset(artifact)
    listed = hub(emulator).list_assets(ArtifactKind.COMPONENT)
    assert sorted(a.name for a in listed) == sorted(a.name for a in seeded if a.kind is ArtifactKind.COMPONENT)
    (unreadable,) = listed.unreadable
    assert (unreadable.key, unreadable.kind) == ("component:placeholder:1", "component")
    assert "componentSpec has no type" in unreadable.reason

    emulator.calls.clear()
    with pytest.raises(HubError) as info:
        call_hub(partial(hub(emulator).get_asset, ArtifactKind.COMPONENT, "placeholder", "1"))
    assert info.value.category is ErrorCategory.PERMANENT and "componentSpec has no type" in str(info.value)
    assert len(emulator.calls_matching("GET", "^/components/placeholder")) == 1  # fetched once, not retried


def test_model_written_without_flavors_is_created_not_permanent() -> None:
    """The service may answer a model PUT with no flavors at all: the write still happened."""
    emulator = AzureMLEmulator("hub-secondary")
    model = Artifact(ArtifactKind.MODEL, "bare", "1", {"type": "custom_model", "path": "https://x.example.com/m/",
                                                       "flavors": None, "description": None, "tags": {},
                                                       "properties": {}, "extra": {}})
    assert hub(emulator).put_asset(model) is WriteOutcome.CREATED
    stored = emulator.resources["/models/bare/versions/1"]["properties"]
    assert "flavors" not in stored
    assert hub(emulator).get_asset(ArtifactKind.MODEL, "bare", "1").content_hash == model.content_hash


def test_mltable_data_is_recreated_from_the_catalog_alone() -> None:
    """An mltable keeps the files its MLTable references: recreating it reads no datastore, no storage."""
    data = next(a for a in seed_artifacts(40, random.Random(5))
                if a.kind is ArtifactKind.DATA and a.spec["type"] == "mltable")
    emulator = AzureMLEmulator("hub-secondary")
    assert hub(emulator).put_asset(data) is WriteOutcome.CREATED
    (sent,) = puts(emulator, "^/data/")
    assert sent["properties"]["referencedUris"] == data.spec["referenced_uris"]
    assert not [c for c in emulator.calls if "/datastores" in c.path]


def test_computes_and_workspace_from_the_examples() -> None:
    emulator = AzureMLEmulator("hub-primary")
    emulator.computes = set()
    emulator.load_example("2023-08-01-preview/Compute/list.json", "/computes/compute123", "/computes/compute1234")
    emulator.load_workspace_example("2024-10-01-preview/Workspace/get.json")
    adapter = hub(emulator)
    adapter.ping()
    assert adapter.list_computes() == ["compute123", "compute1234"]


# -- jobs ---------------------------------------------------------------------------------------------

# Every job example, each served as its own job (their names are all "string").
JOB_EXAMPLES = {
    "command-get": "2024-01-01-preview/Job/CommandJob/get.json",  # NotStarted
    "command-list": "2024-01-01-preview/Job/CommandJob/list.json",  # Failed
    "pipeline-get": "2024-01-01-preview/Job/PipelineJob/get.json",  # NotStarted
    "finetuning-get": "2024-01-01-preview/Job/FineTuningJob/get.json",  # Created
    "automl-2401-get": "2024-01-01-preview/Job/AutoMLJob/get.json",  # a Command body, Scheduled
    "sweep-2401-list": "2024-01-01-preview/Job/SweepJob/list.json",  # a Command body, Running
    "command-2404": "2024-04-01-preview/Job/AutoMLJob/createOrUpdate.json",  # a Command body, CancelRequested
    "automl-2025": "2025-01-01-preview/Job/AutoMLJob/createOrUpdate.json",  # ImageClassification, Scheduled
    "sweep-2025": "2025-01-01-preview/Job/SweepJob/createOrUpdate.json",  # placeholder search space: NotStarted
}


# The examples' references are the placeholder "string", which names nothing azure-ai-ml can resolve
# (it takes it for a local path): served jobs reference assets of their workspace by ARM id, and data
# by datastore URI, instead.
JOB_REFERENCES = {"codeId": "codes/train-src/versions/1", "environmentId": "environments/sklearn/versions/3",
                  "componentId": "components/train/versions/1", "computeId": "computes/cpu-cluster"}
DATA_URI = "azureml://datastores/workspaceblobstore/paths/example/"


def _placeholder_uris(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "uri" and item == "string":
                value[key] = DATA_URI
            else:
                _placeholder_uris(item)


def job_world(name: str = "hub-primary") -> AzureMLEmulator:
    emulator = AzureMLEmulator(name)
    for job, relative in JOB_EXAMPLES.items():
        (resource,) = emulator.load_example(relative, f"/jobs/{job}")
        props = resource["properties"]
        for field, tail in JOB_REFERENCES.items():
            if props.get(field) == "string":
                props[field] = f"{emulator.scope}/{tail}"
        _placeholder_uris({k: v for k, v in props.items() if k != "outputs"})
    return emulator


def test_every_job_example_is_listed_and_the_unparsable_one_named() -> None:
    listed = hub(job_world()).list_jobs()
    assert {j.name: j.status for j in listed} == {
        "command-get": "NotStarted", "command-list": "Failed", "pipeline-get": "NotStarted",
        "finetuning-get": "Created", "automl-2401-get": "Scheduled", "sweep-2401-list": "Running",
        "command-2404": "CancelRequested", "automl-2025": "Scheduled"}
    (sweep,) = listed.unreadable
    assert (sweep.key, sweep.kind, sweep.name) == ("job:sweep-2025", "job", "sweep-2025")
    assert "JobParsingError" in sweep.reason
    assert all(j.status in KNOWN_JOB_STATUSES for j in listed)


def test_the_status_filter_keeps_wanted_jobs_and_never_drops_an_unreadable_one_silently() -> None:
    listed = hub(job_world()).list_jobs(sorted(DEFAULT_INTERRUPTED_JOB_STATUSES))
    assert [j.name for j in listed] == ["automl-2025", "automl-2401-get", "command-get", "finetuning-get",
                                        "pipeline-get", "sweep-2401-list"]
    assert [u.name for u in listed.unreadable] == ["sweep-2025"]  # NotStarted: wanted, and unreadable
    finished = hub(job_world()).list_jobs(["Failed"])
    assert [j.name for j in finished] == ["command-list"] and not finished.unreadable  # out of scope


def test_a_job_record_is_the_service_body_verbatim() -> None:
    emulator = job_world()
    record = hub(emulator).get_job("command-get")
    served = emulator.resources["/jobs/command-get"]["properties"]
    assert record.spec == {"name": "command-get", "properties": served}
    for field in ("componentId", "notificationSetting", "autologgerSettings", "queueSettings"):
        assert record.spec["properties"][field] == served[field]
    assert record.spec["properties"]["resources"]["properties"] == served["resources"]["properties"]
    assert record.spec["properties"]["inputs"]["string"]["description"] == "string"


def test_an_unparsable_job_is_permanent_and_fetched_once() -> None:
    emulator = job_world()
    emulator.calls.clear()
    with pytest.raises(HubError) as info:
        call_hub(partial(hub(emulator).get_job, "sweep-2025"))
    assert info.value.category is ErrorCategory.PERMANENT
    assert "JobParsingError" in str(info.value) and "sweep-2025" in str(info.value)
    assert len(emulator.calls_matching("GET", "^/jobs/sweep-2025")) == 1


_GUID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")


def _key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON body; the examples' generated GUID keys (different in every file) as ``*``."""
    if not isinstance(value, dict):
        return {prefix}
    paths = {prefix} if prefix else set()
    for key, item in value.items():
        key = "*" if _GUID.match(key) else key
        paths |= _key_paths(item, f"{prefix}.{key}" if prefix else key)
    return paths


def test_a_resubmitted_command_job_keeps_every_field_the_create_request_accepts() -> None:
    primary_ws, secondary_ws = job_world(), AzureMLEmulator("hub-secondary")
    source = hub(primary_ws).get_job("command-get")
    hub(secondary_ws).submit_job(source, new_name="command-get-fo1", compute="gpu-cluster", tags={"gen": "1"})
    (sent,) = puts(secondary_ws, "^/jobs/")
    body = sent["properties"]
    request = example_request("2024-01-01-preview/Job/CommandJob/createOrUpdate.json")["properties"]
    missing = _key_paths(request) - _key_paths(body)
    # Only what belongs to the old run: its service endpoints and its outputs' locations.
    assert {m for m in missing if not m.startswith("services")} == {"outputs.string.uri"}
    # Kept, and pointing at this workspace's component, not the failed region's.
    assert body["componentId"] == f"{secondary_ws.scope}/components/train/versions/1"
    assert body["notificationSetting"] == {"emails": ["string"], "emailOn": ["JobFailed"]}
    assert body["autologgerSettings"] == {"mlflowAutologger": "Enabled"}
    assert body["resources"]["properties"] == source.spec["properties"]["resources"]["properties"]
    assert body["inputs"]["string"]["description"] == "string"
    assert body["computeId"].endswith("/workspaces/hub-secondary/computes/gpu-cluster")
    assert "status" not in body and "parameters" not in body  # the service's, never sent
    assert body["tags"] == {"string": "string", "gen": "1"}


def test_a_registered_component_is_a_dependency_and_an_anonymous_one_is_not() -> None:
    """Readiness asks for a job's registered component (it is sent along now); the per-submission
    anonymous component azure-ai-ml makes for inline jobs is neither required nor sent."""
    primary_ws, secondary_ws = job_world(), AzureMLEmulator("hub-secondary")
    registered = hub(primary_ws).get_job("command-get")
    assert (ArtifactKind.COMPONENT, "train", "1") in job_dependencies(registered.spec)

    props = primary_ws.resources["/jobs/command-get"]["properties"]
    props["componentId"] = f"{primary_ws.scope}/components/azureml_anonymous/versions/4f1c0b8e-0d1c-4a57-9a4e-1"
    inline = hub(primary_ws).get_job("command-get")
    assert not {d for d in job_dependencies(inline.spec) if d[0] is ArtifactKind.COMPONENT}
    hub(secondary_ws).submit_job(inline, new_name="inline-fo1", compute=None, tags={})
    (sent,) = puts(secondary_ws, "^/jobs/")
    assert "componentId" not in sent["properties"]


def test_a_resubmitted_automl_job_keeps_its_environment() -> None:
    primary_ws, secondary_ws = job_world(), AzureMLEmulator("hub-secondary")
    source = hub(primary_ws).get_job("automl-2025")
    hub(secondary_ws).submit_job(source, new_name="automl-fo1", compute=None, tags={})
    (sent,) = puts(secondary_ws, "^/jobs/")
    assert sent["properties"]["environmentId"] == f"{secondary_ws.scope}/environments/sklearn/versions/3"
    for field in ("environmentVariables", "resources"):
        assert sent["properties"][field] == source.spec["properties"][field], field
    # The SDK re-renders the task (its search space spelling, a default metric) but drops none of it.
    assert _key_paths(source.spec["properties"]["taskDetails"]) <= _key_paths(sent["properties"]["taskDetails"])


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_a_pipeline_job_is_resubmitted_with_the_users_azure_ml_token() -> None:
    """azure-ai-ml decodes the credential's token before a pipeline submission and sends it along."""
    primary_ws, secondary_ws = job_world(), AzureMLEmulator("hub-secondary")
    source = hub(primary_ws).get_job("pipeline-get")
    credential = AzureMLAudienceCredential()
    result = hub(secondary_ws, credential).submit_job(source, new_name="pipeline-get-fo2", compute=None, tags={})
    assert result.outcome is WriteOutcome.CREATED
    (put,) = [c for c in secondary_ws.calls_matching("PUT", "^/jobs/") if not c.faulted]
    assert put.body["properties"]["jobType"] == "Pipeline"
    assert _claims(put.headers["x-azureml-token"])["aud"] == "https://ml.azure.com"
    assert _claims(put.headers["Authorization"].removeprefix("Bearer "))["aud"] == "https://management.azure.com"
    request = example_request("2025-01-01-preview/Job/PipelineJob/createOrUpdate.json")["properties"]
    assert {m for m in _key_paths(request) - _key_paths(put.body["properties"])
            if not m.startswith("services")} == {"outputs.string.uri"}

    # With a token azure-ai-ml can't decode (or of another audience) it refuses: permanent, nothing sent.
    other = AzureMLEmulator("hub-other")
    with pytest.raises(HubError) as info:
        hub(other).submit_job(source, new_name="pipeline-get-fo2", compute=None, tags={})
    assert info.value.category is ErrorCategory.PERMANENT
    assert not other.calls_matching("PUT", ".*")


# -- the catalog over the examples ----------------------------------------------------------------------

def synced_pair(azurite: AzuriteEndpoints, container: str) -> tuple[FailoverConfig, CatalogStore]:
    """Pair `ml` (east: ws-east, west: ws-west) on the emulated service, and a catalog in its own container."""
    hub_ref = {"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP, "region": "swedencentral",
               "backend": "azureml"}
    config = FailoverConfig.model_validate({"pairs": [{
        "name": "ml", "mode": "hot-warm", "primary": {**hub_ref, "name": "east", "workspace_name": "ws-east"},
        "secondary": {**hub_ref, "name": "west", "workspace_name": "ws-west"}}]})
    return config, CatalogStore(ContainerClient.from_connection_string(azurite.connection_string, container))


def test_catalog_sync_names_what_azure_ml_cannot_parse_and_catalogs_everything_else(
        azurite: AzuriteEndpoints, unique_name: str) -> None:
    emulator = job_world("ws-east")
    for _, served, path, _ in ASSET_EXAMPLES:
        emulator.load_example(served, path)
    emulator.load_example("2024-01-01-preview/Workspace/ComponentVersion/list.json",
                          "/components/placeholder/versions/1")
    emulator.load_example("2024-07-01-preview/WorkspaceConnection/list.json",
                          "/connections/connection-1", "/connections/connection-2")
    config, store = synced_pair(azurite, unique_name)

    report = sync_catalog(config, "ml", lambda ref: hub(emulator), store, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert [(u["key"], u["kept_previous"]) for u in report.unreadable] == [
        ("component:placeholder:1", False), ("job:sweep-2025", False)]
    assert report.jobs == 6  # the interrupted ones of the examples (not Failed, not CancelRequested)
    assert report.artifacts == {"environment": 1, "code": 1, "data": 1, "component": 0, "model": 1, "connection": 2,
                                "online_endpoint": 0, "batch_endpoint": 0, "online_deployment": 0,
                                "batch_deployment": 0, "schedule": 0}
    snapshot = store.read("east")
    assert snapshot is not None
    command = next(j for j in snapshot.job_records() if j.name == "command-get")
    assert command.spec["properties"]["notificationSetting"] == {"emails": ["string"], "emailOn": ["JobFailed"]}
    assert {j.status for j in snapshot.job_records()} == {"NotStarted", "Created", "Scheduled", "Running"}


def test_a_job_in_a_status_hubfailover_does_not_know_is_named_not_dropped(azurite: AzuriteEndpoints,
                                                                         unique_name: str) -> None:
    """The service's JobStatus is an open enum (modelAsString): a status added after this release must show
    up in the sync report, not vanish from the catalog (and from the resubmissions) unseen."""
    emulator = job_world("ws-east")
    config, store = synced_pair(azurite, unique_name)
    first = sync_catalog(config, "ml", lambda ref: hub(emulator), store, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert first.unreadable == [u for u in first.unreadable if u["key"] == "job:sweep-2025"]
    emulator.set_job_status("command-get", "Throttled")
    report = sync_catalog(config, "ml", lambda ref: hub(emulator), store, now=datetime(2030, 1, 2, tzinfo=UTC))
    (unknown,) = [u for u in report.unreadable if u["key"] == "job:command-get"]
    assert "'Throttled' is not an Azure ML job status hubfailover knows" in unknown["reason"]
    assert unknown["kept_previous"] and report.jobs == first.jobs  # the last sync's copy is kept
    assert "command-get" in {j.name for j in store.read("east").job_records()}  # type: ignore[union-attr]


# -- statuses and errors -------------------------------------------------------------------------------

def test_every_status_of_the_job_status_enum_is_known_and_classified_once() -> None:
    enum = json.loads((SAMPLES / "job_status_enum.json").read_text())["enum"]
    seen_in_examples = {"Created"}  # fine-tuning jobs report it; the enum lacks it
    assert set(enum) | seen_in_examples == KNOWN_JOB_STATUSES
    groups = [ACTIVE_JOB_STATUSES, HELD_JOB_STATUSES, UNDETERMINED_JOB_STATUSES, TERMINAL_JOB_STATUSES]
    assert sum(len(g) for g in groups) == len(KNOWN_JOB_STATUSES)  # each status in exactly one group
    assert {"Scheduled", "Created", "NotResponding"} <= DEFAULT_INTERRUPTED_JOB_STATUSES
    assert not DEFAULT_INTERRUPTED_JOB_STATUSES & (HELD_JOB_STATUSES | UNDETERMINED_JOB_STATUSES)


@pytest.mark.parametrize("error", [
    ValidationException(message="Docker image or Dockerfile should be provided not both", no_personal_data_message="x",
                        target=ErrorTarget.ENVIRONMENT),
    JobParsingError(error_category="UserError", message="search space", no_personal_data_message="x"),
    MlException(message="Unable to parse the component", no_personal_data_message="x"),
], ids=["ValidationException", "JobParsingError", "MlException"])
def test_sdk_errors_are_permanent_with_their_message(error: MlException) -> None:
    mapped = to_hub_error(error, "hub: put x")
    assert mapped.category is ErrorCategory.PERMANENT
    assert type(error).__name__ in str(mapped) and error.message in str(mapped)


def test_an_sdk_error_wrapping_a_service_error_keeps_the_services_category() -> None:
    try:
        try:
            raise HttpResponseError(message="busy", response=None)
        except HttpResponseError as http:
            http.status_code = 503
            raise MlException(message="wrapped", no_personal_data_message="x") from http
    except MlException as wrapped:
        assert to_hub_error(wrapped, "hub: get").category is ErrorCategory.TRANSIENT


def test_the_examples_are_served_as_published() -> None:
    """Served bodies differ from the files only where a placeholder can't be served (name, id)."""
    emulator = AzureMLEmulator("hub-primary")
    (served,) = emulator.load_example("2024-01-01-preview/Job/CommandJob/get.json", "/jobs/command-get")
    published = json.loads((SAMPLES / "2024-01-01-preview/Job/CommandJob/get.json").read_text())
    body = copy.deepcopy(published["responses"]["200"]["body"])
    assert {k: v for k, v in served.items() if k not in ("id", "name")} == {
        k: v for k, v in body.items() if k not in ("id", "name")}
    assert (body["id"], body["name"]) == ("string", "string")
