"""Compute, connection and datastore maps: how a spec written for one hub names the other hub's resources.

A pair's ``compute_map``, ``connection_map`` and ``datastore_map`` name, for a resource of the primary,
its counterpart in the secondary (a cluster with quota there; a connection to an AI Services resource
in the secondary's region; a datastore over the geo-replicated storage). Recovery applies them, in the
direction of travel, to every spec it writes: resubmitted jobs and recreated artifacts (components,
data, models, deployments, schedules...). On failback they are inverted; a name that several primary
names map onto can't be inverted and is left as it is.

Where a name is recognised (nothing else is rewritten):

- datastore: ``azureml://datastores/{name}/...``, the long form
  ``azureml://subscriptions/.../workspaces/.../datastores/{name}/...``, an ARM id
  ``.../workspaces/{ws}/datastores/{name}``, and the value of a ``datastore``, ``datastoreName`` or
  ``datastore_name`` field;
- connection: ``azureml://connections/{name}`` (also inside ``${{...}}``), an ARM id
  ``.../workspaces/{ws}/connections/{name}``, and the value (``name`` or ``azureml:name``) of a
  ``connection``, ``connectionName`` or ``connection_name`` field;
- compute: an ARM id ``.../workspaces/{ws}/computes/{name}``, and the value (``name`` or
  ``azureml:name``) of a ``compute`` or ``computeId`` field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_DATASTORE_URI = re.compile(
    r"(?P<head>azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/workspaces/[^/]+/)?datastores/)"
    r"(?P<name>[^/\s\"'}]+)", re.IGNORECASE)
_CONNECTION_URI = re.compile(r"(?P<head>azureml://connections/)(?P<name>[^/\s\"'}]+)", re.IGNORECASE)
_ARM_CHILD = re.compile(r"(?P<head>/workspaces/[^/]+/(?P<type>computes|connections|datastores)/)"
                        r"(?P<name>[^/?#\s\"'}]+)", re.IGNORECASE)
_NAMED_FIELDS = {
    "datastore": "datastore", "datastorename": "datastore", "datastore_name": "datastore",
    "connection": "connection", "connectionname": "connection", "connection_name": "connection",
    "compute": "compute", "computeid": "compute",
}


def _invert(mapping: Mapping[str, str]) -> dict[str, str]:
    """The map the other way round; a target several sources share is ambiguous and left out."""
    sources: dict[str, list[str]] = {}
    for source, target in mapping.items():
        sources.setdefault(target, []).append(source)
    return {target: names[0] for target, names in sources.items() if len(names) == 1}


@dataclass(frozen=True)
class ResourceMaps:
    """The three maps in one direction of travel (source hub -> target hub)."""

    compute: Mapping[str, str] = field(default_factory=dict)
    connection: Mapping[str, str] = field(default_factory=dict)
    datastore: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_pair(cls, pair: Any, source: str) -> ResourceMaps:
        """As configured from the primary; inverted when ``source`` is the secondary (a failback)."""
        forward = cls(dict(pair.compute_map), dict(pair.connection_map), dict(pair.datastore_map))
        return forward if source == pair.primary.name else forward.inverted()

    def inverted(self) -> ResourceMaps:
        return ResourceMaps(_invert(self.compute), _invert(self.connection), _invert(self.datastore))

    def __bool__(self) -> bool:
        return bool(self.compute or self.connection or self.datastore)

    def _of(self, kind: str) -> Mapping[str, str]:
        return {"compute": self.compute, "connection": self.connection, "datastore": self.datastore}[kind]

    def apply(self, value: Any) -> Any:
        """``value`` (a spec: dicts, lists, strings) with every recognised name mapped. A new object."""
        if not self:
            return value
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                kind = _NAMED_FIELDS.get(str(key).lower())
                if kind is not None and isinstance(item, str) and "/" not in item:
                    out[key] = self._name(kind, item)
                else:
                    out[key] = self.apply(item)
            return out
        if isinstance(value, list):
            return [self.apply(item) for item in value]
        if isinstance(value, str):
            return self._text(value)
        return value

    def _name(self, kind: str, value: str) -> str:
        prefix, name = ("azureml:", value[8:]) if value.startswith("azureml:") else ("", value)
        return prefix + self._of(kind).get(name, name)

    def _text(self, text: str) -> str:
        if self.datastore:
            text = _DATASTORE_URI.sub(lambda m: m["head"] + self.datastore.get(m["name"], m["name"]), text)
        if self.connection:
            text = _CONNECTION_URI.sub(lambda m: m["head"] + self.connection.get(m["name"], m["name"]), text)
        return _ARM_CHILD.sub(lambda m: m["head"] + self._of(m["type"].lower()[:-1]).get(m["name"], m["name"]),
                              text)
