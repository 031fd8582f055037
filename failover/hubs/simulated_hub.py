"""SimulatedHub: a stateful stand-in for an Azure ML workspace, kept in Azure Table storage.

Used by drills and tests. State lives in one table shared by every simulated hub
(PartitionKey = hub id), so several processes (a drill CLI, an orchestrator run, a test) see
and change the same hub. It implements the HubClient port with Azure ML's semantics:
jobs are created "Queued" and looked up by name before creation; asset versions are
immutable (same content -> ALREADY_PRESENT without a write, different content -> CONFLICT);
connections never hold secret values (specs with credential-like fields are rejected).

Endpoints, deployments and schedules are mutable: ``apply_state`` changes their state in place
(traffic, default deployment, instance count, enabled), the way the service does; their definition
is compared by ``Artifact.definition_hash``. A deployment needs its endpoint; traffic and a default
deployment must name deployments of the endpoint; everything is provisioned at once (never PENDING).

Row layout (RowKey): ``faults`` (FaultConfig),
``job|<name>``, ``asset|<kind>|<name>|<version>``, ``compute|<name>`` and ``datastore|<name>`` (one
per compute target / datastore), ``write|<uuid>`` (one per state change).
Names are percent-encoded in RowKeys. Rows created through the port carry ``port_write=true``
(seeding doesn't): since rows are created once and never overwritten (a state change adds its own
``write|`` row), counting them counts the writes the hub received, with no shared counter row to
contend on.
With faults ``arm=1`` the hub puts ARM's token bucket in front of every call (simulated_arm.py)
and answers from an in-memory copy of its partition, written back when ARM mode ends
(simulated_mirror.py). Every answer is logged (``requests``) for the benchmark and the tests.
Specs are JSON split over ``spec_0..spec_n`` string properties: a Table string property
holds at most 32K characters, an entity at most 1 MiB, so one entity holds ~900 KB of spec
and a write stays a single atomic entity operation (no blob to keep in step).
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableEntity, TableServiceClient, TableTransactionError, UpdateMode

from failover.domain.model import (
    MUTABLE_KINDS,
    NON_TERMINAL_JOB_STATUSES,
    TERMINAL_JOB_STATUSES,
    VERSIONED_KINDS,
    Artifact,
    ArtifactKind,
    JobRecord,
)
from failover.domain.ports import (
    JOB_ITEM,
    ErrorCategory,
    HubError,
    Listing,
    SubmitResult,
    UnreadableItem,
    WriteOutcome,
)
from failover.domain.serving import (
    DEPLOYMENT_KIND_OF,
    ENDPOINT_KIND_OF,
    endpoint_of,
    rerouted,
    routed_deployments,
    with_state_of,
)
from failover.hubs.arm_pacing import ArmPacer
from failover.hubs.hub_errors import to_hub_error
from failover.hubs.hub_specs import ensure_no_placeholders, ensure_no_secrets, retarget_arm_ids
from failover.hubs.simulated_arm import ArmRequest, RequestLog, arm_bucket, operation_class
from failover.hubs.simulated_fault import FaultConfig, FaultInjector
from failover.hubs.simulated_mirror import HubMirror
from failover.hubs.simulated_seed import SEEDED_DATASTORES, SIMULATED_SCOPE, seed_artifacts, seed_jobs

DEFAULT_TABLE = "simulatedhubs"
_CHUNK = 30_000  # characters per string property (limit 32K UTF-16 code units)
_MAX_CHUNKS = 28  # keeps an entity under the 1 MiB limit with room for the other fields
_FAULTS = "faults"
_PERMISSIONS = "permissions"
# What the identity may do on a simulated hub unless set otherwise: everything in the workspace.
FULL_ACCESS: list[dict[str, Any]] = [{"actions": ["Microsoft.MachineLearningServices/workspaces/*"], "notActions": [],
                                      "dataActions": [], "notDataActions": []}]
# A fault change reaches other instances (other processes) within this time; this instance
# sees its own set_faults at once. Without the cache every call would cost a storage read.
FAULT_CONFIG_TTL_S = 1.0
_POOL_SIZE = 64  # activities x per-chunk threads share one client: keep their connections
_BATCH = 100  # entity group transaction limit
_EPOCH = datetime.fromtimestamp(0, UTC)
SIMULATED_SUBSCRIPTION = "00000000-0000-0000-0000-00000000s1m0"
_STATUS = {ErrorCategory.THROTTLED: 429, ErrorCategory.TRANSIENT: 503, ErrorCategory.NOT_FOUND: 404,
           ErrorCategory.CONFLICT: 409, ErrorCategory.PERMANENT: 400}


def _enc(part: str) -> str:
    return quote(part, safe="")


def _job_key(name: str) -> str:
    return f"job|{_enc(name)}"


def _compute_key(name: str) -> str:
    return f"compute|{_enc(name)}"


def _datastore_key(name: str) -> str:
    return f"datastore|{_enc(name)}"


def _asset_key(kind: ArtifactKind, name: str, version: str | None) -> str:
    return f"asset|{kind.value}|{_enc(name)}|{_enc(version or '')}"


def _spec_props(spec: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    chunks = [text[i:i + _CHUNK] for i in range(0, len(text), _CHUNK)] or [""]
    if len(chunks) > _MAX_CHUNKS:
        raise HubError(ErrorCategory.PERMANENT, f"spec of {len(text)} characters exceeds the simulated hub's limit")
    props: dict[str, Any] = {f"spec_{i}": chunk for i, chunk in enumerate(chunks)}
    props["spec_chunks"] = len(chunks)
    return props


class _Unreadable(ValueError):
    """A row whose stored spec can't be decoded: this hub's kind of body its adapter can't parse."""


