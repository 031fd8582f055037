"""Endpoints, deployments and schedules: the forms recovery writes for them on the target.

The catalog holds each one as it is on the source hub (its REST JSON). Recovery writes it twice:

- the **creation form** in the recreate stage: an endpoint with no traffic and no default deployment
  (its deployments don't exist yet); a deployment sized for the target (``deployment_map``: instance
  type, and instance count, or ``warm_instance_count`` while the pointer does not name the target);
  a schedule disabled;
- the **state form** in the activation stage: the cataloged traffic split and default deployment, the
  deployment's full instance count, the schedule's cataloged enabled flag. Scale and schedules only
  once the pointer names the target (a drill keeps them warm and disabled).

Both keep the definition as cataloged (STATE_FIELDS and SIZING_FIELDS are all they change), so the
target's resource is compared with the catalog by ``Artifact.definition_hash``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from failover.domain.model import STATE_FIELDS, Artifact, ArtifactKind

if TYPE_CHECKING:
    from failover.domain.config import DeploymentSize, HubPair

_DEPLOYMENTS = (ArtifactKind.ONLINE_DEPLOYMENT, ArtifactKind.BATCH_DEPLOYMENT)


def size_for(pair: HubPair, target: str, artifact: Artifact) -> DeploymentSize | None:
    """The configured size of a deployment in the target hub (None: keep the cataloged size)."""
    if artifact.kind not in _DEPLOYMENTS:
        return None
    sizing = pair.deployment_map.get(artifact.name)
    if sizing is None:
        return None
    return sizing.primary if target == pair.primary.name else sizing.secondary


def _with(artifact: Artifact, change: Any) -> Artifact:
    spec = copy.deepcopy(artifact.spec)
    change(spec)
    return Artifact(artifact.kind, artifact.name, artifact.version, spec)


def full_instance_count(artifact: Artifact, size: DeploymentSize | None) -> int:
    """Instances of an online deployment once its hub is active: configured, else as cataloged."""
    if size is not None and size.instance_count is not None:
        return size.instance_count
    return int((artifact.spec.get("sku") or {}).get("capacity") or 1)


def sized(artifact: Artifact, size: DeploymentSize | None, *, warm: bool) -> Artifact:
    """A deployment with the target's instance type and count (online: the warm count when ``warm``)."""
    if artifact.kind is ArtifactKind.ONLINE_DEPLOYMENT:
        full = full_instance_count(artifact, size)
        count = min(size.warm_instance_count if size is not None else 1, full) if warm else full

        def online(spec: dict[str, Any]) -> None:
            if size is not None and size.instance_type:
                spec.setdefault("properties", {})["instanceType"] = size.instance_type
            spec["sku"] = {**(spec.get("sku") or {"name": "Default"}), "capacity": count}

        return _with(artifact, online)
    if artifact.kind is ArtifactKind.BATCH_DEPLOYMENT and size is not None:
        def batch(spec: dict[str, Any]) -> None:
            resources = spec.setdefault("properties", {}).setdefault("resources", {})
            if size.instance_type:
                resources["instanceType"] = size.instance_type
            if size.instance_count is not None:
                resources["instanceCount"] = size.instance_count

        return _with(artifact, batch)
    return artifact


def creation_form(artifact: Artifact, size: DeploymentSize | None, *, warm: bool) -> Artifact:
    """What the recreate stage writes: routes empty, schedules disabled, deployments sized."""
    if artifact.kind is ArtifactKind.ONLINE_ENDPOINT:
        def no_traffic(spec: dict[str, Any]) -> None:
            props = spec.setdefault("properties", {})
            props["traffic"] = {}
            if "mirrorTraffic" in props:
                props["mirrorTraffic"] = {}

        return _with(artifact, no_traffic)
    if artifact.kind is ArtifactKind.BATCH_ENDPOINT:
        return _with(artifact, lambda spec: spec.setdefault("properties", {}).pop("defaults", None))
    if artifact.kind is ArtifactKind.SCHEDULE:
        return _with(artifact, lambda spec: spec.setdefault("properties", {}).__setitem__("isEnabled", False))
    return sized(artifact, size, warm=warm)


