"""N starters at once (alerts, the probe, an operator) get exactly one "started": the run claim.

Microsoft's singleton guidance: two callers that both check "not running" and then start can both
be told "started" while one instance runs (the Azure Storage backend writes the instance row after
the start message). ``RacyStart`` plays that part of the runtime, which the replay host's own
start refuses atomically; a barrier after every starter's runtime check makes the race certain
rather than likely. With the claim (triggers/starting.py) exactly one caller is answered 202 and
audited "started"; with it switched off, several are: the test of the claim can fail.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import azure.functions as func
import pytest
from azure.core.pipeline.transport import HttpRequest, RequestsTransport
from azure.data.tables import TableServiceClient
from azure.durable_functions import DurableOrchestrationClient

import triggers.starting
from failover.domain.requests import FailoverRequest, Trigger
from failover.services import services
from replayhost.azurite import AzuriteEndpoints
from replayhost.management_api import ManagementApi, Reply, Request
from tests.durable_world import World, durable_world, entry_point, run
from tests.local_transport import LocalTransport
from tests.test_detection import alert_body
from tests.waiting import patience, wait_until

ALERTS = 4
STARTERS = ALERTS + 2  # + the probe + an operator
RACE_WINDOW_S = 5.0


class RacyStart(ManagementApi):
    """A start of an instance created moments ago is accepted too (202): its message is dropped later."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.created: dict[str, float] = {}
        self.accepted = 0
        self._lock = threading.Lock()

    def _start(self, req: Request, name: str, instance_id: str | None) -> Reply:
        reply = super()._start(req, name, instance_id)
        with self._lock:
            if reply.status == 202 and instance_id:
                self.created.setdefault(instance_id, time.monotonic())
                self.accepted += 1
            elif reply.status == 409 and instance_id and time.monotonic() - self.created.get(
                    instance_id, -RACE_WINDOW_S) < RACE_WINDOW_S:
                self.accepted += 1
                return self._check_status(req, instance_id)
        return reply


def race(world: World, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool, str]]:
    """Every starter checks the runtime, waits for the others, then goes on; (who, started, why) each.

    The starters run on one event loop, as concurrent invocations do in one Functions worker
    (they interleave at every await); across workers the claim is a conditional write, which
    ``test_the_claim_is_one_conditional_write`` races from threads.
    """
    checked = triggers.starting._runtime
    pair = world.scenario.pair

    async def everyone() -> list[tuple[str, bool, str]]:
        barrier = asyncio.Barrier(STARTERS)

        async def check_then_wait(client: Any, instance_id: str) -> Any:
            found = await checked(client, instance_id)
            await asyncio.wait_for(barrier.wait(), timeout=patience(60))
            return found

        monkeypatch.setattr(triggers.starting, "_runtime", check_then_wait)

        async def alert(i: int) -> tuple[str, bool, str]:
            request = func.HttpRequest("POST", "http://localhost/api/alerts", headers={},
                                       body=json.dumps(alert_body(world, alert_id=f"race-{i}")).encode())
            response = await entry_point("alerts")(req=request, client=world.binding)
            body = json.loads(response.get_body())
            return f"alert-{i}", response.status_code == 202, body.get("why") or body.get("error", "")

        async def probe() -> tuple[str, bool, str]:
            from triggers.health_probe import probe_all

            [result] = await probe_all(DurableOrchestrationClient(world.binding), now=datetime.now(UTC))
            return "probe", result["started"], result["why"]

        async def operator() -> tuple[str, bool, str]:
            request = func.HttpRequest("POST", f"http://localhost/api/pairs/{pair}/failover", headers={},
                                       route_params={"pair": pair},
                                       body=json.dumps({"reason": "eastus down", "requested_by": "oncall"}).encode())
            response = await entry_point("start_pair_failover")(req=request, client=world.binding)
            body = json.loads(response.get_body())
            return "operator", response.status_code == 202, body.get("why") or body.get("error", "")

        return list(await asyncio.gather(*[alert(i) for i in range(ALERTS)], probe(), operator()))

    return run(everyone)


