"""Generated secrets in every field of job, asset, endpoint, deployment and schedule specs: none reaches
any blob or table.

Hypothesis puts secret-shaped values (credentials in URLs, SAS signatures, connection-string keys,
bearer tokens, vendor key shapes, secrets on command lines, private keys) and secret-named fields
into the specs of a simulated primary. A catalog sync and a whole failover (the real
orchestration through the replay host, its history persisted in Azurite) then run, and every
blob and every table entity of a private Azurite is scanned. The only place a primary's secret
may live is the primary workspace itself (its simulated-hub partition). Mapped secrets reach
the secondary with Key Vault's value; nothing reaches it as a placeholder.
"""

from __future__ import annotations

import json
import os
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from failover.domain import settings as app_settings
from failover.domain.config import parse_config
from failover.domain.model import MUTABLE_KINDS, RECOVERY_ORDER, Artifact, ArtifactKind, JobRecord
from failover.domain.secrets import LEGACY_PLACEHOLDER, MARKER_PREFIX
from failover.domain.serving import ENDPOINT_KIND_OF, creation_form, endpoint_of
from failover.hubs.key_vault import KeyVaultSecrets
from failover.hubs.simulated_hub import DEFAULT_TABLE, SimulatedHub
from failover.services import reset_services, services
from failover.stores.catalog import sync_catalog
from replayhost.azurite import Azurite, AzuriteEndpoints
from tests.key_vault_emulator import KeyVaultEmulator, StaticTokenCredential
from tests.waiting import patience

ALNUM = string.ascii_letters + string.digits
VAULT = "kv-gen.vault.azure.net"
MAPPED = {"HF_TOKEN": "hf-token", "DB_PASS": "db-pass"}  # what the operator mapped; the rest fails by name
KEY_VAULT_VALUES = {"hf-token": "kv-resolved-hf-6b1f0c", "db-pass": "kv-resolved-db-93de2a"}


@pytest.fixture(scope="module")
def private_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteEndpoints]:
    """An account of our own: everything in it was written by this test."""
    emulator = Azurite(data_dir=tmp_path_factory.mktemp("azurite-secrets"))
    try:
        yield emulator.start()
    finally:
        emulator.stop()


@pytest.fixture(scope="module", autouse=True)
def restore_environment() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in (app_settings.FAILOVER_CONFIG, app_settings.DR_STORAGE_CONNECTION)}
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_services()


# -- strategies: (text to store, the secret inside it) --------------------------------------------

@dataclass
class Planted:
    secrets: set[str] = field(default_factory=set)

    def keep(self, secret: str) -> str:
        self.secrets.add(secret)
        return secret


def _unique(core: str) -> str:
    """The drawn text plus a random tail, so a scan can't confuse it with anything else stored."""
    return core + "Q" + uuid.uuid4().hex[:12]


token = st.text(ALNUM, min_size=6, max_size=16).map(_unique)


@st.composite
def secret_value(draw: st.DrawFn, planted: Planted) -> str:
    """A value whose shape alone says it holds a secret."""
    secret = planted.keep(draw(token))
    shape = draw(st.sampled_from([
        "{scheme}://{user}:{s}@db.example.com:5432/app", "https://acct.blob.core.windows.net/c/f.parquet?"
        "sv=2022-11-02&sp=rl&se=2031-01-01&sig={s}", "DefaultEndpointsProtocol=https;AccountName=acct;"
        "AccountKey={s}==;EndpointSuffix=core.windows.net", "Server=tcp:db;Database=x;User ID=app;Password={s};",
        "Bearer {s}0", "sk-{s}", "ghp_{s}{s}", "hf_{s}{s}", "github_pat_{s}{s}", "xoxb-{s}",
        "python train.py --epochs 3 --{flag} {s}", "export {name}={s} && python score.py",
        '{{"{name}": "{s}", "retries": 3}}', "-----BEGIN PRIVATE KEY-----\n{s}\n-----END PRIVATE KEY-----",
        "https://api.example.com/v1/score?api_key={s}&format=json", "https://fn.azurewebsites.net/api/x?code={s}{s}",
        "env:{name}={s}", "docker login -u ci -p {s} acr.azurecr.io"]))
    return shape.format(s=secret, scheme=draw(st.sampled_from(["postgresql", "mongodb+srv", "https", "redis", "amqp"])),
                        user=draw(st.sampled_from(["app", "svc", "oauth2"])),
                        flag=draw(st.sampled_from(["token", "password", "api-key", "client-secret"])),
                        name=draw(st.sampled_from(["DB_PASS", "PGPASSWORD", "SECRETKEY", "HF_TOKEN", "apiKey"])))


secret_name = st.sampled_from(["HF_TOKEN", "DB_PASS", "PGPASSWORD", "SECRETKEY", "OPENAI_API_KEY", "client_secret",
                               "MYSQL_PWD", "GITHUB_PAT", "sasToken", "AZURE_STORAGE_CONNECTION_STRING"])


