"""What counts as a secret in a spec: one rule for the hub adapters and the catalog."""

from __future__ import annotations

import re
from typing import Any

# Field names that hold secrets in Azure ML connection payloads (camelCase or snake_case).
_SECRET_FIELD = re.compile(
    r"(^|_)(credentials?|key|keys|api_?key|account_?key|secret|client_?secret|password|token|"
    r"sas|sas_?token|pat|connection_?string|private_?key)($|_)"
)

def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def secret_fields(value: Any, path: str = "") -> list[str]:
    """Paths of fields whose *names* look like secrets (values are never returned)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if _SECRET_FIELD.search(_snake(str(key))) and item not in (None, "", {}, []):
                found.append(here)
            else:
                found.extend(secret_fields(item, here))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(secret_fields(item, f"{path}[{index}]"))
    return found
