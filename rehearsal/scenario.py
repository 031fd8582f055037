"""The drill's world: two simulated hubs on Azurite, a config naming them, a synced catalog."""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from typing import Any

from failover.domain import settings as app_settings
from failover.domain.config import FailoverConfig, HubPair, parse_config
from failover.domain.model import RECOVERY_ORDER, Artifact, ArtifactKind
from failover.hubs.hub_factory import hub_client_for
from failover.hubs.hub_specs import references
from failover.hubs.simulated_hub import SimulatedHub
from failover.hubs.simulated_seed import AI_SERVICES_CONNECTION, COMPUTES, SEEDED_DATASTORES, seed_artifacts
from failover.recovery import activation_form, target_form
from failover.services import reset_services, services
from failover.stores.catalog import sync_catalog

# The secondary's own counterparts of the primary's AI Services connection and blob datastore.
SECONDARY_AI_SERVICES = "ai-services-secondary"
REPLICA_DATASTORE = "replicablobstore"


@dataclass(frozen=True)
class DrillOptions:
    jobs: int = 40
    artifacts: int = 60
    seed: int = 7
    mode: str = "hot-warm"
    faults: str = ""
    crash_at: int = 0
    approval: str = "approve"
    dry_run: bool = False
    drill_only: bool = False
    chunk_size: int = 25
    concurrency: int = 8
    require_approval: bool = False
    on_approval_timeout: str = "abort"
    unready_secondary: bool = False  # rehearse a secondary whose mapped computes are missing
    artifact_kinds: tuple[str, ...] = ()  # the pair's policy.artifact_kinds; empty: every kind
    break_kinds: tuple[str, ...] = ()  # writes of these kinds fail permanently on the secondary during the failover
    resume: bool = False  # then lift that fault and complete the failover with `recover`
    pair: str = "drill"
    subscription: str = "00000000-0000-0000-0000-000000000000"  # ARM's buckets and pacers are per subscription
    priority: tuple[str, ...] = ()  # policy.priority: recovered first
    primary: str = "primary-eastus"
    secondary: str = "secondary-westus"


def drill_config(options: DrillOptions) -> dict[str, Any]:
    def hub(name: str, region: str, workspace: str) -> dict[str, Any]:
        return {"name": name, "subscription_id": options.subscription,
                "resource_group": "rg-drill", "workspace_name": workspace, "region": region,
                "backend": "simulated"}

    return {"pairs": [{
        "name": options.pair,
        "primary": hub(options.primary, "eastus", f"mlw-{options.pair}-eus"),
        "secondary": hub(options.secondary, "westus", f"mlw-{options.pair}-wus"),
        "mode": options.mode,
        "compute_map": {c: f"{c}-dr" for c in COMPUTES},
        "connection_map": {AI_SERVICES_CONNECTION: SECONDARY_AI_SERVICES},
        "datastore_map": {SEEDED_DATASTORES[0]: REPLICA_DATASTORE},
        "deployment_map": _deployment_map(options),
        "policy": {"probe_failure_threshold": 3, "approval_timeout_minutes": 30,
                   "on_approval_timeout": options.on_approval_timeout, "chunk_size": options.chunk_size,
                   "max_concurrency": options.concurrency, "priority": list(options.priority),
                   **({"artifact_kinds": list(options.artifact_kinds)} if options.artifact_kinds else {})},
    }]}


def _deployment_map(options: DrillOptions) -> dict[str, Any]:
    """The seeded deployments sized for the secondary's quota: a smaller instance type, one instance
    more (online), one warm instance before the failover; the primary's own size for a failback."""
    sizes: dict[str, Any] = {}
    for artifact in seed_artifacts(options.artifacts, random.Random(options.seed)):  # what the primary's seed holds
        props = artifact.spec.get("properties") or {}
        if artifact.kind is ArtifactKind.ONLINE_DEPLOYMENT:
            count = int(artifact.spec["sku"]["capacity"])
            sizes[artifact.name] = {
                "secondary": {"instance_type": "Standard_DS2_v2", "instance_count": count + 1,
                              "warm_instance_count": 1},
                "primary": {"instance_type": props["instanceType"], "instance_count": count}}
        elif artifact.kind is ArtifactKind.BATCH_DEPLOYMENT:
            sizes[artifact.name] = {"secondary": {"instance_count": 1}}
    return sizes


