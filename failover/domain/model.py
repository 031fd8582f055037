"""DR vocabulary shared by every layer: artifacts, jobs, hub errors and naming rules.

Plain data only. Adapters (Azure ML, simulated hub, storage) translate to and from these.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any


class ArtifactKind(StrEnum):
    ENVIRONMENT = "environment"
    CODE = "code"
    DATA = "data"
    COMPONENT = "component"
    MODEL = "model"
    CONNECTION = "connection"
    ONLINE_ENDPOINT = "online_endpoint"
    BATCH_ENDPOINT = "batch_endpoint"
    ONLINE_DEPLOYMENT = "online_deployment"  # named "{endpoint}/{deployment}"
    BATCH_DEPLOYMENT = "batch_deployment"  # named "{endpoint}/{deployment}"
    SCHEDULE = "schedule"


# Recreation order: each kind may reference only kinds before it (a component names an
# environment and code; a model may name data; connections are independent; a deployment names
# its endpoint, model, environment and code; a schedule invokes jobs or a batch endpoint).
RECOVERY_ORDER: tuple[ArtifactKind, ...] = (
    ArtifactKind.ENVIRONMENT,
    ArtifactKind.CODE,
    ArtifactKind.DATA,
    ArtifactKind.COMPONENT,
    ArtifactKind.MODEL,
    ArtifactKind.CONNECTION,
    ArtifactKind.ONLINE_ENDPOINT,
    ArtifactKind.BATCH_ENDPOINT,
    ArtifactKind.ONLINE_DEPLOYMENT,
    ArtifactKind.BATCH_DEPLOYMENT,
    ArtifactKind.SCHEDULE,
)

# The same order as waves: kinds in one wave don't reference each other and are recreated
# together; a wave starts when the one before it is done.
RECOVERY_WAVES: tuple[tuple[ArtifactKind, ...], ...] = (
    (ArtifactKind.ENVIRONMENT, ArtifactKind.CODE, ArtifactKind.DATA, ArtifactKind.CONNECTION,
     ArtifactKind.ONLINE_ENDPOINT, ArtifactKind.BATCH_ENDPOINT),  # endpoints start empty: no traffic yet
    (ArtifactKind.COMPONENT, ArtifactKind.MODEL),  # components name environments and code; models name data
    (ArtifactKind.ONLINE_DEPLOYMENT, ArtifactKind.BATCH_DEPLOYMENT),  # endpoint, model, environment, code
    (ArtifactKind.SCHEDULE,),  # what it invokes: components, environments, code, data, batch endpoints
)
# Endpoints are created before their deployments, so with no traffic (and no default deployment); their
# routing, the deployments' scale and the schedules' enabled flag are switched on after recreation, in waves:
# instances first, then the routes to them, then the schedules that may call them.
ACTIVATION_WAVES: tuple[tuple[ArtifactKind, ...], ...] = (
    (ArtifactKind.ONLINE_DEPLOYMENT,),
    (ArtifactKind.ONLINE_ENDPOINT, ArtifactKind.BATCH_ENDPOINT),
    (ArtifactKind.SCHEDULE,),
)
MUTABLE_KINDS: frozenset[ArtifactKind] = frozenset(k for wave in ACTIVATION_WAVES for k in wave) | {
    ArtifactKind.BATCH_DEPLOYMENT}
VERSIONED_KINDS: frozenset[ArtifactKind] = frozenset(
    {ArtifactKind.ENVIRONMENT, ArtifactKind.CODE, ArtifactKind.DATA, ArtifactKind.COMPONENT, ArtifactKind.MODEL})

# Fields of a mutable kind's spec (REST JSON paths) that are not part of its definition:
# state recovery switches after creation (traffic, scale, enabled), and sizing that is set per region
# from the pair's deployment_map (quota differs by region). Two resources with the same definition are
# the same resource, whatever their state or size.
STATE_FIELDS: dict[ArtifactKind, tuple[tuple[str, ...], ...]] = {
    ArtifactKind.ONLINE_ENDPOINT: (("properties", "traffic"), ("properties", "mirrorTraffic")),
    ArtifactKind.BATCH_ENDPOINT: (("properties", "defaults"),),
    ArtifactKind.ONLINE_DEPLOYMENT: (("sku", "capacity"),),
    ArtifactKind.SCHEDULE: (("properties", "isEnabled"),),
}
SIZING_FIELDS: dict[ArtifactKind, tuple[tuple[str, ...], ...]] = {
    ArtifactKind.ONLINE_DEPLOYMENT: (("properties", "instanceType"),),
    ArtifactKind.BATCH_DEPLOYMENT: (("properties", "resources", "instanceCount"),
                                    ("properties", "resources", "instanceType")),
}


def without_fields(spec: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """A copy of ``spec`` without the fields at ``paths`` (absent paths are ignored)."""
    out: dict[str, Any] = json.loads(json.dumps(spec))
    for path in paths:
        node: Any = out
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return out


# Azure ML job statuses: the service's JobStatus enum (REST api 2024-01-01-preview, modelAsString,
# tests/samples/azureml_rest/job_status_enum.json) plus "Created", which fine-tuning jobs report
# although the enum lacks it. docs/recovery-coverage.md explains each choice.
TERMINAL_JOB_STATUSES: frozenset[str] = frozenset({"Completed", "Failed", "Canceled"})
# Work the service had accepted and not finished: what an outage interrupts, resubmitted by default.
# NotResponding is here, not terminal: the enum says a run can leave it for any earlier state, and a
# run whose heartbeat stopped because its region failed is exactly what a failover must resubmit.
ACTIVE_JOB_STATUSES: frozenset[str] = frozenset({
    "NotStarted", "Created", "Scheduled", "Queued", "Preparing", "Provisioning", "Starting", "Running",
    "Finalizing", "NotResponding",
})
# Not finished, but someone stopped them on purpose (a cancellation asked for, a paused labeling job):
# resubmitting would undo that decision, so they are not interrupted unless a pair's policy says so.
HELD_JOB_STATUSES: frozenset[str] = frozenset({"CancelRequested", "Paused"})
# The service's "not mapped to any other status": cataloged only when a pair's policy asks for it.
UNDETERMINED_JOB_STATUSES: frozenset[str] = frozenset({"Unknown"})
NON_TERMINAL_JOB_STATUSES: frozenset[str] = ACTIVE_JOB_STATUSES | HELD_JOB_STATUSES | UNDETERMINED_JOB_STATUSES
KNOWN_JOB_STATUSES: frozenset[str] = NON_TERMINAL_JOB_STATUSES | TERMINAL_JOB_STATUSES
# The default policy.interrupted_statuses.
DEFAULT_INTERRUPTED_JOB_STATUSES: frozenset[str] = ACTIVE_JOB_STATUSES


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no whitespace. The base of every content hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(spec: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(spec).encode()).hexdigest()


@dataclass(frozen=True)
class Artifact:
    """A definition recovery needs: never a secret value (connections carry no credentials)."""

    kind: ArtifactKind
    name: str
    version: str | None
    spec: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.name}:{self.version or ''}"

    @cached_property  # specs are never mutated after construction; hashing is the hot path
    def content_hash(self) -> str:
        return content_hash({"kind": self.kind.value, "name": self.name, "version": self.version, "spec": self.spec})

    @cached_property
    def definition_hash(self) -> str:
        """What makes two resources the same one: the content without state and sizing (mutable kinds).
        For immutable asset versions and connections, the content hash."""
        paths = STATE_FIELDS.get(self.kind, ()) + SIZING_FIELDS.get(self.kind, ())
        if not paths:
            return self.content_hash
        return content_hash({"kind": self.kind.value, "name": self.name, "version": self.version,
                             "definition": without_fields(self.spec, paths)})

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name, "version": self.version, "spec": self.spec,
                "content_hash": self.content_hash}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Artifact:
        return cls(ArtifactKind(data["kind"]), data["name"], data.get("version"), dict(data.get("spec") or {}))


@dataclass(frozen=True)
class JobRecord:
    """A job as the catalog keeps it: enough to resubmit it elsewhere."""

    name: str
    status: str
    experiment_name: str
    compute: str | None
    spec: dict[str, Any] = field(default_factory=dict, compare=False)
    tags: dict[str, str] = field(default_factory=dict, compare=False)

    @cached_property
    def content_hash(self) -> str:
        return content_hash({"name": self.name, "experiment": self.experiment_name, "compute": self.compute,
                             "spec": self.spec})

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "experiment_name": self.experiment_name,
                "compute": self.compute, "spec": self.spec, "tags": self.tags, "content_hash": self.content_hash}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        return cls(data["name"], data["status"], data["experiment_name"], data.get("compute"),
                   dict(data.get("spec") or {}), dict(data.get("tags") or {}))


# Tags written on every resubmitted job, so a retry can find the job it already created.
TAG_SOURCE_JOB = "hubfailover.source_job"
TAG_GENERATION = "hubfailover.generation"

_MAX_JOB_NAME = 255


def resubmission_name(source_job: str, generation: int) -> str:
    """Deterministic name of the resubmission of ``source_job`` at pointer ``generation``.

    Same inputs, same name: a replayed activity looks the job up by this name before creating it.
    """
    suffix = f"-fo{generation}"
    if len(source_job) + len(suffix) <= _MAX_JOB_NAME:
        return source_job + suffix
    digest = hashlib.sha256(source_job.encode()).hexdigest()[:12]
    return f"{source_job[: _MAX_JOB_NAME - len(suffix) - 13]}-{digest}{suffix}"
