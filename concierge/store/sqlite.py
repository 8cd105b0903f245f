"""The embedded store: SQLite through the standard library, the lab's default backend.

One file (or `:memory:`) holds the menu, profiles, carts and orders. Every call on a file runs on
one dedicated thread per store, never on the event loop: a lock held by another process (two
workers on one file) then stalls only this store's queue, never other sessions' turns. An
in-memory store has no file to wait for and no other process to share it with — a transaction is
~0.1 ms of CPU — so it runs its transactions inline, one at a time under a lock (sessions on
several threads of a livekit thread-executor worker may share it); the hop to a thread and back
cost more than the work (about a third of a millisecond per turn, measured by the bench). The busy
timeout is short (`BUSY_TIMEOUT`) and a database that stays locked past it is reported as a
passing outage (`StoreUnavailableError`), like a Supabase timeout. Write transactions take the
write lock up front (`BEGIN IMMEDIATE`), so two processes never deadlock upgrading a read lock.

Files made by an older version are upgraded in place on open (`PRAGMA user_version`).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from ..cart import Cart, CartLine, Order, check_cart_limits
from ..menu import Catalog, MenuItem, Restaurant
from .base import (
    CartConflictError,
    ItemsUnavailableError,
    Profile,
    SeedData,
    StoreError,
    StoreUnavailableError,
)

T = TypeVar("T")

#: Seconds to wait for another connection's lock before calling the store unavailable.
BUSY_TIMEOUT = 0.25

SCHEMA = """
CREATE TABLE IF NOT EXISTS restaurants (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, cuisine TEXT NOT NULL DEFAULT '',
    aliases TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS menu_items (
    id TEXT PRIMARY KEY,
    restaurant_id TEXT NOT NULL REFERENCES restaurants(id),
    name TEXT NOT NULL, category TEXT NOT NULL DEFAULT '',
    price_cents INTEGER CHECK (price_cents IS NULL OR price_cents > 0),
    tags TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS menu_item_sizes (
    item_id TEXT NOT NULL REFERENCES menu_items(id) ON DELETE CASCADE,
    size TEXT NOT NULL CHECK (size IN ('small', 'medium', 'large')),
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    PRIMARY KEY (item_id, size)
);
CREATE TABLE IF NOT EXISTS profiles (
    id TEXT PRIMARY KEY, handle TEXT UNIQUE, name TEXT NOT NULL,
    dietary TEXT NOT NULL DEFAULT '[]', address TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS carts (
    user_id TEXT PRIMARY KEY, cart_id TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cart_lines (
    user_id TEXT NOT NULL REFERENCES carts(user_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL, size TEXT, quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 20),
    notes TEXT NOT NULL DEFAULT '', line TEXT NOT NULL,
    PRIMARY KEY (user_id, position)
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, cart_id TEXT NOT NULL UNIQUE,
    total_cents INTEGER NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id TEXT NOT NULL REFERENCES orders(order_id) ON DELETE CASCADE,
    position INTEGER NOT NULL, line TEXT NOT NULL,
    PRIMARY KEY (order_id, position)
);
CREATE INDEX IF NOT EXISTS orders_by_user ON orders(user_id, created_at);
"""

#: Version 2: cart revisions (optimistic concurrency), checkout keys, retired menu items.
#: Version 3: which menu the store was seeded with (`seeded_fingerprint`).
SCHEMA_VERSION = 3
UPGRADE_TO_2 = """
ALTER TABLE carts ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN checkout_key TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS orders_by_checkout_key ON orders(checkout_key);
ALTER TABLE menu_items ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS cart_writes (
    user_id TEXT NOT NULL, write_key TEXT NOT NULL, written_at TEXT NOT NULL,
    PRIMARY KEY (user_id, write_key)
);
"""
UPGRADE_TO_3 = """
CREATE TABLE IF NOT EXISTS seed_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SQLiteStore:
    """`Store` on SQLite. `path` is a file path or ":memory:"."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.description = f"sqlite {self.path}"
        # One thread owns every call on a file, so transactions never interleave and the loop
        # never waits; a memory store (no executor) runs them inline, one at a time under a lock.
        self._executor: ThreadPoolExecutor | None = (
            None
            if self.path == ":memory:"
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="concierge-sqlite")
        )
        self._inline_lock = threading.Lock()
        self._catalog: Catalog | None = None
        try:
            self._db: sqlite3.Connection | None = self._blocking(self._connect)
        except sqlite3.Error as e:
            if self._executor is not None:
                self._executor.shutdown(wait=False)
            raise StoreError(f"{self.path} is not a usable SQLite database: {e}") from e

    @property
    def runs_inline(self) -> bool:
        """Calls complete without suspending the caller (`UserState` relies on it to skip a task)."""
        return self._executor is None

    def _blocking(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on the store's thread (or inline, for a memory store), waited for."""
        if self._executor is None:
            with self._inline_lock:
                return fn(*args)
        return self._executor.submit(fn, *args).result()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT, check_same_thread=False, isolation_level=None
        )
        try:
            db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                db.execute("PRAGMA journal_mode = WAL")
            db.execute("BEGIN IMMEDIATE")
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                for statement in (SCHEMA + UPGRADE_TO_2 + UPGRADE_TO_3).split(";"):
                    _try_schema(db, statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        """Run `fn(db)` as one transaction on the store's thread; errors become store errors."""
        if self._db is None:
            raise StoreUnavailableError("The SQLite store is closed.", reason="it is closed")
        db = self._db
        if self._executor is None:
            with self._inline_lock:
                return _transaction(db, fn, write)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _transaction, db, fn, write)

    def seeded_fingerprint(self) -> str | None:
        """`SeedData.fingerprint` of the last seed (None: never seeded, or by an older version)."""
        db = self._db
        assert db is not None
        row = self._blocking(
            _transaction,
            db,
            lambda d: d.execute("SELECT value FROM seed_info WHERE key = 'menu'").fetchone(),
            False,
        )
        return row[0] if row else None

    # --- menu and profiles --------------------------------------------------------------------

    async def load_catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = await self._run(_read_catalog)
        return self._catalog

    async def get_profile(self, user: str) -> Profile | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT id, name, handle, dietary, address FROM profiles WHERE id = ? OR handle = ?",
                (user, user),
            ).fetchone()
        )
        if row is None:
            return None
        return Profile(row[0], row[1], row[2] or "", tuple(json.loads(row[3])), row[4])

    async def seed(self, data: SeedData) -> None:
        await self._run(lambda db: _write_seed(db, data), write=True)
        self._catalog = None

    # --- carts and orders ---------------------------------------------------------------------

    async def load_cart(self, user_id: str) -> Cart:
        return await self._run(lambda db: _read_cart(db, user_id))

    async def save_cart(self, cart: Cart) -> None:
        snapshot = cart.copy()
        cart.revision = await self._run(lambda db: _write_cart(db, snapshot), write=True)

    async def checkout(self, cart: Cart) -> Order:
        snapshot = cart.copy()
        return await self._run(lambda db: _checkout(db, snapshot), write=True)

    async def find_order(self, user_id: str, checkout_key: str) -> Order | None:
        def find(db: sqlite3.Connection) -> Order | None:
            row = db.execute(
                "SELECT order_id FROM orders WHERE user_id = ? AND checkout_key = ?",
                (user_id, checkout_key),
            ).fetchone()
            return None if row is None else _read_order(db, row[0])

        return await self._run(find)

    async def list_orders(self, user_id: str) -> list[Order]:
        def read(db: sqlite3.Connection) -> list[Order]:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT order_id FROM orders WHERE user_id = ? ORDER BY created_at DESC",
                    (user_id,),
                )
            ]
            return [_read_order(db, oid) for oid in ids]

        return await self._run(read)

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is None:
            return
        if self._executor is None:
            self._blocking(db.close)
        else:
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
            self._executor.shutdown(wait=False)


