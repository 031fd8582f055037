"""Start and stop a private Azurite (the Azure Storage emulator) on free loopback ports.

Used by the test fixtures and by the drill. The process is started from the project's
``node_modules`` with its own temp data dir and stopped by the PID we started, so several
test sessions (or a drill next to a test run) never share state or ports.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# Azurite's well-known development account. Public by design (it is in Microsoft's docs),
# accepted only by the emulator: not a secret.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTALL_HINT = "install them with `make setup` (needs node and npm on PATH: https://nodejs.org)"


class AzuriteUnavailable(RuntimeError):
    """Node or the Azurite package is missing, or Azurite did not come up."""


@dataclass(frozen=True)
class AzuriteEndpoints:
    host: str
    blob_port: int
    queue_port: int
    table_port: int
    account: str = DEV_ACCOUNT
    key: str = field(default=DEV_KEY, repr=False)

    @property
    def blob_url(self) -> str:
        return f"http://{self.host}:{self.blob_port}/{self.account}"

    @property
    def queue_url(self) -> str:
        return f"http://{self.host}:{self.queue_port}/{self.account}"

    @property
    def table_url(self) -> str:
        return f"http://{self.host}:{self.table_port}/{self.account}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
            f"BlobEndpoint={self.blob_url};QueueEndpoint={self.queue_url};"
            f"TableEndpoint={self.table_url};"
        )


def azurite_script(root: Path = PROJECT_ROOT) -> Path:
    return root / "node_modules" / "azurite" / "dist" / "src" / "azurite.js"


# Preloaded into Azurite: it exits when the process that started it is gone (even SIGKILLed).
WATCHDOG = Path(__file__).resolve().parent / "azurite_watchdog.js"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True  # any HTTP status means the service is up and parsing requests
    except OSError:
        return False
    return True


class Azurite:
    """One Azurite process. Use as a context manager or call start()/stop()."""

    def __init__(self, data_dir: str | Path | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="azurite-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoints: AzuriteEndpoints | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 30.0) -> AzuriteEndpoints:
        node = shutil.which("node")
        if node is None:
            raise AzuriteUnavailable(f"node is not on PATH; {INSTALL_HINT}")
        script = azurite_script()
        if not script.exists():
            raise AzuriteUnavailable(f"Azurite is not in {script.parent.parent.parent}; {INSTALL_HINT}")
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind: retry
            eps = AzuriteEndpoints(self.host, _free_port(self.host), _free_port(self.host), _free_port(self.host))
            cmd = [
                node, "-r", str(WATCHDOG), str(script), "--silent", "--skipApiVersionCheck", "--loose",
                "--disableTelemetry", "--location", str(self.data_dir),
                "--blobHost", self.host, "--blobPort", str(eps.blob_port),
                "--queueHost", self.host, "--queuePort", str(eps.queue_port),
                "--tableHost", self.host, "--tablePort", str(eps.table_port),
            ]
            log = open(self.data_dir / "azurite.log", "ab")  # noqa: SIM115 - owned by the child
            watchdog_env = {"HUBFAILOVER_AZURITE_PARENT": str(os.getpid()),
                            "HUBFAILOVER_AZURITE_OWNED_DIR": str(self.data_dir) if self._own_dir else ""}
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, **watchdog_env},
            )
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                if all(_answers(u + "?comp=list") for u in (eps.blob_url, eps.queue_url)) and _answers(
                    eps.table_url + "/Tables"
                ):
                    self.endpoints = eps
                    return eps
                time.sleep(0.1)
            last_error = (self.data_dir / "azurite.log").read_text(errors="replace")[-500:]
            self._kill()
        raise AzuriteUnavailable(f"Azurite did not answer on {self.host}: {last_error.strip()}")

    def _kill(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop(self) -> None:
        self._kill()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> AzuriteEndpoints:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
