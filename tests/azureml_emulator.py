"""An azure-core transport that answers Azure ML's ARM REST calls from an in-memory workspace.

Azure ML's service can't run here, so this is the one stand-in: the real ``azure-ai-ml`` SDK
builds every request and parses every response, and only the wire is local. Nothing leaves
the process (no socket is opened). Resources are kept by their ARM path with the JSON the SDK
PUT, wrapped the way ARM answers (id, name, type, systemData), so what round-trips here
round-trips through the SDK's own (de)serialisers.

Endpoints, deployments and schedules are mutable ARM resources: a PUT replaces the resource (201 when
new, 200 on update) and the emulator adds what the service adds (provisioning state, scoring URIs,
identity principals). It refuses what the service refuses: a deployment under a missing endpoint (404),
traffic or a default deployment naming a deployment that does not exist or is still provisioning,
traffic that does not add up to 100 (400). ``provisioning_reads`` keeps new ones "Creating" for that many
GETs.

Also: a call log (method, path, api-version, body) for assertions, fault injection
(status, headers, how many times) so error mapping is tested through the real pipeline, and
optionally ARM's token bucket (``arm``, the simulated hub's model): every answer then carries
``x-ms-ratelimit-remaining-subscription-reads``/``-writes``, and an empty bucket answers 429.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import HttpRequest
from azure.core.pipeline.transport._requests_basic import RequestsTransportResponse

from failover.domain.model import Artifact, ArtifactKind
from failover.domain.serving import routed_deployments
from failover.hubs.simulated_arm import ArmBucket
from tests.local_transport import LocalTransport

SAMPLES = Path(__file__).parent / "samples" / "azureml_rest"
RBAC_SAMPLES = Path(__file__).parent / "samples" / "azure_rbac"
PERMISSIONS_PATH = "/providers/microsoft.authorization/permissions"


def role_permissions(role_file: str) -> list[dict[str, Any]]:
    """A built-in role's ``permissions`` (tests/samples/azure_rbac): what the Permissions API answers in
    ``value`` for a caller holding only that role at the scope."""
    loaded: list[dict[str, Any]] = json.loads((RBAC_SAMPLES / role_file).read_text(encoding="utf-8"))["permissions"]
    return loaded
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "rg-dr"
PROVIDER = "Microsoft.MachineLearningServices"


def workspace_scope(workspace: str, subscription: str = SUBSCRIPTION, resource_group: str = RESOURCE_GROUP) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{PROVIDER}/workspaces/{workspace}"


# ARM resource types by collection segment (what the real service puts in "type").
_TYPES = {
    "jobs": "Microsoft.MachineLearningServices/workspaces/jobs",
    "models": "Microsoft.MachineLearningServices/workspaces/models",
    "environments": "Microsoft.MachineLearningServices/workspaces/environments",
    "data": "Microsoft.MachineLearningServices/workspaces/data",
    "components": "Microsoft.MachineLearningServices/workspaces/components",
    "codes": "Microsoft.MachineLearningServices/workspaces/codes",
    "connections": "Microsoft.MachineLearningServices/workspaces/connections",
    "datastores": "Microsoft.MachineLearningServices/workspaces/datastores",
    "computes": "Microsoft.MachineLearningServices/workspaces/computes",
}
_VERSIONED = {"models", "environments", "data", "components", "codes"}
# Mutable ARM resources (lower-case collection -> ARM type); deployments nest under their endpoint.
_RESOURCES = {
    "onlineendpoints": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
    "batchendpoints": "Microsoft.MachineLearningServices/workspaces/batchEndpoints",
    "schedules": "Microsoft.MachineLearningServices/workspaces/schedules",
}
_PENDING_STATES = {"Creating", "Updating", "Scaling"}


def example(relative: str) -> dict[str, Any]:
    """One of Microsoft's REST examples under tests/samples/azureml_rest (see SOURCES.md there)."""
    loaded: dict[str, Any] = json.loads((SAMPLES / relative).read_text(encoding="utf-8"))
    return loaded


