"""Deterministic inventory for a simulated hub: realistic jobs and artifacts with dependencies.

Specs have the same shapes the Azure ML adapter produces (portable artifact specs; jobs in
the REST ``JobBase`` form), so a seeded simulated primary can be recovered into either backend.
"""

from __future__ import annotations

import random
from typing import Any

from failover.domain.model import ACTIVE_JOB_STATUSES, KNOWN_JOB_STATUSES, Artifact, ArtifactKind, JobRecord
from failover.hubs.hub_specs import MODEL_TRAINING_DATA, PORTABLE_SCOPE

COMPUTES = ("cpu-cluster", "gpu-cluster", "cpu-small")
EXPERIMENTS = ("churn-model", "fraud-detection", "demand-forecast", "llm-eval", "image-classifier")
_TOPICS = ("sklearn", "pytorch", "xgboost", "lightgbm", "tensorflow", "prep", "eval", "train", "score")
_IMAGES = (
    "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
    "mcr.microsoft.com/azureml/curated/acpt-pytorch-2.2-cuda12.1:latest",
    "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference:latest",
)
_DATA_TYPES = ("uri_file", "uri_folder", "mltable")
_MODEL_TYPES = ("custom_model", "mlflow_model")
# Types that need no credential at creation and keep their metadata as given (azure_open_ai
# gains ApiType/ApiVersion/ResourceId keys, api_key and azure_blob need secrets or extra fields).
_CONNECTION_TYPES = ("custom", "git")

# The datastores seeded specs name (data paths, job and schedule inputs); a seeded hub has them.
SEEDED_DATASTORES = ("workspaceblobstore",)
# The first seeded connection: the AI Services resource of the primary's region, which deployments and
# some jobs use (a pair's connection_map names its counterpart in the secondary's region).
AI_SERVICES_CONNECTION = "ai-services-primary"
_DEPLOYMENT_NAMES = ("blue", "green", "red", "amber")

# Share of each kind in a seeded inventory, in recovery order (dependencies first).
_KIND_WEIGHTS = (
    (ArtifactKind.ENVIRONMENT, 0.12), (ArtifactKind.CODE, 0.12), (ArtifactKind.DATA, 0.15),
    (ArtifactKind.COMPONENT, 0.15), (ArtifactKind.MODEL, 0.15), (ArtifactKind.CONNECTION, 0.08),
    (ArtifactKind.ONLINE_ENDPOINT, 0.04), (ArtifactKind.BATCH_ENDPOINT, 0.03),
    (ArtifactKind.ONLINE_DEPLOYMENT, 0.07), (ArtifactKind.BATCH_DEPLOYMENT, 0.04), (ArtifactKind.SCHEDULE, 0.05),
)

# ARM scope of a simulated workspace (its jobs name their code asset by ARM id, like Azure ML's).
SIMULATED_SCOPE = (
    "/subscriptions/{sub}/resourceGroups/rg-sim/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
)


def _split(total: int) -> dict[ArtifactKind, int]:
    # One of every kind first when there is room, so small inventories hold every kind too.
    base = 1 if total >= len(_KIND_WEIGHTS) else 0
    rest = total - base * len(_KIND_WEIGHTS)
    counts = {kind: base + int(rest * share) for kind, share in _KIND_WEIGHTS}
    for kind, _ in _KIND_WEIGHTS:  # hand out the remainder in recovery order
        if sum(counts.values()) >= total:
            break
        counts[kind] += 1
    return counts


