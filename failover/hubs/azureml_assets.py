"""Azure ML asset versions and connections <-> the catalog's portable specs, at the REST level.

The adapter reads and writes these through azure-ai-ml's generated REST operations (the ones its
public operations call: same api-versions, same pipeline and retry policy), not through its
entities, because the entities lose what recovery must keep: code versions drop their
description, tags and properties; a connection comes back "shared to all" whatever it was; a
relative data or model URI becomes a path on this machine; and creating an ``mltable`` data
asset makes the SDK read the MLTable file from the datastore's storage, outside the pipeline.

A spec is the REST ``properties`` under portable names, every key always present:

- the fields recovery reads or rewrites get a name (``path``, ``environment``, ``code``...);
- ``extra`` keeps every other writable field exactly as the service returned it, so a field
  of a newer api-version is carried over instead of lost;
- read-only service fields (provisioning state, environment type) are dropped, and
  references to other assets are portable ``azureml:<name>:<version>`` strings.

A body that can't be put in this form (a component spec without a ``type``) raises
UnreadableSpec: the adapter reports it by name instead of guessing.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from azure.ai.ml._utils.utils import _snake_to_camel, camel_to_snake

from failover.domain.model import ArtifactKind
from failover.hubs.hub_specs import parse_ref, portable_ref, retarget_arm_ids


class UnreadableSpec(ValueError):
    """The service's body for an item can't be turned into a spec (the message says why)."""


# Read-only fields of asset versions (the service fills them; a create request doesn't carry them).
_READ_ONLY = frozenset({"provisioningState", "environmentType"})
# Connection fields never carried: the secret and its kind (a connection is recreated without
# credentials, authType None), and what the service fills in.
_CONNECTION_DROPPED = frozenset({"credentials", "authType", "group", "createdByWorkspaceArmId", "error",
                                 "peStatus", "category", "target", "metadata", "expiryTime", "isSharedToAll"})

# Portable name -> REST name, per kind (``description``, ``tags``, ``properties`` are common).
_NAMED: dict[ArtifactKind, dict[str, str]] = {
    ArtifactKind.ENVIRONMENT: {"image": "image", "conda_file": "condaFile", "build": "build",
                               "inference_config": "inferenceConfig", "os_type": "osType"},
    ArtifactKind.CODE: {"path": "codeUri"},
    ArtifactKind.DATA: {"type": "dataType", "path": "dataUri", "referenced_uris": "referencedUris"},
    ArtifactKind.MODEL: {"type": "modelType", "path": "modelUri", "flavors": "flavors"},
}
_COMMON = {"description": "description", "tags": "tags", "properties": "properties"}

_LONG_DATASTORE_URI = re.compile(
    r"^azureml://subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/(datastores/.*)$", re.IGNORECASE)


def short_datastore_uri(uri: Any) -> Any:
    """``azureml://subscriptions/…/workspaces/<ws>/datastores/<d>/paths/<p>`` names the source
    workspace; ``azureml://datastores/<d>/paths/<p>`` means the same thing in any workspace."""
    match = _LONG_DATASTORE_URI.match(uri) if isinstance(uri, str) else None
    return f"azureml://{match.group(1)}" if match else uri


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# -------------------------------------------------------------------------------- asset versions

def asset_spec(kind: ArtifactKind, props: dict[str, Any]) -> dict[str, Any]:
    """The portable spec of one asset version from its REST ``properties``."""
    if kind is ArtifactKind.COMPONENT:
        return _component_spec(props)
    named = _NAMED[kind]
    spec: dict[str, Any] = {portable: props.get(rest) for portable, rest in named.items()}
    spec.update(description=props.get("description"), tags=_strings(props.get("tags")),
                properties=_strings(props.get("properties")))
    if "path" in spec:
        spec["path"] = short_datastore_uri(spec["path"])
        if not isinstance(spec["path"], str) or not spec["path"]:
            raise UnreadableSpec(f"{named['path']} is missing")
    if kind is ArtifactKind.ENVIRONMENT:
        if not spec["image"] and not spec["build"]:
            raise UnreadableSpec("neither image nor build context")
        spec["build"] = _build_spec(spec["build"])
        config = spec["inference_config"]
        spec["inference_config"] = {_snake(k): v for k, v in config.items()} if isinstance(config, dict) else config
    spec["extra"] = _extra(props, set(named.values()) | set(_COMMON.values()))
    return spec


