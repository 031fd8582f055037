"""Secrets: detected by name and by value, withheld from the catalog, resolved from Key Vault on recovery.

Key Vault is out of reach: the real ``SecretClient`` runs against tests/key_vault_emulator.py,
which answers with Microsoft's published "Get Secret" response shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from failover.domain.config import ConfigError, PairSecrets, parse_config
from failover.domain.model import Artifact, ArtifactKind, JobRecord
from failover.domain.ports import ErrorCategory, HubError
from failover.domain.secret_map import SecretResolver, SecretsUnresolved, SecretUnavailable
from failover.domain.secrets import (
    LEGACY_PLACEHOLDER,
    MARKER_PREFIX,
    Finding,
    is_secret_name,
    needs,
    redact,
    scrub,
    secret_kind,
)
from failover.hubs.key_vault import KeyVaultSecrets
from failover.hubs.simulated_hub import SimulatedHub
from failover.recovery import recreate_artifacts, resubmit_jobs
from replayhost.azurite import AzuriteEndpoints
from tests.key_vault_emulator import KeyVaultEmulator, StaticTokenCredential

SAMPLES = Path(__file__).parent / "samples"
VAULT = "kv-ml.vault.azure.net"


@pytest.mark.parametrize("name", [
    "DB_PASS", "PGPASSWORD", "SECRETKEY", "HF_TOKEN", "OPENAI_API_KEY", "apiKey", "client_secret", "MYSQL_PWD",
    "AZURE_STORAGE_CONNECTION_STRING", "AWS_SECRET_ACCESS_KEY", "GITHUB_PAT", "sas_token", "credentials", "key",
    "Authorization", "accountKey", "DATABASE_PASSWORD", "passphrase",
    # a Spark job's conf: Hadoop's Azure storage settings name the account after the secret word
    "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net",
    "spark.hadoop.fs.azure.account.oauth2.client.secret.acct.dfs.core.windows.net",
    "fs.azure.sas.container.acct.blob.core.windows.net"])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", [
    "MAX_TOKENS", "PAD_TOKEN", "eos_token", "PARTITION_KEY", "sort_key", "LOG_LEVEL", "secretsConfiguration",
    "keyVaultName", "password_hint", "TOKEN_LIMIT", "ACCESS_KEY_ID", "bypass", "$skipToken", "num_tokens",
    "spark.hadoop.fs.azure.account.oauth2.client.id.acct.dfs.core.windows.net",
    "spark.hadoop.fs.azure.account.auth.type.acct.dfs.core.windows.net", "spark.executor.memory"])
def test_names_that_are_not_secrets(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(("value", "kind"), [
    ("postgresql://app:s3cr3t@db.example.com:5432/sales", "url_credentials"),
    ("https://oauth2:glpat-abcdefghijklmnopqrst@gitlab.example.com/repo.git", "url_credentials"),
    ("redis://:hunter22@cache:6379/0", "url_credentials"),
    ("https://acct.blob.core.windows.net/c/f.csv?sv=2022-11-02&sp=r&sig=AbC%2Bd%3D", "sas"),
    ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFy==;EndpointSuffix=core.windows.net",
     "connection_string"),
    ("Server=tcp:db;Database=x;User ID=app;Password=s3cr3t;", "connection_string"),
    ("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl", "auth_header"),
    ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", "auth_header"),
    ("sk-proj-AbCdEfGhIjKlMnOpQrStUvWx", "key_shape"),
    ("ghp_0123456789abcdefghijABCDEFGHIJ0123", "key_shape"),
    ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "key_shape"),
    ("AKIAIOSFODNN7EXAMPLE", "key_shape"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "key_shape"),
    ("u8Gf3kQ/zP2mV9xWc1Lr7TbY0sNe4HaJdK6oXqRi", "key_shape"),  # a generated 40-character key
    ("python train.py --token abc123xyz", "assignment"),
    ("export DB_PASS=hunter2 && python score.py", "assignment"),
    ('{"password": "correct-horse"}', "assignment"),
    # a secret inside another assignment's value, or in a URL's query (``https:`` reads as a name)
    ("env:DB_PASS=hunter22x", "assignment"),
    ("https://api.example.com/v1/score?api_key=abc123def456&format=json", "assignment"),
    ("SCORING_URL=https://api.example.com/v1?access_token=abc123def456", "assignment"),
    ("https://fn-score.azurewebsites.net/api/score?code=aBcD1234eFgH5678iJkL9012mNoP==", "url_key"),
    # passwords given to short flags
    ("docker login -u ci -p hunter22x myregistry.azurecr.io", "assignment"),
    ("az login --service-principal -u 0000-1111 -p hunter22x --tenant t", "assignment"),
    ("curl -u admin:hunter22x https://internal.example.com/export", "assignment"),
    ("Ab.8Q~cd~Ef.Gh_Ij-Kl~Mn.Op_Qr-St~Uv.Wx1y", "key_shape"),  # a Microsoft Entra client secret
])
def test_secret_values_whatever_the_field(value: str, kind: str) -> None:
    assert secret_kind(value) == kind


@pytest.mark.parametrize("command", [
    "huggingface-cli login --token $HF_TOKEN && python train.py",
    "export PGPASSWORD=$DB_PASS; psql -h db -f load.sql",
    'python train.py --api-key "$OPENAI_API_KEY" --epochs 3',
    "python train.py --token ${HF_TOKEN}",
    "python a.py --password=$(cat /run/secrets/db-password)",
    "python score.py --token %HF_TOKEN%",
    "docker login -u ci -p $ACR_PASSWORD myregistry.azurecr.io",
    "curl -u admin:$EXPORT_PW https://internal.example.com/export",
    "python scripts/login.py -p 8080 --epochs 3",  # a script named login, not a login command
    "python x.py --db postgresql://app:${PGPASSWORD}@db:5432/app",
])
def test_a_command_that_reads_its_secret_from_the_environment_is_kept(command: str) -> None:
    """The recommended way to pass a secret: an environment variable the command reads. The variable is the
    secret (withheld by its name); the command holds none, and withholding it would fail the job."""
    assert secret_kind(command) is None
    spec = {"command": command, "environmentVariables": {"HF_TOKEN": "hf_abc"}}
    assert redact(spec)["command"] == command


def test_azure_mls_own_key_vault_references_are_kept_and_public_keys_are_not_secrets() -> None:
    """A job's ``secretsConfiguration`` names Key Vault secrets the service reads when the job starts: withheld,
    the job would fail unresolved for a secret it never carried."""
    spec = {"properties": {"jobType": "Command", "command": "python train.py", "secretsConfiguration": {
        "DB_PASSWORD": {"uri": "https://kv-ml.vault.azure.net/secrets/db-password/0123", "workspaceSecretName": "db"},
        "HF_TOKEN": {"workspaceSecretName": "hf-token"}}},
        "ssh_public_key": "ssh-rsa AAAAB3NzaC1yc2E alice@host"}
    assert redact(spec) == spec and needs(redact(spec)) == []
    for smuggled in ({"uri": "https://evil.example.com/secrets/x"}, {"value": "hunter22"}, {"uri": "hunter22"}):
        assert redact({"HF_TOKEN": smuggled}) == {"HF_TOKEN": "***hubfailover-secret:HF_TOKEN***"}


def test_a_signed_url_that_carries_another_secret_is_withheld_whole() -> None:
    """Dropping the SAS terms must not keep a second credential in the URL the catalog stores."""
    signed = "https://acct.blob.core.windows.net/c/f.csv?sv=2022-11-02&sig=S1G&api_key=k123456789"
    assert redact({"inputs": {"data": {"uri": signed}}}) == {
        "inputs": {"data": {"uri": "***hubfailover-secret:inputs.data***"}}}


def test_single_quotes_and_environment_values_are_literal() -> None:
    """No shell expansion in single quotes, nor in an environment variable's value: ``$…`` is the secret."""
    assert scrub("python a.py --token '$ecretPa55'") == "python a.py --token ***"
    assert redact({"DB_PASS": "$ecretPa55"}) == {"DB_PASS": "***hubfailover-secret:DB_PASS***"}


