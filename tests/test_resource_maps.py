"""The connection, datastore and compute maps on specs (pure), and the activation stage's rules on two hubs."""

from __future__ import annotations

import random
import uuid

import pytest

from failover.domain.model import Artifact, ArtifactKind
from failover.domain.resource_maps import ResourceMaps
from failover.domain.serving import creation_form, with_schedule_enabled
from failover.hubs.simulated_hub import SimulatedHub
from failover.hubs.simulated_seed import seed_artifacts
from failover.recovery import activate, fence_standby_schedules
from replayhost.azurite import AzuriteEndpoints

SCOPE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
MAPS = ResourceMaps(compute={"cpu-cluster": "cpu-dr"}, connection={"aoai-eus": "aoai-wus"},
                    datastore={"workspaceblobstore": "replica"})


@pytest.mark.parametrize(("before", "after"), [
    ("azureml://datastores/workspaceblobstore/paths/raw/", "azureml://datastores/replica/paths/raw/"),
    ("azureml://subscriptions/s/resourcegroups/rg/workspaces/ws/datastores/workspaceblobstore/paths/x",
     "azureml://subscriptions/s/resourcegroups/rg/workspaces/ws/datastores/replica/paths/x"),
    (f"{SCOPE}/datastores/workspaceblobstore", f"{SCOPE}/datastores/replica"),
    ("${{azureml://connections/aoai-eus/credentials/key}}", "${{azureml://connections/aoai-wus/credentials/key}}"),
    (f"{SCOPE}/connections/aoai-eus", f"{SCOPE}/connections/aoai-wus"),
    (f"{SCOPE}/computes/cpu-cluster", f"{SCOPE}/computes/cpu-dr"),
    ("azureml://datastores/workspaceblobstore2/paths/x", "azureml://datastores/workspaceblobstore2/paths/x"),
    ("https://workspaceblobstore.blob.core.windows.net/aoai-eus", "https://workspaceblobstore.blob.core.windows.net/aoai-eus"),
])
def test_names_in_strings(before: str, after: str) -> None:
    assert MAPS.apply({"value": before}) == {"value": after}


def test_names_in_fields_and_nothing_else() -> None:
    spec = {"datastore": "workspaceblobstore", "connectionName": "azureml:aoai-eus", "computeId": "cpu-cluster",
            "compute": "azureml:cpu-cluster", "description": "aoai-eus on cpu-cluster",
            "inputs": [{"connection": "other"}]}
    assert MAPS.apply(spec) == {"datastore": "replica", "connectionName": "azureml:aoai-wus", "computeId": "cpu-dr",
                                "compute": "azureml:cpu-dr", "description": "aoai-eus on cpu-cluster",
                                "inputs": [{"connection": "other"}]}
    assert spec["datastore"] == "workspaceblobstore"  # a new object: the catalog's spec is left alone


def test_inverted_for_failback_where_unambiguous() -> None:
    shared = ResourceMaps(connection={"aoai-gpt": "aoai-wus", "aoai-embed": "aoai-wus", "search": "search-wus"})
    assert shared.inverted().connection == {"search-wus": "search"}  # aoai-wus has two sources: left as it is
    assert MAPS.inverted().apply({"datastore": "replica"}) == {"datastore": "workspaceblobstore"}
    assert not ResourceMaps() and ResourceMaps().apply({"a": "b"}) == {"a": "b"}


# -- activation on two simulated hubs -------------------------------------------------------------------------

@pytest.fixture
def pair(azurite: AzuriteEndpoints) -> tuple[SimulatedHub, SimulatedHub]:
    tag = uuid.uuid4().hex[:8]
    return SimulatedHub(f"src-{tag}", azurite.connection_string), SimulatedHub(f"dst-{tag}", azurite.connection_string)


def _schedules() -> list[Artifact]:
    schedules = [a for a in seed_artifacts(80, random.Random(5)) if a.kind is ArtifactKind.SCHEDULE]
    assert {s.spec["properties"]["isEnabled"] for s in schedules} == {True, False}
    return schedules


def _on_both(source: SimulatedHub, target: SimulatedHub) -> list[Artifact]:
    """The catalog's schedules: as they are on the source, and recreated (disabled) on the target."""
    schedules = _schedules()
    for schedule in schedules:
        source.put_asset(schedule)
        target.put_asset(with_schedule_enabled(schedule, False))
    return schedules


def test_schedules_move_to_the_target_and_stop_on_the_source(pair: tuple[SimulatedHub, SimulatedHub]) -> None:
    source, target = pair
    schedules = _schedules()
    for schedule in schedules:
        source.put_asset(schedule)
        target.put_asset(with_schedule_enabled(schedule, False))  # recreated disabled
    enabled = [s.name for s in schedules if s.spec["properties"]["isEnabled"]]
    result = activate(target, source, schedules, desired=lambda a: a, flipped=True, dry_run=False, concurrency=4)
    assert (result["activated"], result["already_active"], result["source_disabled"]) == (
        len(enabled), len(schedules) - len(enabled), len(enabled))
    assert sorted(s.name for s in target.list_assets(ArtifactKind.SCHEDULE) if s.spec["properties"]["isEnabled"]) \
        == sorted(enabled)
    assert not [s for s in source.list_assets(ArtifactKind.SCHEDULE) if s.spec["properties"]["isEnabled"]]


