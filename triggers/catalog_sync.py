"""Timer: copy every pair's recovery metadata into the DR catalog (its age is the metadata RPO)."""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from failover.services import services
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

    results = sync_all(svc.config, lambda hub: svc.hub(hub.name), svc.catalog, active_hub=active)
    for result in results:
        if result.report is not None:
            log.info(result.report.summary())
        else:
            log.error("catalog %s: sync failed: %s", result.pair, result.error)
    failed = [r.pair for r in results if r.error]
    if failed:  # a failed run shows in the Functions monitor, and the previous snapshot stays current
        raise RuntimeError(f"catalog sync failed for pair(s): {', '.join(failed)}")