@pytest.mark.parametrize("value", [
    "MyVeryLongExperimentNameForTesting2024", "/home/user/Projects/MyProject2024/src/DataLoader/Train",
    "python train.py --max_tokens 100 --lr 0.1", "Password: see the vault", "Reset your password here",
    "sha256:" + "ab12" * 16, "azureml://datastores/workspaceblobstore/paths/data/", "https://x.example.com/?a=1",
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws/codes/c/versions/1", "@Microsoft.KeyVault(SecretUri=https://kv)",
    "${{inputs.token}}", "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest", "alice@contoso.com",
    # our own catalog snapshot names show up in error reasons: the operator must see which one
    "snapshot priadcff4f0/snapshots/20261201T011729400586Z-1e1f860eec825eb3.json fails its content hash"])
def test_values_that_are_not_secrets(value: str) -> None:
    assert secret_kind(value) is None


def test_microsofts_rest_examples_hold_no_false_positives_in_job_or_asset_specs() -> None:
    """The published Azure ML examples: the only fields withheld are credentials and paging tokens."""
    for path in sorted((SAMPLES / "azureml_rest").rglob("*.json")):
        findings: list[Finding] = []
        redact(json.loads(path.read_text()), "", findings)
        unexpected = [f.path for f in findings if not f.path.endswith(("$skipToken", "credentials"))]
        assert unexpected == [], path


def test_redaction_keeps_markers_that_name_what_is_missing_and_is_idempotent() -> None:
    spec = {"properties": {"environmentVariables": {"HF_TOKEN": "hf_live", "LOG": "debug",
                                                    "DB_URL": "postgresql://u:pw1234@h/d"},
                           "inputs": {"data": {"uri": "https://a.blob.core.windows.net/c/f.csv?sv=1&sp=r&sig=XyZ&v=2"}},
                           "command": "python x.py --api-key sk-AbCdEfGhIjKlMnOpQr"}}
    findings: list[Finding] = []
    clean = redact(spec, "", findings)
    text = json.dumps(clean)
    for secret in ("hf_live", "pw1234", "XyZ", "sk-AbCdEf"):
        assert secret not in text
    assert redact(clean) == clean  # idempotent: hashes of redacted specs compare
    assert {(f.path, f.reason) for f in findings} == {
        ("properties.environmentVariables.HF_TOKEN", "name"),
        ("properties.environmentVariables.DB_URL", "url_credentials"),
        ("properties.inputs.data.uri", "sas"), ("properties.command", "key_shape")}
    assert [(n.ref, n.kind, n.unsigned_url) for n in needs(clean)] == [
        ("HF_TOKEN", "secret", None), ("DB_URL", "secret", None),
        ("inputs.data", "signed", "https://a.blob.core.windows.net/c/f.csv?v=2"), ("command", "secret", None)]


def test_scrub_keeps_a_marker_quoted_in_an_error_it_names_what_to_map() -> None:
    text = ("permanent: sec: job x-fo1: a secret placeholder is left in the spec ('***hubfailover-secret:HF_TOKEN***'):"
            " never submitted; password=hunter22")
    assert scrub(text) == text.replace("hunter22", "***")
    # Only a key name is kept as a marker's reference: text shaped like a marker around a value is not.
    assert "hunter22" not in scrub("***hubfailover-secret:password=hunter22***")
    assert "sig=S1G" not in scrub("***hubfailover-signed:d:https://a.blob.core.windows.net/c/f?sv=1&sig=S1G***")


def test_scrub_cuts_secrets_out_of_free_text() -> None:
    text = ("401 for Authorization: Bearer abcdefghijklmnop1234 with HF_TOKEN=hf_abc1234567 --password hunter22 "
            "at postgresql://u:pw9876@h/d and https://x/y?sv=1&sig=S1G&se=2")
    out = scrub(text)
    for secret in ("abcdefghijklmnop1234", "hf_abc1234567", "hunter22", "pw9876", "S1G"):
        assert secret not in out
    assert out.startswith("401 for Authorization: Bearer ***") and "HF_TOKEN=***" in out


# -- configuration ------------------------------------------------------------------------------

def _config(secrets: dict) -> str:
    hub = {"subscription_id": "aaaaaaaa-0000-0000-0000-000000000001", "resource_group": "rg", "region": "eastus"}
    return json.dumps({"pairs": [{"name": "ml", "mode": "hot-warm", "primary": {**hub, "name": "a",
                                                                                 "workspace_name": "wsa"},
                                  "secondary": {**hub, "name": "b", "workspace_name": "wsb"}, "secrets": secrets}]})


def test_secret_configuration_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"pairs\[0\]\.secrets\.map\.HF_TOKEN: \"hf-token\" is a secret name: "
                                          "set key_vault"):
        parse_config(_config({"map": {"HF_TOKEN": "hf-token"}}))
    with pytest.raises(ConfigError, match=r"pairs\[0\]\.secrets\.key_vault: .* not a valid Key Vault name"):
        parse_config(_config({"key_vault": "no_underscores!"}))
    with pytest.raises(ConfigError, match=r"pairs\[0\]\.secrets\.signed_uris: \"sign\" is not one of"):
        parse_config(_config({"signed_uris": "sign"}))
    config = parse_config(_config({"key_vault": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/"
                                                "vaults/KV-ml", "map": {"HF_TOKEN": "hf-token",
                                                                        "train-1/inputs.data": "https://kv-other.vault"
                                                                        ".azure.net/secrets/sas"}}))
    secrets = config.pair("ml").secrets
    assert secrets.secret_uri("hf-token") == "https://kv-ml.vault.azure.net/secrets/hf-token"
    assert secrets.secret_uri(secrets.map["train-1/inputs.data"]) == "https://kv-other.vault.azure.net/secrets/sas"