def _spec_from(entity: dict[str, Any]) -> dict[str, Any]:
    try:
        text = "".join(entity[f"spec_{i}"] for i in range(int(entity["spec_chunks"])))
        spec = json.loads(text)
    except (KeyError, ValueError) as exc:
        raise _Unreadable(f"stored spec can't be decoded: {type(exc).__name__}: {exc}") from None
    if not isinstance(spec, dict):
        raise _Unreadable(f"stored spec is a {type(spec).__name__}, not an object")
    return spec


class SimulatedHub:
    """HubClient over Azure Table storage (Azurite locally), with fault injection.

    ``subscription_id`` picks the ARM bucket the hub draws from when its faults model ARM;
    ``pacer`` is the client side: when given, every modelled request waits for it and reports
    its answer to it, as ArmPacingPolicy does for the Azure ML adapter.
    """

    def __init__(self, hub_id: str, connection: str | TableServiceClient, *, table_name: str = DEFAULT_TABLE,
                 subscription_id: str = SIMULATED_SUBSCRIPTION, pacer: ArmPacer | None = None) -> None:
        self._hub_id = hub_id
        self.subscription_id = subscription_id
        self.pacer = pacer
        self.requests = RequestLog()  # every request this instance answered (the ARM view)
        service = (TableServiceClient.from_connection_string(connection, transport=_pooled_transport())
                   if isinstance(connection, str) else connection)
        self._table: TableClient = service.get_table_client(table_name)
        with contextlib.suppress(ResourceExistsError):  # a concurrent creator won the race: fine
            service.create_table_if_not_exists(table_name)
        self.faults = FaultInjector(hub_id)
        self._fault_cache: tuple[float, FaultConfig] | None = None
        self._fault_lock = threading.Lock()
        self._mirror: HubMirror | None = None  # ARM mode only (simulated_mirror.py)
        self._mirror_lock = threading.Lock()
        self.workspace_scope = SIMULATED_SCOPE.format(sub=SIMULATED_SUBSCRIPTION, ws=hub_id)

    @property
    def hub_id(self) -> str:
        return self._hub_id

    # -- fault control (admin: never subject to faults) -------------------------------------
    def fault_config(self) -> FaultConfig:
        try:
            entity = self._table.get_entity(self._hub_id, _FAULTS)
        except ResourceNotFoundError:
            return FaultConfig()
        return FaultConfig.from_dict(json.loads(entity["config"]))

    def set_faults(self, config: FaultConfig | str) -> FaultConfig:
        """Persist the fault config: every process using this hub id sees it on its next call."""
        parsed = FaultConfig.parse(config) if isinstance(config, str) else config
        self._table.upsert_entity({"PartitionKey": self._hub_id, "RowKey": _FAULTS,
                                   "config": json.dumps(parsed.to_dict())}, mode=UpdateMode.REPLACE)
        with self._fault_lock:
            self._fault_cache = (time.monotonic(), parsed)
        self._follow_arm_mode(parsed)  # entering ARM mode loads the copy now, not in the first request
        return parsed

    def clear_faults(self) -> None:
        self.set_faults(FaultConfig())

    @property
    def injected_faults(self) -> dict[str, int]:
        """Faults this instance injected, by kind (down, throttled, flaky, latency)."""
        return dict(self.faults.injected)

    def _current_faults(self) -> FaultConfig:
        with self._fault_lock:
            cached = self._fault_cache
        if cached is not None and time.monotonic() - cached[0] < FAULT_CONFIG_TTL_S:
            return cached[1]
        config = self.fault_config()
        with self._fault_lock:
            self._fault_cache = (time.monotonic(), config)
        self._follow_arm_mode(config)
        return config

    def _follow_arm_mode(self, config: FaultConfig) -> None:
        """ARM mode answers from memory (simulated_mirror.py); leaving it writes everything back."""
        with self._mirror_lock:
            if config.arm and self._mirror is None:
                self._mirror = HubMirror(self._table, self._hub_id)
            elif not config.arm and self._mirror is not None:
                self._mirror.flush()
                self._mirror = None

    def _settle(self) -> None:
        """Before an admin helper reads or changes the table: ARM mode's writes there, its copy dropped."""
        with self._mirror_lock:
            if self._mirror is not None:
                self._mirror.flush()
                self._mirror = None
        with self._fault_lock:
            self._fault_cache = None  # the next call reloads the config, and the copy if ARM mode is on

    def _before(self, call: _Call) -> float:
        """ARM's bucket, then injected faults; return the modelled service time of the call (seconds)."""
        try:
            config = self._current_faults()
        except Exception as exc:  # the state store itself failing is a hub failure too
            raise to_hub_error(exc, f"{self._hub_id}: {call.operation}") from exc
        limits = config.arm_limits
        if limits is not None:
            answer = arm_bucket(self.subscription_id, limits).take(call.kind)
            call.remaining = answer.remaining
            if not answer.allowed:
                time.sleep(config.latency_ms / 1000.0)  # ARM's 429 is a round trip too
                raise HubError(ErrorCategory.THROTTLED, f"{self._hub_id}: {call.operation}: 429 too many requests "
                               f"(ARM {call.kind} bucket empty)", retry_after=answer.retry_after)
        return self.faults.apply(config, call.operation)

    # -- write log ---------------------------------------------------------------------------
    @property
    def write_count(self) -> int:
        """Writes this hub received through the port (seeding and admin changes not counted)."""
        self._settle()
        rows = self._table.query_entities("PartitionKey eq @pk and port_write eq true",
                                          parameters={"pk": self._hub_id}, select=["RowKey"])
        return sum(1 for _ in rows)

    def _create_once(self, entity: dict[str, Any]) -> bool:
        """Create ``entity`` (one round trip); False when a row of that key already exists."""
        mirror = self._mirror
        if mirror is not None:
            return mirror.create({**entity, "port_write": True})
        try:
            self._table.create_entity({**entity, "port_write": True})
        except ResourceExistsError:
            return False
        return True

    # -- storage helpers -----------------------------------------------------------------------
    def _rows(self, prefix: str, select: list[str] | None = None) -> Iterator[TableEntity]:
        mirror = self._mirror
        if mirror is not None:
            yield from mirror.scan(prefix)
            return
        # RowKey range scan: "|" (0x7C) is followed by "}" (0x7D).
        upper = prefix[:-1] + "}"
        yield from self._table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": self._hub_id, "lo": prefix, "hi": upper}, select=select,
        )

    def _entity(self, row_key: str) -> TableEntity | None:
        """A row with its metadata (ETag), for a conditional update."""
        mirror = self._mirror
        if mirror is not None:
            return mirror.entity(row_key)
        try:
            return self._table.get_entity(self._hub_id, row_key)
        except ResourceNotFoundError:
            return None

    def _update_unchanged(self, entity: dict[str, Any], mode: UpdateMode, etag: str | None) -> None:
        """Update a row unless it changed since ``etag`` was read (ResourceModifiedError)."""
        mirror = self._mirror
        if mirror is not None:
            mirror.update(entity, mode=mode, etag=etag)
            return
        self._table.update_entity(entity, mode=mode, etag=etag, match_condition=MatchConditions.IfNotModified)

    def _get_row(self, row_key: str) -> dict[str, Any] | None:
        mirror = self._mirror
        if mirror is not None:
            return mirror.get(row_key)
        try:
            return dict(self._table.get_entity(self._hub_id, row_key))
        except ResourceNotFoundError:
            return None

    def _call(self, operation: str, item: str | None = None) -> _Call:
        return _Call(self, operation, item)

    # -- HubClient: ping and jobs -----------------------------------------------------------
    def ping(self) -> None:
        # Reading the fault config (in _before) is already a round trip to the hub's state
        # store; nothing else to ask a simulated control plane.
        with self._call("ping"):
            pass

    def list_jobs(self, statuses: Iterable[str] | None = None) -> Listing[JobRecord]:
        wanted = set(statuses) if statuses is not None else None
        with self._call("list_jobs"):
            rows = [e for e in self._rows("job|") if wanted is None or e["status"] in wanted]
        jobs, unreadable = [], []
        for row in rows:
            try:
                jobs.append(self._job_from(row))
            except _Unreadable as exc:
                unreadable.append(UnreadableItem(JOB_ITEM, str(row["name"]), None, str(exc)))
        return Listing(sorted(jobs, key=lambda j: j.name), sorted(unreadable, key=lambda u: u.name))

    def get_job(self, name: str) -> JobRecord:
        with self._call("get_job"):
            row = self._get_row(_job_key(name))
        if row is None:
            raise HubError(ErrorCategory.NOT_FOUND, f"{self._hub_id}: job {name!r} not found")
        try:
            return self._job_from(row)
        except _Unreadable as exc:
            raise HubError(ErrorCategory.PERMANENT, f"{self._hub_id}: job {name!r} can't be read: {exc}") from None

    def submit_job(self, source: JobRecord, *, new_name: str, compute: str | None,
                   tags: dict[str, str]) -> SubmitResult:
        ensure_no_placeholders(f"{self._hub_id}: job {new_name}", source.spec, source.tags)
        with self._call("submit_job", new_name):
            job = self._resubmission(source, new_name, compute, tags)
            # Create-if-absent in one round trip: the name is the idempotency key.
            if not self._create_once(self._job_entity(job)):
                return SubmitResult(new_name, WriteOutcome.ALREADY_PRESENT)
        return SubmitResult(new_name, WriteOutcome.CREATED)

    def _resubmission(self, source: JobRecord, new_name: str, compute: str | None,
                      tags: dict[str, str]) -> JobRecord:
        """The same mutation the Azure ML adapter applies: new name, compute, no output paths."""
        # ARM ids captured on the source (the code asset) must name this workspace instead.
        spec = retarget_arm_ids(json.loads(json.dumps(source.spec)), self.workspace_scope)
        props = spec.setdefault("properties", {})
        spec["name"] = new_name
        target_compute = compute or source.compute
        props["computeId"] = target_compute
        props["services"] = None
        for output in (props.get("outputs") or {}).values():
            if isinstance(output, dict):
                output.pop("uri", None)
        merged_tags = {**source.tags, **tags}
        props["tags"] = dict(merged_tags)
        return JobRecord(new_name, "Queued", source.experiment_name, target_compute, spec, merged_tags)

    def _job_entity(self, job: JobRecord) -> dict[str, Any]:
        return {"PartitionKey": self._hub_id, "RowKey": _job_key(job.name), "name": job.name, "status": job.status,
                "experiment_name": job.experiment_name, "compute": job.compute or "",
                "tags": json.dumps(job.tags, sort_keys=True), **_spec_props(job.spec)}

    @staticmethod
    def _job_from(entity: dict[str, Any]) -> JobRecord:
        return JobRecord(entity["name"], entity["status"], entity["experiment_name"], entity.get("compute") or None,
                         _spec_from(entity), json.loads(entity.get("tags") or "{}"))

    # -- HubClient: computes ---------------------------------------------------------------------
    def list_computes(self) -> list[str]:
        with self._call("list_computes"):
            rows = list(self._rows("compute|"))
        return sorted(str(r["name"]) for r in rows)

    def _compute_entity(self, name: str) -> dict[str, Any]:
        return {"PartitionKey": self._hub_id, "RowKey": _compute_key(name), "name": name}

    def _datastore_entity(self, name: str) -> dict[str, Any]:
        return {"PartitionKey": self._hub_id, "RowKey": _datastore_key(name), "name": name}

    # -- HubClient: assets and connections ---------------------------------------------------
    def list_assets(self, kind: ArtifactKind) -> Listing[Artifact]:
        with self._call(f"list_assets({kind.value})"):
            rows = list(self._rows(f"asset|{kind.value}|"))
        artifacts, unreadable = [], []
        for row in rows:
            try:
                artifacts.append(self._artifact_from(row))
            except _Unreadable as exc:
                unreadable.append(UnreadableItem(kind.value, str(row["name"]), row.get("version") or None, str(exc)))
        return Listing(sorted(artifacts, key=lambda a: (a.name, a.version or "")), unreadable)

    def get_asset(self, kind: ArtifactKind, name: str, version: str | None) -> Artifact:
        with self._call(f"get_asset({kind.value})"):
            if version is None and kind in VERSIONED_KINDS:
                # Like Azure ML's label "latest": the most recently created version.
                rows = list(self._rows(f"asset|{kind.value}|{_enc(name)}|"))
                newest = max(rows, key=lambda r: r.metadata.get("timestamp") or _EPOCH) if rows else None
                row: dict[str, Any] | None = dict(newest) if newest is not None else None
            else:
                row = self._get_row(_asset_key(kind, name, version))
        if row is None:
            raise HubError(ErrorCategory.NOT_FOUND, f"{self._hub_id}: {kind.value} {name}:{version} not found")
        try:
            return self._artifact_from(row)
        except _Unreadable as exc:
            raise HubError(ErrorCategory.PERMANENT,
                           f"{self._hub_id}: {kind.value}:{name}:{version or ''} can't be read: {exc}") from None

    def put_asset(self, artifact: Artifact) -> WriteOutcome:
        ensure_no_placeholders(f"{self._hub_id}: {artifact.key}", artifact.spec)
        if artifact.kind is ArtifactKind.CONNECTION:
            ensure_no_secrets(artifact)
        with self._call(f"put_asset({artifact.kind.value})", artifact.key):
            return self._put(artifact)

    def _put(self, artifact: Artifact) -> WriteOutcome:
        key = _asset_key(artifact.kind, artifact.name, artifact.version)
        self._check_references(artifact)
        # Create first (one round trip when absent); on a clash, compare with what is there.
        if self._create_once(self._artifact_entity(artifact, self._provisioning_looks(artifact))):
            return WriteOutcome.CREATED
        existing = self._get_row(key)
        # Mutable kinds (endpoints, deployments, schedules) compare definitions: state and size may differ.
        if existing is not None and self._artifact_from(existing).definition_hash == artifact.definition_hash:
            return WriteOutcome.ALREADY_PRESENT
        raise HubError(ErrorCategory.CONFLICT, f"{self._hub_id}: {artifact.key} exists with different content")

    def _check_references(self, artifact: Artifact) -> None:
        """What the service refuses: a deployment without its endpoint, routes to absent deployments."""
        if artifact.kind in ENDPOINT_KIND_OF:
            endpoint = endpoint_of(artifact.name)
            if self._get_row(_asset_key(ENDPOINT_KIND_OF[artifact.kind], endpoint, None)) is None:
                raise HubError(ErrorCategory.NOT_FOUND, f"{self._hub_id}: {artifact.key}: endpoint {endpoint!r} "
                                                        "not found")
        missing = [d for d in sorted(routed_deployments(artifact)) if self._deployment(artifact, d) is None]
        if missing:
            raise HubError(ErrorCategory.PERMANENT, f"{self._hub_id}: {artifact.key}: routes to deployments "
                                                    f"that do not exist: {missing}")

    def _deployment(self, endpoint: Artifact, name: str) -> TableEntity | None:
        return self._entity(_asset_key(DEPLOYMENT_KIND_OF[endpoint.kind], f"{endpoint.name}/{name}", None))

    def _provisioning(self, entity: TableEntity) -> bool:
        """Whether a resource is still provisioning; each look counts one (``provisioning_looks``)."""
        left = int(entity.get("provisioning_left") or 0)
        if left <= 0:
            return False
        with contextlib.suppress(ResourceModifiedError):  # a concurrent look counted it: fine either way
            self._update_unchanged({"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"],
                                    "provisioning_left": left - 1}, UpdateMode.MERGE, entity.metadata["etag"])
        return True

    def _routes_provisioning(self, endpoint: Artifact) -> bool:
        deployments = [self._deployment(endpoint, d) for d in sorted(routed_deployments(endpoint))]
        return any(d is not None and self._provisioning(d) for d in deployments)  # missing: refused later

    def apply_state(self, artifact: Artifact) -> WriteOutcome:
        with self._call(f"apply_state({artifact.kind.value})", artifact.key):
            return self._apply_state(artifact)

    def _apply_state(self, artifact: Artifact) -> WriteOutcome:
        key = _asset_key(artifact.kind, artifact.name, artifact.version)
        for _ in range(5):  # a concurrent state change between our read and write: read again
            entity = self._entity(key)
            if entity is None:
                raise HubError(ErrorCategory.NOT_FOUND, f"{self._hub_id}: {artifact.key} not found")
            if self._provisioning(entity):
                return WriteOutcome.PENDING
            current = self._artifact_from(dict(entity))
            wanted = with_state_of(current, artifact)
            if wanted.content_hash == current.content_hash:
                return WriteOutcome.ALREADY_PRESENT
            if artifact.kind in DEPLOYMENT_KIND_OF:  # routes to what is there (the service refuses the others)
                present = {d for d in routed_deployments(wanted) if self._deployment(wanted, d) is not None}
                wanted = rerouted(wanted, present) or wanted  # none there: refused below, naming them
                if wanted.content_hash == current.content_hash:
                    return WriteOutcome.ALREADY_PRESENT
            if self._routes_provisioning(wanted):
                return WriteOutcome.PENDING  # the service refuses traffic to a deployment not yet ready
            self._check_references(wanted)
            try:
                replacement = self._artifact_entity(wanted, self._provisioning_looks(wanted))
                if entity.get("port_write"):
                    replacement["port_write"] = True  # the row still counts as the write that created it
                self._update_unchanged(replacement, UpdateMode.REPLACE, entity.metadata["etag"])
            except ResourceModifiedError:
                continue
            # The state change is a write: its own row, so write_count stays a count of created rows.
            self._create_once({"PartitionKey": self._hub_id, "RowKey": f"write|{uuid.uuid4().hex}",
                               "what": f"apply_state {artifact.key}"})
            return WriteOutcome.UPDATED
        raise HubError(ErrorCategory.TRANSIENT, f"{self._hub_id}: {artifact.key} kept changing under apply_state")

    def list_connections(self) -> Listing[Artifact]:
        return self.list_assets(ArtifactKind.CONNECTION)

    def list_datastores(self) -> list[str]:
        with self._call("list_datastores"):
            rows = list(self._rows("datastore|"))
        return sorted(str(r["name"]) for r in rows)

    def put_connection(self, connection: Artifact) -> WriteOutcome:
        if connection.kind is not ArtifactKind.CONNECTION:
            raise HubError(ErrorCategory.PERMANENT, f"put_connection got a {connection.kind.value}")
        return self.put_asset(connection)

    def _artifact_entity(self, artifact: Artifact, provisioning: int = 0) -> dict[str, Any]:
        return {"PartitionKey": self._hub_id, "RowKey": _asset_key(artifact.kind, artifact.name, artifact.version),
                "kind": artifact.kind.value, "name": artifact.name, "version": artifact.version or "",
                "content_hash": artifact.content_hash, "provisioning_left": provisioning,
                **_spec_props(artifact.spec)}

    def _provisioning_looks(self, artifact: Artifact) -> int:
        return self._current_faults().provisioning_looks if artifact.kind in MUTABLE_KINDS else 0

    @staticmethod
    def _artifact_from(entity: dict[str, Any]) -> Artifact:
        return Artifact(ArtifactKind(entity["kind"]), entity["name"], entity.get("version") or None,
                        _spec_from(entity))

    # -- HubClient: access --------------------------------------------------------------------------
    def permissions(self) -> list[dict[str, Any]]:
        with self._call("permissions"):
            row = self._get_row(_PERMISSIONS)
        return json.loads(row["value"]) if row is not None else [dict(p) for p in FULL_ACCESS]

    # -- admin helpers for drills and tests (not part of the port, never faulted) ---------------
    def set_permissions(self, permissions: list[dict[str, Any]] | None) -> None:
        """What the identity may do here (the Permissions API's ``value``); None: full access again."""
        if permissions is None:
            with contextlib.suppress(ResourceNotFoundError):
                self._table.delete_entity(self._hub_id, _PERMISSIONS)
            return
        self._table.upsert_entity({"PartitionKey": self._hub_id, "RowKey": _PERMISSIONS,
                                   "value": json.dumps(permissions)}, mode=UpdateMode.REPLACE)

    def seed(self, *, jobs: int = 0, artifacts: int = 0, seed: int = 0) -> tuple[list[JobRecord], list[Artifact]]:
        """Write a deterministic inventory (same arguments, same content). Not counted as writes."""
        self._settle()
        rng = random.Random(seed)
        seeded_artifacts = seed_artifacts(artifacts, rng)
        seeded_jobs = seed_jobs(jobs, rng, seeded_artifacts, self.workspace_scope)
        computes = sorted({j.compute for j in seeded_jobs if j.compute})  # the jobs' clusters exist too
        entities = ([self._artifact_entity(a) for a in seeded_artifacts] + [self._job_entity(j) for j in seeded_jobs]
                    + [self._compute_entity(c) for c in computes]
                    + [self._datastore_entity(d) for d in SEEDED_DATASTORES])
        for start in range(0, len(entities), _BATCH):
            operations = [("upsert", e, {"mode": UpdateMode.REPLACE}) for e in entities[start:start + _BATCH]]
            try:
                self._table.submit_transaction(operations)
            except TableTransactionError as exc:
                raise to_hub_error(exc, f"{self._hub_id}: seed") from exc
        return seeded_jobs, seeded_artifacts

    def plant_unreadable(self, kind: str, name: str, version: str | None = None, *, status: str = "Running") -> None:
        """Store an item whose spec can't be decoded (admin): the simulated counterpart of a body
        azure-ai-ml can't parse. ``kind`` is ``"job"`` or an ArtifactKind value."""
        self._settle()
        corrupt = {"spec_0": "{not json", "spec_chunks": 1}
        if kind == JOB_ITEM:
            entity = {"RowKey": _job_key(name), "name": name, "status": status, "experiment_name": "", "compute": "",
                      "tags": "{}", **corrupt}
        else:
            artifact_kind = ArtifactKind(kind)
            entity = {"RowKey": _asset_key(artifact_kind, name, version), "kind": artifact_kind.value, "name": name,
                      "version": version or "", "content_hash": "", **corrupt}
        self._table.upsert_entity({"PartitionKey": self._hub_id, **entity}, mode=UpdateMode.REPLACE)

    def set_computes(self, names: Iterable[str]) -> None:
        """Replace the hub's compute targets with ``names`` (admin: not faulted, not counted as writes)."""
        self._replace_named("compute", names)

    def set_datastores(self, names: Iterable[str]) -> None:
        """Replace the hub's datastores with ``names`` (admin: not faulted, not counted as writes)."""
        self._replace_named("datastore", names)

    def _replace_named(self, what: str, names: Iterable[str]) -> None:
        wanted = sorted(set(names))
        if any(not n for n in wanted):
            raise ValueError(f"{what} names must be non-empty")
        self._settle()
        entity = self._compute_entity if what == "compute" else self._datastore_entity
        keep = {entity(n)["RowKey"] for n in wanted}
        stale = [str(e["RowKey"]) for e in self._rows(f"{what}|") if e["RowKey"] not in keep]
        operations: list[Any] = [("delete", {"PartitionKey": self._hub_id, "RowKey": k}) for k in stale]
        operations += [("upsert", entity(n), {"mode": UpdateMode.REPLACE}) for n in wanted]
        for start in range(0, len(operations), _BATCH):
            try:
                self._table.submit_transaction(operations[start:start + _BATCH])
            except TableTransactionError as exc:
                raise to_hub_error(exc, f"{self._hub_id}: set {what}s") from exc

    def set_job_status(self, name: str, status: str) -> None:
        if status not in NON_TERMINAL_JOB_STATUSES | TERMINAL_JOB_STATUSES:
            raise ValueError(f"unknown Azure ML job status {status!r}")
        self._settle()
        try:
            self._table.update_entity({"PartitionKey": self._hub_id, "RowKey": _job_key(name), "status": status},
                                      mode=UpdateMode.MERGE)
        except ResourceNotFoundError:
            raise HubError(ErrorCategory.NOT_FOUND, f"{self._hub_id}: job {name!r} not found") from None

    def finish_provisioning(self) -> int:
        """Every endpoint, deployment and schedule still provisioning is done now (admin: what the service
        does in its own time). Returns how many were."""
        rows = [e for e in self._rows("asset|", select=["RowKey", "provisioning_left"])
                if int(e.get("provisioning_left") or 0) > 0]
        for row in rows:
            self._table.update_entity({"PartitionKey": self._hub_id, "RowKey": row["RowKey"], "provisioning_left": 0},
                                      mode=UpdateMode.MERGE)
        return len(rows)

    def counts(self) -> dict[str, int]:
        """Number of jobs and of artifacts per kind (admin view: no faults applied)."""
        result = {"jobs": 0, **{kind.value: 0 for kind in ArtifactKind}}
        self._settle()
        for entity in self._table.query_entities("PartitionKey eq @pk", parameters={"pk": self._hub_id},
                                                 select=["RowKey", "kind"]):
            if entity["RowKey"].startswith("job|"):
                result["jobs"] += 1
            elif entity["RowKey"].startswith("asset|"):
                result[entity["kind"]] += 1
        return result

    def clear(self) -> None:
        """Delete the whole hub partition (inventory, computes, counters, fault config)."""
        self._settle()
        keys = [e["RowKey"] for e in self._table.query_entities("PartitionKey eq @pk",
                                                                  parameters={"pk": self._hub_id},
                                                                  select=["RowKey"])]
        for start in range(0, len(keys), _BATCH):
            self._table.submit_transaction(
                [("delete", {"PartitionKey": self._hub_id, "RowKey": k}) for k in keys[start:start + _BATCH]])


