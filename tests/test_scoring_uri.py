"""The resolver gives the active hub's scoring URI per endpoint: through the real SDK, over emulated workspaces."""

from __future__ import annotations

from typing import Any

import pytest
from azure.data.tables import TableClient

from failover.domain.config import FailoverConfig
from failover.domain.model import Artifact, ArtifactKind
from failover.domain.ports import WriteOutcome
from failover.domain.serving import creation_form
from failover.hubs.azureml_hub import AzureMLHub
from failover.stores.pointer import ActiveHubResolver, PointerStore, scoring_uri_for_active_hub
from replayhost.azurite import AzuriteEndpoints
from tests.azureml_emulator import RESOURCE_GROUP, SUBSCRIPTION, AzureMLEmulator, FixedTokenCredential, example_request
from tests.local_transport import LocalTransport


class Workspaces(LocalTransport):
    """Both hubs' workspaces behind one transport, each answering for its own ARM scope."""

    def __init__(self, *emulators: AzureMLEmulator) -> None:
        self.emulators = emulators

    def send(self, request: Any, **kwargs: Any) -> Any:
        owner = next((e for e in self.emulators if e.scope.lower() in request.url.lower()), self.emulators[0])
        return owner.send(request, **kwargs)


def _hub(name: str, workspace: str, region: str) -> dict[str, Any]:
    return {"name": name, "subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP,
            "workspace_name": workspace, "region": region}


CONFIG = FailoverConfig.model_validate({"pairs": [{
    "name": "ml", "mode": "hot-warm", "primary": _hub("east", "ws-east", "eastus"),
    "secondary": _hub("west", "ws-west", "westus")}]})


def _workspace(workspace: str, region: str) -> AzureMLEmulator:
    """A workspace with an online and a batch endpoint (the published create requests), created by the adapter."""
    emulator = AzureMLEmulator(workspace, location=region)
    hub = AzureMLHub(SUBSCRIPTION, RESOURCE_GROUP, workspace, credential=FixedTokenCredential(), transport=emulator,
                     retry_total=0)
    for kind, name, source in (
            (ArtifactKind.ONLINE_ENDPOINT, "churn", "2024-01-01-preview/Workspace/OnlineEndpoint/createOrUpdate.json"),
            (ArtifactKind.BATCH_ENDPOINT, "churn-batch", "2024-04-01/Workspace/BatchEndpoint/createOrUpdate.json")):
        endpoint = Artifact(kind, name, None, example_request(source))
        assert hub.put_asset(creation_form(endpoint, None, warm=False)) is WriteOutcome.CREATED
    return emulator


def test_scoring_uri_follows_the_pointer(azurite: AzuriteEndpoints, unique_name: str) -> None:
    east, west = _workspace("ws-east", "eastus"), _workspace("ws-west", "westus")
    store = PointerStore(TableClient.from_connection_string(azurite.connection_string, unique_name))
    now = [0.0]
    resolver = ActiveHubResolver(CONFIG, store, ttl=10.0, clock=lambda: now[0])
    options = {"credential": FixedTokenCredential(), "resolver": resolver, "transport": Workspaces(east, west),
               "retry_total": 0}
    assert scoring_uri_for_active_hub("ml", "churn", **options) == "https://churn.eastus.inference.ml.azure.com/score"
    assert scoring_uri_for_active_hub("ml", "churn-batch", batch=True, **options) == \
        "https://churn-batch.eastus.batchendpoint.ml.azure.com/score"
    gets = len(east.calls)
    scoring_uri_for_active_hub("ml", "churn", **options)
    assert len(east.calls) == gets  # cached with the active hub
    store.ensure("ml", "east", "west")
    store.flip("ml", expected_active="east", expected_generation=0, to="west", by="t", reason="drill")
    now[0] += 10.5
    assert scoring_uri_for_active_hub("ml", "churn", **options) == "https://churn.westus.inference.ml.azure.com/score"
    assert not [c for c in east.calls + west.calls if c.method == "POST"]  # never listKeys


def test_a_simulated_hub_has_no_scoring_uri(azurite: AzuriteEndpoints, unique_name: str) -> None:
    config = FailoverConfig.model_validate({"pairs": [{
        "name": "ml", "mode": "hot-warm", "primary": {**_hub("east", "ws-east", "eastus"), "backend": "simulated"},
        "secondary": {**_hub("west", "ws-west", "westus"), "backend": "simulated"}}]})
    store = PointerStore(TableClient.from_connection_string(azurite.connection_string, unique_name))
    with pytest.raises(ValueError, match="simulated"):
        ActiveHubResolver(config, store).scoring_uri("ml", "churn")