# -- resolution through the real SecretClient ------------------------------------------------------

@pytest.fixture
def vault() -> KeyVaultEmulator:
    return KeyVaultEmulator({VAULT: {"hf-token": "hf_from_key_vault", "db-url": "postgresql://app:kvpw@db/x",
                                     "fresh-sas": "sv=2024-01-01&sp=r&sig=FRESH"}})


def _resolver(vault: KeyVaultEmulator, **settings: object) -> SecretResolver:
    source = KeyVaultSecrets(StaticTokenCredential(), transport=vault, retry_total=0)
    return SecretResolver("ml", PairSecrets.model_validate({"key_vault": "kv-ml", **settings}), source)


def _cataloged(name: str, env: dict[str, str], inputs: dict | None = None) -> JobRecord:
    spec = {"name": name, "properties": {"jobType": "Command", "command": "python train.py",
                                          "environmentVariables": env, "inputs": inputs or {}}}
    return JobRecord(name, "Running", "exp", "cpu", redact(spec), {})


@pytest.fixture
def target(azurite: AzuriteEndpoints, unique_name: str) -> SimulatedHub:
    hub = SimulatedHub(f"sec-{unique_name}", azurite.connection_string, table_name=unique_name)
    hub.set_computes(["cpu"])
    return hub


def _submitted_env(target: SimulatedHub, source: str) -> dict[str, str]:
    env: dict[str, str] = target.get_job(f"{source}-fo1").spec["properties"]["environmentVariables"]
    return env


