"""Orchestrators: deterministic, decide only, no I/O. One blueprint per module."""

import azure.durable_functions as df

BLUEPRINTS: list[df.Blueprint] = []