def outage_seen_by_two_probes(world: World) -> None:
    """The primary is down and has failed two probe rounds: the third (in the race) reaches the threshold."""
    from tests.test_detection import probe

    world.scenario.primary.set_faults("down=1")
    for i in (2, 1):
        [result] = probe(world, datetime.now(UTC) - timedelta(seconds=30 * i))
        assert not result["started"]


@pytest.mark.parametrize("claim", [True, False], ids=["with the claim", "without the claim: the race is real"])
def test_concurrent_starters_get_exactly_one_start(azurite: AzuriteEndpoints, monkeypatch: pytest.MonkeyPatch,
                                                   claim: bool) -> None:
    monkeypatch.setattr(triggers.starting, "RUN_CLAIM", claim)
    with durable_world(azurite, api=RacyStart, mode="hot-cold") as world:  # hot-cold: the run waits at its gate
        outage_seen_by_two_probes(world)
        results = race(world, monkeypatch)
        pair = world.scenario.pair
        started = [who for who, ok, _ in results if ok]
        audited = [r for kind in ("alert", "probe_decision", "failover")
                   for r in services().audit.list(pair, kind) if r.outcome == "started"]
        print(f"\n{STARTERS} concurrent starters, claim {'on' if claim else 'off'}: started {started}; "
              f"runtime accepted {world.api.accepted} start(s); {len(world.instances())} instance(s)")
        assert len(world.instances()) == 1  # the runtime runs one, whatever it answered
        if not claim:
            assert len(started) > 1 and len(audited) == len(started)  # told "started" while one instance runs
            return
        assert len(started) == 1 and len(audited) == 1, results
        assert world.api.accepted == 1  # one start_new call reached the runtime
        refused = [why for _, ok, why in results if not ok]
        assert len(refused) == STARTERS - 1 and all("already running" in why for why in refused), refused
        state = services().pair_state.read(pair)
        assert state.claim is not None and state.claim.instance_id == f"failover-{pair}"
        world.host.terminate(f"failover-{pair}", "test done")


def test_a_run_settles_its_claim_and_a_stale_claim_does_not_block(azurite: AzuriteEndpoints) -> None:
    """The claim goes with the run's audit; one left by a starter that died lapses after CLAIM_GRACE."""
    from tests.test_detection import post_alert, wait_done

    with durable_world(azurite) as world:
        pair = world.scenario.pair
        world.scenario.primary.set_faults("down=1")
        assert post_alert(world, alert_body(world)).status_code == 202
        wait_done(world)
        state = services().pair_state.read(pair)
        assert state.claim is None and state.last_failover["outcome"] == "succeeded"
        assert state.cooldown_since is not None

        # a starter that claimed and died before start_new: the claim blocks only for CLAIM_GRACE
        from failover.stores.pair_state import RunClaim

        services().pair_state.acknowledge(pair, "oncall", datetime.now(UTC))
        dead = RunClaim("dead-starter", f"failover-{pair}", datetime.now(UTC), "alert", "azure-monitor:x")
        services().pair_state.decide(pair, lambda s: (s.last_decision or {}, dead))
        secondary = world.scenario.config.pair(pair).secondary.arm_id
        blocked = post_alert(world, alert_body(world, target=secondary))
        why = json.loads(blocked.get_body())["why"]  # nothing runs yet: who claimed, and when the claim lapses
        assert why.startswith("a failover is already running for this pair: being started by azure-monitor:x (alert)")
        assert (dead.claimed_at + triggers.starting.CLAIM_GRACE).isoformat() in why
        stale = RunClaim("dead-starter", f"failover-{pair}", datetime.now(UTC) - triggers.starting.CLAIM_GRACE,
                         "alert", "azure-monitor:x")
        services().pair_state.decide(pair, lambda s: (s.last_decision or {}, stale))
        assert post_alert(world, alert_body(world, target=secondary)).status_code == 202  # fails back
        wait_done(world)
        assert services().pair_state.read(pair).claim is None