def example_response(relative: str, status: str | None = None) -> Any:
    responses = example(relative)["responses"]
    return copy.deepcopy(responses[status or min(responses)]["body"])


def example_request(relative: str) -> Any:
    return copy.deepcopy(example(relative)["parameters"]["body"])


_PLACEHOLDER = "string"  # what the generated examples put where a name or id goes


class FixedTokenCredential:
    """A boundary credential: a fixed bearer token, no Entra. The emulator ignores it."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("emulator-token", 4_102_444_800)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo("emulator-token", 4_102_444_800)


class AzureMLAudienceCredential:
    """A boundary credential whose token is a JWT with the Azure ML audience, as Entra would issue.

    azure-ai-ml decodes the token (without checking its signature) before submitting a pipeline job
    or a job with a user identity, and refuses one whose ``aud`` is not https://ml.azure.com. This
    one is unsigned (``alg: none``): the emulator checks nothing, and no key is involved.
    """

    AUDIENCE = "https://ml.azure.com"

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []  # the scopes each token was asked for

    def _token(self, scopes: tuple[str, ...]) -> str:
        self.scopes.append(scopes)
        audience = self.AUDIENCE if any(s.startswith(self.AUDIENCE) for s in scopes) else "https://management.azure.com"
        claims = {"aud": audience, "iss": "https://sts.windows.net/emulator/", "oid": "emulator", "exp": 4_102_444_800}
        return jwt.encode(claims, key=None, algorithm="none")

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token(scopes), 4_102_444_800)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._token(scopes), 4_102_444_800)


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # workspace-relative ("" for the workspace itself), as sent (case kept)
    api_version: str | None
    query: dict[str, str]
    body: Any
    faulted: bool = False
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # as sent (the bearer token included)
    status: int | None = None  # what the workspace did (an after-effect fault: the effect, not the answer)


@dataclass
class Fault:
    """Answer matching requests with ``status`` (or a connection error), ``times`` times."""

    status: int | None = None  # None: raise ServiceRequestError like a refused connection
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    method: str | None = None
    path_regex: str = ".*"
    # True: carry out the request, then answer with the fault (a lost response, or a
    # concurrent writer that got there first).
    after_effect: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and re.search(self.path_regex, path) is not None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AzureMLEmulator(LocalTransport):
    """In-memory Azure ML workspace behind an azure-core ``HttpTransport``."""

    def __init__(self, workspace: str = "hub-secondary", *, subscription: str = SUBSCRIPTION,
                 resource_group: str = RESOURCE_GROUP, location: str = "westeurope") -> None:
        self.workspace = workspace
        self.subscription = subscription
        self.resource_group = resource_group
        self.location = location
        self.scope = workspace_scope(workspace, subscription, resource_group)
        self._lock = threading.Lock()
        self.resources: dict[str, dict[str, Any]] = {}  # lower-cased ARM path -> resource JSON
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        # Names of the workspace's compute clusters (AmlCompute), answered by GET /computes.
        self.computes: set[str] = {"cpu-cluster", "gpu-cluster"}
        self.workspace_body: dict[str, Any] | None = None  # GET of the workspace: ours unless loaded
        # Names of the workspace's datastores, answered by GET /datastores (the published example's shape).
        self.datastores: set[str] = {"workspaceblobstore"}
        # GETs for which a newly PUT endpoint, deployment or schedule still answers "Creating".
        self.provisioning_reads = 0
        self._reads_left: dict[str, int] = {}
        # The caller's role assignments at the workspace (the Permissions API): the role infra/ assigns.
        self.permissions: list[dict[str, Any]] = role_permissions("azureml_data_scientist.json")
        self.arm: ArmBucket | None = None  # ARM's throttle in front of the workspace, when set

    # -- Microsoft's published examples ----------------------------------------------------------
    def load_example(self, relative: str, *paths: str, status: str | None = None) -> list[dict[str, Any]]:
        """Serve the resources of one of Microsoft's REST examples, stored under ``paths``.

        ``paths`` are workspace-relative (``/environments/env/versions/1``), one per resource: the
        response body, or each item of a list example's ``value`` in order. What is served is the
        example's own JSON, except the placeholders it can't be served with: an ``id`` of "string"
        becomes the resource's ARM id and a ``name`` of "string" the last segment of its path.
        (A real name must match its path.) ``nextLink`` is not served: every list is one page.
        """
        body = example_response(relative, status)
        items = body["value"] if isinstance(body, dict) and "value" in body else [body]
        if len(items) != len(paths):
            raise ValueError(f"{relative} holds {len(items)} resource(s), {len(paths)} path(s) given")
        loaded = []
        for item, path in zip(items, paths, strict=True):
            segments = [s for s in path.split("/") if s]
            if item.get("name", _PLACEHOLDER) not in (_PLACEHOLDER, segments[-1]):
                raise ValueError(f"{relative}: resource {item['name']!r} can't be served at {path}")
            resource = {**item, "name": segments[-1]}
            if resource.get("id", _PLACEHOLDER) == _PLACEHOLDER:
                resource["id"] = f"{self.scope}/{'/'.join(segments)}"
            with self._lock:
                if segments[0] == "computes":
                    self.computes.add(segments[-1])
                self.resources[path.lower().rstrip("/")] = resource
            loaded.append(resource)
        return loaded

    def load_workspace_example(self, relative: str) -> None:
        """Answer GET of the workspace with an example's body (its ARM id is not ours: kept as is)."""
        self.workspace_body = example_response(relative)

    # -- HttpTransport -------------------------------------------------------------------
    def send(self, request: HttpRequest, **kwargs: Any) -> RequestsTransportResponse:
        url = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if not url.path.lower().startswith(self.scope.lower()):
            return self._respond(request, 404, _error("NotFound", f"unknown path {url.path}"))
        path = url.path[len(self.scope):]
        raw: Any = request.body if request.body is not None else getattr(request, "data", None)
        body = json.loads(raw) if isinstance(raw, str | bytes) and raw else raw or None
        with self._lock:
            throttle = self._arm_headers(request.method)
            if throttle is not None and "Retry-After" in throttle:
                self.calls.append(Call(request.method, path, query.get("api-version"), query, body, faulted=True,
                                       headers=dict(request.headers), status=429))
                return self._respond(request, 429, _error("TooManyRequests", "ARM bucket empty"), throttle)
            fault = next((f for f in self.faults if f.times > 0 and f.matches(request.method, path)), None)
            call = Call(request.method, path, query.get("api-version"), query, body,
                        faulted=fault is not None and not fault.after_effect, headers=dict(request.headers))
            if fault is None:
                status, payload = self._route(request.method, path, query, body)
                self.calls.append(replace(call, status=status))
                return self._respond(request, status, payload, throttle)
            fault.times -= 1
            effect = self._route(request.method, path, query, body)[0] if fault.after_effect else fault.status
            self.calls.append(replace(call, status=effect))
            if fault.status is None:
                raise ServiceRequestError("emulated connection refused")
            return self._respond(request, fault.status, _error("Emulated", f"HTTP {fault.status}"), fault.headers)

    def _arm_headers(self, method: str) -> dict[str, str] | None:
        """ARM's answer headers for one request (with Retry-After when the bucket is empty), or None."""
        if self.arm is None:
            return None
        kind = "read" if method.upper() in ("GET", "HEAD") else "write"
        answer = self.arm.take(kind)
        headers = {f"x-ms-ratelimit-remaining-subscription-{kind}s": str(answer.remaining)}
        if not answer.allowed:
            headers["Retry-After"] = str(int(answer.retry_after or 1))
        return headers

    # -- helpers for tests ---------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def calls_matching(self, method: str, path_regex: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.search(path_regex, c.path)]

    def put_count(self, path_regex: str = ".*") -> int:
        """PUTs that reached the workspace (not answered by a fault) and that it accepted: the write counter."""
        return len([c for c in self.calls_matching("PUT", path_regex)
                    if not c.faulted and (c.status is None or c.status < 300)])

    def resource(self, path: str) -> dict[str, Any] | None:
        """The stored resource at ``path`` (admin read: no provisioning countdown, not logged)."""
        return self.resources.get(path.lower().rstrip("/"))

    def set_job_status(self, name: str, status: str) -> None:
        with self._lock:
            self.resources[f"/jobs/{name}".lower()]["properties"]["status"] = status

    # -- routing -------------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if path in ("", "/"):
            if method != "GET":
                return 405, _error("MethodNotAllowed", method)
            return 200, self.workspace_body or self._workspace()
        if path.lower().rstrip("/") == PERMISSIONS_PATH:
            if method != "GET" or query.get("api-version") != "2022-04-01":
                return 400, _error("InvalidApiVersionParameter", f"{method} api-version {query.get('api-version')}")
            return 200, {"value": copy.deepcopy(self.permissions)}
        segments = [s for s in path.split("/") if s]
        key = path.lower().rstrip("/")
        collection = segments[0]
        if collection.lower() in _RESOURCES:
            return self._mutable(method, segments, key, query, body)
        if method == "GET" and collection == "datastores" and len(segments) == 1:
            return 200, {"value": [self._datastore(n) for n in sorted(self.datastores)]}
        if method == "POST" and collection == "jobs" and len(segments) == 3 and segments[2] == "cancel":
            job = self.resources.get(f"/jobs/{segments[1]}".lower())
            if job is None:
                return 404, _error("NotFound", "job not found")
            job["properties"]["status"] = "CancelRequested"
            return 202, None
        if method == "GET" and collection == "computes":
            if len(segments) == 1:
                return 200, {"value": [self._compute(n) for n in sorted(self.computes)]}
            if len(segments) == 2 and segments[1] in self.computes:
                return 200, self._compute(segments[1])
            return 404, _error("NotFound", f"compute {path} not found")
        if method == "GET":
            if key in self.resources:
                return 200, self.resources[key]
            if len(segments) % 2 == 1:  # a collection: /jobs, /models, /models/{n}/versions
                return 200, {"value": self._list(key, query)}
            if collection in _VERSIONED and len(segments) == 2:  # a container
                container = self._container(segments[0], segments[1])
                return (200, container) if container else (404, _error("NotFound", "container not found"))
            return 404, _error("UserError", f"{path} not found")
        if method == "PUT":
            return self._put(segments, key, body)
        if method == "DELETE":
            return (200, None) if self.resources.pop(key, None) else (204, None)
        return 405, _error("MethodNotAllowed", method)

    def _put(self, segments: list[str], key: str, body: Any) -> tuple[int, Any]:
        collection = segments[0]
        existing = self.resources.get(key)
        # Asset versions are immutable in Azure ML: a changed body is a conflict.
        if (collection in _VERSIONED and existing is not None
                and existing["properties"].get("_request") != body.get("properties")):
            return 409, _error("Conflict", "asset version exists with different content")
        if collection == "jobs" and existing is not None:
            return 409, _error("Conflict", "job already exists")
        properties = dict(body.get("properties") or {})
        resource = {
            "id": self.scope + "/" + "/".join(segments),
            "name": segments[-1],
            "type": _TYPES.get(collection, "Microsoft.MachineLearningServices/workspaces/" + collection),
            "properties": properties,
            "systemData": {"createdAt": _now(), "createdBy": "emulator", "createdByType": "User",
                           "lastModifiedAt": _now()},
        }
        if collection == "jobs":
            properties["status"] = "Queued"
        if collection in _VERSIONED:
            properties["provisioningState"] = "Succeeded"
        # Keep the request's properties aside so a re-PUT with the same content is not a conflict.
        properties["_request"] = body.get("properties")
        self.resources[key] = resource
        # Jobs answer 201 Created; asset versions and connections answer 200 (the SDK's
        # generated clients accept only those).
        return (201 if collection == "jobs" else 200), self._public(resource)

    def _list(self, key: str, query: dict[str, str]) -> list[Any]:
        collection = key.strip("/")
        if collection in _VERSIONED:  # /models lists containers, one per name
            names = sorted({r["id"].split("/")[-3] for k, r in self.resources.items() if k.startswith(key + "/")})
            return [c for c in (self._container(collection, n) for n in names) if c]
        depth = key.count("/") + 1
        items = [self._public(r) for k, r in sorted(self.resources.items())
                 if k.startswith(key + "/") and k.count("/") == depth]
        if key.endswith("/jobs") and query.get("listViewType", "ActiveOnly") == "ActiveOnly":
            items = [i for i in items if not i["properties"].get("isArchived")]
        return items

    def _container(self, collection: str, name: str) -> dict[str, Any] | None:
        prefix = f"/{collection}/{name}/versions/".lower()
        versions = [r for k, r in self.resources.items() if k.startswith(prefix)]
        if not versions:
            return None
        latest = max(versions, key=lambda r: (r["systemData"]["createdAt"]))
        return {
            "id": f"{self.scope}/{collection}/{name}", "name": name, "type": _TYPES[collection],
            "properties": {"latestVersion": latest["name"], "nextVersion": str(len(versions) + 1)},
            "systemData": latest["systemData"],
        }

    # -- endpoints, deployments, schedules -------------------------------------------------
    def _served(self, key: str) -> dict[str, Any]:
        resource = self.resources[key]
        left = self._reads_left.get(key, 0)
        if key in self._reads_left:
            self._reads_left[key] = left - 1
            if left <= 0:
                del self._reads_left[key]
                resource["properties"]["provisioningState"] = "Succeeded"
        return resource

    def _mutable(self, method: str, segments: list[str], key: str, query: dict[str, str],
                 body: Any) -> tuple[int, Any]:
        parent = "/".join(key.split("/")[:3]) if len(segments) > 2 else None
        if parent is not None and parent not in self.resources:
            return 404, _error("NotFound", f"endpoint {segments[1]} not found")
        if method == "GET" and len(segments) % 2 == 1:  # a collection
            depth = key.count("/") + 1
            items = [self._served(k) for k in sorted(self.resources)
                     if k.startswith(key + "/") and k.count("/") == depth]
            view = query.get("listViewType", "EnabledOnly" if segments[0].lower() == "schedules" else "All")
            if view != "All":
                items = [i for i in items if bool(i["properties"].get("isEnabled")) == (view == "EnabledOnly")]
            return 200, {"value": items}
        if method == "GET":
            return (200, self._served(key)) if key in self.resources else (404, _error("NotFound", f"{key} not found"))
        if method == "PUT":
            refused = self._refused(segments, key, body)
            if refused:
                return 400, _error("BadRequest", refused)
            created = key not in self.resources
            self.resources[key] = self._stored(segments, body, self.resources.get(key))
            if created and self.provisioning_reads:
                self._reads_left[key] = self.provisioning_reads
                self.resources[key]["properties"]["provisioningState"] = "Creating"
            return (201 if created else 200), self.resources[key]
        if method == "DELETE":
            return (202, None) if self.resources.pop(key, None) else (204, None)
        return 405, _error("MethodNotAllowed", method)

    def _refused(self, segments: list[str], key: str, body: Any) -> str | None:
        """Why the service would answer 400 to this PUT, or None."""
        props = (body or {}).get("properties") or {}
        if len(segments) != 2 or segments[0].lower() == "schedules":
            return None
        kind = ArtifactKind.ONLINE_ENDPOINT if segments[0].lower() == "onlineendpoints" else ArtifactKind.BATCH_ENDPOINT
        routed = routed_deployments(Artifact(kind, segments[1], None, body or {}))
        if props.get("traffic") and sum(int(s) for s in props["traffic"].values()) not in (0, 100):
            return "traffic must add up to 100"
        for deployment in sorted(routed):
            found = self.resources.get(f"{key}/deployments/{deployment}".lower())
            if found is None:
                return f"deployment {deployment} does not exist"
            if found["properties"].get("provisioningState") in _PENDING_STATES:
                return f"deployment {deployment} is not ready"
        return None

    def _stored(self, segments: list[str], body: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
        collection = segments[0].lower()
        arm_type = _RESOURCES[collection] + ("/deployments" if len(segments) == 4 else "")
        resource = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("id", "name", "type", "systemData")}
        props = resource.setdefault("properties", {})
        props["provisioningState"] = "Succeeded"
        if len(segments) == 2 and collection != "schedules":
            flavour = "inference" if collection == "onlineendpoints" else "batchendpoint"
            props["scoringUri"] = f"https://{segments[1]}.{self.location}.{flavour}.ml.azure.com/score"
            props["swaggerUri"] = f"https://{segments[1]}.{self.location}.{flavour}.ml.azure.com/swagger.json"
        identity = resource.get("identity")
        if isinstance(identity, dict):
            identity["principalId"] = identity["tenantId"] = "00000000-1111-2222-3333-444444444444"
            for assigned in (identity.get("userAssignedIdentities") or {}).values():
                assigned.update({"principalId": "00000000-1111-2222-3333-444444444444",
                                 "clientId": "00000000-1111-2222-3333-444444444444"})
        created = (before or {}).get("systemData", {}).get("createdAt") or _now()
        return {"id": self.scope + "/" + "/".join(segments), "name": segments[-1], "type": arm_type, **resource,
                "systemData": {"createdAt": created, "createdBy": "emulator", "createdByType": "User",
                               "lastModifiedAt": _now(), "lastModifiedBy": "emulator", "lastModifiedByType": "User"}}

    def _datastore(self, name: str) -> dict[str, Any]:
        """The published Datastore list item, naming this workspace's datastore ``name``."""
        item: dict[str, Any] = example_response("2024-10-01-preview/Datastore/list.json")["value"][0]
        item.update({"id": f"{self.scope}/datastores/{name}", "name": name,
                     "type": "Microsoft.MachineLearningServices/workspaces/datastores"})
        return item

    def _compute(self, name: str) -> dict[str, Any]:
        """An ARM ComputeResource: a loaded example's, else an AmlCompute cluster that scales to zero."""
        loaded = self.resources.get(f"/computes/{name}".lower())
        if loaded is not None:
            return loaded
        return {
            "id": f"{self.scope}/computes/{name}", "name": name, "type": _TYPES["computes"],
            "location": self.location,
            "properties": {
                "computeType": "AmlCompute", "computeLocation": self.location, "provisioningState": "Succeeded",
                "isAttachedCompute": False, "disableLocalAuth": True,
                "properties": {"vmSize": "STANDARD_DS3_V2", "vmPriority": "Dedicated", "osType": "Linux",
                               "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4,
                                                 "nodeIdleTimeBeforeScaleDown": "PT120S"},
                               "currentNodeCount": 0, "targetNodeCount": 0, "allocationState": "Steady"},
            },
            "systemData": {"createdAt": "2025-01-01T00:00:00Z", "createdBy": "emulator", "createdByType": "User"},
        }

    def _workspace(self) -> dict[str, Any]:
        return {
            "id": self.scope, "name": self.workspace, "type": f"{PROVIDER}/workspaces",
            "location": self.location, "kind": "Hub",
            "properties": {"friendlyName": self.workspace, "provisioningState": "Succeeded",
                           "discoveryUrl": f"https://{self.location}.api.azureml.ms/discovery"},
            "systemData": {"createdAt": "2025-01-01T00:00:00Z", "createdBy": "emulator", "createdByType": "User"},
        }

    @staticmethod
    def _public(resource: dict[str, Any]) -> dict[str, Any]:
        props = {k: v for k, v in resource["properties"].items() if k != "_request"}
        return {**resource, "properties": props}

    @staticmethod
    def _respond(request: HttpRequest, status: int, payload: Any,
                 headers: dict[str, str] | None = None) -> RequestsTransportResponse:
        public = (AzureMLEmulator._public(payload) if isinstance(payload, dict)
                  and isinstance(payload.get("properties"), dict) else payload)
        answer: RequestsTransportResponse = LocalTransport.answer(
            request, status, public, {"x-ms-request-id": "emulator", **(headers or {})})
        return answer


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}