def _try_schema(db: sqlite3.Connection, statement: str) -> None:
    """Run one schema statement; a column an older upgrade already added is fine."""
    if not statement.strip():
        return
    try:
        db.execute(statement)
    except sqlite3.OperationalError as e:
        if "duplicate column" not in str(e):
            raise


def _transaction(db: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], write: bool) -> T:
    """One transaction (on the store's thread); sqlite errors become typed store errors."""
    try:
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    except sqlite3.OperationalError as e:
        raise StoreUnavailableError(
            f"The local database is busy or unavailable: {e}", reason=_reason(e)
        ) from e
    try:
        result = fn(db)
        db.execute("COMMIT")
        return result
    except BaseException as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):
            raise StoreUnavailableError(
                f"The local database is not available: {exc}", reason=_reason(exc)
            ) from exc
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"The local database refused the change: {exc}") from exc
        raise


def _reason(e: sqlite3.Error) -> str:
    return "another process holds its lock" if "locked" in str(e) else "the database file failed"


def _read_catalog(db: sqlite3.Connection) -> Catalog:
    restaurants = [
        Restaurant(r[0], r[1], r[2], tuple(json.loads(r[3])))
        for r in db.execute("SELECT id, name, cuisine, aliases FROM restaurants ORDER BY rowid")
    ]
    sizes: dict[str, dict[str, int]] = {}
    for item_id, size, price in db.execute(
        "SELECT item_id, size, price_cents FROM menu_item_sizes"
    ):
        sizes.setdefault(item_id, {})[size] = price
    items = [
        MenuItem(
            id=r[0],
            restaurant_id=r[1],
            name=r[2],
            category=r[3],
            price_cents=r[4],
            size_prices=sizes.get(r[0], {}),
            tags=frozenset(json.loads(r[5])),
        )
        for r in db.execute(
            "SELECT id, restaurant_id, name, category, price_cents, tags FROM menu_items "
            "WHERE retired = 0 ORDER BY rowid"
        )
    ]
    if not items:
        raise StoreError("The store has no menu yet: run `python -m concierge seed`.")
    return Catalog(restaurants, items)


