"""Rules on artifact and job specs shared by the hub adapters.

- Connections carry no secret values: a spec with a credential-like field is rejected, not
  silently stripped, because stripping would hide a catalog bug and change the content hash.
- References between artifacts are portable ``azureml:<name>:<version>`` strings; ARM ids
  that name a workspace are rewritten to the target workspace on the way in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from failover.domain.model import MUTABLE_KINDS, Artifact, ArtifactKind
from failover.domain.ports import ErrorCategory, HubError
from failover.domain.secrets import placeholders, secret_fields

_ARM_WORKSPACE_SCOPE = re.compile(
    r"/subscriptions/[^/]+/resource[gG]roups/[^/]+/providers/Microsoft\.MachineLearningServices"
    r"/workspaces/[^/]+",
    re.IGNORECASE,
)
_ARM_VERSIONED = re.compile(
    r"^(?:azureml:)?/subscriptions/[^/]+/resource[gG]roups/[^/]+/providers/Microsoft\.MachineLearningServices"
    r"/workspaces/[^/]+/(?P<type>[a-z]+)/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$",
    re.IGNORECASE,
)
_PORTABLE_REF = re.compile(r"^azureml:(?P<name>[^:/]+):(?P<version>[^:/]+)$")


def ensure_no_secrets(connection: Artifact) -> None:
    """Raise HubError(PERMANENT) if a connection spec carries anything credential-like."""
    fields = secret_fields(connection.spec)
    if fields:
        raise HubError(
            ErrorCategory.PERMANENT,
            f"connection {connection.name!r} carries secret-like fields {sorted(fields)}: secrets come "
            "from Key Vault, never from the catalog",
        )


def ensure_no_placeholders(what: str, *specs: Any) -> None:
    """Raise HubError(PERMANENT) if a secret marker is left in what is about to be written.

    The last line of defence: recovery resolves markers first (failover/domain/secret_map.py); a
    write that still carries one would store the placeholder text as the value.
    """
    left = next((p for spec in specs for p in placeholders(spec)), None)
    if left is not None:
        raise HubError(ErrorCategory.PERMANENT,
                       f"{what}: a secret placeholder is left in the spec ({left!r}): never submitted; "
                       "map the secret in the pair's secrets.map")


def retarget_arm_ids(value: Any, workspace_scope: str) -> Any:
    """Rewrite every workspace-scoped ARM id inside ``value`` to ``workspace_scope``.

    A job captured on the primary names its code asset by the primary's ARM id; resubmitted
    as is, it would point at the failed region.
    """
    return map_strings(value, lambda text: _ARM_WORKSPACE_SCOPE.sub(workspace_scope, text))


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of ``value`` (dicts, lists, scalars) with ``change`` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, change) for v in value]
    return value


def portable_ref(value: str | None) -> str | None:
    """``/subscriptions/…/environments/env/versions/3`` (or ``env:3``) -> ``azureml:env:3``."""
    if not value:
        return None
    match = _ARM_VERSIONED.match(value)
    if match:
        return f"azureml:{match['name']}:{match['version']}"
    if value.startswith("azureml:"):
        return value
    if value.count(":") == 1 and "/" not in value:
        return f"azureml:{value}"
    return value


def parse_ref(ref: str) -> tuple[str, str] | None:
    """``azureml:name:version`` -> (name, version); anything else -> None."""
    match = _PORTABLE_REF.match(ref)
    return (match["name"], match["version"]) if match else None


def references(artifact: Artifact) -> list[tuple[ArtifactKind, str, str]]:
    """The artifacts this one needs first (component -> environment, code; model -> data)."""
    spec = artifact.spec
    refs: list[tuple[ArtifactKind, str, str]] = []
    wanted: list[tuple[ArtifactKind, Any]] = []
    if artifact.kind is ArtifactKind.COMPONENT:
        wanted = [(ArtifactKind.ENVIRONMENT, spec.get("environment")), (ArtifactKind.CODE, spec.get("code"))]
    elif artifact.kind is ArtifactKind.MODEL:
        wanted = [(ArtifactKind.DATA, (spec.get("properties") or {}).get(MODEL_TRAINING_DATA))]
    for kind, ref in wanted:
        parsed = parse_ref(ref) if isinstance(ref, str) else None
        if parsed:
            refs.append((kind, *parsed))
    if artifact.kind in MUTABLE_KINDS:  # REST JSON: every versioned ARM id in it (model, environment, code...)
        refs += sorted({(_KIND_OF_TYPE[m["type"].lower()], m["name"], m["version"]) for m in _arm_ids(spec)
                        if m["type"].lower() in _KIND_OF_TYPE})
    return refs


# The name azure-ai-ml registers a job's inline component under (one version per submission). Such a
# component is not listed, so never cataloged: the target's service makes its own when the job is sent.
ANONYMOUS_COMPONENT = "azureml_anonymous"


def is_anonymous_component(reference: object) -> bool:
    return isinstance(reference, str) and f"/components/{ANONYMOUS_COMPONENT}/" in reference.lower()


_KIND_OF_TYPE = {"environments": ArtifactKind.ENVIRONMENT, "codes": ArtifactKind.CODE, "data": ArtifactKind.DATA,
                 "components": ArtifactKind.COMPONENT, "models": ArtifactKind.MODEL}


def _arm_ids(value: Any) -> list[re.Match[str]]:
    if isinstance(value, str):
        match = _ARM_VERSIONED.match(value)
        return [match] if match else []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [m for item in items for m in _arm_ids(item)]


# Lineage of a model to its training data, kept in the model's (immutable) properties.
MODEL_TRAINING_DATA = "hubfailover.training_data"

# ARM ids of a workspace's own resources inside endpoint, deployment and schedule specs are kept with
# this scope in the catalog, so a spec read from either hub is the same and is retargeted on write.
PORTABLE_SCOPE = "/subscriptions/~/resourceGroups/~/providers/Microsoft.MachineLearningServices/workspaces/~"


def portable_scope(value: Any, workspace_scope: str) -> Any:
    """Every ARM id (or long datastore URI) naming ``workspace_scope`` rewritten to PORTABLE_SCOPE."""
    arm = re.compile(re.escape(workspace_scope), re.IGNORECASE)
    sub, rg, ws = (workspace_scope.split("/")[i] for i in (2, 4, 8))
    long_uri = re.compile(rf"azureml://subscriptions/{re.escape(sub)}/resource[gG]roups/{re.escape(rg)}"
                          rf"/workspaces/{re.escape(ws)}/", re.IGNORECASE)
    return map_strings(value, lambda text: long_uri.sub("azureml://", arm.sub(PORTABLE_SCOPE, text)))


def from_portable_scope(value: Any, workspace_scope: str) -> Any:
    """The inverse of portable_scope: PORTABLE_SCOPE -> ``workspace_scope``."""
    return map_strings(value, lambda text: text.replace(PORTABLE_SCOPE, workspace_scope))
