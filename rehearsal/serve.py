"""`hubfailover serve`: this app's HTTP routes and timers on loopback, without Core Tools.

Azurite (embedded, or `--storage`), simulated hubs (the drill's world by default, or
`--config` / FAILOVER_CONFIG), the replay host on a background loop with real time, and
one HTTP origin that serves:
- `/api/{route}`: the app's HTTP functions through their real decorated entry points, with
  function-level auth as on Azure (`x-functions-key` header or `?code=`);
- `/runtime/webhooks/durabletask/...`: the Durable management API, behind its own system key
  (as on Azure: a function key does not open it). That key is never printed: the operator API
  needs none of these URLs, and nothing of ours hands them out.
Timer functions run on their NCRONTAB schedules. SIGINT/SIGTERM stop everything cleanly.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import signal
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import azure.functions as func

from failover.domain import settings as app_settings
from failover.domain.secrets import scrub
from failover.services import services
from rehearsal.serve_functions import HttpFunction, Invoker, http_functions, split_path, timer_functions
from rehearsal.serve_timers import TimerLoop, resolve_schedule
from replayhost.azurite import Azurite
from replayhost.clock import RealClock
from replayhost.engine import Delivery, ReplayHost
from replayhost.management_api import WEBHOOK_PREFIX, Incoming, ManagementApi
from replayhost.store import AzureStorageStore

log = logging.getLogger("hubfailover.serve")
API_KEY_ENV = "HUBFAILOVER_API_KEY"  # the operator's key (client side too): not an app setting
KEY_HEADER = "x-functions-key"
DEFAULT_PORT = 7071
ROOT = Path(__file__).resolve().parent.parent
_SAMPLE_SETTINGS = ROOT / "local.settings.sample.json"
_SCHEDULES = (app_settings.HEALTH_PROBE_SCHEDULE, app_settings.CATALOG_SYNC_SCHEDULE, app_settings.READINESS_SCHEDULE)
MAX_REQUEST_BYTES = 1024 * 1024  # every route refuses far less (alerts 256 KiB, operator bodies 64 KiB)


@dataclass(frozen=True)
class ServeOptions:
    port: int = DEFAULT_PORT
    config: str | None = None  # a path or the JSON; None: FAILOVER_CONFIG, else the drill's world
    storage: str | None = None  # a connection string; None: an embedded Azurite
    task_hub: str | None = None  # None: DURABLE_TASK_HUB_NAME, else "hubfailover"
    timers: bool = True


def _sample_schedules() -> dict[str, str]:
    try:
        values = json.loads(_SAMPLE_SETTINGS.read_text())["Values"]
        return {name: values[name] for name in _SCHEDULES if values.get(name)}
    except (OSError, KeyError, ValueError):
        return {app_settings.HEALTH_PROBE_SCHEDULE: "*/30 * * * * *",
                app_settings.CATALOG_SYNC_SCHEDULE: "0 */15 * * * *",
                app_settings.READINESS_SCHEDULE: "0 5-59/15 * * * *"}


class LocalServer:
    def __init__(self, options: ServeOptions, key: str, system_key: str | None = None) -> None:
        if not key:
            raise ValueError("serve needs a function key")
        self.options, self.key = options, key
        # The Durable extension's system key (durabletask_extension on Azure): opens the webhooks,
        # which can raise any event or terminate any instance. Distinct from the function key.
        self.system_key = system_key or secrets.token_urlsafe(32)
        self._azurite: Azurite | None = None
        self.host: ReplayHost | None = None
        self.api: ManagementApi | None = None
        self.invoker: Invoker | None = None
        self.timers: list[TimerLoop] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.functions: list[HttpFunction] = []
        self.connection_string = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _start(self) -> None:
        conn = self.options.storage
        if conn is None:
            self._azurite = Azurite()
            conn = self._azurite.start().connection_string
        self.connection_string = conn
        self._world(conn)
        for name, value in _sample_schedules().items():
            os.environ.setdefault(name, value)  # timers need their settings, as on Azure

        from function_app import app

        task_hub = self.options.task_hub or services().settings.task_hub
        self.host = ReplayHost(app, store=AzureStorageStore(conn, task_hub), clock=RealClock(),
                               delivery=Delivery(coalesce_ms=25))
        self.host.start_background()
        self.api = ManagementApi(self.host, task_hub, system_key=self.system_key)
        self.api.start()  # the SDK client's RPC base, on its own loopback port
        self.invoker = Invoker()
        self.functions = http_functions(app)
        server = ThreadingHTTPServer(("127.0.0.1", self.options.port), _Handler)
        server.daemon_threads = True
        server.serve = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="serve-http", daemon=True)
        self._thread.start()
        if self.options.timers:
            for timer in timer_functions(app):
                loop = TimerLoop(timer, resolve_schedule(timer.schedule), self.invoker, self.binding, self._stopping)
                loop.start()
                self.timers.append(loop)

    def _world(self, conn: str) -> None:
        """Settings into the environment (the functions read them, as on Azure), pointers ensured."""
        config = self.options.config or os.environ.get(app_settings.FAILOVER_CONFIG)
        if config is None:
            from rehearsal.scenario import DrillOptions, prepare

            prepare(DrillOptions(), conn)  # seeded hubs, synced catalog, pointer: works out of the box
            return
        os.environ[app_settings.FAILOVER_CONFIG] = config
        os.environ[app_settings.DR_STORAGE_CONNECTION] = conn
        svc = services()  # keyed by these settings; a bad configuration fails here, before anything listens
        for pair in svc.config.pairs:
            svc.pointers.ensure(pair.name, pair.primary.name, pair.secondary.name)

    def stop(self) -> None:
        self._stopping.set()
        for timer in self.timers:
            timer.join(timeout=10)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.invoker is not None:
            self.invoker.stop()
        if self.api is not None:
            self.api.stop()
        if self.host is not None:
            self.host.stop()
        if self._azurite is not None:
            self._azurite.stop()
            self._azurite = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("serve is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def binding(self) -> str:
        assert self.api is not None
        return self.api.client_binding()

    # ------------------------------------------------------------------ requests

    def authorized(self, headers: dict[str, str], query: dict[str, str], path: str) -> bool:
        """The function key opens /api/; only the system key opens the Durable webhooks."""
        key = self.system_key if path.startswith(WEBHOOK_PREFIX) else self.key
        given = headers.get(KEY_HEADER) or query.get("code") or ""
        return hmac.compare_digest(given.encode("utf-8", "replace"), key.encode())

    def call_function(self, method: str, url: str, path: str, query: dict[str, str], headers: dict[str, str],
                      body: bytes) -> func.HttpResponse:
        segments = split_path(path)
        allowed = False
        for fn in self.functions:
            params = fn.match(segments)
            if params is None:
                continue
            if method not in fn.methods:
                allowed = True
                continue
            assert self.invoker is not None
            request = func.HttpRequest(method, url, headers=headers, params=query, route_params=params, body=body)
            kwargs: dict[str, Any] = {fn.request_name: request}
            if fn.client_name:
                kwargs[fn.client_name] = self.binding()
            response = self.invoker.call(fn.entry, kwargs)
            if not isinstance(response, func.HttpResponse):
                return func.HttpResponse(status_code=204 if response is None else 200,
                                         body=None if response is None else str(response))
            return response
        why = "method not allowed on this route" if allowed else "no function serves this route"
        return func.HttpResponse(json.dumps({"error": why, "field": None}), status_code=404,
                                 mimetype="application/json")


class _Handler(BaseHTTPRequestHandler):
    server_version = "hubfailover-serve/1"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        serve: LocalServer = self.server.serve  # type: ignore[attr-defined]
        refused = self._unreadable_body()
        if refused is not None:  # the body is not read: nothing of it may be taken for the next request
            self.close_connection = True
            self._reply(*refused)
            return
        incoming = Incoming.read(self, serve.base_url)
        path, headers, query = incoming.path, incoming.headers, incoming.query
        try:
            if not (path.startswith("/api/") or path.startswith(WEBHOOK_PREFIX)):
                self._reply(404, {"error": "not found", "field": None})
            elif not serve.authorized(headers, query, path):
                self._reply(401, {"error": f"missing or wrong key ({KEY_HEADER} header or ?code=)",
                                  "field": KEY_HEADER})
            elif path.startswith("/api/"):
                response = serve.call_function(self.command, incoming.url, path[len("/api"):], query,
                                               headers, incoming.body)
                self._send(response.status_code, response.get_body(), dict(response.headers), response.mimetype)
            else:
                assert serve.api is not None
                reply = serve.api.handle(incoming.request(self.command, WEBHOOK_PREFIX))
                self._reply(reply.status, reply.body, reply.headers)
        except Exception:
            log.exception("serve: %s %s failed", self.command, path)
            self._reply(500, {"error": "internal error (see the serve log)", "field": None})
        log.info("%s %s", self.command, path)  # never the query: it may hold ?code=

    def _unreadable_body(self) -> tuple[int, dict[str, Any]] | None:
        """A body this server does not read, answered before reading anything (and before the key check, which
        needs no body): a chunked one (411), a Content-Length that is not a length (400) or over the largest
        body any route accepts (413: the alert webhook's 256 KiB, with room)."""
        if self.headers.get("Transfer-Encoding"):
            return 411, {"error": "send the body with a Content-Length (chunked bodies are not read)", "field": None}
        text = (self.headers.get("Content-Length") or "0").strip()
        if not text.isdigit():
            return 400, {"error": f"Content-Length {text[:40]!r} is not a length", "field": "Content-Length"}
        if int(text) > MAX_REQUEST_BYTES:
            return 413, {"error": f"request body is larger than {MAX_REQUEST_BYTES} bytes", "field": "body"}
        return None

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self._send(status, payload, headers or {}, "application/json")

    def _send(self, status: int, payload: bytes, headers: dict[str, str], mimetype: str | None) -> None:
        self.send_response(status)
        skip = {"content-length", "content-type", "connection", "transfer-encoding"}
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        for name, value in headers.items():
            if name.lower() not in skip:
                self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", content_type or f"{mimetype or 'text/plain'}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # the request line holds ?code=: not logged
        return


def api_key_from_env() -> tuple[str, bool]:
    """The key from HUBFAILOVER_API_KEY, or a fresh one (True: generated, print it once)."""
    key = os.environ.get(API_KEY_ENV, "").strip()
    return (key, False) if key else (secrets.token_urlsafe(32), True)


def serve_command(args: Any) -> int:
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "urllib3", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    key, generated = api_key_from_env()
    options = ServeOptions(port=args.port, config=args.config, storage=args.storage, task_hub=args.task_hub,
                           timers=not args.no_timers)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = LocalServer(options, key)
    try:
        base = server.start()
    except Exception as exc:  # a port taken, a bad --config, storage unreachable: said, never a traceback
        console.print(f"[red]serve could not start:[/] {type(exc).__name__}: {escape(scrub(str(exc))[:1500])}")
        return 1
    try:
        console.print(f"[bold]hubfailover serve[/] on {base}  (routes under /api/; Durable webhooks under "
                      f"{WEBHOOK_PREFIX}, behind a system key that is not printed)")
        for fn in server.functions:
            console.print(f"  {','.join(sorted(fn.methods)):<5} /api/{fn.route}")
        for timer in server.timers:
            console.print(f"  timer {timer.timer.name}: {timer.schedule.text}")
        if generated:
            console.print(f"generated key (set {API_KEY_ENV} to choose one): {key}")
        console.print(f"export HUBFAILOVER_URL={base}; send the key as {KEY_HEADER} or ?code=. Ctrl-C stops.")
        stop.wait()
        console.print("stopping...")
    finally:
        server.stop()
    return 0