def _write_seed(db: sqlite3.Connection, data: SeedData) -> None:
    cat = data.catalog
    for r in cat.restaurants.values():
        db.execute(
            "INSERT INTO restaurants VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "name = excluded.name, cuisine = excluded.cuisine, aliases = excluded.aliases",
            (r.id, r.name, r.cuisine, json.dumps(list(r.aliases))),
        )
    for it in cat.items.values():
        db.execute(
            "INSERT INTO menu_items (id, restaurant_id, name, category, price_cents, tags, retired) "
            "VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT(id) DO UPDATE SET "
            "restaurant_id = excluded.restaurant_id, name = excluded.name, "
            "category = excluded.category, price_cents = excluded.price_cents, "
            "tags = excluded.tags, retired = 0",
            (it.id, it.restaurant_id, it.name, it.category, it.price_cents,
             json.dumps(sorted(it.tags))),
        )  # fmt: skip
        db.execute("DELETE FROM menu_item_sizes WHERE item_id = ?", (it.id,))
        db.executemany(
            "INSERT INTO menu_item_sizes VALUES (?, ?, ?)",
            [(it.id, s, p) for s, p in it.size_prices.items()],
        )
    # Items no longer on the menu are retired, not deleted: old orders and carts keep them.
    keep = list(cat.items)
    db.execute(
        f"UPDATE menu_items SET retired = 1 WHERE id NOT IN ({', '.join('?' * len(keep))})", keep
    )
    db.execute(
        "INSERT INTO seed_info VALUES ('menu', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (data.fingerprint,),
    )
    for p in data.profiles:
        db.execute(
            "INSERT INTO profiles VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "handle = excluded.handle, name = excluded.name, dietary = excluded.dietary, "
            "address = excluded.address",
            (p.id, p.handle or None, p.name, json.dumps(list(p.dietary)), p.address),
        )


def _menu_line(db: sqlite3.Connection, line: CartLine) -> CartLine | None:
    """`line` with the current menu's name and price; None when the item is retired or gone."""
    row = db.execute(
        "SELECT i.name, r.id, r.name, coalesce(s.price_cents, i.price_cents), "
        "EXISTS (SELECT 1 FROM menu_item_sizes z WHERE z.item_id = i.id) "
        "FROM menu_items i JOIN restaurants r ON r.id = i.restaurant_id "
        "LEFT JOIN menu_item_sizes s ON s.item_id = i.id AND s.size = ? "
        "WHERE i.id = ? AND i.retired = 0",
        (line.size, line.item_id),
    ).fetchone()
    if row is None:
        return None
    name, rid, rname, price, has_sizes = row
    if price is None or bool(has_sizes) != (line.size is not None):
        raise StoreError(f"{line.item_id} does not come in size {line.size}")
    return CartLine(line.item_id, name, rid, rname, line.size, line.quantity, price, line.notes)


def _read_cart(db: sqlite3.Connection, user_id: str) -> Cart:
    row = db.execute("SELECT cart_id, revision FROM carts WHERE user_id = ?", (user_id,)).fetchone()
    if row is None:
        return Cart(user_id=user_id)
    # A retired item keeps its saved line.
    lines = [_menu_line(db, saved) or saved for saved in _saved_lines(db, user_id)]
    return Cart(user_id=user_id, lines=lines, cart_id=row[0], revision=row[1])


def _saved_lines(db: sqlite3.Connection, user_id: str) -> list[CartLine]:
    """The saved cart's lines as saved (names and prices of the day it was saved)."""
    return [
        CartLine.from_dict(json.loads(raw))
        for (raw,) in db.execute(
            "SELECT line FROM cart_lines WHERE user_id = ? ORDER BY position", (user_id,)
        )
    ]


def _contents(lines: list[CartLine]) -> list[tuple[str, str | None, int, str]]:
    """What a request must repeat of the saved cart: items, sizes, quantities, notes, in order."""
    return [(ln.item_id, ln.size, ln.quantity, ln.notes) for ln in lines]