@st.composite
def maybe_secret(draw: st.DrawFn, planted: Planted, plain: str) -> str:
    return draw(secret_value(planted)) if draw(st.booleans()) else plain


@st.composite
def fields(draw: st.DrawFn, planted: Planted) -> dict[str, str]:
    """Environment variables / tags / metadata: secret names with any value, plain names with secret shapes."""
    out = {f"PLAIN_{i}": draw(maybe_secret(planted, f"value-{i}")) for i in range(draw(st.integers(0, 2)))}
    for name in draw(st.lists(secret_name, max_size=2, unique=True)):
        out[name] = planted.keep(draw(token).lower())  # no secret shape at all: only the name tells
    return out


@st.composite
def job_spec(draw: st.DrawFn, planted: Planted, name: str) -> JobRecord:
    env = draw(fields(planted))
    tags = {k: v for k, v in draw(fields(planted)).items() if not k.isupper()} or {"owner": "alice"}
    properties: dict[str, Any] = {
        "jobType": "Command", "computeId": "cpu", "experimentName": "exp", "environmentVariables": env,
        "command": draw(maybe_secret(planted, "python train.py --epochs 3")),
        "description": draw(maybe_secret(planted, "nightly training")),
        "displayName": draw(maybe_secret(planted, name)),
        "inputs": {"data": {"jobInputType": "uri_file", "uri": draw(maybe_secret(planted,
                                                                                  "https://acct.blob.core.windows.net/c/f.csv"))}},
        "outputs": {"out": {"jobOutputType": "uri_folder"}}, "properties": {"origin": draw(maybe_secret(planted, "x"))},
        "tags": dict(tags)}
    return JobRecord(name, "Running", "exp", "cpu", {"name": name, "properties": properties}, tags)


@st.composite
def artifact_spec(draw: st.DrawFn, planted: Planted, kind: ArtifactKind, name: str) -> Artifact:
    tags = {k.lower(): v for k, v in draw(fields(planted)).items() if not k.isupper()}
    description = draw(maybe_secret(planted, f"{kind.value} for tests"))
    path = draw(maybe_secret(planted, f"https://acct.blob.core.windows.net/{kind.value}/{name}/"))
    spec: dict[str, Any]
    if kind is ArtifactKind.ENVIRONMENT:
        spec = {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest", "description": description,
                "tags": tags, "conda_file": {"dependencies": ["python=3.11", {"pip": [
                    draw(maybe_secret(planted, "--extra-index-url https://pkgs.example.com/simple")), "torch"]}]}}
    elif kind is ArtifactKind.CODE:
        spec = {"path": path}
    elif kind is ArtifactKind.DATA:
        spec = {"type": "uri_folder", "path": path, "description": description, "tags": tags}
    elif kind is ArtifactKind.COMPONENT:
        spec = {"type": "command", "command": draw(maybe_secret(planted, "python score.py")), "environment": None,
                "code": None, "inputs": {}, "outputs": {}, "description": description, "tags": tags}
    elif kind is ArtifactKind.MODEL:
        spec = {"type": "custom_model", "path": path, "description": description, "tags": tags,
                "properties": {"source": draw(maybe_secret(planted, "training run"))}}
    else:  # connections carry no secret-named fields (the hub refuses them): secrets hide in values
        spec = {"type": "custom", "target": draw(maybe_secret(planted, f"https://{name}.example.com/")),
                "metadata": {"owner": draw(maybe_secret(planted, "team-a"))}}
    version = None if kind is ArtifactKind.CONNECTION else "1"
    return Artifact(kind, name, version, spec)


# The asset kinds and connections, drawn one by one; the serving kinds come as a whole (serving()).
GENERATED_KINDS = [ArtifactKind.ENVIRONMENT, ArtifactKind.CODE, ArtifactKind.DATA, ArtifactKind.COMPONENT,
                   ArtifactKind.MODEL, ArtifactKind.CONNECTION]