def test_jobs_get_the_mapped_secret_or_fail_by_name_never_a_placeholder(target: SimulatedHub,
                                                                        vault: KeyVaultEmulator) -> None:
    jobs = [_cataloged("train-hf", {"HF_TOKEN": "hf_on_the_primary", "LOG": "debug"}),
            _cataloged("train-db", {"DB_PASS": "primary-pw"}),
            _cataloged("train-url", {"DATABASE_URL": "postgresql://app:primarypw@db/x"}),
            _cataloged("train-legacy", {"OLD": "x"})]
    jobs[3] = JobRecord("train-legacy", "Running", "exp", "cpu",
                        {"properties": {"environmentVariables": {"PGPASSWORD": LEGACY_PLACEHOLDER}}}, {})
    resolver = _resolver(vault, map={"HF_TOKEN": "hf-token", "DATABASE_URL": "db-url"})
    result = resubmit_jobs(target, None, jobs, generation=1, compute_map={}, dry_run=False, concurrency=4,
                           secrets=resolver)
    assert (result["resubmitted"], result["failed"]) == (2, 2)
    assert _submitted_env(target, "train-hf") == {"HF_TOKEN": "hf_from_key_vault", "LOG": "debug"}
    assert _submitted_env(target, "train-url") == {"DATABASE_URL": "postgresql://app:kvpw@db/x"}
    errors = {e["item"]: e["error"] for e in result["errors"]}
    assert errors.keys() == {"train-db", "train-legacy"}
    assert errors["train-db"].startswith("unresolved: DB_PASS held a secret")
    assert '"DB_PASS" (or "train-db/DB_PASS" for this item only)' in errors["train-db"]
    assert "pair 'ml': secrets.map" in errors["train-db"]
    assert "PGPASSWORD is a placeholder left by an older catalog" in errors["train-legacy"]
    for source in ("train-db", "train-legacy"):
        with pytest.raises(HubError):
            target.get_job(f"{source}-fo1")
    assert sorted(vault.reads) == [(VAULT, "db-url"), (VAULT, "hf-token")]  # one read per secret


