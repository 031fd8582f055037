"""Timer: copy every pair's recovery metadata into the DR catalog (its age is the metadata RPO)."""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from failover.adapters.hub_factory import hub_client_for
from failover.catalog import CatalogStore, sync_all
from failover.config import load_config
from failover.settings import Settings

log = logging.getLogger(__name__)
bp = df.Blueprint()


@bp.timer_trigger(schedule="%CATALOG_SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def catalog_sync(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.warning("catalog sync is running late")
    settings = Settings.from_env()
    # Simulated hubs keep their state in the DR storage account (drills); real ones use MLClient.
    results = sync_all(load_config(), lambda hub: hub_client_for(hub, connection_string=settings.dr_storage_connection),
                       CatalogStore.from_settings(settings))
    for result in results:
        if result.report is not None:
            log.info(result.report.summary())
        else:
            log.error("catalog %s: sync failed: %s", result.pair, result.error)
    failed = [r.pair for r in results if r.error]
    if failed:  # a failed run shows in the Functions monitor, and the previous snapshot stays current
        raise RuntimeError(f"catalog sync failed for pair(s): {', '.join(failed)}")
