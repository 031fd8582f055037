"""Composition root: one DFApp, every blueprint registered, telemetry exported. No logic lives here."""

import os
from collections.abc import Mapping

import azure.durable_functions as df
import azure.functions as func

from activities import BLUEPRINTS as ACTIVITY_BLUEPRINTS
from orchestrations import BLUEPRINTS as ORCHESTRATION_BLUEPRINTS
from triggers import BLUEPRINTS as TRIGGER_BLUEPRINTS


def configure_telemetry(env: Mapping[str, str] = os.environ) -> bool:
    """Export OpenTelemetry to Application Insights (the Azure Monitor distro), once.

    With PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true (what infra/ sets) the Python worker configures
    the distro itself and makes each invocation's trace context current: configuring it again here would
    export everything twice. Without a connection string (local runs, tests) nothing is exported.
    True when this call configured it.
    """
    if not env.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        return False
    if env.get("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY", "").strip().lower() == "true":
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor

    # APPLICATIONINSIGHTS_AUTHENTICATION_STRING (set by infra/) makes the exporter use Entra ID.
    configure_azure_monitor()
    return True


configure_telemetry()
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (*ORCHESTRATION_BLUEPRINTS, *ACTIVITY_BLUEPRINTS, *TRIGGER_BLUEPRINTS):
    app.register_functions(blueprint)
