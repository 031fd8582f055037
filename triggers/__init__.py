"""Triggers: parse and validate, call the core or start an orchestration, return."""

import azure.durable_functions as df

from triggers.alerts import bp as alerts
from triggers.catalog_sync import bp as catalog_sync
from triggers.health_probe import bp as health_probe
from triggers.http_api import bp as http_api
from triggers.readiness import bp as readiness

BLUEPRINTS: list[df.Blueprint] = [catalog_sync, health_probe, readiness, alerts, http_api]