def state_form(artifact: Artifact, size: DeploymentSize | None) -> Artifact:
    """What the activation stage asks for: the cataloged routes and enabled flag, the full scale."""
    return sized(artifact, size, warm=False)


def schedule_enabled(artifact: Artifact) -> bool:
    return bool((artifact.spec.get("properties") or {}).get("isEnabled"))


def with_schedule_enabled(artifact: Artifact, enabled: bool) -> Artifact:
    return _with(artifact, lambda spec: spec.setdefault("properties", {}).__setitem__("isEnabled", enabled))


def with_state_of(current: Artifact, desired: Artifact) -> Artifact:
    """``current`` with ``desired``'s STATE_FIELDS (a state field absent from ``desired`` is removed)."""

    def apply(spec: dict[str, Any]) -> None:
        for path in STATE_FIELDS.get(current.kind, ()):
            source: Any = desired.spec
            for part in path:
                source = source.get(part) if isinstance(source, dict) else None
            node = spec
            for part in path[:-1]:
                node = node.setdefault(part, {})
            if source is None:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = copy.deepcopy(source)

    return _with(current, apply)


def endpoint_of(deployment_name: str) -> str:
    """``"{endpoint}/{deployment}"`` -> the endpoint's name."""
    return deployment_name.split("/", 1)[0]


def routed_deployments(endpoint: Artifact) -> set[str]:
    """The deployments an endpoint sends requests to: online traffic and mirror traffic with a non-zero
    share, or a batch endpoint's default deployment. The service refuses routes to anything else."""
    props = endpoint.spec.get("properties") or {}
    if endpoint.kind is ArtifactKind.ONLINE_ENDPOINT:
        shares = {**(props.get("traffic") or {}), **(props.get("mirrorTraffic") or {})}
        return {name for name, share in shares.items() if share}
    if endpoint.kind is ArtifactKind.BATCH_ENDPOINT:
        default = (props.get("defaults") or {}).get("deploymentName")
        return {default} if default else set()
    return set()


def rerouted(endpoint: Artifact, usable: set[str]) -> Artifact | None:
    """``endpoint`` routing only to the ``usable`` deployments (those on the hub that did not fail), or None
    when no production route is left.

    A deployment that could not be recreated in the target (no quota for its instance type there, a secret
    not mapped) must not take the whole endpoint down with it: its share of the traffic goes to the
    others, in proportion to theirs (largest remainder, so the shares still add up to 100); mirrored
    traffic to it is dropped. A batch endpoint whose default deployment is unusable has no route left.
    """
    if routed_deployments(endpoint) <= usable:
        return endpoint
    props = endpoint.spec.get("properties") or {}
    if endpoint.kind is not ArtifactKind.ONLINE_ENDPOINT:
        return None
    traffic = {name: int(share) for name, share in (props.get("traffic") or {}).items() if name in usable}
    total = sum(traffic.values())
    if total <= 0:
        return None
    exact = {name: share * 100 / total for name, share in traffic.items()}
    shares = {name: int(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: (shares[n] - exact[n], n))[:100 - sum(shares.values())]:
        shares[name] += 1

    def route(spec: dict[str, Any]) -> None:
        routes = spec.setdefault("properties", {})
        routes["traffic"] = shares
        if "mirrorTraffic" in routes:
            routes["mirrorTraffic"] = {n: v for n, v in (routes["mirrorTraffic"] or {}).items() if n in usable}

    return _with(endpoint, route)


def routes_of(endpoint: Artifact) -> dict[str, Any]:
    """What an endpoint routes (traffic, mirror traffic, default deployment): to compare two of them."""
    props = endpoint.spec.get("properties") or {}
    return {key: props.get(key) or {} for key in ("traffic", "mirrorTraffic", "defaults")}


DEPLOYMENT_KIND_OF = {ArtifactKind.ONLINE_ENDPOINT: ArtifactKind.ONLINE_DEPLOYMENT,
                      ArtifactKind.BATCH_ENDPOINT: ArtifactKind.BATCH_DEPLOYMENT}
ENDPOINT_KIND_OF = {deployment: endpoint for endpoint, deployment in DEPLOYMENT_KIND_OF.items()}
