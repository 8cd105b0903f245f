"""Shared fixtures: a fresh in-memory store per test, and the catalog from the packaged menu."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from concierge.menu import Catalog, default_catalog
from concierge.store import Store, open_store

# The suite must never reach a cloud provider, whatever the developer's shell exports.
for _var in (
    "OPENAI_API_KEY",
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "LIVEKIT_INFERENCE",
):
    os.environ.pop(_var, None)
os.environ["CONCIERGE_OFFLINE"] = "1"
logging.getLogger("livekit.agents").setLevel(logging.ERROR)

# The suite runs on two workers beside a browser, Postgres and spoken audio: a slow example or a
# slow draw there is the machine's load, not a bug (a CI run failed on `too_slow` for a 1.4 s
# draw). Speed is measured by the benchmarks; Hypothesis here checks behaviour only.
settings.register_profile("concierge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("concierge")


@pytest.fixture
def catalog() -> Catalog:
    return default_catalog()


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    s = await open_store("memory")
    yield s
    await s.close()


@pytest.fixture(scope="session")
def livekit_binary() -> Path:
    """LiveKit's server (built by scripts/test.sh with Go); skipped, saying why, when there is none."""
    from concierge.livekit_server import ServerUnavailable, server_binary

    try:
        return server_binary()
    except ServerUnavailable as e:
        pytest.skip(str(e))


def refusing_port() -> int:
    """A loopback port nothing listens on: a connection there is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unreachable_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key, and a network that refuses: OpenAI's URL points at a closed loopback port."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{refusing_port()}/v1")
    monkeypatch.delenv("CONCIERGE_OFFLINE", raising=False)
    monkeypatch.delenv("CONCIERGE_FALLBACK", raising=False)
