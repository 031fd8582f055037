"""Timer: copy every pair's recovery metadata into the DR catalog (its age is the metadata RPO), then
disable on each standby the schedules enabled on its active hub (a schedule runs in one hub only)."""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from failover.domain.model import ArtifactKind
from failover.hubs.hub_retry import RetryingHub
from failover.recovery import fence_standby_schedules
from failover.services import Services, services
from failover.stores.catalog import sync_all

log = logging.getLogger(__name__)
bp = df.Blueprint()


@bp.timer_trigger(schedule="%CATALOG_SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def catalog_sync(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.warning("catalog sync is running late")
    svc = services()

    def active(pair: str) -> str:
        config = svc.config.pair(pair)
        return svc.pointers.ensure(pair, config.primary.name, config.secondary.name).active

    # Hub clients make one attempt per call: the sync's retries are the one retry layer's.
    results = sync_all(svc.config, lambda hub: RetryingHub(svc.hub(hub.name)), svc.catalog, active_hub=active)
    for result in results:
        if result.report is not None:
            log.info(result.report.summary())
            _fence(svc, result.pair, result.report.hub)
        else:
            log.error("catalog %s: sync failed: %s", result.pair, result.error)
    failed = [r.pair for r in results if r.error]
    if failed:  # a failed run shows in the Functions monitor, and the previous snapshot stays current
        raise RuntimeError(f"catalog sync failed for pair(s): {', '.join(failed)}")


def _fence(svc: Services, pair_name: str, active: str) -> None:
    """Schedules the active hub runs are disabled on the standby, once it answers (a failover whose source
    was down could not). A standby that does not answer is tried again on the next run: not a sync failure."""
    pair = svc.config.pair(pair_name)
    snapshot = svc.catalog.read(active)
    if ArtifactKind.SCHEDULE not in pair.policy.artifact_kinds or snapshot is None:
        return
    standby = pair.secondary.name if active == pair.primary.name else pair.primary.name
    fenced = fence_standby_schedules(svc.hub(standby), snapshot.artifact_list(ArtifactKind.SCHEDULE))
    line = (f"schedules of {pair_name}: {fenced['disabled']} disabled on the standby {standby}, "
            f"{fenced['already_disabled']} already disabled, {fenced['absent']} not there")
    if fenced["unreachable"]:
        log.warning("%s; standby unreachable: tried again on the next run", line)
    else:
        log.info(line)
