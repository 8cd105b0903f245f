"""The embedded store: SQLite through the standard library, the lab's default backend.

One file (or `:memory:`) holds the menu, profiles, carts and orders. Calls are short local
transactions, so they run inline on the event loop: a cart write takes well under a millisecond,
less than handing it to a thread would cost.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import datetime
from pathlib import Path

from ..cart import Cart, CartLine, Order
from ..menu import Catalog, MenuItem, Restaurant
from .base import Profile, SeedData, StoreError, StoreUnavailableError

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


class SQLiteStore:
    """`Store` on SQLite. `path` is a file path or ":memory:"."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.description = f"sqlite {self.path}"
        # check_same_thread=False: the cloud worker may call from its executor thread; the lock
        # keeps each transaction whole.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._catalog: Catalog | None = None

    def _tx(self) -> _Transaction:
        if self._db is None:
            raise StoreUnavailableError("The SQLite store is closed.")
        return _Transaction(self._db, self._lock)

    def is_seeded(self) -> bool:
        with self._tx() as db:
            return db.execute("SELECT count(*) FROM menu_items").fetchone()[0] > 0

    # --- menu and profiles --------------------------------------------------------------------

    async def load_catalog(self) -> Catalog:
        if self._catalog is None:
            with self._tx() as db:
                restaurants = [
                    Restaurant(r[0], r[1], r[2], tuple(json.loads(r[3])))
                    for r in db.execute(
                        "SELECT id, name, cuisine, aliases FROM restaurants ORDER BY rowid"
                    )
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
                        "SELECT id, restaurant_id, name, category, price_cents, tags FROM menu_items ORDER BY rowid"
                    )
                ]
            if not items:
                raise StoreError("The store has no menu yet: run `python -m concierge seed`.")
            self._catalog = Catalog(restaurants, items)
        return self._catalog

    async def get_profile(self, user: str) -> Profile | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT id, name, handle, dietary, address FROM profiles WHERE id = ? OR handle = ?",
                (user, user),
            ).fetchone()
        if row is None:
            return None
        return Profile(row[0], row[1], row[2] or "", tuple(json.loads(row[3])), row[4])

    async def seed(self, data: SeedData) -> None:
        cat = data.catalog
        with self._tx() as db:
            for r in cat.restaurants.values():
                db.execute(
                    "INSERT INTO restaurants VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "name = excluded.name, cuisine = excluded.cuisine, aliases = excluded.aliases",
                    (r.id, r.name, r.cuisine, json.dumps(list(r.aliases))),
                )
            for it in cat.items.values():
                db.execute(
                    "INSERT INTO menu_items VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "restaurant_id = excluded.restaurant_id, name = excluded.name, "
                    "category = excluded.category, price_cents = excluded.price_cents, tags = excluded.tags",
                    (
                        it.id,
                        it.restaurant_id,
                        it.name,
                        it.category,
                        it.price_cents,
                        json.dumps(sorted(it.tags)),
                    ),
                )
                db.execute("DELETE FROM menu_item_sizes WHERE item_id = ?", (it.id,))
                db.executemany(
                    "INSERT INTO menu_item_sizes VALUES (?, ?, ?)",
                    [(it.id, s, p) for s, p in it.size_prices.items()],
                )
            for p in data.profiles:
                db.execute(
                    "INSERT INTO profiles VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "handle = excluded.handle, name = excluded.name, dietary = excluded.dietary, "
                    "address = excluded.address",
                    (p.id, p.handle or None, p.name, json.dumps(list(p.dietary)), p.address),
                )
        self._catalog = None

    # --- carts and orders ---------------------------------------------------------------------

    async def load_cart(self, user_id: str) -> Cart:
        with self._tx() as db:
            row = db.execute("SELECT cart_id FROM carts WHERE user_id = ?", (user_id,)).fetchone()
            if row is None:
                return Cart(user_id=user_id)
            lines = [
                CartLine.from_dict(json.loads(r[0]))
                for r in db.execute(
                    "SELECT line FROM cart_lines WHERE user_id = ? ORDER BY position", (user_id,)
                )
            ]
        return Cart(user_id=user_id, lines=lines, cart_id=row[0])

    async def save_cart(self, cart: Cart) -> None:
        with self._tx() as db:
            _write_cart(db, cart)

    async def checkout(self, cart: Cart) -> Order:
        with self._tx() as db:
            existing = db.execute(
                "SELECT order_id FROM orders WHERE cart_id = ?", (cart.cart_id,)
            ).fetchone()
            if existing is not None:
                return _read_order(db, existing[0])
            order = Order.from_cart(cart, order_id=str(uuid.uuid4()))
            db.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                (
                    order.order_id,
                    order.user_id,
                    order.cart_id,
                    order.total_cents,
                    order.created_at.isoformat(),
                ),
            )
            db.executemany(
                "INSERT INTO order_lines VALUES (?, ?, ?)",
                [
                    (order.order_id, i, json.dumps(line.to_dict()))
                    for i, line in enumerate(order.lines)
                ],
            )
            db.execute("DELETE FROM carts WHERE user_id = ?", (cart.user_id,))
            return order

    async def list_orders(self, user_id: str) -> list[Order]:
        with self._tx() as db:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT order_id FROM orders WHERE user_id = ? ORDER BY created_at DESC",
                    (user_id,),
                )
            ]
            return [_read_order(db, oid) for oid in ids]

    async def close(self) -> None:
        if self._db is not None:
            with self._lock:
                self._db.close()
                self._db = None  # type: ignore[assignment]


class _Transaction:
    """`with` block = one SQLite transaction under the store's lock; errors become StoreError."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self.db, self.lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        self.db.execute("BEGIN")
        return self.db

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if exc is None:
                self.db.execute("COMMIT")
            else:
                self.db.execute("ROLLBACK")
        finally:
            self.lock.release()
        if isinstance(exc, sqlite3.OperationalError):
            raise StoreUnavailableError(f"The local database is not available: {exc}") from exc
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"The local database refused the change: {exc}") from exc


def _write_cart(db: sqlite3.Connection, cart: Cart) -> None:
    db.execute("DELETE FROM carts WHERE user_id = ?", (cart.user_id,))
    db.execute(
        "INSERT INTO carts VALUES (?, ?, ?)",
        (cart.user_id, cart.cart_id, datetime.now().isoformat()),
    )
    db.executemany(
        "INSERT INTO cart_lines VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (cart.user_id, i, ln.item_id, ln.size, ln.quantity, ln.notes, json.dumps(ln.to_dict()))
            for i, ln in enumerate(cart.lines)
        ],
    )


def _read_order(db: sqlite3.Connection, order_id: str) -> Order:
    row = db.execute(
        "SELECT order_id, user_id, cart_id, total_cents, created_at FROM orders WHERE order_id = ?",
        (order_id,),
    ).fetchone()
    lines = tuple(
        CartLine.from_dict(json.loads(r[0]))
        for r in db.execute(
            "SELECT line FROM order_lines WHERE order_id = ? ORDER BY position", (order_id,)
        )
    )
    return Order(row[0], row[1], row[2], lines, row[3], datetime.fromisoformat(row[4]))