def _check_based_on_saved(db: sqlite3.Connection, cart: Cart) -> int:
    """The saved revision when `cart` is based on the saved cart; else `CartConflictError`."""
    row = db.execute(
        "SELECT cart_id, revision FROM carts WHERE user_id = ?", (cart.user_id,)
    ).fetchone()
    saved = (row[0], row[1]) if row else None
    based_on = saved == (cart.cart_id, cart.revision) if saved else cart.revision == 0
    ordered = db.execute(
        "SELECT 1 FROM orders WHERE user_id = ? AND cart_id = ?", (cart.user_id, cart.cart_id)
    ).fetchone()
    if not based_on or (saved is None and ordered):
        applied = db.execute(
            "SELECT 1 FROM cart_writes WHERE user_id = ? AND write_key = ?",
            (cart.user_id, cart.checkout_key()),
        ).fetchone()
        raise CartConflictError(_read_cart(db, cart.user_id), applied=applied is not None)
    return saved[1] if saved else 0


def _write_cart(db: sqlite3.Connection, cart: Cart) -> int:
    check_cart_limits(cart.lines)
    revision = _check_based_on_saved(db, cart) + 1
    db.execute(
        "INSERT INTO carts (user_id, cart_id, updated_at, revision) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET cart_id = excluded.cart_id, "
        "updated_at = excluded.updated_at, revision = excluded.revision",
        (cart.user_id, cart.cart_id, datetime.now().isoformat(), revision),
    )
    now = datetime.now()
    db.execute(
        "INSERT OR IGNORE INTO cart_writes VALUES (?, ?, ?)",
        (cart.user_id, cart.checkout_key(), now.isoformat()),
    )
    db.execute(
        "DELETE FROM cart_writes WHERE user_id = ? AND written_at < ?",
        (cart.user_id, (now - timedelta(days=1)).isoformat()),
    )
    db.execute("DELETE FROM cart_lines WHERE user_id = ?", (cart.user_id,))
    db.executemany(
        "INSERT INTO cart_lines VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (cart.user_id, i, ln.item_id, ln.size, ln.quantity, ln.notes, json.dumps(ln.to_dict()))
            for i, ln in enumerate(cart.lines)
        ],
    )
    return revision


def _checkout(db: sqlite3.Connection, cart: Cart) -> Order:
    key = cart.checkout_key()
    existing = db.execute(
        "SELECT order_id FROM orders WHERE user_id = ? AND checkout_key = ?", (cart.user_id, key)
    ).fetchone()
    if existing is not None:
        return _read_order(db, existing[0])
    if cart.is_empty():
        Order.from_cart(cart)  # raises the CartError for an empty cart
    check_cart_limits(cart.lines)
    _check_based_on_saved(db, cart)
    for line in cart.lines:
        _menu_line(db, line)  # refuses a size the item does not come in
    # What is ordered: the cart as saved, or the request itself when nothing is saved.
    is_saved = db.execute("SELECT 1 FROM carts WHERE user_id = ?", (cart.user_id,)).fetchone()
    saved = None if is_saved is None else _saved_lines(db, cart.user_id)
    placing = cart.lines if saved is None else saved
    priced = [(line, _menu_line(db, line)) for line in placing]
    retired = [line.item_id for line, now in priced if now is None]
    if retired:
        raise ItemsUnavailableError(list(dict.fromkeys(retired)))
    if saved is not None and _contents(saved) != _contents(cart.lines):
        raise CartConflictError(_read_cart(db, cart.user_id))
    lines = [now for _, now in priced if now is not None]
    order = Order.from_cart(
        Cart(cart.user_id, lines, cart.cart_id, cart.revision), str(uuid.uuid4())
    )
    order = Order(order.order_id, order.user_id, order.cart_id, order.lines, order.total_cents,
                  order.created_at, key)  # fmt: skip
    db.execute(
        "INSERT INTO orders (order_id, user_id, cart_id, total_cents, created_at, checkout_key) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (order.order_id, order.user_id, order.cart_id, order.total_cents,
         order.created_at.isoformat(), key),
    )  # fmt: skip
    db.executemany(
        "INSERT INTO order_lines VALUES (?, ?, ?)",
        [(order.order_id, i, json.dumps(line.to_dict())) for i, line in enumerate(order.lines)],
    )
    db.execute("DELETE FROM carts WHERE user_id = ?", (cart.user_id,))
    return order


def _read_order(db: sqlite3.Connection, order_id: str) -> Order:
    row = db.execute(
        "SELECT order_id, user_id, cart_id, total_cents, created_at, checkout_key "
        "FROM orders WHERE order_id = ?",
        (order_id,),
    ).fetchone()
    lines = tuple(
        CartLine.from_dict(json.loads(r[0]))
        for r in db.execute(
            "SELECT line FROM order_lines WHERE order_id = ? ORDER BY position", (order_id,)
        )
    )
    return Order(
        row[0], row[1], row[2], lines, row[3], datetime.fromisoformat(row[4]), row[5] or ""
    )
