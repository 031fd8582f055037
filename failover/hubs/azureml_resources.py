"""Endpoints, deployments and schedules of an Azure ML workspace, read and written as their REST JSON.

azure-ai-ml's entity layer does not round-trip these faithfully: it drops schedules whose action it
does not model (``InvokeBatchEndpoint``: ``schedules.list`` prints a line and skips it), and refuses
deployments whose ARM id it cannot parse. The operation groups' generated ARM clients
(``online_endpoints``, ``online_deployments``, ``batch_endpoints``, ``batch_deployments``,
``schedules``: the same pipeline, credential, retry policy and transport as every MLClient call)
keep the service's JSON whole. So the catalog holds the resource as the service does, minus read-only
fields (provisioning state, scoring URIs, identity principals), and recovery writes exactly the create
request the REST API accepts. Endpoint keys are never read: the adapter never calls ``listKeys``.

ARM ids of the workspace's own resources are kept under PORTABLE_SCOPE in the spec, so the same
resource read from either hub has the same spec; writes put this workspace's scope back.

Writes don't wait for provisioning (``polling=False``): a deployment takes minutes. ``apply_state``
answers PENDING while a resource (or a deployment an endpoint routes to) is still provisioning, and the
activation stage asks again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from failover.domain.model import Artifact, ArtifactKind
from failover.domain.ports import ErrorCategory, HubError, Listing, UnreadableItem, WriteOutcome
from failover.domain.serving import DEPLOYMENT_KIND_OF, endpoint_of, rerouted, routed_deployments, with_state_of
from failover.hubs.hub_errors import to_hub_error
from failover.hubs.hub_specs import from_portable_scope, portable_scope

# Kept from a resource: the fields its create request accepts (location is the target workspace's).
_WRITABLE = ("properties", "tags", "kind", "identity", "sku")
_READ_ONLY_PROPERTIES = ("provisioningState", "scoringUri", "swaggerUri", "keys")
_PROVISIONING = frozenset({"Creating", "Updating", "Scaling", "Provisioning"})
_UNUSABLE = frozenset({"Failed", "Canceled", "Deleting"})


@dataclass(frozen=True)
class _Kind:
    operations: str  # attribute of the MLClient operation group holding its generated ARM operations
    group: str  # the MLClient operation group
    parent: ArtifactKind | None = None  # deployments live under an endpoint
    tracked: bool = True  # an ARM tracked resource: its create request carries the location


_KINDS: dict[ArtifactKind, _Kind] = {
    ArtifactKind.ONLINE_ENDPOINT: _Kind("_online_operation", "online_endpoints"),
    ArtifactKind.ONLINE_DEPLOYMENT: _Kind("_online_deployment", "online_deployments", ArtifactKind.ONLINE_ENDPOINT),
    ArtifactKind.BATCH_ENDPOINT: _Kind("_batch_operation", "batch_endpoints"),
    ArtifactKind.BATCH_DEPLOYMENT: _Kind("_batch_deployment", "batch_deployments", ArtifactKind.BATCH_ENDPOINT),
    ArtifactKind.SCHEDULE: _Kind("service_client", "schedules", tracked=False),
}
RESOURCE_KINDS = frozenset(_KINDS)


def spec_of(resource: dict[str, Any], workspace_scope: str) -> dict[str, Any]:
    """The catalog's form of a resource: its writable fields, read-only ones dropped, scope portable."""
    spec = {k: copy.deepcopy(resource[k]) for k in _WRITABLE if resource.get(k) is not None}
    props = spec.get("properties")
    if isinstance(props, dict):
        for name in _READ_ONLY_PROPERTIES:
            props.pop(name, None)
    identity = spec.get("identity")
    if isinstance(identity, dict):
        kept: dict[str, Any] = {"type": identity.get("type")}
        if identity.get("userAssignedIdentities"):  # ids only: principal and client ids are the service's
            kept["userAssignedIdentities"] = {uid: {} for uid in identity["userAssignedIdentities"]}
        spec["identity"] = kept
    result: dict[str, Any] = portable_scope(spec, workspace_scope)
    return result


def _state(resource: dict[str, Any]) -> str:
    return str((resource.get("properties") or {}).get("provisioningState") or "Succeeded")


