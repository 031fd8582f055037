"""Triggers: parse and validate, call the core or start an orchestration, return."""

import azure.durable_functions as df

BLUEPRINTS: list[df.Blueprint] = []