def seed_artifacts(count: int, rng: random.Random) -> list[Artifact]:
    counts = _split(count)
    out: dict[ArtifactKind, list[Artifact]] = {kind: [] for kind, _ in _KIND_WEIGHTS}

    def ref(kind: ArtifactKind) -> str | None:
        return f"azureml:{(a := rng.choice(out[kind])).name}:{a.version}" if out[kind] else None

    serving = _Serving(counts, out, rng)
    for kind, _ in _KIND_WEIGHTS:
        if kind in serving.kinds:
            out[kind] = serving.seed(kind)
            continue
        for i in range(counts[kind]):
            topic = rng.choice(_TOPICS)
            name = f"{topic}-{kind.value}-{i:04d}"
            if kind is ArtifactKind.CONNECTION and i == 0:
                name = AI_SERVICES_CONNECTION
            if kind is ArtifactKind.COMPONENT:  # Azure ML: lower letters, digits and underscores only
                name = name.replace("-", "_")
            version = None if kind is ArtifactKind.CONNECTION else str(1 + rng.randrange(3))
            tags = {"team": rng.choice(("ds", "mlops", "platform")), "seeded": "true"}
            description = f"{topic} {kind.value} #{i}"
            spec: dict[str, Any]
            # The Azure ML adapter's normal forms (azureml_assets): every key present, ``extra`` for
            # REST fields without a portable name.
            common = {"description": description, "tags": tags, "properties": {}, "extra": {}}
            if kind is ArtifactKind.ENVIRONMENT:
                spec = {"image": rng.choice(_IMAGES), "conda_file": None, "build": None, "inference_config": None,
                        "os_type": "Linux", **common}
            elif kind is ArtifactKind.CODE:
                spec = {"path": f"https://drstore.blob.core.windows.net/code/{name}/", **common}
            elif kind is ArtifactKind.DATA:
                data_type = rng.choice(_DATA_TYPES)
                path = (f"azureml://datastores/workspaceblobstore/paths/{name}/" if data_type != "uri_file"
                        else f"https://drstore.blob.core.windows.net/data/{name}.csv")
                # An mltable's files, as the service lists them: recreating it reads no storage.
                referenced = [f"{path}part-0.parquet"] if data_type == "mltable" else None
                spec = {"type": data_type, "path": path, "referenced_uris": referenced, **common}
            elif kind is ArtifactKind.COMPONENT:
                spec = {"type": "command", "command": f"python {topic}.py --data ${{{{inputs.data}}}} "
                        "--out ${{outputs.out}}",
                        "environment": ref(ArtifactKind.ENVIRONMENT), "code": ref(ArtifactKind.CODE),
                        "inputs": {"data": {"type": "uri_folder"}}, "outputs": {"out": {"type": "uri_folder"}},
                        **common}
                spec = {k: v for k, v in spec.items() if v is not None}  # no environment or code seeded yet
            elif kind is ArtifactKind.MODEL:
                properties = {}
                training = ref(ArtifactKind.DATA) if rng.random() < 0.7 else None
                if training:
                    properties[MODEL_TRAINING_DATA] = training
                model_type = rng.choice(_MODEL_TYPES)
                flavors = ({"python_function": {"data": {"loader_module": "mlflow.sklearn"}}}
                           if model_type == "mlflow_model" else {})
                spec = {"type": model_type, "path": f"azureml://datastores/workspaceblobstore/paths/models/{name}/",
                        "flavors": flavors, **common, "properties": properties}
            else:
                spec = {"type": rng.choice(_CONNECTION_TYPES), "target": f"https://{name}.example.azure.com/",
                        "metadata": {"owner": tags["team"]}, "expiry_time": None, "is_shared_to_all": i % 2 == 0,
                        "extra": {}}
            out[kind].append(Artifact(kind, name, version, spec))
    return [a for kind, _ in _KIND_WEIGHTS for a in out[kind]]


def seed_jobs(count: int, rng: random.Random, artifacts: list[Artifact], workspace_scope: str) -> list[JobRecord]:
    by_kind: dict[ArtifactKind, list[Artifact]] = {}
    for artifact in artifacts:
        by_kind.setdefault(artifact.kind, []).append(artifact)
    statuses = sorted(KNOWN_JOB_STATUSES)
    jobs: list[JobRecord] = []
    for i in range(count):
        experiment = rng.choice(EXPERIMENTS)
        compute = rng.choice(COMPUTES)
        # Mostly in-flight work (what an outage interrupts), some finished.
        status = rng.choice(sorted(ACTIVE_JOB_STATUSES)) if rng.random() < 0.6 else rng.choice(statuses)
        name = f"{experiment}-{i:05d}-{rng.getrandbits(32):08x}"
        properties: dict[str, Any] = {
            "jobType": "Command",
            "command": "python train.py --data ${{inputs.training_data}} --out ${{outputs.model_output}}",
            "computeId": compute, "experimentName": experiment, "displayName": name,
            "environmentVariables": {}, "isArchived": False, "properties": {}, "tags": {},
            "inputs": {}, "outputs": {"model_output": {"jobOutputType": "uri_folder"}},
        }
        if by_kind.get(ArtifactKind.ENVIRONMENT):
            env = rng.choice(by_kind[ArtifactKind.ENVIRONMENT])
            properties["environmentId"] = f"{env.name}:{env.version}"
        else:
            properties["environmentId"] = "azureml:AzureML-sklearn-1.5-ubuntu22.04-py39-cpu@latest"
        if by_kind.get(ArtifactKind.CODE):
            code = rng.choice(by_kind[ArtifactKind.CODE])
            properties["codeId"] = f"{workspace_scope}/codes/{code.name}/versions/{code.version}"
        if by_kind.get(ArtifactKind.DATA):
            data = rng.choice(by_kind[ArtifactKind.DATA])
            properties["inputs"] = {"training_data": {"jobInputType": data.spec["type"],
                                                      "uri": f"{data.name}:{data.version}"}}
        if i % 2:  # raw files straight from a datastore, and the AI Services connection
            properties["inputs"]["raw"] = {"jobInputType": "uri_folder",
                                           "uri": f"azureml://datastores/{SEEDED_DATASTORES[0]}/paths/{experiment}/raw/"}
            if by_kind.get(ArtifactKind.CONNECTION):
                properties["environmentVariables"] = {"AI_SERVICES": f"azureml://connections/{AI_SERVICES_CONNECTION}"}
        tags = {"owner": rng.choice(("alice", "bob", "carol")), "priority": rng.choice(("high", "low"))}
        properties["tags"] = dict(tags)
        jobs.append(JobRecord(name, status, experiment, compute, {"name": name, "properties": properties}, tags))
    return jobs


