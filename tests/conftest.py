"""Shared fixtures: one real Azurite process per test session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

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