def test_the_claim_is_one_conditional_write(azurite: AzuriteEndpoints) -> None:
    """Starters in different workers race on the pair state's ETag: of 16 threads, one writes the claim."""
    from failover.stores.pair_state import PairState, RunClaim

    with durable_world(azurite) as world:
        pair, now = world.scenario.pair, datetime.now(UTC)
        runtime = triggers.starting._Runtime(running=False, claim=None)
        won: list[str] = []

        def starter(i: int) -> None:
            mine = RunClaim(f"starter-{i}", f"failover-{pair}", now, "alert", f"starter-{i}")

            def decide(state: PairState) -> tuple[dict[str, Any], RunClaim | None]:
                free = not triggers.starting.claim_in_force(state.claim, runtime, now)
                return {"started": free, "by": i}, (mine if free else None)

            state = services().pair_state.decide(pair, decide)
            if state.claim == mine:
                won.append(mine.token)

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(starter, range(16)))
        assert len(won) == 1 and services().pair_state.read(pair).claim.token == won[0]


class RuntimeBlip(ManagementApi):
    """The Durable runtime stops answering at the start (503), and keeps not answering until told."""

    armed = False
    down = False

    def _start(self, req: Request, name: str, instance_id: str | None) -> Reply:
        if self.armed:
            self.down = True
            return Reply(503, {"Message": "The service is unavailable"})
        return super()._start(req, name, instance_id)

    def _status(self, req: Request, instance_id: str) -> Reply:
        return Reply(503, {"Message": "The service is unavailable"}) if self.down else super()._status(req, instance_id)


def test_a_start_the_runtime_refused_leaves_no_claim_behind(azurite: AzuriteEndpoints) -> None:
    """start_new fails and the runtime can't say whether anything runs: the claim is released anyway (nothing of
    ours began), so the action group's redelivery, once the runtime is back, starts the failover (not "already
    running" for CLAIM_GRACE, the alert consumed)."""
    from tests.test_detection import post_alert, wait_done

    with durable_world(azurite, api=RuntimeBlip) as world:
        pair, api = world.scenario.pair, world.api
        assert isinstance(api, RuntimeBlip)
        world.scenario.primary.set_faults("down=1")
        body = alert_body(world)
        api.armed = True
        first = post_alert(world, body)
        assert first.status_code == 503, first.get_body()
        state = services().pair_state.read(pair)
        assert state.claim is None and state.last_decision is not None and not state.last_decision["started"]
        assert world.instances() == []

        api.armed = api.down = False  # the runtime is back: Azure Monitor retries the delivery
        again = post_alert(world, body)
        assert again.status_code == 202, again.get_body()
        wait_done(world)
        assert services().pointers.read(pair).active == world.scenario.config.pair(pair).secondary.name


class RefusingRunAudits(RequestsTransport):
    """Azurite behind the real transport, except a run's audit record (its row key starts "failover|failover-"): 503."""

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:
        if request.method in ("PUT", "PATCH", "MERGE") and "RowKey='failover|failover-" in unquote(request.url):
            return LocalTransport.answer(request, 503, {"odata.error": {
                "code": "ServerBusy", "message": {"lang": "en-US", "value": "The server is busy."}}})
        return super().send(request, **kwargs)


def test_a_run_that_ended_without_its_audit_is_settled_by_the_next_start(azurite: AzuriteEndpoints) -> None:
    """The audit activity failing after a flip left no last_failover and no cooldown: the next alert, on the hub
    just made active, started a failover back with nobody acknowledging. The next start settles the ended run
    first (its report as the audit record, last_failover, the cooldown since the pointer moved)."""
    from failover.stores.audit import AuditLog
    from tests.test_detection import post_alert, wait_done

    with durable_world(azurite) as world:
        svc, pair = services(), world.scenario.pair
        audit = svc.audit
        world.scenario.primary.set_faults("down=1")
        svc.audit = AuditLog.from_service(TableServiceClient.from_connection_string(
            azurite.connection_string, transport=RefusingRunAudits(), retry_total=0), audit.table.table_name)
        started = run(lambda: triggers.starting.start_failover(
            DurableOrchestrationClient(world.binding), FailoverRequest(
                pair=pair, trigger=Trigger.MANUAL, reason="eastus down", requested_by="oncall")))
        assert started.started
        wait_done(world)
        [instance] = world.instances()
        report = instance.output
        assert report["outcome"] == "succeeded" and any(e["where"] == "audit" for e in report["errors"])
        svc.audit = audit  # storage is back
        assert svc.pair_state.read(pair).last_failover is None  # the audit activity never wrote it

        secondary = world.scenario.config.pair(pair).secondary
        answer = json.loads(post_alert(world, alert_body(world, target=secondary.arm_id)).get_body())
        assert answer["status"] == "not_started" and "cooldown" in answer["why"], answer
        state = svc.pair_state.read(pair)
        assert state.last_failover is not None and (state.last_failover["run"], state.last_failover["outcome"]) == (
            report["run"], "succeeded")
        assert state.claim is None and state.cooldown_since is not None
        assert state.last_flip is not None and state.last_flip["run"] == report["run"] and state.last_flip["snapshot"]
        [record] = [r for r in svc.audit.list(pair, "failover") if r.key == report["run"]]
        assert record.outcome == "succeeded" and record.detail["outcome_reason"] == report["outcome_reason"]
        assert len(world.instances()) == 1


