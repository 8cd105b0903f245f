"""Persistence for the concierge: pick a backend with `open_store(url)` or `CONCIERGE_STORE`.

- `sqlite:///path/to.db` (default: a file in the user's data directory), `sqlite://:memory:`
  or `memory` for a throwaway store;
- `supabase` for the production store (reads `SUPABASE_URL` and a key; see .env.example).

A new SQLite store is seeded from data/menu.toml on first open, so the lab works at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import Profile, SeedData, Store, StoreError, StoreUnavailableError, load_seed
from .sqlite import SQLiteStore

__all__ = [
    "Profile",
    "SQLiteStore",
    "SeedData",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "default_store_url",
    "load_seed",
    "open_store",
]


def default_store_url() -> str:
    """`CONCIERGE_STORE` if set, else a SQLite file in the user's data directory."""
    url = os.environ.get("CONCIERGE_STORE", "").strip()
    if url:
        return url
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('concierge-lab')) / 'concierge.db'}"


async def open_store(url: str | None = None, *, seed: bool = True) -> Store:
    """Open the store named by `url` (or `CONCIERGE_STORE`); seed an empty SQLite store."""
    url = url or default_store_url()
    if url in ("memory", ":memory:", "sqlite://:memory:", "sqlite:///:memory:", "sqlite://"):
        store: SQLiteStore = SQLiteStore(":memory:")
    elif url.startswith("sqlite:///"):
        store = SQLiteStore(url.removeprefix("sqlite:///"))
    elif url.startswith("supabase"):
        from .supabase import SupabaseStore

        return await SupabaseStore.from_env()
    else:
        raise ValueError(f"Unknown store URL {url!r}: use sqlite:///path.db, memory, or supabase.")
    if seed and not store.is_seeded():
        await store.seed(load_seed())
    return store