def test_a_per_job_mapping_wins_and_a_dry_run_names_unmapped_secrets_without_reading_key_vault(
        target: SimulatedHub, vault: KeyVaultEmulator) -> None:
    vault.vaults[VAULT]["hf-token-team-b"] = "hf_team_b"
    jobs = [_cataloged("a", {"HF_TOKEN": "x1"}), _cataloged("b", {"HF_TOKEN": "x2"}), _cataloged("c", {"API_KEY": "k"})]
    resolver = _resolver(vault, map={"HF_TOKEN": "hf-token", "b/HF_TOKEN": "hf-token-team-b"})
    dry = resubmit_jobs(target, None, jobs, generation=1, compute_map={}, dry_run=True, concurrency=1,
                        secrets=resolver)
    assert (dry["resubmitted"], dry["failed"]) == (2, 1) and dry["errors"][0]["item"] == "c"
    assert vault.reads == []
    resubmit_jobs(target, None, jobs, generation=1, compute_map={}, dry_run=False, concurrency=1, secrets=resolver)
    assert _submitted_env(target, "a") == {"HF_TOKEN": "hf_from_key_vault"}
    assert _submitted_env(target, "b") == {"HF_TOKEN": "hf_team_b"}


@pytest.mark.parametrize(("settings", "expected"), [
    ({"map": {"inputs.data": "fresh-sas"}},
     "https://acct.blob.core.windows.net/c/f.csv?sv=2024-01-01&sp=r&sig=FRESH"),
    ({"signed_uris": "identity"}, "https://acct.blob.core.windows.net/c/f.csv"),
    ({}, None),
])
def test_sas_signed_inputs_keep_their_uri_and_get_fresh_access_or_fail_by_name(
        target: SimulatedHub, vault: KeyVaultEmulator, settings: dict, expected: str | None) -> None:
    job = _cataloged("score", {}, {"data": {"jobInputType": "uri_file",
                                            "uri": "https://acct.blob.core.windows.net/c/f.csv?sv=2022-11-02&sp=r"
                                                   "&se=2030-01-01&sig=OLDSIG"}})
    assert "OLDSIG" not in json.dumps(job.spec) and "acct.blob.core.windows.net/c/f.csv" in json.dumps(job.spec)
    result = resubmit_jobs(target, None, [job], generation=1, compute_map={}, dry_run=False, concurrency=1,
                           secrets=_resolver(vault, **settings))
    if expected is None:
        assert result["failed"] == 1
        error = result["errors"][0]["error"]
        assert "inputs.data was a SAS-signed URI" in error and 'signed_uris to "identity"' in error
    else:
        assert result["resubmitted"] == 1
        assert target.get_job("score-fo1").spec["properties"]["inputs"]["data"]["uri"] == expected


def test_key_vault_refusing_the_identity_fails_the_item_naming_the_role(target: SimulatedHub,
                                                                          vault: KeyVaultEmulator) -> None:
    vault.forbidden.add(VAULT)
    result = resubmit_jobs(target, None, [_cataloged("t", {"HF_TOKEN": "x"})], generation=1, compute_map={},
                           dry_run=False, concurrency=1, secrets=_resolver(vault, map={"HF_TOKEN": "hf-token"}))
    assert result["failed"] == 1
    assert "Key Vault Secrets User role on vault kv-ml" in result["errors"][0]["error"]


