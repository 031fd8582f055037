"""Activities: thin, idempotent wrappers (dict in, core call, dict out). One blueprint per module."""

import azure.durable_functions as df

BLUEPRINTS: list[df.Blueprint] = []