@st.composite
def serving(draw: st.DrawFn, planted: Planted) -> list[Artifact]:
    """An online endpoint with one or two deployments (traffic split between them), a batch endpoint with its
    deployment, a job schedule and a batch-invoking schedule, REST-shaped as the Azure ML adapter catalogs
    them: secrets in deployment environment variables, request settings, properties and tags, in schedule
    job definitions (command, environment variables, inputs) and batch invocation inputs, in descriptions."""
    def described(what: str) -> str:
        return draw(maybe_secret(planted, what))

    online, batch = "oe-gen", "be-gen"
    names = ["blue", "green"][:draw(st.integers(1, 2))]
    traffic = {names[0]: 100} if len(names) == 1 else {names[0]: 90, names[1]: 10}
    out = [Artifact(ArtifactKind.ONLINE_ENDPOINT, online, None, {"properties": {
               "authMode": "Key", "traffic": traffic, "description": described("scoring"),
               "properties": {"owner": described("team-a")}}, "tags": {"env": described("prod")}}),
           Artifact(ArtifactKind.BATCH_ENDPOINT, batch, None, {"properties": {
               "authMode": "AADToken", "defaults": {"deploymentName": "main"}, "description": described("batch")}})]
    for name in names:
        out.append(Artifact(ArtifactKind.ONLINE_DEPLOYMENT, f"{online}/{name}", None, {"properties": {
            "endpointComputeType": "Managed", "instanceType": "Standard_DS3_v2",
            "environmentVariables": draw(fields(planted)), "description": described(f"{name} deployment"),
            "requestSettings": {"maxConcurrentRequestsPerInstance": 1, "requestTimeout": "PT5S"},
            "properties": {"source": described("registry")}, "codeConfiguration": {
                "scoringScript": "score.py", "codeId": described("https://acct.blob.core.windows.net/code/x/")}},
            "sku": {"name": "Default", "capacity": 2}, "tags": {"v": described("1")}}))
    out.append(Artifact(ArtifactKind.BATCH_DEPLOYMENT, f"{batch}/main", None, {"properties": {
        "compute": "cpu", "environmentVariables": draw(fields(planted)), "description": described("batch scoring"),
        "resources": {"instanceCount": 1}, "outputFileName": "predictions.csv"}}))
    out.append(Artifact(ArtifactKind.SCHEDULE, "nightly-train", None, {"properties": {
        "isEnabled": True, "description": described("nightly"),
        "trigger": {"triggerType": "Cron", "expression": "0 2 * * *", "timeZone": "UTC"},
        "action": {"actionType": "CreateJob", "jobDefinition": {
            "jobType": "Command", "computeId": "cpu", "command": described("python train.py"),
            "environmentVariables": draw(fields(planted)),
            "inputs": {"raw": {"jobInputType": "uri_folder",
                               "uri": described("https://acct.blob.core.windows.net/raw/")}}}}}}))
    out.append(Artifact(ArtifactKind.SCHEDULE, "nightly-score", None, {"properties": {
        "isEnabled": draw(st.booleans()), "description": described("scoring"),
        "trigger": {"triggerType": "Recurrence", "frequency": "Day", "interval": 1, "timeZone": "UTC"},
        "action": {"actionType": "InvokeBatchEndpoint", "endpointInvocationDefinition": {
            "endpoint": batch, "inputs": {"data": {
                "type": "uri_folder", "path": described("https://acct.blob.core.windows.net/score/")}}}}}}))
    return out


@st.composite
def inventories(draw: st.DrawFn) -> tuple[list[JobRecord], list[Artifact], Planted]:
    planted = Planted()
    jobs = [draw(job_spec(planted, f"job-{i}")) for i in range(draw(st.integers(1, 3)))]
    artifacts = [draw(artifact_spec(planted, kind, f"{kind.value}-{i}"))
                 for i, kind in enumerate(draw(st.lists(st.sampled_from(GENERATED_KINDS), min_size=1, max_size=6)))]
    if draw(st.integers(0, 2)):  # two examples in three
        artifacts += draw(serving(planted))
    return jobs, artifacts, planted


# -- the world ---------------------------------------------------------------------------------------

def _config(tag: str) -> str:
    def hub(name: str, region: str) -> dict[str, Any]:
        return {"name": name, "subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg",
                "workspace_name": f"ws-{name}", "region": region, "backend": "simulated"}

    return json.dumps({"pairs": [{
        "name": f"g{tag}", "mode": "hot-warm", "primary": hub(f"pri{tag}", "eastus"),
        "secondary": hub(f"sec{tag}", "westus"), "policy": {"chunk_size": 4},
        "secrets": {"key_vault": "kv-gen", "map": MAPPED}}]})


def _everything(conn: str) -> Iterator[tuple[str, str]]:
    """(where, text) of every table entity and every blob of the account."""
    tables = TableServiceClient.from_connection_string(conn)
    for table in tables.list_tables():
        for entity in tables.get_table_client(table.name).list_entities():
            yield f"table {table.name} {entity['PartitionKey']}", json.dumps(dict(entity), default=str)
    blobs = BlobServiceClient.from_connection_string(conn)
    for container in blobs.list_containers():
        client = blobs.get_container_client(container.name)
        for blob in client.list_blobs():
            yield f"blob {container.name}/{blob.name}", client.download_blob(blob.name).readall().decode("utf-8",
                                                                                                      "replace")


