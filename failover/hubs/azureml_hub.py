"""AzureMLHub: the HubClient port over ``azure.ai.ml.MLClient`` (one workspace / AI Studio hub).

Specs are portable: artifact specs are small normal forms (see ``_spec_of``) with references
as ``azureml:<name>:<version>``; a job's spec is its REST ``JobBase`` JSON, rebuilt into an
entity on the target when the primary is gone. ARM ids that name the source workspace are
retargeted to this one before any write.

Retries: none here. azure-core already retries connection errors, 408, 429 and 5xx (honouring
Retry-After); a second layer would multiply attempts behind the orchestrator's own
activity retry policy and stretch the RTO. Every error leaves as a categorised HubError.

Not covered: code assets from local paths (the SDK uploads them with its own
BlobServiceClient, outside the pipeline and its transport): code is recreated from its
``https://`` / ``azureml://`` URI only. Connections are created without credentials: secrets
come from Key Vault, never from the catalog.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from azure.ai.ml import Input, MLClient, Output
from azure.ai.ml._restclient.arm_ml_service.models import JobBase
from azure.ai.ml.entities import (
    CommandComponent,
    Data,
    Environment,
    Model,
    NoneCredentialConfiguration,
    WorkspaceConnection,
)
from azure.ai.ml.entities._assets import Code
from azure.ai.ml.entities._builders.command import Command
from azure.ai.ml.entities._job.job import Job
from azure.core.credentials import TokenCredential

from failover.domain.model import Artifact, ArtifactKind, JobRecord
from failover.domain.ports import ErrorCategory, HubError, SubmitResult, WriteOutcome
from failover.hubs.hub_errors import to_hub_error
from failover.hubs.hub_specs import ensure_no_secrets, parse_ref, portable_ref, retarget_arm_ids

T = TypeVar("T")

# azureml://subscriptions/<s>/resourcegroups/<rg>/workspaces/<ws>/datastores/<d>/paths/<p>: the SDK
# expands short datastore URIs to this long form, which names the source workspace.
_LONG_DATASTORE_URI = re.compile(
    r"^azureml://subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/(datastores/.*)$", re.IGNORECASE
)



def _short_datastore_uri(uri: str | None) -> str | None:
    match = _LONG_DATASTORE_URI.match(uri or "")
    return f"azureml://{match.group(1)}" if match else uri


def _tags(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _io_spec(items: Any) -> dict[str, dict[str, Any]]:
    """Component inputs/outputs -> ``{name: {"type": ..., [optional, default, description]}}``."""
    out: dict[str, dict[str, Any]] = {}
    for name, item in (items or {}).items():
        raw = item if isinstance(item, dict) else {k: getattr(item, k, None)
                                                  for k in ("type", "optional", "default", "description")}
        out[str(name)] = {k: raw[k] for k in ("type", "optional", "default", "description")
                          if raw.get(k) not in (None, False)}
    return out


def _status(job: Any) -> str:
    status = getattr(job, "status", None)
    return str(getattr(status, "value", status) or "Unknown")


class AzureMLHub:
    """HubClient for one Azure ML workspace (hub or project) through MLClient."""

    def __init__(self, subscription_id: str, resource_group: str, workspace_name: str, *,
                 credential: TokenCredential | None = None, hub_id: str | None = None,
                 **client_kwargs: Any) -> None:
        if credential is None:
            from azure.identity import DefaultAzureCredential  # only where a real identity is needed

            credential = DefaultAzureCredential()
        self._hub_id = hub_id or workspace_name
        self.workspace_name = workspace_name
        # No call is made here: MLClient is lazy. client_kwargs (transport=, retry_total=, ...)
        # reach every azure-core pipeline it builds.
        self.ml = MLClient(credential, subscription_id, resource_group, workspace_name, **client_kwargs)
        self.workspace_scope = (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
                                f"/providers/Microsoft.MachineLearningServices/workspaces/{workspace_name}")

    @property
    def hub_id(self) -> str:
        return self._hub_id

    def _do(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as exc:
            raise to_hub_error(exc, f"{self._hub_id}: {what}") from exc

    # -- ping and jobs -----------------------------------------------------------------------
    def ping(self) -> None:
        self._do("ping", lambda: self.ml.workspaces.get(self.workspace_name))

    def list_computes(self) -> list[str]:
        # GET /computes: every compute type (the SDK filters client-side only when asked to).
        computes = self._do("list_computes", lambda: list(self.ml.compute.list()))
        return sorted({str(c.name) for c in computes})

    def list_jobs(self, statuses: Iterable[str] | None = None) -> list[JobRecord]:
        wanted = set(statuses) if statuses is not None else None
        # jobs.list has no status filter (REFERENCE): list the active view, filter here.
        jobs = self._do("list_jobs", lambda: list(self.ml.jobs.list()))
        records = [self._job_record(j) for j in jobs if wanted is None or _status(j) in wanted]
        return sorted(records, key=lambda r: r.name)

    def get_job(self, name: str) -> JobRecord:
        return self._job_record(self._do(f"get_job({name})", lambda: self.ml.jobs.get(name)))

    def _job_record(self, job: Any) -> JobRecord:
        # jobs.get/list return a Command *node* for command jobs; its job form serialises to JobBase.
        entity = job._to_job() if isinstance(job, Command) else job
        rest = entity._to_rest_object()
        spec = rest.as_dict() if hasattr(rest, "as_dict") else dict(rest)
        spec = json.loads(json.dumps(spec, default=str))
        compute = getattr(job, "compute", None)
        return JobRecord(job.name, _status(job), job.experiment_name or "", compute, spec, _tags(job.tags))

    def submit_job(self, source: JobRecord, *, new_name: str, compute: str | None,
                   tags: dict[str, str]) -> SubmitResult:
        if self._exists(new_name):
            return SubmitResult(new_name, WriteOutcome.ALREADY_PRESENT)
        job = self._resubmission(source, new_name, compute, tags)
        try:
            # experiment_name= avoids the SDK's GET of the old job and RunHistory PATCH (REFERENCE).
            self.ml.jobs.create_or_update(job, experiment_name=source.experiment_name or None)
        except Exception as exc:
            error = to_hub_error(exc, f"{self._hub_id}: submit_job({new_name})")
            # A 409, or a lost response to a PUT that did land: the job may be ours already.
            if error.category in (ErrorCategory.CONFLICT, ErrorCategory.TRANSIENT) and self._exists(new_name):
                return SubmitResult(new_name, WriteOutcome.ALREADY_PRESENT)
            raise error from exc
        return SubmitResult(new_name, WriteOutcome.CREATED)

    def _exists(self, name: str) -> bool:
        try:
            self._do(f"get_job({name})", lambda: self.ml.jobs.get(name))
        except HubError as err:
            if err.category is ErrorCategory.NOT_FOUND:
                return False
            raise
        return True

    def _resubmission(self, source: JobRecord, new_name: str, compute: str | None, tags: dict[str, str]) -> Job:
        """Rebuild the entity from the catalog's REST JSON and mutate it for this workspace."""
        spec = retarget_arm_ids(source.spec, self.workspace_scope)
        try:
            job = Job._from_rest_object(JobBase(spec))
        except Exception as exc:
            raise HubError(ErrorCategory.PERMANENT, f"job {source.name}: spec cannot be rebuilt: {exc}") from exc
        job.name = new_name
        if compute or source.compute:
            job.compute = compute or source.compute
        if hasattr(job, "services"):
            job.services = None  # the source's endpoints (Studio, TensorBoard...) belong to the old run
        for output in (getattr(job, "outputs", None) or {}).values():
            if output is not None and hasattr(output, "path"):
                output.path = None  # let the service pick fresh output locations
        job.tags = {**_tags(job.tags), **source.tags, **tags}
        return job

    # -- assets --------------------------------------------------------------------------------
    def _ops(self, kind: ArtifactKind) -> Any:
        return {
            ArtifactKind.ENVIRONMENT: self.ml.environments,
            ArtifactKind.CODE: self.ml._code,  # not public on MLClient, but the operations are
            ArtifactKind.DATA: self.ml.data,
            ArtifactKind.COMPONENT: self.ml.components,
            ArtifactKind.MODEL: self.ml.models,
        }[kind]

    def list_assets(self, kind: ArtifactKind) -> list[Artifact]:
        if kind is ArtifactKind.CONNECTION:
            return self.list_connections()
        ops = self._ops(kind)

        def every_version() -> list[Any]:
            if kind is ArtifactKind.CODE:
                return self._list_code()
            names = sorted({c.name for c in ops.list()})
            return [v for n in names for v in ops.list(name=n)]

        entities = self._do(f"list_assets({kind.value})", every_version)
        return sorted((self._artifact(kind, e) for e in entities), key=lambda a: (a.name, a.version or ""))

    def _list_code(self) -> list[Code]:
        # CodeOperations has no list(); its generated REST client does (same pipeline, same transport).
        code_ops = self.ml._code
        scope = (str(self.ml.resource_group_name), self.workspace_name)
        names = sorted({str(c.name) for c in code_ops._container_operation.list(*scope)})
        return [Code._from_rest_object(v) for n in names for v in code_ops._version_operation.list(*scope, n)]

    def get_asset(self, kind: ArtifactKind, name: str, version: str | None) -> Artifact:
        if kind is ArtifactKind.CONNECTION:
            return self._connection(self._do(f"get_connection({name})", lambda: self.ml.connections.get(name)))
        ops = self._ops(kind)
        what = f"get_asset({kind.value} {name}:{version})"
        if version is None:
            if kind is ArtifactKind.CODE:
                raise HubError(ErrorCategory.PERMANENT, "code assets need a version")
            return self._artifact(kind, self._do(what, lambda: ops.get(name, label="latest")))
        return self._artifact(kind, self._do(what, lambda: ops.get(name, version)))

    def put_asset(self, artifact: Artifact) -> WriteOutcome:
        if artifact.kind is ArtifactKind.CONNECTION:
            return self.put_connection(artifact)
        if not artifact.version:
            raise HubError(ErrorCategory.PERMANENT, f"{artifact.key}: recovery writes explicit versions only")
        return self._put(artifact, lambda: self._ops(artifact.kind).create_or_update(self._entity(artifact)))

    def _put(self, artifact: Artifact, create: Callable[[], Any]) -> WriteOutcome:
        def present() -> Artifact | None:
            try:
                return self.get_asset(artifact.kind, artifact.name, artifact.version)
            except HubError as err:
                if err.category is ErrorCategory.NOT_FOUND:
                    return None
                raise

        def compare(existing: Artifact) -> WriteOutcome:
            if existing.content_hash == artifact.content_hash:
                return WriteOutcome.ALREADY_PRESENT
            raise HubError(ErrorCategory.CONFLICT, f"{self._hub_id}: {artifact.key} exists with different content")

        existing = present()
        if existing is not None:
            return compare(existing)
        try:
            create()
        except Exception as exc:
            error = to_hub_error(exc, f"{self._hub_id}: put {artifact.key}")
            if error.category is ErrorCategory.CONFLICT and (winner := present()) is not None:
                return compare(winner)  # a concurrent writer (or a replay) got there first
            raise error from exc
        return WriteOutcome.CREATED

    # -- connections ------------------------------------------------------------------------------
    def list_connections(self) -> list[Artifact]:
        # populate_secrets stays False: secret values never leave the workspace through us.
        entities = self._do("list_connections", lambda: list(self.ml.connections.list()))
        return sorted((self._connection(c) for c in entities), key=lambda a: a.name)

    def put_connection(self, connection: Artifact) -> WriteOutcome:
        if connection.kind is not ArtifactKind.CONNECTION:
            raise HubError(ErrorCategory.PERMANENT, f"put_connection got a {connection.kind.value}")
        ensure_no_secrets(connection)
        spec = connection.spec
        entity = WorkspaceConnection(name=connection.name, type=spec["type"], target=spec.get("target"),
                                     metadata=dict(spec.get("metadata") or {}),
                                     credentials=NoneCredentialConfiguration())
        return self._put(connection, lambda: self.ml.connections.create_or_update(entity))

    @staticmethod
    def _connection(entity: Any) -> Artifact:
        # Only the non-secret shape: type, target, metadata. Credentials are dropped, always.
        spec = {"type": str(entity.type), "target": entity.target,
                "metadata": _tags(getattr(entity, "metadata", None))}
        return Artifact(ArtifactKind.CONNECTION, entity.name, None, spec)

    # -- spec <-> entity -------------------------------------------------------------------------
    def _artifact(self, kind: ArtifactKind, entity: Any) -> Artifact:
        return Artifact(kind, entity.name, str(entity.version), self._spec_of(kind, entity))

    @staticmethod
    def _spec_of(kind: ArtifactKind, e: Any) -> dict[str, Any]:
        """The portable normal form of an asset: every key always present, no service fields."""
        base = {"description": e.description, "tags": _tags(e.tags)}
        if kind is ArtifactKind.ENVIRONMENT:
            conda = e.conda_file
            return {"image": e.image, "conda_file": dict(conda) if isinstance(conda, dict) else conda, **base}
        if kind is ArtifactKind.CODE:
            # Only the URI: azure-ai-ml 1.35.2 sends no description or tags for code versions.
            return {"path": _short_datastore_uri(str(e.path))}
        if kind is ArtifactKind.DATA:
            return {"type": str(e.type), "path": _short_datastore_uri(str(e.path)), **base}
        if kind is ArtifactKind.MODEL:
            return {"type": str(e.type), "path": _short_datastore_uri(str(e.path)),
                    "properties": _tags(e.properties), **base}
        # Command component: references made portable (the service answers with ARM ids).
        return {"type": str(e.type), "command": e.command, "environment": portable_ref(_ref_text(e.environment)),
                "code": portable_ref(_ref_text(e.code)), "inputs": _io_spec(e.inputs),
                "outputs": _io_spec(e.outputs), **base}

    def _entity(self, artifact: Artifact) -> Any:
        spec, name, version = artifact.spec, artifact.name, artifact.version
        common: dict[str, Any] = {"name": name, "version": version, "description": spec.get("description"),
                  "tags": dict(spec.get("tags") or {})}
        kind = artifact.kind
        if kind is ArtifactKind.ENVIRONMENT:
            return Environment(image=spec["image"], conda_file=spec.get("conda_file"), **common)
        if kind is ArtifactKind.CODE:
            path = str(spec["path"])
            if not path.startswith(("https://", "azureml://")):
                # A local path would be uploaded by the SDK outside the pipeline (REFERENCE).
                raise HubError(ErrorCategory.PERMANENT, f"{artifact.key}: code must be an https:// or azureml:// URI")
            return Code(path=path, **common)
        if kind is ArtifactKind.DATA:
            return Data(path=spec["path"], type=spec["type"], **common)
        if kind is ArtifactKind.MODEL:
            return Model(path=spec["path"], type=spec["type"], properties=dict(spec.get("properties") or {}),
                         **common)
        if spec.get("type", "command") != "command":
            raise HubError(ErrorCategory.PERMANENT, f"{artifact.key}: only command components are recreated")
        return CommandComponent(
            command=spec["command"], environment=spec.get("environment"), code=self._code_arm_id(spec.get("code")),
            inputs={k: Input(**v) for k, v in (spec.get("inputs") or {}).items()},
            outputs={k: Output(**v) for k, v in (spec.get("outputs") or {}).items()}, **common)

    def _code_arm_id(self, ref: str | None) -> str | None:
        # The SDK treats component code "azureml:name:version" (and even "azureml:/subscriptions/...")
        # as a *local path*; only a bare ARM id is taken as a reference. Use this workspace's.
        parsed = parse_ref(ref) if ref else None
        if parsed is None:
            return ref
        return f"{self.workspace_scope}/codes/{parsed[0]}/versions/{parsed[1]}"


def _ref_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(getattr(value, "id", None) or value)
