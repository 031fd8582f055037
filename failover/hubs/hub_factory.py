"""Pick the HubClient for a configured hub: the simulated stand-in or the real workspace.

Duck-typed on HubRef (failover/domain/config.py) through a small Protocol, so the adapters don't
depend on the config model's module.
"""

from __future__ import annotations

from typing import Any, Protocol

from failover.domain.ports import HubClient
from failover.hubs.arm_pacing import ArmPacingPolicy, arm_pacer


class HubCoordinates(Protocol):
    """Where a workspace is: what the Azure ML adapter needs from a HubRef (failover/domain/config.py)."""

    @property
    def subscription_id(self) -> str: ...

    @property
    def resource_group(self) -> str: ...

    @property
    def workspace_name(self) -> str: ...


class HubTarget(HubCoordinates, Protocol):
    @property
    def name(self) -> str: ...

    @property
    def backend(self) -> str: ...


def hub_client_for(hub: HubTarget, *, connection_string: str | None = None, paced: bool = False,
                   **client_kwargs: Any) -> HubClient:
    """SimulatedHub (state in the DR storage, hub id = hub.name) or AzureMLHub over MLClient.

    ``paced``: every request waits for the subscription's ARM pacer (arm_pacing.py) and feeds
    it the answer. ``client_kwargs`` go to AzureMLHub (``credential=``, ``transport=``,
    ``retry_total=``...).
    """
    pacer = arm_pacer(hub.subscription_id) if paced else None
    if hub.backend == "simulated":
        if not connection_string:
            raise ValueError(f"hub {hub.name!r} is simulated: a storage connection string is required")
        from failover.hubs.simulated_hub import SimulatedHub

        return SimulatedHub(hub.name, connection_string, subscription_id=hub.subscription_id, pacer=pacer)
    if hub.backend != "azureml":
        raise ValueError(f"hub {hub.name!r}: unknown backend {hub.backend!r}")
    from failover.hubs.azureml_hub import AzureMLHub  # imports azure-ai-ml: only when needed

    if pacer is not None:
        # A tuple: azure-mgmt-core appends its own policy to a list it is given, on every client built.
        client_kwargs["per_retry_policies"] = (*client_kwargs.get("per_retry_policies", ()), ArmPacingPolicy(pacer))
    return AzureMLHub(hub.subscription_id, hub.resource_group, hub.workspace_name, hub_id=hub.name,
                      **client_kwargs)