def _failover(pair: str) -> dict[str, Any]:
    from function_app import app
    from replayhost.engine import ReplayHost
    from replayhost.store import AzureStorageStore

    host = ReplayHost(app, store=AzureStorageStore(os.environ[app_settings.DR_STORAGE_CONNECTION], f"h{pair}"))
    try:
        iid = host.start_new("failover", None, {"pair": pair, "trigger": "manual", "reason": "generated secrets",
                                                "requested_by": "test"})
        status = host.wait_for(iid, timeout=patience(120))
    finally:
        host.stop()
    assert status.runtime_status.value == "Completed", status.output
    report: dict[str, Any] = status.output
    return report


# No shrinking: each example is a whole sync + failover; a failing one is reported as drawn.
@settings(max_examples=6, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(inventory=inventories())
def test_no_generated_secret_reaches_any_blob_or_table(
        private_azurite: AzuriteEndpoints, inventory: tuple[list[JobRecord], list[Artifact], Planted]) -> None:
    jobs, artifacts, planted = inventory
    conn = private_azurite.connection_string
    tag = uuid.uuid4().hex[:8]
    os.environ[app_settings.FAILOVER_CONFIG] = _config(tag)
    os.environ[app_settings.DR_STORAGE_CONNECTION] = conn
    reset_services()
    svc = services()
    vault = KeyVaultEmulator({VAULT: KEY_VAULT_VALUES})
    svc.secret_source = KeyVaultSecrets(StaticTokenCredential(), transport=vault, retry_total=0)
    config = parse_config(os.environ[app_settings.FAILOVER_CONFIG])
    pair = config.pairs[0]
    primary, secondary = svc.hub(pair.primary.name), svc.hub(pair.secondary.name)
    assert isinstance(primary, SimulatedHub) and isinstance(secondary, SimulatedHub)
    secondary.set_computes(["cpu"])
    for job in jobs:
        primary.submit_job(job, new_name=job.name, compute="cpu", tags={})
    for artifact in sorted(artifacts, key=lambda a: RECOVERY_ORDER.index(a.kind)):
        # Endpoints come without routes (their deployments don't exist yet); state once all are there.
        primary.put_asset(creation_form(artifact, None, warm=False))
    for artifact in artifacts:
        if artifact.kind in MUTABLE_KINDS:
            primary.apply_state(artifact)

    sync = sync_catalog(config, pair.name, lambda ref: svc.hub(ref.name), svc.catalog)
    assert sync.jobs == len(jobs) and bool(sync.redacted) == bool(planted.secrets)
    primary.set_faults("down=1")
    report = _failover(pair.name)
    assert report["outcome"] in ("succeeded", "failed"), report["outcome_reason"]

    for where, text in _everything(conn):
        if where == f"table {DEFAULT_TABLE} {pair.primary.name}":
            continue  # the primary workspace itself: where the secrets live
        leaked = [s for s in planted.secrets if s in text]
        assert not leaked, f"{where} holds a primary's secret"
        if where == f"table {DEFAULT_TABLE} {pair.secondary.name}":
            assert MARKER_PREFIX not in text and LEGACY_PLACEHOLDER not in text, f"{where}: a placeholder was submitted"
        else:
            assert not [v for v in KEY_VAULT_VALUES.values() if v in text], f"{where} holds a Key Vault value"

    # Every item was recovered, or failed by name with the reference to map.
    failed: dict[str, str] = {}
    for error in report["errors"]:  # an item may fail twice (recreated, then not there to activate)
        if ":" in error["where"]:
            item = error["where"].split(":", 1)[1]
            failed[item] = f"{failed.get(item, '')} {error['error']}"
    for job in jobs:
        try:
            env = secondary.get_job(f"{job.name}-fo1").spec["properties"]["environmentVariables"]
        except Exception:
            assert "unresolved:" in failed[job.name], report["errors"]
            continue
        for name, mapped in MAPPED.items():
            if name in job.spec["properties"]["environmentVariables"]:
                assert env[name] == KEY_VAULT_VALUES[mapped]
    for artifact in artifacts:
        if artifact.kind not in (ArtifactKind.ONLINE_DEPLOYMENT, ArtifactKind.BATCH_DEPLOYMENT):
            continue
        try:
            env = secondary.get_asset(artifact.kind, artifact.name, None).spec["properties"]["environmentVariables"]
        except Exception:
            endpoint = Artifact(ENDPOINT_KIND_OF[artifact.kind], endpoint_of(artifact.name), None).key
            assert "unresolved:" in failed.get(artifact.key, "") + failed.get(endpoint, ""), report["errors"]
            continue
        for name, mapped in MAPPED.items():
            if name in artifact.spec["properties"]["environmentVariables"]:
                assert env[name] == KEY_VAULT_VALUES[mapped]
    assert sum(c["recreated"] + c["already_present"] + c["failed"] for c in report["artifacts"].values()) == len(
        artifacts)
    primary.clear()
    secondary.clear()