def asset_body(kind: ArtifactKind, name: str, version: str, spec: dict[str, Any], workspace_scope: str,
               datastore_uri_prefix: str) -> dict[str, Any]:
    """The createOrUpdate request body for ``spec`` in the workspace ``workspace_scope``."""
    if kind is ArtifactKind.COMPONENT:
        return {"properties": _component_props(name, version, spec, workspace_scope)}
    props: dict[str, Any] = dict(spec.get("extra") or {})
    for portable, rest in {**_NAMED[kind], **_COMMON}.items():
        if spec.get(portable) is not None:
            props[rest] = spec[portable]
    if kind is ArtifactKind.ENVIRONMENT:
        conda = props.get("condaFile")
        if isinstance(conda, dict):  # catalogs of earlier versions kept the parsed YAML
            props["condaFile"] = yaml.safe_dump(conda, sort_keys=False)
        if props.get("build"):
            build = props["build"]
            props["build"] = {"contextUri": build["path"], **({"dockerfilePath": build["dockerfile_path"]}
                                                              if build.get("dockerfile_path") else {})}
        if isinstance(props.get("inferenceConfig"), dict):
            props["inferenceConfig"] = {_camel(k): v for k, v in props["inferenceConfig"].items()}
    if kind is ArtifactKind.MODEL and str(props.get("modelUri", "")).startswith("azureml://datastores/"):
        # azure-ai-ml sends models' datastore URIs in the long form that names the workspace.
        props["modelUri"] = datastore_uri_prefix + props["modelUri"][len("azureml://"):]
    return {"properties": retarget_arm_ids(props, workspace_scope)}


def _build_spec(build: Any) -> dict[str, Any] | None:
    if not isinstance(build, dict):
        return None
    if not build.get("contextUri"):
        raise UnreadableSpec("build has no contextUri")
    return {"path": build["contextUri"], "dockerfile_path": build.get("dockerfilePath")}


def _extra(props: dict[str, Any], named: set[str]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k not in named and k not in _READ_ONLY and v is not None}


# -------------------------------------------------------------------------------- components

# Keys of a component spec that belong to the artifact, not to its content.
_COMPONENT_IDENTITY = ("name", "version")
_COMPONENT_REFS = ("environment", "code")


def _component_spec(props: dict[str, Any]) -> dict[str, Any]:
    """A component's spec is its ``componentSpec`` (the YAML, as JSON) with portable references,
    plus the asset's own ``properties`` and ``extra`` fields."""
    component = props.get("componentSpec")
    if not isinstance(component, dict) or not isinstance(component.get("type"), str):
        raise UnreadableSpec("componentSpec has no type: azure-ai-ml can't tell what component it is")
    spec = {k: v for k, v in component.items() if k not in _COMPONENT_IDENTITY}
    for key in _COMPONENT_REFS:
        if isinstance(spec.get(key), str):
            spec[key] = portable_ref(spec[key])
    spec.setdefault("description", props.get("description"))
    spec.setdefault("tags", _strings(props.get("tags")))
    spec["properties"] = _strings(props.get("properties"))
    spec["extra"] = _extra(props, {"componentSpec", *_COMMON.values()})
    return spec


def _component_props(name: str, version: str, spec: dict[str, Any], workspace_scope: str) -> dict[str, Any]:
    component = {k: v for k, v in spec.items() if k not in ("properties", "extra") and v is not None}
    for key in _COMPONENT_REFS:
        parsed = parse_ref(component[key]) if isinstance(component.get(key), str) else None
        if parsed:  # azure-ai-ml writes references as "azureml:" + the ARM id of this workspace's asset
            segment = "environments" if key == "environment" else "codes"
            component[key] = f"azureml:{workspace_scope}/{segment}/{parsed[0]}/versions/{parsed[1]}"
    props: dict[str, Any] = dict(spec.get("extra") or {})
    props.update(componentSpec={**component, "name": name, "version": version},
                 properties=dict(spec.get("properties") or {}))
    for key in ("description", "tags"):
        if spec.get(key) is not None:
            props[key] = spec[key]
    return dict(retarget_arm_ids(props, workspace_scope))


# -------------------------------------------------------------------------------- connections

def _connection_type(category: str) -> str:
    """azure-ai-ml's name for a connection category (``ContainerRegistry`` -> ``container_registry``)."""
    if category == "CustomKeys":
        return "custom"
    return str(camel_to_snake(category))


def _connection_category(kind: str) -> str:
    return "CustomKeys" if kind == "custom" else str(_snake_to_camel(kind))


def connection_spec(props: dict[str, Any]) -> dict[str, Any]:
    """The non-secret shape of a connection: never its credentials, nor their kind."""
    category = props.get("category")
    if not isinstance(category, str) or not category:
        raise UnreadableSpec("connection has no category")
    kind = _connection_type(category)
    extra = {k: v for k, v in props.items() if k not in _CONNECTION_DROPPED and v is not None}
    if _connection_category(kind) != category:  # e.g. AzureOpenAI: its type name doesn't spell it back
        extra["category"] = category
    return {"type": kind, "target": props.get("target"), "metadata": _strings(props.get("metadata")),
            "expiry_time": props.get("expiryTime"), "is_shared_to_all": props.get("isSharedToAll"),
            "extra": extra}


def connection_body(spec: dict[str, Any]) -> dict[str, Any]:
    """Recreated without credentials (authType None): the secret comes from Key Vault afterwards."""
    props: dict[str, Any] = {"category": _connection_category(str(spec["type"])), **(spec.get("extra") or {}),
                             "authType": "None"}
    for portable, rest in (("target", "target"), ("metadata", "metadata"), ("expiry_time", "expiryTime"),
                           ("is_shared_to_all", "isSharedToAll")):
        if spec.get(portable) not in (None, {}):
            props[rest] = spec[portable]
    return {"properties": props}
