"""Pick the HubClient for a configured hub: the simulated stand-in or the real workspace.

Duck-typed on HubRef (failover/domain/config.py) through a small Protocol, so the adapters don't
depend on the config model's module.
"""

from __future__ import annotations

from typing import Any, Protocol

from failover.domain.ports import HubClient


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


def hub_client_for(hub: HubTarget, *, connection_string: str | None = None, **client_kwargs: Any) -> HubClient:
    """SimulatedHub (state in the DR storage, hub id = hub.name) or AzureMLHub over MLClient.

    ``client_kwargs`` go to AzureMLHub (``credential=``, ``transport=``, ``retry_total=``...).
    """
    if hub.backend == "simulated":
        if not connection_string:
            raise ValueError(f"hub {hub.name!r} is simulated: a storage connection string is required")
        from failover.hubs.simulated_hub import SimulatedHub

        return SimulatedHub(hub.name, connection_string)
    if hub.backend != "azureml":
        raise ValueError(f"hub {hub.name!r}: unknown backend {hub.backend!r}")
    from failover.hubs.azureml_hub import AzureMLHub  # imports azure-ai-ml: only when needed

    return AzureMLHub(hub.subscription_id, hub.resource_group, hub.workspace_name, hub_id=hub.name,
                      **client_kwargs)