class AzureMLResources:
    """The five mutable kinds of one workspace, through its MLClient's generated ARM operations."""

    def __init__(self, ml: Any, hub_id: str, workspace_scope: str, location: Callable[[], str]) -> None:
        self._ml = ml
        self._hub_id = hub_id
        self._scope = workspace_scope
        self._location = location
        self._rg, self._ws = str(ml.resource_group_name), str(ml.workspace_name)

    def _ops(self, kind: ArtifactKind) -> Any:
        spec = _KINDS[kind]
        return getattr(getattr(self._ml, spec.group), spec.operations)

    def _do(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            raise to_hub_error(exc, f"{self._hub_id}: {what}") from exc

    @staticmethod
    def _path(kind: ArtifactKind, name: str) -> list[str]:
        return name.split("/", 1) if _KINDS[kind].parent is not None else [name]

    # -- reading ---------------------------------------------------------------------------------
    def _raw_list(self, kind: ArtifactKind, *parents: str) -> list[dict[str, Any]]:
        extra = {"list_view_type": "All"} if kind is ArtifactKind.SCHEDULE else {}  # disabled ones too
        return [item.as_dict() for item in self._ops(kind).list(self._rg, self._ws, *parents, **extra)]

    def _raw_get(self, kind: ArtifactKind, name: str) -> dict[str, Any]:
        resource = self._do(f"get {kind.value} {name}",
                            lambda: self._ops(kind).get(self._rg, self._ws, *self._path(kind, name)))
        result: dict[str, Any] = resource.as_dict()
        return result

    def _artifact(self, kind: ArtifactKind, name: str, resource: dict[str, Any]) -> Artifact:
        return Artifact(kind, name, None, spec_of(resource, self._scope))

    def list(self, kind: ArtifactKind) -> Listing[Artifact]:
        def every() -> list[tuple[str, dict[str, Any]]]:
            parent = _KINDS[kind].parent
            if parent is None:
                return [(str(r.get("name")), r) for r in self._raw_list(kind)]
            endpoints = sorted(str(r.get("name")) for r in self._raw_list(parent))
            return [(f"{endpoint}/{r.get('name')}", r)
                    for endpoint in endpoints for r in self._raw_list(kind, endpoint)]

        artifacts: list[Artifact] = []
        unreadable: list[UnreadableItem] = []
        for name, resource in self._do(f"list_assets({kind.value})", every):
            # The REST JSON is kept whole: only a resource without a name or properties can't be read.
            if "None" in name.split("/") or not isinstance(resource.get("properties"), dict):
                unreadable.append(UnreadableItem(kind.value, name, None, "no name or no properties object"))
                continue
            artifacts.append(self._artifact(kind, name, resource))
        return Listing(sorted(artifacts, key=lambda a: a.name), sorted(unreadable, key=lambda u: u.name))

    def get(self, kind: ArtifactKind, name: str) -> Artifact:
        return self._artifact(kind, name, self._raw_get(kind, name))

    def _get_or_none(self, kind: ArtifactKind, name: str) -> dict[str, Any] | None:
        try:
            return self._raw_get(kind, name)
        except HubError as err:
            if err.category is ErrorCategory.NOT_FOUND:
                return None
            raise

    # -- writing ---------------------------------------------------------------------------------
    def _write(self, artifact: Artifact) -> None:
        body: dict[str, Any] = from_portable_scope(copy.deepcopy(artifact.spec), self._scope)
        if _KINDS[artifact.kind].tracked:
            body["location"] = self._location()
        ops = self._ops(artifact.kind)
        # Not waited for: provisioning takes minutes; activation asks again (PENDING) until it is done.
        ops.begin_create_or_update(self._rg, self._ws, *self._path(artifact.kind, artifact.name), body,
                                   polling=False).result()

    def put(self, artifact: Artifact) -> WriteOutcome:
        """Create unless a resource of that name exists: same definition -> ALREADY_PRESENT, else CONFLICT
        (recovery never overwrites what the target already holds)."""

        def compare(existing: dict[str, Any]) -> WriteOutcome:
            if self._artifact(artifact.kind, artifact.name, existing).definition_hash == artifact.definition_hash:
                return WriteOutcome.ALREADY_PRESENT
            raise HubError(ErrorCategory.CONFLICT, f"{self._hub_id}: {artifact.key} exists with another definition")

        existing = self._get_or_none(artifact.kind, artifact.name)
        if existing is not None:
            return compare(existing)
        try:
            self._write(artifact)
        except Exception as exc:
            error = to_hub_error(exc, f"{self._hub_id}: put {artifact.key}")
            # A 409, or a lost response to a PUT that did land: the resource may be ours already.
            if error.category in (ErrorCategory.CONFLICT, ErrorCategory.TRANSIENT):
                landed = self._get_or_none(artifact.kind, artifact.name)
                if landed is not None:
                    return compare(landed)
            raise error from exc
        return WriteOutcome.CREATED

    def apply_state(self, artifact: Artifact) -> WriteOutcome:
        resource = self._raw_get(artifact.kind, artifact.name)
        if (state := _state(resource)) in _PROVISIONING:
            return WriteOutcome.PENDING
        if state in _UNUSABLE:
            raise HubError(ErrorCategory.PERMANENT, f"{self._hub_id}: {artifact.key} is {state}")
        current = self._artifact(artifact.kind, artifact.name, resource)
        wanted = with_state_of(current, artifact)
        if wanted.content_hash == current.content_hash:
            return WriteOutcome.ALREADY_PRESENT
        if artifact.kind in DEPLOYMENT_KIND_OF:
            wanted, pending = self._routable(wanted)
            if pending:
                return WriteOutcome.PENDING
            if wanted.content_hash == current.content_hash:
                return WriteOutcome.ALREADY_PRESENT
        routed = wanted
        self._do(f"apply_state {artifact.key}", lambda: self._write(routed))
        return WriteOutcome.UPDATED

    def _routable(self, endpoint: Artifact) -> tuple[Artifact, bool]:
        """The endpoint routing only to deployments that exist and did not fail (the service refuses the
        others; their share goes to the rest), and whether one of those is still provisioning (the service
        refuses traffic to it: ask again). No route left: refused here, naming the deployments."""
        routed = routed_deployments(endpoint)
        if not routed:
            return endpoint, False
        kind = DEPLOYMENT_KIND_OF[endpoint.kind]
        states = {str(r["name"]): _state(r) for r in self._do(
            f"list deployments of {endpoint.key}", lambda: self._raw_list(kind, endpoint_of(endpoint.name)))}
        usable = {d for d, state in states.items() if state not in _UNUSABLE}
        reachable = rerouted(endpoint, usable)
        if reachable is None:
            missing = sorted(routed - usable)
            raise HubError(ErrorCategory.PERMANENT, f"{self._hub_id}: {endpoint.key} would route to deployments "
                                                    f"that are missing or failed: {missing}")
        return reachable, any(states[d] in _PROVISIONING for d in routed_deployments(reachable))