def _pooled_transport() -> RequestsTransport:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=_POOL_SIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(session=session, session_owner=True)


class _Call:
    """One modelled request: the pacer (client side), ARM's bucket and faults, the answer logged."""

    def __init__(self, hub: SimulatedHub, operation: str, item: str | None) -> None:
        self._hub = hub
        self.operation = operation
        self.kind = operation_class(operation)
        self.item = item
        self.remaining: int | None = None  # what ARM's x-ms-ratelimit-remaining-* header would say
        self._ticket = 0
        self._done_at = 0.0

    def __enter__(self) -> None:
        if self._hub.pacer is not None:
            self._ticket = self._hub.pacer.acquire(self.kind)
        started = time.monotonic()
        try:
            self._done_at = started + self._hub._before(self)
        except HubError as exc:
            self._answered(exc)
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        remaining = self._done_at - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)  # pad to the modelled service time (the storage round trip counts)
        error = exc if exc is None or isinstance(exc, HubError) else to_hub_error(exc, f"{self._hub.hub_id}: "
                                                                                      f"{self.operation}")
        self._answered(error)
        if error is None or error is exc:
            return
        raise error from exc

    def _answered(self, error: HubError | None) -> None:
        status = 200 if error is None else _STATUS[error.category]
        self._hub.requests.record(ArmRequest(time.monotonic(), self.operation, self.kind, status, self.item))
        if self._hub.pacer is not None:
            self._hub.pacer.observe(self.kind, self._ticket, remaining=self.remaining, throttled=status == 429,
                                    retry_after=error.retry_after if error is not None else None)
