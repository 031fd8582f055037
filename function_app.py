"""Composition root: one DFApp, every blueprint registered. No logic lives here."""

import azure.durable_functions as df
import azure.functions as func

from activities import BLUEPRINTS as ACTIVITY_BLUEPRINTS
from orchestrations import BLUEPRINTS as ORCHESTRATION_BLUEPRINTS
from triggers import BLUEPRINTS as TRIGGER_BLUEPRINTS

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (*ORCHESTRATION_BLUEPRINTS, *ACTIVITY_BLUEPRINTS, *TRIGGER_BLUEPRINTS):
    app.register_functions(blueprint)
