"""Deterministic inventory for a simulated hub: realistic jobs and artifacts with dependencies.

Specs have the same shapes the Azure ML adapter produces (portable artifact specs; jobs in
the REST ``JobBase`` form), so a seeded simulated primary can be recovered into either backend.
"""

from __future__ import annotations

import random
from typing import Any

from failover.domain.model import ACTIVE_JOB_STATUSES, KNOWN_JOB_STATUSES, Artifact, ArtifactKind, JobRecord
from failover.hubs.hub_specs import MODEL_TRAINING_DATA

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

# Share of each kind in a seeded inventory, in recovery order (dependencies first).
_KIND_WEIGHTS = (
    (ArtifactKind.ENVIRONMENT, 0.15), (ArtifactKind.CODE, 0.15), (ArtifactKind.DATA, 0.2),
    (ArtifactKind.COMPONENT, 0.2), (ArtifactKind.MODEL, 0.2), (ArtifactKind.CONNECTION, 0.1),
)

# ARM scope of a simulated workspace (its jobs name their code asset by ARM id, like Azure ML's).
SIMULATED_SCOPE = (
    "/subscriptions/{sub}/resourceGroups/rg-sim/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
)


def _split(total: int) -> dict[ArtifactKind, int]:
    counts = {kind: int(total * share) for kind, share in _KIND_WEIGHTS}
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

    for kind, _ in _KIND_WEIGHTS:
        for i in range(counts[kind]):
            topic = rng.choice(_TOPICS)
            name = f"{topic}-{kind.value}-{i:04d}"
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
        tags = {"owner": rng.choice(("alice", "bob", "carol")), "priority": rng.choice(("high", "low"))}
        properties["tags"] = dict(tags)
        jobs.append(JobRecord(name, status, experiment, compute, {"name": name, "properties": properties}, tags))
    return jobs