def test_a_source_that_does_not_answer_is_left_to_the_fence(pair: tuple[SimulatedHub, SimulatedHub]) -> None:
    source, target = pair
    schedules = _on_both(source, target)
    enabled = [s for s in schedules if s.spec["properties"]["isEnabled"]]
    result = activate(target, None, schedules, desired=lambda a: a, flipped=True, dry_run=False, concurrency=4)
    assert (result["activated"], result["source_pending"], result["failed"]) == (len(enabled), len(enabled), 0)
    before = source.write_count
    fenced = fence_standby_schedules(source, target.list_assets(ArtifactKind.SCHEDULE))
    assert (fenced["disabled"], fenced["already_disabled"]) == (len(enabled), 0)
    assert source.write_count == before + len(enabled)
    again = fence_standby_schedules(source, target.list_assets(ArtifactKind.SCHEDULE))
    assert (again["disabled"], again["already_disabled"]) == (0, len(enabled))


def test_a_dry_run_counts_and_writes_nothing(pair: tuple[SimulatedHub, SimulatedHub]) -> None:
    source, target = pair
    schedules = _on_both(source, target)
    writes = (source.write_count, target.write_count)
    result = activate(target, source, [*schedules, Artifact(ArtifactKind.SCHEDULE, "gone", None, {})],
                      desired=lambda a: a, flipped=True, dry_run=True, concurrency=1)
    enabled = len([s for s in schedules if s.spec["properties"]["isEnabled"]])
    assert (result["activated"], result["source_disabled"], result["failed"]) == (enabled, enabled, 1)
    assert (source.write_count, target.write_count) == writes


def test_nothing_moves_while_the_pointer_stays(pair: tuple[SimulatedHub, SimulatedHub]) -> None:
    source, target = pair
    schedules = _schedules()
    result = activate(target, source, schedules, desired=lambda a: a, flipped=False, dry_run=False, concurrency=2)
    assert result["deferred"] == len(schedules) and result["source_disabled"] == 0
    assert source.write_count == target.write_count == 0


def test_a_schedule_the_target_lacks_keeps_running_on_the_source(pair: tuple[SimulatedHub, SimulatedHub]) -> None:
    """Its recreation failed (an unresolved secret in its job definition, a conflict) or, hot-hot, it was never
    pre-deployed: stopping it on the source would leave it running nowhere."""
    source, target = pair
    schedules = _on_both(source, target)
    missing = next(s for s in schedules if s.spec["properties"]["isEnabled"])
    target.clear()
    for schedule in schedules:
        if schedule.name != missing.name:
            target.put_asset(with_schedule_enabled(schedule, False))
    result = activate(target, source, schedules, desired=lambda a: a, flipped=True, dry_run=False, concurrency=4)
    enabled = [s for s in schedules if s.spec["properties"]["isEnabled"]]
    assert (result["failed"], result["activated"], result["source_disabled"]) == (1, len(enabled) - 1,
                                                                                  len(enabled) - 1)
    assert source.get_asset(ArtifactKind.SCHEDULE, missing.name, None).spec["properties"]["isEnabled"]
    (error,) = result["errors"]
    assert error["item"] == missing.key and f"still enabled on {source.hub_id}" in error["error"]


def test_a_schedule_the_target_refuses_to_enable_is_started_on_the_source_again(
        pair: tuple[SimulatedHub, SimulatedHub]) -> None:
    source, target = pair
    schedules = _on_both(source, target)
    enabled = [s for s in schedules if s.spec["properties"]["isEnabled"]]
    target.set_faults("flaky=1,only=apply_state")  # every switch on the target fails, after its retries
    result = activate(target, source, enabled, desired=lambda a: a, flipped=True, dry_run=False, concurrency=2)
    assert (result["failed"], result["activated"], result["source_disabled"]) == (len(enabled), 0, 0)
    assert all(source.get_asset(ArtifactKind.SCHEDULE, s.name, None).spec["properties"]["isEnabled"] for s in enabled)
    assert all(f"enabled on {source.hub_id} again" in e["error"] for e in result["errors"])


def test_an_endpoint_whose_deployment_failed_serves_from_the_others_and_says_so(
        pair: tuple[SimulatedHub, SimulatedHub]) -> None:
    _, target = pair
    chain = seed_artifacts(14, random.Random(42))
    endpoint = next(a for a in chain if a.kind is ArtifactKind.ONLINE_ENDPOINT)
    blue = next(a for a in chain if a.kind is ArtifactKind.ONLINE_DEPLOYMENT and a.name.startswith(endpoint.name))
    for artifact in chain:
        if artifact.kind in (ArtifactKind.ENVIRONMENT, ArtifactKind.CODE, ArtifactKind.MODEL, ArtifactKind.DATA):
            target.put_asset(artifact)
    target.put_asset(creation_form(endpoint, None, warm=False))
    target.put_asset(blue)  # green's recreation failed
    cataloged = Artifact(endpoint.kind, endpoint.name, None, {**endpoint.spec, "properties": {
        **endpoint.spec["properties"], "traffic": {"blue": 90, "green": 10}}})
    result = activate(target, None, [cataloged], desired=lambda a: a, flipped=True, dry_run=False, concurrency=1)
    assert (result["activated"], result["failed"]) == (1, 0)
    assert target.get_asset(endpoint.kind, endpoint.name, None).spec["properties"]["traffic"] == {"blue": 100}
    (error,) = result["errors"]
    assert error["item"] == cataloged.key and "['green'] are missing or failed" in error["error"]
    assert "{'blue': 100} instead of {'blue': 90, 'green': 10}" in error["error"]