def test_an_unreachable_key_vault_costs_one_read_not_one_per_job(target: SimulatedHub,
                                                                  vault: KeyVaultEmulator) -> None:
    """A vault behind a private endpoint in the failed region does not answer. Each of a thousand jobs sharing
    HF_TOKEN waiting through the SDK's retries (and connect timeouts) would hold the recovery for hours: the
    first failure is kept a while, and the other jobs fail at once with the same message."""
    vault.unreachable.add(VAULT)
    source = KeyVaultSecrets(StaticTokenCredential(), transport=vault, retry_total=2, retry_backoff_factor=0.01)
    resolver = SecretResolver("ml", PairSecrets.model_validate({"key_vault": "kv-ml", "map": {"HF_TOKEN": "hf-token"}}),
                              source)
    jobs = [_cataloged(f"train-{i}", {"HF_TOKEN": f"x{i}"}) for i in range(30)]
    result = resubmit_jobs(target, None, jobs, generation=1, compute_map={}, dry_run=False, concurrency=4,
                           secrets=resolver)
    assert result["failed"] == 30
    assert {e["error"] for e in result["errors"]} == {
        "unresolved: HF_TOKEN: https://kv-ml.vault.azure.net/secrets/hf-token: Key Vault kv-ml is unreachable"}
    assert vault.attempts[VAULT] == 3  # one read: the first try and the SDK's two retries


def test_a_failed_key_vault_read_is_tried_again_after_a_while(vault: KeyVaultEmulator) -> None:
    clock = [0.0]
    source = KeyVaultSecrets(StaticTokenCredential(), transport=vault, retry_total=0, clock=lambda: clock[0])
    uri = f"https://{VAULT}/secrets/hf-token"
    vault.unreachable.add(VAULT)
    for _ in range(3):
        with pytest.raises(SecretUnavailable, match="unreachable"):
            source.secret(uri)
    assert vault.attempts[VAULT] == 1
    vault.unreachable.clear()
    clock[0] += 61  # Key Vault fails over by itself: a later look may find it
    assert source.secret(uri) == "hf_from_key_vault"


def test_an_artifact_with_a_signed_path_is_recreated_with_fresh_access_and_found_present_next_time(
        target: SimulatedHub, vault: KeyVaultEmulator) -> None:
    signed = "https://acct.blob.core.windows.net/data/sales.csv?sv=2022-11-02&sp=r&sig=OLD"
    cataloged = Artifact(ArtifactKind.DATA, "sales", "3", redact({"type": "uri_file", "path": signed}))
    resolver = _resolver(vault, map={"path": "fresh-sas"})
    first = recreate_artifacts(target, [cataloged], dry_run=False, concurrency=1, secrets=resolver)
    assert first["recreated"] == 1, first
    written = target.get_asset(ArtifactKind.DATA, "sales", "3")
    assert written.spec["path"].endswith("sig=FRESH")
    again = recreate_artifacts(target, [cataloged], dry_run=False, concurrency=1, secrets=resolver)
    assert again["already_present"] == 1 and again["failed"] == 0  # compared in catalog form


def test_a_deployment_gets_its_own_secret_by_the_key_the_error_names(target: SimulatedHub,
                                                                     vault: KeyVaultEmulator) -> None:
    """Two deployments calling two AI Services resources (one per region, as the seeds advise) hold two keys
    under one variable name. The error names the per-item key to map; the configuration accepts it (a
    deployment's key has a '/' in its name) and each deployment gets its own secret."""
    vault.vaults[VAULT].update({"aoai-blue": "key-of-blue", "aoai-green": "key-of-green"})
    endpoint = Artifact(ArtifactKind.ONLINE_ENDPOINT, "chat", None, {"properties": {"authMode": "Key"}})
    target.put_asset(endpoint)
    deployments = [Artifact(ArtifactKind.ONLINE_DEPLOYMENT, f"chat/{color}", None, redact({"properties": {
        "environmentVariables": {"AZURE_OPENAI_API_KEY": f"primary-{color}-key"}}, "sku": {"capacity": 1}}))
        for color in ("blue", "green")]
    unmapped = recreate_artifacts(target, deployments, dry_run=True, concurrency=1)
    keys = [e["error"].split('(or "')[1].split('"')[0] for e in unmapped["errors"]]
    assert keys == ["online_deployment:chat/blue:/AZURE_OPENAI_API_KEY",
                    "online_deployment:chat/green:/AZURE_OPENAI_API_KEY"]
    config = parse_config(_config({"key_vault": "kv-ml", "map": dict(zip(keys, ["aoai-blue", "aoai-green"],
                                                                             strict=True))}))
    source = KeyVaultSecrets(StaticTokenCredential(), transport=vault, retry_total=0)
    resolver = SecretResolver("ml", config.pair("ml").secrets, source)
    result = recreate_artifacts(target, deployments, dry_run=False, concurrency=1, secrets=resolver)
    assert result["recreated"] == 2, result["errors"]
    for color in ("blue", "green"):
        env = target.get_asset(ArtifactKind.ONLINE_DEPLOYMENT, f"chat/{color}", None).spec["properties"]
        assert env["environmentVariables"] == {"AZURE_OPENAI_API_KEY": f"key-of-{color}"}


