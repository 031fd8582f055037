"""The Durable extension's HTTP management API, served on loopback over a ReplayHost.

The SDK's ``DurableOrchestrationClient`` never talks to storage: it sends HTTP requests to
the ``rpcBaseUrl`` of its binding JSON. Serving the same routes, status codes and bodies
as the extension (HttpApiHandler.cs) lets HTTP-triggered functions run unchanged against
the replay host. Both the local RPC base (``/durabletask/``) and the public webhook base
(``/runtime/webhooks/durabletask/``) are served by one dispatcher, as the extension does,
so the URLs in a check-status response work with curl.

This layer only translates HTTP to ReplayHost calls and host exceptions to status codes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from replayhost.engine import (
    InstanceAlreadyRunning,
    InstanceNotFound,
    InstanceNotRunning,
    ReplayHost,
    UnknownOrchestrator,
)
from replayhost.state import InstanceStatus, RuntimeStatus

log = logging.getLogger(__name__)

RPC_PREFIX = "/durabletask/"
WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"
INSTANCE_ID_PLACEHOLDER = "INSTANCEID"  # what the extension puts in the binding's managementUrls
_RUNNING = (RuntimeStatus.PENDING, RuntimeStatus.RUNNING, RuntimeStatus.CONTINUED_AS_NEW)


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-serialisable; None sends an empty body (the extension's bare responses)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    method: str
    segments: list[str]  # path after the base, split on "/" and percent-decoded one by one
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    origin: str  # scheme://authority the caller used: management URLs point back to it
    url: str  # the full URL as requested (Location of a 202 status)


@dataclass(frozen=True)
class Incoming:
    """One HTTP request as read off a stdlib handler: shared by this API and `hubfailover serve`."""

    path: str
    body: bytes
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    origin: str
    url: str

    @classmethod
    def read(cls, handler: BaseHTTPRequestHandler, base_url: str) -> Incoming:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        origin = f"http://{handler.headers.get('Host') or base_url.removeprefix('http://')}"
        return cls(parts.path, handler.rfile.read(length) if length > 0 else b"",
                   {k.lower(): v for k, v in handler.headers.items()},
                   {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                   origin, origin + handler.path)

    def request(self, method: str, prefix: str) -> Request:
        """The request for the API mounted at ``prefix`` (path segments percent-decoded one by one)."""
        segments = [unquote(s) for s in self.path[len(prefix):].split("/")]
        return Request(method, segments, self.query, self.headers, self.body, self.origin, self.url)


class ManagementApi:
    def __init__(self, host: ReplayHost, task_hub: str = "hubfailover", connection: str = "Storage",
                 system_key: str | None = None) -> None:
        """``system_key``: put in the management URLs as `code=`, as the extension does on Azure (its
        durabletask_extension key). Checking it on the public webhooks is the front door's job."""
        self.host = host
        self.task_hub = task_hub
        self.connection = connection
        self.system_key = system_key
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1 only (never all interfaces) and return the base URL."""
        if self._server is not None:
            return self.base_url
        server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        server.daemon_threads = True
        server.api = self  # type: ignore[attr-defined]  # the handler finds its api here
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="management-api", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the management API is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------ binding and URL templates

    def client_binding(self) -> str:
        """The JSON the `durableClient` binding hands a client function (what the extension sends)."""
        webhook = self.base_url + WEBHOOK_PREFIX.rstrip("/")
        creation = f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]"
        return json.dumps({
            "taskHubName": self.task_hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{creation}?",
                "createAndWaitOnNewInstancePostUri":
                    f"{creation}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&",
            },
            "managementUrls": self.management_urls(INSTANCE_ID_PLACEHOLDER, encode=False),
            "baseUrl": webhook,
            "requiredQueryStringParameters": self._code(),  # on Azure "code=<system key>"
            "rpcBaseUrl": self.base_url + RPC_PREFIX,
            "httpBaseUrl": "",
            "maxGrpcMessageSizeInBytes": 0,
            "grpcHttpClientTimeout": "00:01:40",
        })

    def management_urls(self, instance_id: str, origin: str | None = None, *, encode: bool = True) -> dict[str, str]:
        """The extension's HttpManagementPayload (GetClientResponseLinks) for one instance."""
        ident = quote(instance_id, safe="") if encode else instance_id
        prefix = f"{origin or self.base_url}{WEBHOOK_PREFIX}instances/{ident}"
        suffix = f"taskHub={quote(self.task_hub, safe='')}&connection={quote(self.connection, safe='')}"
        if self.system_key:
            suffix += f"&{self._code()}"
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{prefix}?{suffix}",
            "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{suffix}",
            "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{suffix}",
            "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{suffix}",
            "purgeHistoryDeleteUri": f"{prefix}?{suffix}",
            "restartPostUri": f"{prefix}/restart?{suffix}",
            "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{suffix}",
            "resumePostUri": f"{prefix}/resume?reason={{text}}&{suffix}",
        }

    def _code(self) -> str:
        return f"code={quote(self.system_key, safe='')}" if self.system_key else ""

    # ------------------------------------------------------------------ routing (HttpApiHandler.HandleRequestAsync)

    def handle(self, req: Request) -> Reply:
        seg, method = req.segments, req.method
        try:
            if seg[:1] == ["orchestrators"] and len(seg) in (2, 3) and seg[1]:
                if method != "POST":
                    return Reply(404)
                return self._start(req, seg[1], seg[2] if len(seg) == 3 and seg[2] else None)
            if seg[:1] != ["instances"]:
                return Reply(404)
            instance_id = seg[1] if len(seg) > 1 else ""
            if len(seg) <= 2 and not instance_id:
                return {"GET": self._list, "DELETE": self._purge_by}.get(method, _not_found)(req)
            if len(seg) == 2:
                if method == "GET":
                    return self._status(req, instance_id)
                return self._purge(instance_id) if method == "DELETE" else Reply(404)
            if method != "POST":
                return Reply(404)
            if len(seg) == 4 and seg[2] == "raiseEvent" and seg[3]:
                return self._raise_event(req, instance_id, seg[3])
            operation = seg[2].lower() if len(seg) == 3 else ""
            operations = {"terminate": self._terminate, "restart": self._restart, "rewind": self._rewind,
                          "suspend": self._suspend_or_resume, "resume": self._suspend_or_resume}
            return operations[operation](req, instance_id) if operation in operations else Reply(404)
        except Exception:  # as the extension: a handler bug is a 500 for the caller, not a dead thread
            log.exception("management API request failed: %s %s", method, "/".join(seg))
            return Reply(500, {"Message": "Something went wrong while processing your request"})

    # ------------------------------------------------------------------ handlers

    def _start(self, req: Request, name: str, instance_id: str | None) -> Reply:
        try:
            client_input = _json_body(req.body)
        except ValueError:
            return Reply(400, {"Message": "Invalid JSON content"})
        try:
            instance_id = self.host.start_new(name, instance_id, client_input)
        except InstanceAlreadyRunning as exc:
            return Reply(409, {"Message": str(exc)})
        except (UnknownOrchestrator, ValueError) as exc:
            # The SDK reads "ExceptionMessage" on a 400 (KeyError without it), so send both.
            return Reply(400, {"Message": str(exc), "ExceptionMessage": str(exc)})
        timeout, interval = _float(req.query.get("timeout")), _float(req.query.get("pollingInterval"))
        if timeout is not None and interval is not None:
            return self._wait_or_check_status(req, instance_id, timeout, interval)
        return self._check_status(req, instance_id)

    def _status(self, req: Request, instance_id: str) -> Reply:
        status = self.host.get_status(instance_id, show_history=_flag(req.query, "showHistory", False))
        if status is None:
            return Reply(404)
        show_input = _flag(req.query, "showInput", True)
        body = _status_json(status, show_input)
        if status.runtime_status in _RUNNING:
            return Reply(202, body, {"Location": req.url, "Retry-After": "5"})
        if status.runtime_status == RuntimeStatus.FAILED and _flag(req.query, "returnInternalServerErrorOnFailure",
                                                                   False):
            return Reply(500, body)
        return Reply(200, body)

    def _list(self, req: Request) -> Reply:
        statuses = _statuses(req.query)
        prefix = req.query.get("instanceIdPrefix", "")
        since, until = _time(req.query.get("createdTimeFrom")), _time(req.query.get("createdTimeTo"))
        found = [s for s in self.host.list_instances(statuses)
                 if s.instance_id.startswith(prefix)
                 and (since is None or s.created_time >= since) and (until is None or s.created_time <= until)]
        # Paging: `top` + the x-ms-continuation-token header; the token is an offset, opaque to callers.
        start = int(_float(req.headers.get("x-ms-continuation-token")) or 0)
        top = int(_float(req.query.get("top")) or 0) or len(found)
        page = found[start:start + top]
        headers = {"x-ms-continuation-token": str(start + top)} if start + top < len(found) else {}
        show_input = _flag(req.query, "showInput", True)
        return Reply(200, [_status_json(s, show_input) for s in page], headers)

    def _raise_event(self, req: Request, instance_id: str, event_name: str) -> Reply:
        status = self.host.get_status(instance_id)
        if status is None:
            return Reply(404)
        if status.runtime_status.is_terminal:
            return Reply(410)
        if req.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return Reply(400, {"Message": "Only application/json request content is supported"})
        try:
            data = _json_body(req.body)
        except ValueError:
            return Reply(400, {"Message": "Invalid JSON content"})
        try:
            self.host.raise_event(instance_id, event_name, data)
        except InstanceNotFound:  # purged or finished between the check and the call
            return Reply(404)
        except InstanceNotRunning:
            return Reply(410)
        return Reply(202)

    def _terminate(self, req: Request, instance_id: str) -> Reply:
        try:
            self.host.terminate(instance_id, req.query.get("reason", ""))
        except InstanceNotFound:
            return Reply(404)
        except InstanceNotRunning:
            return Reply(410)
        return Reply(202)

    def _restart(self, req: Request, instance_id: str) -> Reply:
        status = self.host.get_status(instance_id)
        if status is None:
            return Reply(400, {"Message": "InstanceId does not match a valid orchestration instance."})
        new_id = None if _flag(req.query, "restartWithNewInstanceId", True) else instance_id
        try:
            started = self.host.start_new(status.name, new_id, status.input)
        except InstanceAlreadyRunning:
            return Reply(409, {"Message": "A non-terminal instance with this instance ID already exists."})
        return self._check_status(req, started)

    def _rewind(self, req: Request, instance_id: str) -> Reply:
        status = self.host.get_status(instance_id)
        if status is None:
            return Reply(404, f'No orchestration with instance ID "{instance_id}" found.')
        if status.runtime_status != RuntimeStatus.FAILED:
            return Reply(412, f"This orchestration has status {status.runtime_status.value}, but only "
                              'orchestrations in the "Failed" state can be rewound.')
        return Reply(501, {"Message": "Rewind is not supported by the replay host."})

    def _suspend_or_resume(self, req: Request, instance_id: str) -> Reply:
        status = self.host.get_status(instance_id)
        if status is None:
            return Reply(404)
        if status.runtime_status.is_terminal:
            return Reply(410)
        return Reply(501, {"Message": "Suspend and resume are not supported by the replay host."})

    def _purge(self, instance_id: str) -> Reply:
        try:
            deleted = self.host.purge(instance_id)
        except InstanceNotRunning as exc:  # the host refuses to purge a live instance, as the extension does
            return Reply(412, f"Only orchestrations in a terminal state can be purged: {exc}")
        return Reply(200, {"instancesDeleted": 1}) if deleted else Reply(404)

    def _purge_by(self, req: Request) -> Reply:
        since = _time(req.query.get("createdTimeFrom"))
        if since is None:
            return Reply(400, "Please provide value for 'createdTimeFrom' parameter.")
        until = _time(req.query.get("createdTimeTo")) or datetime.now(UTC)
        statuses = _statuses(req.query)
        deleted = 0
        for status in self.host.list_instances(statuses):
            if status.runtime_status.is_terminal and since <= status.created_time <= until:
                deleted += self.host.purge(status.instance_id)
        return Reply(200, {"instancesDeleted": deleted}) if deleted else Reply(404)

    # ------------------------------------------------------------------ check-status responses

    def _check_status(self, req: Request, instance_id: str) -> Reply:
        """The extension's CreateCheckStatusResponseMessage: 202, the payload, Location, Retry-After."""
        urls = self.management_urls(instance_id, req.origin)
        urls.pop("rewindPostUri")  # the extension's 202 body leaves it out (the binding has it)
        return Reply(202, urls, {"Location": urls["statusQueryGetUri"], "Retry-After": "10"})

    def _wait_or_check_status(self, req: Request, instance_id: str, timeout: float, interval: float) -> Reply:
        deadline = time.monotonic() + timeout
        while True:
            status = self.host.get_status(instance_id)
            if status is not None and status.runtime_status.is_terminal:
                if status.runtime_status == RuntimeStatus.COMPLETED:
                    return Reply(200, status.output)
                return self._status(req, instance_id)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._check_status(req, instance_id)
            time.sleep(min(interval, remaining))


