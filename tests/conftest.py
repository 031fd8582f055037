"""Shared fixtures: one real Azurite process per test session; the operator CLI run in-process."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from replayhost.azurite import Azurite, AzuriteEndpoints, AzuriteUnavailable


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteEndpoints]:
    """A private Azurite on free loopback ports with a temp data dir, stopped by its PID."""
    emulator = Azurite(data_dir=tmp_path_factory.mktemp("azurite"))
    try:
        endpoints = emulator.start()
    except AzuriteUnavailable as exc:
        pytest.exit(f"Azurite unavailable: {exc}", returncode=3)
    try:
        yield endpoints
    finally:
        emulator.stop()


@pytest.fixture
def unique_name() -> str:
    """A storage-safe unique name (tables: alphanumeric, starts with a letter)."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `hubfailover ARGS` in-process against a served URL and key: (exit code, stdout, stderr)."""
    from hubfailover.cli import main
    from tests.serve_world import KEY

    def run(served_: Any, *args: str, key: str | None = KEY) -> tuple[int, str, str]:
        monkeypatch.setenv("HUBFAILOVER_URL", served_.url)
        monkeypatch.setenv("COLUMNS", "200")
        if key is None:
            monkeypatch.delenv("HUBFAILOVER_API_KEY", raising=False)
        else:
            monkeypatch.setenv("HUBFAILOVER_API_KEY", key)
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run
