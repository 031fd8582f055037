"""Continuous readiness: the failover's checks, drift, catalog age, the standby's probes and the identity's
permissions, run by the readiness timer (through `hubfailover serve`) and stored in the pair state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from failover.domain.model import Artifact, ArtifactKind
from failover.hubs.simulated_hub import SimulatedHub
from failover.readiness import assess
from failover.recovery import recoverable
from failover.services import services
from hubfailover.cli import main
from rehearsal.scenario import prepare
from replayhost.azurite import AzuriteEndpoints
from tests.azureml_emulator import role_permissions
from tests.durable_world import world_options
from tests.serve_world import KEY, Served, served
from tests.waiting import wait_until


def readiness_of(s: Served) -> dict[str, Any]:
    code, view, _ = s.call("GET", f"/api/pairs/{s.pair}")
    assert code == 200, view
    readiness: dict[str, Any] = view["readiness"]
    return readiness


def test_serve_runs_the_readiness_timer_and_a_missing_mapped_compute_makes_the_pair_not_ready(
        azurite: AzuriteEndpoints, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("READINESS_SCHEDULE", "* * * * * *")  # every second, instead of every 15 minutes
    with served(azurite, timers=True) as s:
        assert "readiness" in {t.timer.name for t in s.server.timers}
        first = wait_until(lambda: readiness_of(s)["checked_at"] and readiness_of(s), 60, "a readiness check")
        assert first["ready"] is True, first["reasons"]
        assert first["reasons"] == [] and first["standby"] == s.options.secondary
        drift = first["drift"]
        snapshot = services().catalog.read(s.options.primary)
        assert snapshot is not None
        # hot-warm: environments and the serving chain are pre-deployed (with what deployments name); a failover
        # would recreate the rest now
        pair = s.scenario.config.pair(s.pair)
        assert drift["to_recreate"]["environment"] == 0 and drift["not_predeployed"] == {}
        for kind in pair.policy.artifact_kinds:
            there = {(a.name, a.version) for a in s.scenario.secondary.list_assets(kind)}
            cataloged = recoverable(pair, s.options.primary, kind, snapshot.artifact_list(kind))
            assert drift["to_recreate"][kind.value] == len([a for a in cataloged if (a.name, a.version) not in there])
        assert drift["to_recreate"]["data"] == len(snapshot.artifact_list(ArtifactKind.DATA)) > 0  # none pre-deployed
        assert drift["jobs_to_resubmit"] > 0 and drift["conflicts"] == {}
        assert first["catalog"]["hub"] == s.options.primary and first["catalog"]["rpo_minutes"] == 30

        mapped = sorted(s.scenario.config.pair(s.pair).compute_map.values())
        gone = mapped[0]
        s.scenario.secondary.set_computes(mapped[1:])  # someone deleted a mapped cluster on the secondary

        def not_ready() -> dict[str, Any] | None:
            now = readiness_of(s)
            return now if now["checked_at"] > first["checked_at"] and not now["ready"] else None

        later = wait_until(not_ready, 60, "the next check to find the pair not ready")
        assert any(gone in reason and "compute missing" in reason for reason in later["reasons"]), later["reasons"]
        assert not any(m in reason for m in mapped[1:] for reason in later["reasons"])
        # so does `hubfailover status PAIR`
        monkeypatch.setenv("HUBFAILOVER_URL", s.url)
        monkeypatch.setenv("HUBFAILOVER_API_KEY", KEY)
        monkeypatch.setenv("COLUMNS", "250")
        capsys.readouterr()
        assert main(["status", s.pair]) == 0
        out = capsys.readouterr().out
        assert "NOT READY" in out and gone in out and "would recreate" in out


def _world(azurite: AzuriteEndpoints, **overrides: Any) -> tuple[Any, SimulatedHub]:
    options = world_options(**overrides)
    scenario = prepare(options, azurite.connection_string)
    return scenario, scenario.secondary


def test_every_reason_a_standby_is_not_ready(azurite: AzuriteEndpoints) -> None:
    scenario, secondary = _world(azurite)
    svc = services()
    pair = scenario.config.pair(scenario.pair)
    now = datetime.now(UTC)
    ready = assess(svc, pair, now)
    assert ready["ready"] is True and ready["checked"]["permissions"] == "allowed", ready["reasons"]

    # the identity may read the standby but not write there (a Reader): named, action by action
    secondary.set_permissions(role_permissions("reader.json"))
    denied = assess(svc, pair, now)
    assert not denied["ready"] and denied["checked"]["permissions"] == "denied"
    [reason] = denied["reasons"]
    assert "Microsoft.MachineLearningServices/workspaces/jobs/write" in reason
    secondary.set_permissions(None)

    # the catalog is older than the pair's RPO
    snapshot = svc.catalog.read(scenario.primary.hub_id)
    assert snapshot is not None
    stale = assess(svc, pair, snapshot.taken_at + timedelta(minutes=pair.policy.rpo_minutes, seconds=1))
    assert [r for r in stale["reasons"] if "over the RPO of 30 min" in r]

    # an artifact on the standby with other content than the catalog's: the failover would fail it
    absent = [a for kind in (ArtifactKind.DATA, ArtifactKind.MODEL) for a in snapshot.artifact_list(kind)
              if (a.name, a.version) not in {(b.name, b.version) for b in secondary.list_assets(kind)}]
    model = absent[0]  # not on the standby (data is never pre-deployed)
    secondary.put_asset(Artifact(model.kind, model.name, model.version, {**model.spec, "description": "edited"}))
    conflict = assess(svc, pair, now)
    assert any(f"1 {model.kind.value}(s) exist on" in r and model.key in r for r in conflict["reasons"]), conflict
    assert conflict["drift"]["conflicts"] == {model.kind.value: 1}

    # the standby failed its last probes
    svc.pair_state.record_probe(pair.name, {secondary.hub_id: (False, "control plane: transient: 503")}, now)
    probed = assess(svc, pair, now)
    assert any(f"standby {secondary.hub_id} failed its last 1 probe(s)" in r for r in probed["reasons"])
    svc.pair_state.record_probe(pair.name, {secondary.hub_id: (True, "ok")}, now)

    # the standby does not answer: one reason, no exception, no drift
    secondary.set_faults("down=1")
    try:
        down = assess(svc, pair, now)
    finally:
        secondary.clear_faults()
    assert not down["ready"] and down["drift"] is None
    assert any("unreachable" in r for r in down["reasons"]), down["reasons"]


def test_pre_deployed_kinds_missing_on_the_standby(azurite: AzuriteEndpoints) -> None:
    scenario, secondary = _world(azurite)  # hot-warm: environments and the serving chain pre-deployed
    pair = scenario.config.pair(scenario.pair)
    assert ArtifactKind.ENVIRONMENT in pair.predeployed_kinds and ArtifactKind.CODE not in pair.predeployed_kinds
    assert assess(services(), pair, datetime.now(UTC))["drift"]["not_predeployed"] == {}  # as the drill deployed
    computes, datastores = secondary.list_computes(), secondary.list_datastores()
    secondary.clear()  # the standby lost what was deployed on it ahead of time
    secondary.set_computes(computes)
    secondary.set_datastores(datastores)
    result = assess(services(), pair, datetime.now(UTC))
    snapshot = services().catalog.read(scenario.primary.hub_id)
    assert snapshot is not None
    expected = {k.value: len(snapshot.artifact_list(k)) for k in pair.predeployed_kinds if snapshot.artifact_list(k)}
    assert expected["environment"] > 0 and result["drift"]["not_predeployed"] == expected
    assert any(f"{expected['environment']} environment(s) should be pre-deployed" in r for r in result["reasons"])


def test_hot_hot_needs_everything_on_the_standby_and_only_reads_it(azurite: AzuriteEndpoints) -> None:
    scenario, secondary = _world(azurite, mode="hot-hot")
    pair = scenario.config.pair(scenario.pair)
    secondary.set_permissions(role_permissions("reader.json"))  # a hot-hot failover writes nothing there
    result = assess(services(), pair, datetime.now(UTC))
    assert result["ready"] is True, result["reasons"]
    assert result["drift"]["jobs_to_resubmit"] == 0 and set(result["drift"]["to_recreate"].values()) == {0}
    # after a flip the old primary is the standby, and the new active hub has no catalog yet: a flip-only
    # failover needs none, so that is no reason
    svc = services()
    pointer = svc.pointers.read(pair.name)
    svc.pointers.flip(pair.name, expected_active=pointer.active, expected_generation=pointer.generation,
                      to=pair.secondary.name, by="test", reason="roles swap")
    swapped = assess(svc, pair, datetime.now(UTC))
    assert swapped["standby"] == pair.primary.name and swapped["catalog"]["taken_at"] is None
    assert swapped["ready"] is True, swapped["reasons"]


def test_after_a_flip_the_old_primary_is_checked_and_a_missing_catalog_is_a_reason(
        azurite: AzuriteEndpoints) -> None:
    scenario, _ = _world(azurite)
    svc = services()
    pair = scenario.config.pair(scenario.pair)
    pointer = svc.pointers.read(pair.name)
    svc.pointers.flip(pair.name, expected_active=pointer.active, expected_generation=pointer.generation,
                      to=pair.secondary.name, by="test", reason="roles swap")
    result = assess(svc, pair, datetime.now(UTC))
    assert result["standby"] == pair.primary.name and result["active"] == pair.secondary.name
    assert any(f"no catalog of {pair.secondary.name}" in r for r in result["reasons"]), result["reasons"]