def test_without_a_mapping_nothing_is_written_and_no_key_vault_is_needed(target: SimulatedHub) -> None:
    cataloged = Artifact(ArtifactKind.ENVIRONMENT, "env", "1", redact({
        "image": "mcr.microsoft.com/azureml/base:latest", "description": "Bearer abcdefghijklmnop1234"}))
    result = recreate_artifacts(target, [cataloged], dry_run=False, concurrency=1)
    assert result["failed"] == 1 and "description held a secret" in result["errors"][0]["error"]
    assert target.write_count == 0


def test_adapters_refuse_a_placeholder_whoever_calls_them(target: SimulatedHub) -> None:
    job = _cataloged("raw", {"HF_TOKEN": "x"})
    with pytest.raises(HubError) as raised:
        target.submit_job(job, new_name="raw-fo1", compute="cpu", tags={})
    assert raised.value.category is ErrorCategory.PERMANENT and "placeholder" in str(raised.value)
    with pytest.raises(HubError, match="placeholder"):
        target.put_asset(Artifact(ArtifactKind.DATA, "d", "1", {"path": LEGACY_PLACEHOLDER}))
    assert target.write_count == 0


def test_unresolved_secrets_name_every_reference_of_the_item() -> None:
    job = _cataloged("multi", {"HF_TOKEN": "a", "DB_PASS": "b"})
    with pytest.raises(SecretsUnresolved) as raised:
        SecretResolver("ml").job(job)
    message = str(raised.value)
    assert "HF_TOKEN held a secret" in message and "DB_PASS held a secret" in message
    assert "set secrets.key_vault" in message


def test_the_azure_ml_adapter_gets_key_vaults_value_and_never_a_placeholder(vault: KeyVaultEmulator) -> None:
    """Through the real azure-ai-ml SDK (its REST calls answered by the Azure ML emulator)."""
    from tests.test_hub_contract import _azureml_pair

    pair = _azureml_pair()
    assert pair.emulators is not None
    secondary_ws, secondary = pair.emulators[1], pair.secondary
    (source,) = pair.add_source_jobs(1, seed=4)
    spec = json.loads(json.dumps(source.spec))
    spec["properties"]["environmentVariables"] = {"HF_TOKEN": "hf_primary_value_123", "LOG_LEVEL": "info"}
    cataloged = JobRecord(source.name, source.status, source.experiment_name, source.compute, redact(spec),
                          source.tags)

    with pytest.raises(HubError, match="placeholder"):  # a caller that skipped resolution
        secondary.submit_job(cataloged, new_name="direct-fo1", compute=None, tags={})
    assert secondary_ws.calls == []
    unmapped = resubmit_jobs(secondary, None, [cataloged], generation=1, compute_map={}, dry_run=False,
                             concurrency=1, secrets=SecretResolver("ml"))
    assert unmapped["failed"] == 1 and secondary_ws.calls_matching("PUT", "^/jobs/") == []

    mapped = resubmit_jobs(secondary, None, [cataloged], generation=2, compute_map={}, dry_run=False,
                           concurrency=1, secrets=_resolver(vault, map={"HF_TOKEN": "hf-token"}))
    assert mapped["resubmitted"] == 1, mapped["errors"]
    (put,) = secondary_ws.calls_matching("PUT", "^/jobs/")
    assert put.body["properties"]["environmentVariables"] == {"HF_TOKEN": "hf_from_key_vault", "LOG_LEVEL": "info"}
    assert MARKER_PREFIX not in json.dumps(put.body) and "hf_primary_value_123" not in json.dumps(put.body)