class _Handler(BaseHTTPRequestHandler):
    server_version = "replayhost-management/1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        api: ManagementApi = self.server.api  # type: ignore[attr-defined]
        incoming = Incoming.read(self, api.base_url)
        reply = Reply(404)
        for prefix in (RPC_PREFIX, WEBHOOK_PREFIX):
            if incoming.path.startswith(prefix):
                reply = api.handle(incoming.request(self.command, prefix))
                break
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib names it `format`
        log.debug("management API: " + format, *args)


# ---------------------------------------------------------------------- helpers


def _not_found(_req: Request) -> Reply:
    return Reply(404)


def _json_body(body: bytes) -> Any:
    """The caller's value from a request body. Raises ValueError on invalid JSON.

    The Python SDK sends JSON text *inside* a JSON string (it json.dumps the value, then
    aiohttp's ``json=`` encodes that text again), while curl sends plain JSON. Unwrap one
    level when the string itself holds JSON, so the host gets the value either way.
    """
    if not body.strip():
        return None
    value = json.loads(body)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _status_json(status: InstanceStatus, show_input: bool) -> dict[str, Any]:
    """The extension's StatusResponsePayload (times to the second, as its ConvertFrom writes them)."""
    body: dict[str, Any] = {
        "name": status.name,
        "instanceId": status.instance_id,
        "runtimeStatus": status.runtime_status.value,
        "input": status.input if show_input else None,
        "customStatus": status.custom_status,
        "output": status.output,
        "createdTime": _format_time(status.created_time),
        "lastUpdatedTime": _format_time(status.last_updated_time),
    }
    if status.history is not None:
        body["historyEvents"] = status.history
    return body


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text: str | None) -> datetime | None:
    """The SDK writes '%Y-%m-%dT%H:%M:%S.%fZ' whatever the datetime's zone: read it as UTC."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.strip().replace(" ", "+"))  # '+' in a query string decodes to ' '
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _statuses(query: dict[str, str]) -> set[RuntimeStatus] | None:
    """runtimeStatus=Running,Completed; unknown names (Canceled, Suspended) are skipped, as Enum.TryParse does."""
    names = [n.strip().lower() for n in query.get("runtimeStatus", "").split(",") if n.strip()]
    if not names:
        return None
    known = {s.value.lower(): s for s in RuntimeStatus}
    return {known[n] for n in names if n in known}  # only unknown names: an empty filter, nothing matches


def _flag(query: dict[str, str], name: str, default: bool) -> bool:
    value = query.get(name, "").strip().lower()
    return {"true": True, "false": False}.get(value, default)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None