class _Serving:
    """Seeded endpoints, deployments and schedules: REST-shaped specs (the Azure ML adapter's form), ARM ids
    of the workspace under PORTABLE_SCOPE; deployments spread over the endpoints, traffic split between them."""

    kinds = (ArtifactKind.ONLINE_ENDPOINT, ArtifactKind.BATCH_ENDPOINT, ArtifactKind.ONLINE_DEPLOYMENT,
             ArtifactKind.BATCH_DEPLOYMENT, ArtifactKind.SCHEDULE)

    def __init__(self, counts: dict[ArtifactKind, int], out: dict[ArtifactKind, list[Artifact]],
                 rng: random.Random) -> None:
        self.counts, self.out, self.rng = counts, out, rng
        # Deployment i belongs to endpoint i % endpoints: its name within the endpoint follows.
        self.layout = {endpoint: self._layout(counts[endpoint], counts[deployment]) for endpoint, deployment in (
            (ArtifactKind.ONLINE_ENDPOINT, ArtifactKind.ONLINE_DEPLOYMENT),
            (ArtifactKind.BATCH_ENDPOINT, ArtifactKind.BATCH_DEPLOYMENT))}

    @staticmethod
    def _layout(endpoints: int, deployments: int) -> list[list[str]]:
        names: list[list[str]] = [[] for _ in range(endpoints)]
        for i in range(deployments if endpoints else 0):
            own = names[i % endpoints]
            own.append(_DEPLOYMENT_NAMES[len(own)] if len(own) < len(_DEPLOYMENT_NAMES) else f"d{len(own)}")
        return names

    def _arm(self, kind: ArtifactKind, segment: str) -> str | None:
        if not self.out[kind]:
            return None
        artifact = self.rng.choice(self.out[kind])
        return f"{PORTABLE_SCOPE}/{segment}/{artifact.name}/versions/{artifact.version}"

    def _common(self, kind: ArtifactKind, i: int) -> tuple[str, dict[str, str], str]:
        topic = self.rng.choice(_TOPICS)
        tags = {"team": self.rng.choice(("ds", "mlops", "platform")), "seeded": "true"}
        return topic, tags, f"{topic} {kind.value} #{i}"

    def seed(self, kind: ArtifactKind) -> list[Artifact]:
        if kind in (ArtifactKind.ONLINE_ENDPOINT, ArtifactKind.BATCH_ENDPOINT):
            return [self._endpoint(kind, i, names) for i, names in enumerate(self.layout[kind])]
        if kind is ArtifactKind.SCHEDULE:
            return [self._schedule(i) for i in range(self.counts[kind])]
        endpoint_kind = (ArtifactKind.ONLINE_ENDPOINT if kind is ArtifactKind.ONLINE_DEPLOYMENT
                         else ArtifactKind.BATCH_ENDPOINT)
        return [self._deployment(kind, f"{endpoint.name}/{name}")
                for endpoint, names in zip(self.out[endpoint_kind], self.layout[endpoint_kind], strict=True)
                for name in names]

    def _endpoint(self, kind: ArtifactKind, i: int, deployments: list[str]) -> Artifact:
        topic, tags, description = self._common(kind, i)
        online = kind is ArtifactKind.ONLINE_ENDPOINT
        name = f"{topic}-{'ep' if online else 'batch'}-{i:02d}"
        props: dict[str, Any] = {"description": description, "properties": {},
                                 "authMode": "Key" if online else "AADToken"}
        if online:
            props["traffic"] = _traffic(deployments)
            props["publicNetworkAccess"] = "Enabled"
        elif deployments:
            props["defaults"] = {"deploymentName": deployments[0]}
        return Artifact(kind, name, None, {"properties": props, "tags": tags, "identity": {"type": "SystemAssigned"}})

    def _code_configuration(self) -> dict[str, Any]:
        return {"codeId": self._arm(ArtifactKind.CODE, "codes"), "scoringScript": "score.py"}

    def _deployment(self, kind: ArtifactKind, name: str) -> Artifact:
        _, tags, description = self._common(kind, len(self.out[kind]))
        variables = {"LOG_LEVEL": "INFO"}
        if self.out[ArtifactKind.CONNECTION]:
            variables["SCORING_CONNECTION"] = f"azureml://connections/{AI_SERVICES_CONNECTION}"
        props: dict[str, Any] = {
            "description": description, "properties": {}, "environmentVariables": variables,
            "codeConfiguration": self._code_configuration(),
            "environmentId": self._arm(ArtifactKind.ENVIRONMENT, "environments"),
        }
        model = self._arm(ArtifactKind.MODEL, "models")
        if kind is ArtifactKind.ONLINE_DEPLOYMENT:
            props.update({"endpointComputeType": "Managed", "model": model, "instanceType": "Standard_DS3_v2",
                          "scaleSettings": {"scaleType": "Default"}, "appInsightsEnabled": True,
                          "requestSettings": {"maxConcurrentRequestsPerInstance": 1, "requestTimeout": "PT5S"},
                          "livenessProbe": {"initialDelay": "PT10S", "period": "PT10S", "timeout": "PT2S",
                                            "failureThreshold": 30, "successThreshold": 1}})
            return Artifact(kind, name, None, {"properties": props, "tags": tags,
                                               "sku": {"name": "Default", "capacity": 2 + self.rng.randrange(3)}})
        props.update({"compute": f"{PORTABLE_SCOPE}/computes/{self.rng.choice(COMPUTES)}",
                      "model": {"referenceType": "Id", "assetId": model}, "miniBatchSize": 10,
                      "maxConcurrencyPerInstance": 2, "outputAction": "AppendRow",
                      "outputFileName": "predictions.csv", "errorThreshold": -1, "loggingLevel": "Info",
                      "retrySettings": {"maxRetries": 3, "timeout": "PT30S"},
                      "resources": {"instanceCount": 1 + self.rng.randrange(3)}})
        return Artifact(kind, name, None, {"properties": props, "tags": tags})

    def _schedule(self, i: int) -> Artifact:
        topic, tags, description = self._common(ArtifactKind.SCHEDULE, i)
        name = f"{topic}-nightly-{i:02d}"
        trigger: dict[str, Any] = ({"triggerType": "Cron", "expression": f"{i % 60} 2 * * *", "timeZone": "UTC"}
                                   if i % 2 == 0 else
                                   {"triggerType": "Recurrence", "frequency": "Day", "interval": 1,
                                    "schedule": {"hours": [3], "minutes": [i % 60]}, "timeZone": "UTC"})
        batch = self.out[ArtifactKind.BATCH_ENDPOINT]
        scoring = f"azureml://datastores/{SEEDED_DATASTORES[0]}/paths/{topic}/scoring/"
        action: dict[str, Any]
        if i % 3 == 2 and batch:
            action = {"actionType": "InvokeBatchEndpoint", "endpointInvocationDefinition": {
                "endpoint": f"{PORTABLE_SCOPE}/batchEndpoints/{self.rng.choice(batch).name}",
                "inputs": {"data": {"type": "uri_folder", "path": scoring}}}}
        else:
            action = {"actionType": "CreateJob", "jobDefinition": {
                "jobType": "Command", "experimentName": f"{topic}-nightly",
                "command": "python train.py --data ${{inputs.raw}}",
                "computeId": f"{PORTABLE_SCOPE}/computes/{self.rng.choice(COMPUTES)}",
                "environmentId": self._arm(ArtifactKind.ENVIRONMENT, "environments"),
                "codeId": self._arm(ArtifactKind.CODE, "codes"),
                "inputs": {"raw": {"jobInputType": "uri_folder", "uri": scoring}},
                "outputs": {}, "tags": {}, "properties": {}, "environmentVariables": {}}}
        props = {"displayName": f"{topic} nightly", "description": description, "tags": tags, "properties": {},
                 "isEnabled": i % 4 != 3, "trigger": trigger, "action": action}
        return Artifact(ArtifactKind.SCHEDULE, name, None, {"properties": props})


def _traffic(deployments: list[str]) -> dict[str, int]:
    """Blue/green: the first deployment takes most of the traffic, each other one 10%."""
    if not deployments:
        return {}
    shares = {name: 10 for name in deployments[1:]} if len(deployments) <= 10 else {}
    if not shares and len(deployments) > 1:
        shares = {name: 100 // len(deployments) for name in deployments[1:]}
    return {deployments[0]: 100 - sum(shares.values()), **shares}
