"""AzureMLHub: the HubClient port over ``azure.ai.ml.MLClient`` (one workspace / AI Studio hub).

Specs are portable: an asset's spec is its REST body under portable names (``azureml_assets``),
with references as ``azureml:<name>:<version>``; a job's spec is the service's REST body
(``azureml_jobs``), rebuilt into an entity on the target when the primary is gone. ARM ids that
name the source workspace are retargeted to this one before any write. Assets and connections are
read and written through azure-ai-ml's generated REST operations (its entities lose fields, see
``azureml_assets``); jobs go through its entities, which resolve references, and get back what
the entities leave out.

Endpoints, deployments and schedules are delegated to ``AzureMLResources`` (azureml_resources.py),
which keeps their REST JSON whole as well.

One item the adapter can't read (a job azure-ai-ml can't parse, a component spec without a type)
is reported in the listing's ``unreadable``, never raised for the whole list nor dropped.

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
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from azure.ai.ml import MLClient
from azure.ai.ml._restclient.arm_ml_service._utils.model_base import SdkJSONEncoder
from azure.ai.ml._restclient.arm_ml_service.models import JobBase
from azure.ai.ml.entities._builders.base_node import BaseNode
from azure.ai.ml.entities._builders.command import Command
from azure.ai.ml.entities._builders.spark import Spark
from azure.ai.ml.entities._job.job import Job
from azure.ai.ml.entities._job.to_rest_functions import to_rest_job_object
from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.pipeline import policies
from azure.core.rest import HttpRequest

from failover.domain.model import KNOWN_JOB_STATUSES, Artifact, ArtifactKind, JobRecord
from failover.domain.ports import (
    JOB_ITEM,
    ErrorCategory,
    HubError,
    Listing,
    SubmitResult,
    UnreadableItem,
    WriteOutcome,
)
from failover.hubs.azureml_assets import UnreadableSpec, asset_body, asset_spec, connection_body, connection_spec
from failover.hubs.azureml_jobs import carried_over, job_record, put_back, without_nulls
from failover.hubs.azureml_resources import RESOURCE_KINDS, AzureMLResources
from failover.hubs.hub_errors import to_hub_error
from failover.hubs.hub_specs import ensure_no_placeholders, ensure_no_secrets, retarget_arm_ids

T = TypeVar("T")
PERMISSIONS_API_VERSION = "2022-04-01"
_MAX_PAGES = 10


def _tags(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _reason(exc: BaseException) -> str:
    """One line naming what the SDK (or the spec) objected to."""
    text = (str(exc).strip() or str(getattr(exc, "message", "")).strip()).splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


class AzureMLHub:
    """HubClient for one Azure ML workspace (hub or project) through MLClient."""

    def __init__(self, subscription_id: str, resource_group: str, workspace_name: str, *,
                 credential: TokenCredential | None = None, hub_id: str | None = None,
                 **client_kwargs: Any) -> None:
        if credential is None:
            from azure.identity import DefaultAzureCredential  # only where a real identity is needed

            credential = DefaultAzureCredential()
        self._hub_id = hub_id or workspace_name
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace_name = workspace_name
        # No call is made here: MLClient is lazy. client_kwargs (transport=, retry_total=, ...)
        # reach every azure-core pipeline it builds.
        self.ml = MLClient(credential, subscription_id, resource_group, workspace_name, **client_kwargs)
        self._credential = credential
        self._client_kwargs = client_kwargs
        self.workspace_scope = (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
                                f"/providers/Microsoft.MachineLearningServices/workspaces/{workspace_name}")
        self._location: str | None = None
        self.resources = AzureMLResources(self.ml, self._hub_id, self.workspace_scope, self.location)

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

    def location(self) -> str:
        """The workspace's region (endpoints and deployments are created there). Read once."""
        if self._location is None:
            workspace = self._do("get workspace", lambda: self.ml.workspaces.get(self.workspace_name))
            self._location = str(workspace.location)
        return self._location

    def list_datastores(self) -> list[str]:
        # The generated operation: names only, and no datastore entity (nor its credentials) is built.
        ops = self.ml.datastores._operation
        items = self._do("list_datastores", lambda: list(ops.list(self.resource_group, self.workspace_name)))
        return sorted({str(d["name"]) for d in items})

    def apply_state(self, artifact: Artifact) -> WriteOutcome:
        if artifact.kind not in RESOURCE_KINDS:
            raise HubError(ErrorCategory.PERMANENT, f"{artifact.key}: a {artifact.kind.value} has no state to apply")
        return self.resources.apply_state(artifact)

    def list_computes(self) -> list[str]:
        # GET /computes: every compute type (the SDK filters client-side only when asked to).
        computes = self._do("list_computes", lambda: list(self.ml.compute.list()))
        return sorted({str(c.name) for c in computes})

    def list_jobs(self, statuses: Iterable[str] | None = None) -> Listing[JobRecord]:
        wanted = set(statuses) if statuses is not None else None
        # The REST list ml.jobs.list() calls, without its parser: that one turns a job it can't
        # parse into None. jobs.list has no status filter (REFERENCE): filter here.
        operation = self.ml.jobs.service_client_01_2024_preview_arm.jobs
        bodies = self._do("list_jobs", lambda: [job.as_dict() for job in operation.list(
            self.resource_group, self.workspace_name, list_view_type="ActiveOnly", cls=lambda jobs: jobs)])
        records: list[JobRecord] = []
        unreadable: list[UnreadableItem] = []
        for body in bodies:
            status = (body.get("properties") or {}).get("status")
            if wanted is not None and status in KNOWN_JOB_STATUSES and status not in wanted:
                continue  # out of scope, readable or not
            try:
                records.append(self._job_record(body))
            except HubError as exc:
                unreadable.append(UnreadableItem(JOB_ITEM, str(body.get("name")), None, str(exc)))
        return Listing(sorted(records, key=lambda r: r.name), sorted(unreadable, key=lambda u: u.name))

    def get_job(self, name: str) -> JobRecord:
        body = self._do(f"get_job({name})", lambda: self.ml.jobs._get_job(name).as_dict())
        try:
            return self._job_record(body)
        except HubError as exc:
            raise HubError(ErrorCategory.PERMANENT, f"{self._hub_id}: get_job({name}): {exc}") from None

    @staticmethod
    def _job_record(body: dict[str, Any]) -> JobRecord:
        """The service's body, once azure-ai-ml has shown it can parse it (else HubError PERMANENT)."""
        try:
            Job._from_rest_object(JobBase(body))
            return job_record(body)
        except Exception as exc:
            raise HubError(ErrorCategory.PERMANENT, f"azure-ai-ml can't parse the job: {_reason(exc)}") from exc

    def submit_job(self, source: JobRecord, *, new_name: str, compute: str | None,
                   tags: dict[str, str]) -> SubmitResult:
        ensure_no_placeholders(f"{self._hub_id}: job {new_name}", source.spec, source.tags)
        if self._exists(new_name):
            return SubmitResult(new_name, WriteOutcome.ALREADY_PRESENT)
        job, source_props = self._resubmission(source, new_name, compute, tags)
        try:
            self._create_job(job, source_props)
        except Exception as exc:
            error = to_hub_error(exc, f"{self._hub_id}: submit_job({new_name})")
            # A 409, or a lost response to a PUT that did land: the job may be ours already.
            if error.category in (ErrorCategory.CONFLICT, ErrorCategory.TRANSIENT) and self._exists(new_name):
                return SubmitResult(new_name, WriteOutcome.ALREADY_PRESENT)
            raise error from exc
        return SubmitResult(new_name, WriteOutcome.CREATED)

    def _exists(self, name: str) -> bool:
        try:
            self._do(f"get_job({name})", lambda: self.ml.jobs._get_job(name))
        except HubError as err:
            if err.category is ErrorCategory.NOT_FOUND:
                return False
            raise
        return True

    def _resubmission(self, source: JobRecord, new_name: str, compute: str | None,
                      tags: dict[str, str]) -> tuple[Job, dict[str, Any]]:
        """Rebuild the entity from the catalog's REST JSON and mutate it for this workspace; also
        return what of the source body the request must carry over."""
        spec = retarget_arm_ids(source.spec, self.workspace_scope)
        try:
            job = Job._from_rest_object(JobBase(spec))
        except Exception as exc:
            raise HubError(ErrorCategory.PERMANENT, f"job {source.name}: spec cannot be rebuilt: {_reason(exc)}") \
                from exc
        job.name = new_name
        if compute or source.compute:
            job.compute = compute or source.compute
        if source.experiment_name:  # the catalog's record is authoritative, not the spec's copy
            job.experiment_name = source.experiment_name
        if hasattr(job, "services"):
            job.services = None  # the source's endpoints (Studio, TensorBoard...) belong to the old run
        for output in (getattr(job, "outputs", None) or {}).values():
            if output is not None and hasattr(output, "path"):
                output.path = None  # let the service pick fresh output locations
        job.tags = {**_tags(job.tags), **source.tags, **tags}
        return job, carried_over(spec.get("properties") or {})

    def _create_job(self, job: Job, source_props: dict[str, Any]) -> None:
        """What ``ml.jobs.create_or_update`` does for a new job, with the source's fields put back.

        Its steps, in its order: validate, resolve references to ARM ids, serialise, attach the
        user's Azure ML token to a pipeline job (or a job run as the user), PUT at the job type's
        api-version. Left out: its git properties (they would describe the orchestrator's
        checkout, not the job) and its shortcut for updating a fetched job's metadata.
        """
        operations = self.ml.jobs
        if isinstance(job, BaseNode) and not isinstance(job, Command | Spark):
            job = job._to_job()
        operations._validate(job, raise_on_failure=True)
        operations._resolve_arm_id_or_upload_dependencies(job)
        sent = without_nulls(json.loads(json.dumps(to_rest_job_object(job), cls=SdkJSONEncoder,
                                                   exclude_readonly=True)))
        # The name is read-only in the body (the URL carries it), so the encoder left it out.
        body = {**sent, "name": job.name, "properties": put_back(sent["properties"], source_props)}
        request = JobBase(body)
        kwargs: dict[str, Any] = {}
        identity = (body["properties"].get("identity") or {}).get("identityType")
        if body["properties"].get("jobType") == "Pipeline" or identity == "UserIdentity":
            operations._set_headers_with_user_aml_token(kwargs)
        operations._create_or_update_with_different_version_api(rest_job_resource=request, **kwargs)

    # -- assets --------------------------------------------------------------------------------
    def _ops(self, kind: ArtifactKind) -> tuple[Any, Any]:
        """azure-ai-ml's generated REST operations for ``kind``: (containers, versions). Its public
        operations call these; their entities are skipped (see azureml_assets)."""
        ml = self.ml
        return {
            ArtifactKind.ENVIRONMENT: (ml.environments._containers_operations, ml.environments._version_operations),
            ArtifactKind.CODE: (ml._code._container_operation, ml._code._version_operation),
            ArtifactKind.DATA: (ml.data._container_operation, ml.data._operation),
            ArtifactKind.COMPONENT: (ml.components._container_operation, ml.components._version_operation),
            ArtifactKind.MODEL: (ml.models._model_container_operation, ml.models._model_versions_operation),
        }[kind]

    def list_assets(self, kind: ArtifactKind) -> Listing[Artifact]:
        if kind is ArtifactKind.CONNECTION:
            return self.list_connections()
        if kind in RESOURCE_KINDS:
            return self.resources.list(kind)
        containers, versions = self._ops(kind)
        scope = (self.resource_group, self.workspace_name)

        def every_version() -> list[tuple[str, dict[str, Any]]]:
            names = sorted({str(c.name) for c in containers.list(*scope)})
            return [(name, v.as_dict()) for name in names for v in versions.list(*scope, name)]

        bodies = self._do(f"list_assets({kind.value})", every_version)
        artifacts: list[Artifact] = []
        unreadable: list[UnreadableItem] = []
        for name, body in bodies:
            version = str(body.get("name"))
            try:
                artifacts.append(Artifact(kind, name, version, asset_spec(kind, body.get("properties") or {})))
            except UnreadableSpec as exc:
                unreadable.append(UnreadableItem(kind.value, name, version, str(exc)))
        return Listing(sorted(artifacts, key=lambda a: (a.name, a.version or "")), unreadable)

    def get_asset(self, kind: ArtifactKind, name: str, version: str | None) -> Artifact:
        if kind is ArtifactKind.CONNECTION:
            body = self._do(f"get_connection({name})", lambda: self.ml.connections._operation.get(
                self.resource_group, self.workspace_name, name).as_dict())
            return self._readable(kind, name, None, lambda: connection_spec(body.get("properties") or {}))
        if kind in RESOURCE_KINDS:
            return self.resources.get(kind, name)
        containers, versions = self._ops(kind)
        scope = (self.resource_group, self.workspace_name)
        what = f"get_asset({kind.value} {name}:{version})"
        if version is None:
            if kind is ArtifactKind.CODE:
                raise HubError(ErrorCategory.PERMANENT, "code assets need a version")
            # Label "latest", as azure-ai-ml resolves it: the container names its latest version.
            version = str(self._do(what, lambda: containers.get(*scope, name).as_dict())["properties"]["latestVersion"])
        exact = version
        body = self._do(what, lambda: versions.get(*scope, name, exact).as_dict())
        return self._readable(kind, name, exact, lambda: asset_spec(kind, body.get("properties") or {}))

    def _readable(self, kind: ArtifactKind, name: str, version: str | None,
                  spec: Callable[[], dict[str, Any]]) -> Artifact:
        try:
            return Artifact(kind, name, version, spec())
        except UnreadableSpec as exc:
            key = Artifact(kind, name, version).key
            raise HubError(ErrorCategory.PERMANENT, f"{self._hub_id}: {key} can't be read: {exc}") from None

    def put_asset(self, artifact: Artifact) -> WriteOutcome:
        ensure_no_placeholders(f"{self._hub_id}: {artifact.key}", artifact.spec)
        if artifact.kind is ArtifactKind.CONNECTION:
            return self.put_connection(artifact)
        if artifact.kind in RESOURCE_KINDS:
            return self.resources.put(artifact)
        if not artifact.version:
            raise HubError(ErrorCategory.PERMANENT, f"{artifact.key}: recovery writes explicit versions only")
        self._check_writable(artifact)
        _, versions = self._ops(artifact.kind)
        body = asset_body(artifact.kind, artifact.name, artifact.version, artifact.spec, self.workspace_scope,
                          self._datastore_uri_prefix)
        return self._put(artifact, lambda: versions.create_or_update(
            self.resource_group, self.workspace_name, artifact.name, artifact.version, body))

    def _check_writable(self, artifact: Artifact) -> None:
        spec = artifact.spec
        if artifact.kind is ArtifactKind.CODE and not str(spec.get("path", "")).startswith(("https://", "azureml://")):
            # A local path would be uploaded by the SDK outside the pipeline (REFERENCE).
            raise HubError(ErrorCategory.PERMANENT, f"{artifact.key}: code must be an https:// or azureml:// URI")
        if artifact.kind is ArtifactKind.COMPONENT and spec.get("type", "command") != "command":
            # A pipeline component names other components, which recovery does not order.
            raise HubError(ErrorCategory.PERMANENT, f"{artifact.key}: only command components are recreated")

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
            create()  # the service's answer is not parsed: a written version is written, whatever it echoes
        except Exception as exc:
            error = to_hub_error(exc, f"{self._hub_id}: put {artifact.key}")
            if error.category is ErrorCategory.CONFLICT and (winner := present()) is not None:
                return compare(winner)  # a concurrent writer (or a replay) got there first
            raise error from exc
        return WriteOutcome.CREATED

    # -- connections ------------------------------------------------------------------------------
    def list_connections(self) -> Listing[Artifact]:
        # The plain list: secret values never leave the workspace through us (no listsecrets).
        bodies = self._do("list_connections", lambda: [c.as_dict() for c in self.ml.connections._operation.list(
            self.resource_group, self.workspace_name)])
        connections: list[Artifact] = []
        unreadable: list[UnreadableItem] = []
        for body in bodies:
            try:
                spec = connection_spec(body.get("properties") or {})
            except UnreadableSpec as exc:
                unreadable.append(UnreadableItem(ArtifactKind.CONNECTION.value, str(body.get("name")), None, str(exc)))
                continue
            connections.append(Artifact(ArtifactKind.CONNECTION, str(body["name"]), None, spec))
        return Listing(sorted(connections, key=lambda a: a.name), unreadable)

    def put_connection(self, connection: Artifact) -> WriteOutcome:
        if connection.kind is not ArtifactKind.CONNECTION:
            raise HubError(ErrorCategory.PERMANENT, f"put_connection got a {connection.kind.value}")
        ensure_no_placeholders(f"{self._hub_id}: {connection.key}", connection.spec)
        ensure_no_secrets(connection)
        body = connection_body(connection.spec)
        return self._put(connection, lambda: self.ml.connections._operation.create(
            self.resource_group, self.workspace_name, connection.name, body))

    # -- access ------------------------------------------------------------------------------------
    def permissions(self) -> list[dict[str, Any]]:
        """GET {workspace}/providers/Microsoft.Authorization/permissions: the caller's actions and notActions
        at the workspace, per role assignment. A read any identity may make about itself."""
        def read() -> list[dict[str, Any]]:
            client = self._arm_client()
            found: list[dict[str, Any]] = []
            url = client.format_url(f"{self.workspace_scope}/providers/Microsoft.Authorization/permissions")
            request = HttpRequest("GET", url, params={"api-version": PERMISSIONS_API_VERSION})
            for _ in range(_MAX_PAGES):
                response = client.send_request(request)
                response.raise_for_status()
                body = response.json()
                found += [dict(p) for p in body.get("value") or []]
                if not body.get("nextLink"):
                    break
                request = HttpRequest("GET", str(body["nextLink"]))
            return found

        return self._do("permissions", read)

    def _arm_client(self) -> PipelineClient[Any, Any]:
        """A plain ARM client on MLClient's endpoint, credential and transport (the same retry settings)."""
        base_url = getattr(self.ml, "_base_url", None) or "https://management.azure.com"
        retry = {k: v for k, v in self._client_kwargs.items() if k.startswith("retry_")}
        return PipelineClient(base_url, policies=[
            policies.HeadersPolicy(), policies.UserAgentPolicy("hubfailover"), policies.RetryPolicy(**retry),
            policies.BearerTokenCredentialPolicy(self._credential, "https://management.azure.com/.default")],
            transport=self._client_kwargs.get("transport"))

    @property
    def _datastore_uri_prefix(self) -> str:
        """The long form of ``azureml://`` datastore URIs in this workspace (what azure-ai-ml writes)."""
        return (f"azureml://subscriptions/{self.subscription_id}/resourcegroups/{self.resource_group}"
                f"/workspaces/{self.workspace_name}/")
