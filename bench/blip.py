"""What a storage blip costs a client, and what keeping secrets out costs a sync (not part of `make test`).

    .venv/bin/python bench/blip.py [--runs 20] [--artifacts 10000] [--jobs 2000]

- resolver: the time of one uncached ``ActiveHubResolver.resolution`` when the DR account's
  primary endpoint answers, refuses connections (the secondary answers), both refuse (the
  last-known-good answers), and when the primary accepts connections but never answers (the
  first resolution waits for the read timeout; the next ones skip it for ``retry_after``);
- redaction: the time to redact the specs of a seeded inventory, as a catalog sync does.

Embedded Azurite on loopback; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import random
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from azure.core.credentials import AzureNamedKeyCredential  # noqa: E402
from azure.data.tables import TableClient  # noqa: E402

from failover.domain.config import FailoverConfig  # noqa: E402
from failover.domain.secrets import redact  # noqa: E402
from failover.hubs.simulated_seed import SIMULATED_SCOPE, seed_artifacts, seed_jobs  # noqa: E402
from failover.stores.pointer import RESOLVER_CLIENT_OPTIONS, ActiveHubResolver, PointerStore  # noqa: E402
from replayhost.azurite import Azurite  # noqa: E402


def _hub(name: str) -> dict[str, str]:
    return {"name": name, "subscription_id": "aaaaaaaa-0000-0000-0000-000000000001", "resource_group": "rg",
            "workspace_name": f"ws-{name}", "region": "eastus"}


CONFIG = FailoverConfig.model_validate({"pairs": [
    {"name": "ml", "mode": "hot-warm", "primary": _hub("east"), "secondary": _hub("west")}]})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ms(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms"


def resolver(runs: int) -> None:
    silent = socket.socket()  # accepts connections (the kernel's backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    with Azurite() as az:
        key = AzureNamedKeyCredential(az.account, az.key)

        def store(url: str) -> PointerStore:
            return PointerStore(TableClient(url, "drpointers", credential=key, **RESOLVER_CLIENT_OPTIONS))

        live = PointerStore(TableClient.from_connection_string(az.connection_string, "drpointers"))
        live.ensure("ml", "east", "west")
        secondary = store(f"{az.table_url}-secondary")
        refused = f"http://127.0.0.1:{_closed_port()}/{az.account}"
        cases: list[tuple[str, Callable[[], PointerStore], PointerStore, bool]] = [
            ("primary answers", lambda: live, secondary, False),
            ("primary refuses -> secondary", lambda: store(refused), secondary, False),
            ("both refuse -> last-known-good", lambda: store(refused), store(refused + "-secondary"), True),
        ]
        for label, primary, second, warm in cases:
            times, source = [], ""
            for _ in range(runs):
                resolver = ActiveHubResolver(CONFIG, live, ttl=0, secondary=second)
                if warm:
                    resolver.resolution("ml")  # learn the last-known-good while the account answers
                resolver.store = primary()
                started = time.perf_counter()
                source = resolver.resolution("ml").source.value
                times.append(time.perf_counter() - started)
            print(f"resolver: {label}: source={source}, {_ms(times)} ({runs} uncached resolutions)")
        resolver = ActiveHubResolver(CONFIG, store(f"http://127.0.0.1:{silent.getsockname()[1]}/{az.account}"),
                                     ttl=0, secondary=secondary)
        started = time.perf_counter()
        first = resolver.resolution("ml").source.value
        waited = time.perf_counter() - started
        later = []
        for _ in range(runs):
            started = time.perf_counter()
            resolver.resolution("ml")
            later.append(time.perf_counter() - started)
        print(f"resolver: primary silent -> {first}: first resolution {waited:.2f} s; within retry_after "
              f"({resolver.retry_after:.0f} s): {_ms(later)}")
    silent.close()


def redaction(artifacts: int, jobs: int) -> None:
    rng = random.Random(1)
    seeded_artifacts = seed_artifacts(artifacts, rng)
    seeded_jobs = seed_jobs(jobs, rng, seeded_artifacts, SIMULATED_SCOPE.format(sub="s", ws="w"))
    started = time.perf_counter()
    for artifact in seeded_artifacts:
        redact(artifact.spec)
    for job in seeded_jobs:
        redact(job.spec)
        redact(job.tags)
    elapsed = time.perf_counter() - started
    print(f"redaction: {artifacts} artifacts + {jobs} jobs: {elapsed:.2f} s "
          f"({elapsed / (artifacts + jobs) * 1e6:.0f} us per item)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--artifacts", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the resolver's change-of-source warnings
    resolver(args.runs)
    redaction(args.artifacts, args.jobs)


if __name__ == "__main__":
    main()
