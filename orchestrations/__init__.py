"""Orchestrators: deterministic, decide only, no I/O. One blueprint per module."""

import azure.durable_functions as df

from orchestrations import failover, recover

BLUEPRINTS: list[df.Blueprint] = [failover.bp, recover.bp]
