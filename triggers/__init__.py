"""Triggers: parse and validate, call the core or start an orchestration, return."""

import azure.durable_functions as df

from triggers.catalog_sync import bp as catalog_sync

BLUEPRINTS: list[df.Blueprint] = [catalog_sync]
