"""Persistence for the concierge: pick a backend with `open_store(url)` or `CONCIERGE_STORE`.

- `sqlite:///path/to.db` (default: a file in the user's data directory; `~` is expanded),
  `sqlite://:memory:` or `memory` for a throwaway store;
- `supabase` for the production store (reads `SUPABASE_URL` and a key; see .env.example).

A new SQLite store is seeded from data/menu.toml on first open, so the lab works at once.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from .base import (
    CartConflictError,
    ItemsUnavailableError,
    Profile,
    SeedData,
    Store,
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
    load_seed,
)
from .sqlite import SQLiteStore

__all__ = [
    "CartConflictError",
    "InvalidStoreURL",
    "ItemsUnavailableError",
    "Profile",
    "SQLiteStore",
    "SeedData",
    "Store",
    "StoreAuthError",
    "StoreError",
    "StoreUnavailableError",
    "check_store_url",
    "default_store_url",
    "load_seed",
    "open_store",
]


class InvalidStoreURL(ValueError):
    """`CONCIERGE_STORE` (or a store URL) that names no usable store; the message says why."""


_MEMORY = ("memory", ":memory:", "sqlite://:memory:", "sqlite:///:memory:")
_HINT = "use sqlite:///path/to/file.db, memory, or supabase"
_SQLITE_HEADER = b"SQLite format 3\x00"


def default_store_url() -> str:
    """`CONCIERGE_STORE` if set, else a SQLite file in the user's data directory."""
    url = os.environ.get("CONCIERGE_STORE", "").strip()
    if url:
        return url
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('concierge-lab')) / 'concierge.db'}"


def check_store_url(url: str) -> str:
    """The store URL in canonical form, or `InvalidStoreURL` saying in one sentence what is wrong.

    Cheap and synchronous (no connection): the CLI calls it before starting anything.
    """
    url = url.strip()
    if url in _MEMORY:
        return "memory"
    if url == "supabase":
        return url
    if not url.startswith("sqlite:///"):
        raise InvalidStoreURL(f"CONCIERGE_STORE={url!r} is not a store URL: {_HINT}.")
    raw = url.removeprefix("sqlite:///")
    if not raw.strip():
        raise InvalidStoreURL(f"CONCIERGE_STORE={url!r} names no file: {_HINT}.")
    if "?" in raw or "#" in raw:
        raise InvalidStoreURL(
            f"CONCIERGE_STORE={url!r} has a query string; options are not supported: {_HINT}."
        )
    path = Path(raw).expanduser()
    if path.is_dir():
        raise InvalidStoreURL(f"CONCIERGE_STORE={url!r} is a directory, not a database file.")
    if path.exists():
        if not path.is_file():
            raise InvalidStoreURL(f"CONCIERGE_STORE={url!r} is not a regular file.")
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_HEADER))
        if head and head != _SQLITE_HEADER:
            raise InvalidStoreURL(
                f"CONCIERGE_STORE={url!r} is not a SQLite database (the file holds something "
                "else); point it at a new file or move that one away."
            )
    return f"sqlite:///{path}"


async def open_store(url: str | None = None, *, seed: bool = True) -> Store:
    """Open the store named by `url` (or `CONCIERGE_STORE`), serving the menu file's menu.

    With `seed`, the menu file (`CONCIERGE_MENU`, else the packaged one) is read first, whatever
    the store: a missing or malformed one is the same `MenuFileError` everywhere. A SQLite store
    seeded with another menu (or none) is reseeded from it, retiring the items it dropped; the
    Supabase store's menu is the service role's to load (`python -m concierge seed`).
    Raises `InvalidStoreURL` for a URL that names no usable store.
    """
    url = check_store_url(url or default_store_url())
    data = await asyncio.to_thread(load_seed) if seed else None
    if url == "supabase":
        from .supabase import SupabaseStore

        return await SupabaseStore.from_env()
    path = ":memory:" if url == "memory" else url.removeprefix("sqlite:///")
    try:
        store = await asyncio.to_thread(SQLiteStore, path)
    except StoreError as e:
        raise InvalidStoreURL(f"CONCIERGE_STORE={url!r}: {e}") from e
    if data is not None and await asyncio.to_thread(store.seeded_fingerprint) != data.fingerprint:
        await store.seed(data)
    return store
