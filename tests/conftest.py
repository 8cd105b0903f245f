"""Shared fixtures: a fresh in-memory store per test, and the catalog from the packaged menu."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator

import pytest

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


@pytest.fixture
def catalog() -> Catalog:
    return default_catalog()


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    s = await open_store("memory")
    yield s
    await s.close()