def test_a_terminated_run_is_accounted_for_by_the_next_start(azurite: AzuriteEndpoints) -> None:
    """Terminated through the Durable API at the approval gate: no outcome, no audit record, and the claim shown
    as if it still ran. The next start records it (aborted: nothing was written) before it decides."""
    from replayhost.clock import RealClock
    from tests.test_detection import wait_done

    with durable_world(azurite, clock=RealClock(), mode="hot-cold") as world:  # the gate really waits
        svc, pair = services(), world.scenario.pair
        client = DurableOrchestrationClient(world.binding)

        def start(reason: str) -> triggers.starting.StartResult:
            return run(lambda: triggers.starting.start_failover(client, FailoverRequest(
                pair=pair, trigger=Trigger.MANUAL, reason=reason, requested_by="oncall")))

        assert start("eastus down").started
        wait_until(lambda: (world.instances() or [None])[0] is not None and isinstance(
            world.instances()[0].custom_status, dict) and world.instances()[0].custom_status.get("stage")
            == "awaiting_approval", 60, "the run waiting at its gate")
        run_id = world.instances()[0].custom_status["run"]
        world.host.terminate(f"failover-{pair}", "stuck, terminated by hand")
        wait_done(world)
        assert start("eastus still down").started
        [record] = [r for r in svc.audit.list(pair, "failover") if r.key == run_id]
        assert record.outcome == "aborted" and "Terminated" in record.detail["outcome_reason"]
        assert "the approval gate" in record.detail["outcome_reason"]
        last = svc.pair_state.read(pair).last_failover
        assert last is not None and (last["run"], last["outcome"], last["moved"]) == (run_id, "aborted", False)
        assert not svc.pair_state.read(pair).in_cooldown()
        world.host.terminate(f"failover-{pair}", "test done")


def test_an_unaudited_run_s_report_says_whether_it_had_moved_the_pointer() -> None:
    """Its flip writes the run id as the pointer's changed_by: terminated after it, the run failed (and its account
    starts the cooldown); before it, it aborted, nothing written."""
    from failover.domain.run import unaudited_report

    request = FailoverRequest(pair="p", trigger=Trigger.ALERT, reason="eastus down", requested_by="alert",
                              target="sec")
    started = datetime(2030, 1, 1, tzinfo=UTC)
    run_id = f"failover-p@{started.isoformat()}"

    def report(stage: str, changed_by: str) -> dict[str, Any]:
        return unaudited_report(instance_id="failover-p", request=request, kind="failover", runtime_status="Terminated",
                                custom={"run": run_id, "started_at": started.isoformat(), "stage": stage},
                                ended_at=started + timedelta(minutes=3), pointer_active="sec", pointer_standby="pri",
                                pointer_generation=4, pointer_changed_by=changed_by)

    moved = report("recreate_artifacts", run_id)
    assert (moved["run"], moved["outcome"]) == (run_id, "failed")
    assert moved["pointer"] == {"before": "pri", "after": "sec", "target": "sec", "generation_before": 3,
                                "generation_after": 4}
    assert "Terminated at artifact recreation" in moved["outcome_reason"] and "pointer had moved" in (
        moved["outcome_reason"])
    waiting = report("awaiting_approval", "failover-p@an-earlier-run")
    assert waiting["outcome"] == "aborted" and waiting["pointer"]["generation_after"] == 4 == (
        waiting["pointer"]["generation_before"])