RECOVERY_RANK = {kind: rank for rank, kind in enumerate(RECOVERY_ORDER)}

def predeploy(secondary: SimulatedHub, artifacts: list[Artifact], pair: HubPair) -> None:
    """Pre-deploy what the pair keeps ready (policy.predeployed_kinds: by default hot-hot everything, serving at
    full scale; hot-warm the environments and the serving chain, deployments at their warm scale, schedules
    there but disabled), in the form recovery itself would write (maps applied, deployment sizes from the
    deployment_map); deployments bring the versions they name."""
    mode = pair.mode
    kinds = set(pair.predeployed_kinds)
    wanted = [a for a in artifacts if a.kind in kinds]
    needed = {ref for a in wanted for ref in references(a)}
    wanted += [a for a in artifacts if (a.kind, a.name, a.version) in needed and a not in wanted]
    form = target_form(pair, pair.primary.name, pair.secondary.name, flipped=mode == "hot-hot")
    for artifact in sorted(wanted, key=lambda a: (RECOVERY_RANK[a.kind], a.name)):
        if artifact.kind is ArtifactKind.CONNECTION and artifact.name in pair.connection_map:
            continue  # the secondary has its own counterpart
        put = secondary.put_connection if artifact.kind is ArtifactKind.CONNECTION else secondary.put_asset
        put(form(artifact))
    state = activation_form(pair, pair.primary.name, pair.secondary.name)
    for artifact in (a for a in artifacts if a.kind in kinds):  # routes once their deployments exist;
        if artifact.kind in (ArtifactKind.ONLINE_ENDPOINT, ArtifactKind.BATCH_ENDPOINT) or (  # hot-hot: full scale
                mode == "hot-hot" and artifact.kind is ArtifactKind.ONLINE_DEPLOYMENT):
            secondary.apply_state(state(artifact))


@dataclass
class Scenario:
    pair: str
    config: FailoverConfig
    primary: SimulatedHub
    secondary: SimulatedHub
    catalog_taken: dict[str, Any]
    secondary_writes_before: int = 0  # what pre-deployment wrote, before the outage
    generation_before: int = 0


def prepare(options: DrillOptions, connection_string: str) -> Scenario:
    """Settings into the environment (the activities read them, as on Azure), hubs seeded, catalog synced."""
    config_json = json.dumps(drill_config(options))
    os.environ[app_settings.FAILOVER_CONFIG] = config_json
    os.environ[app_settings.DR_STORAGE_CONNECTION] = connection_string
    reset_services()
    config = parse_config(config_json, "drill configuration")
    svc = services()
    # The same instances the activities use: a fault set here is seen by them at once.
    primary, secondary = svc.hub(options.primary), svc.hub(options.secondary)
    assert isinstance(primary, SimulatedHub) and isinstance(secondary, SimulatedHub)
    _, artifacts = primary.seed(jobs=options.jobs, artifacts=options.artifacts, seed=options.seed)
    secondary.set_computes([] if options.unready_secondary else [f"{c}-dr" for c in COMPUTES])
    # The secondary's own AI Services connection and the datastore over the replicated storage.
    secondary.set_datastores([*SEEDED_DATASTORES, REPLICA_DATASTORE])
    secondary.put_connection(Artifact(ArtifactKind.CONNECTION, SECONDARY_AI_SERVICES, None, {
        "type": "custom", "target": "https://ai-services-westus.example.azure.com/",
        "metadata": {"owner": "platform"}}))
    predeploy(secondary, artifacts, config.pair(options.pair))
    pointer = svc.pointers.ensure(options.pair, options.primary, options.secondary)
    report = sync_catalog(config, options.pair, lambda ref: hub_client_for(ref, connection_string=connection_string),
                          svc.catalog)
    return Scenario(options.pair, config, primary, secondary, report.to_dict(), secondary.write_count,
                    pointer.generation)
