"""Activities: thin, idempotent wrappers (dict in, core call, dict out). One blueprint per module."""

import azure.durable_functions as df

from activities import approval, audit, plan, pointer, recovery

BLUEPRINTS: list[df.Blueprint] = [plan.bp, approval.bp, pointer.bp, recovery.bp, audit.bp]
