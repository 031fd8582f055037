"""The drill's world: two simulated hubs on Azurite, a config naming them, a synced catalog."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from failover.domain import settings as app_settings
from failover.domain.config import FailoverConfig, parse_config
from failover.domain.model import Artifact, ArtifactKind
from failover.hubs.hub_factory import hub_client_for
from failover.hubs.simulated_hub import SimulatedHub
from failover.hubs.simulated_seed import COMPUTES
from failover.services import reset_services, services
from failover.stores.catalog import sync_catalog


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
    pair: str = "drill"
    primary: str = "primary-eastus"
    secondary: str = "secondary-westus"


def drill_config(options: DrillOptions) -> dict[str, Any]:
    def hub(name: str, region: str, workspace: str) -> dict[str, Any]:
        return {"name": name, "subscription_id": "00000000-0000-0000-0000-000000000000",
                "resource_group": "rg-drill", "workspace_name": workspace, "region": region,
                "backend": "simulated"}

    return {"pairs": [{
        "name": options.pair,
        "primary": hub(options.primary, "eastus", f"mlw-{options.pair}-eus"),
        "secondary": hub(options.secondary, "westus", f"mlw-{options.pair}-wus"),
        "mode": options.mode,
        "compute_map": {c: f"{c}-dr" for c in COMPUTES},
        "policy": {"probe_failure_threshold": 3, "approval_timeout_minutes": 30,
                   "on_approval_timeout": options.on_approval_timeout, "chunk_size": options.chunk_size,
                   "max_concurrency": options.concurrency},
    }]}


def predeploy(secondary: SimulatedHub, artifacts: list[Artifact], mode: str) -> None:
    """What the mode keeps ready in the secondary: hot-hot everything, hot-warm the environments."""
    for artifact in artifacts:
        if mode == "hot-hot" or (mode == "hot-warm" and artifact.kind is ArtifactKind.ENVIRONMENT):
            put = secondary.put_connection if artifact.kind is ArtifactKind.CONNECTION else secondary.put_asset
            put(artifact)


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
    predeploy(secondary, artifacts, options.mode)
    pointer = svc.pointers.ensure(options.pair, options.primary, options.secondary)
    report = sync_catalog(config, options.pair, lambda ref: hub_client_for(ref, connection_string=connection_string),
                          svc.catalog)
    return Scenario(options.pair, config, primary, secondary, report.to_dict(), secondary.write_count,
                    pointer.generation)
