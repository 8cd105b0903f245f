"""The store contract: what every backend (SQLite by default, Supabase in production) provides.

The agent talks to a `Store`, never to a database. Carts and orders outlive a session (and a
worker process) because they live here: a new session for the same user finds the cart as it
was. What every backend guarantees, whoever else writes the same cart at the same time:

* `save_cart` is a compare-and-set on the cart's `(cart_id, revision)`: a write based on an older
  saved cart is refused with `CartConflictError` carrying the cart as saved now, never applied;
* `checkout` is idempotent per `Cart.checkout_key()` (id, revision and contents): the same
  contents retried return the same order, changed contents never return an older order; it
  checks out only the cart as saved (or a never-saved one), prices every line from the current
  menu, and refuses retired items (`ItemsUnavailableError`);
* `find_order` looks an order up by that key, to settle a checkout whose answer was lost.

Errors are typed and carry no sentences for the user: the tools word them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..cart import Cart, Order
from ..menu import Catalog, menu_file_errors, read_menu_file


class StoreError(RuntimeError):
    """The store refused an operation (not a passing outage). The message is for logs."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached right now (down, timing out, 5xx, locked): transient.

    `reason` is a short phrase ("it timed out"); `attempts` how many tries were made;
    `maybe_applied` is True when a request may have reached the database before the answer was
    lost (a timeout, a 5xx), so a write may have happened after all.
    """

    def __init__(
        self, message: str, *, reason: str = "", attempts: int = 1, maybe_applied: bool = False
    ) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.attempts = attempts
        self.maybe_applied = maybe_applied


class StoreAuthError(StoreError):
    """The store refused the credentials; `expired` when the user's sign-in token expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class CartConflictError(StoreError):
    """The saved cart changed since this cart was loaded; `current` is the cart as saved now
    (an empty cart with revision 0 when it was checked out). Nothing was written.

    `applied` is True when this very save (same cart id, revision and contents) had already
    been applied earlier: a retry of a save whose answer was lost. The caller's change is then
    already part of `current`.
    """

    def __init__(self, current: Cart, *, applied: bool = False) -> None:
        super().__init__(
            f"the saved cart of {current.user_id} is at {current.cart_id} revision "
            f"{current.revision}"
        )
        self.current = current
        self.applied = applied


class ItemsUnavailableError(StoreError):
    """Checkout refused: these item ids are no longer on the menu. No order was placed."""

    def __init__(self, item_ids: Sequence[str]) -> None:
        super().__init__(f"no longer on the menu: {', '.join(item_ids)}")
        self.item_ids = tuple(item_ids)


@dataclass(frozen=True)
class Profile:
    """A user's profile: who they are, what they eat, where food goes."""

    id: str
    name: str
    handle: str = ""
    dietary: tuple[str, ...] = ()
    address: str = ""

    def summary(self) -> str:
        diet = ", ".join(self.dietary) if self.dietary else "no dietary preferences"
        address = self.address or "no saved address"
        return f"{self.name}: {diet}; delivers to {address}."


@dataclass(frozen=True)
class SeedData:
    """Everything `python -m concierge seed` loads: the catalog and the demo profiles."""

    catalog: Catalog
    profiles: tuple[Profile, ...] = field(default_factory=tuple)

    @property
    def fingerprint(self) -> str:
        """A digest of everything seeded: a store seeded with another menu has another one."""
        menu = [
            [[r.id, r.name, r.cuisine, list(r.aliases)] for r in self.catalog.restaurants.values()],
            [
                [i.id, i.restaurant_id, i.name, i.category, i.price_cents]
                + [sorted(i.size_prices.items()), sorted(i.tags)]
                for i in self.catalog.items.values()
            ],
            [[p.id, p.name, p.handle, list(p.dietary), p.address] for p in self.profiles],
        ]
        return hashlib.sha256(json.dumps(menu).encode()).hexdigest()


def load_seed(path: str | Path | None = None) -> SeedData:
    """Read the menu file (`CONCIERGE_MENU` or data/menu.toml) with its demo profiles."""
    raw = read_menu_file(path)
    with menu_file_errors(path):
        profiles = tuple(
            Profile(
                id=p["id"],
                name=p["name"],
                handle=p.get("handle", ""),
                dietary=tuple(p.get("dietary", ())),
                address=p.get("address", ""),
            )
            for p in raw.get("profiles", ())
        )
        return SeedData(Catalog.from_dict(raw), profiles)


@runtime_checkable
class Store(Protocol):
    """What the agent needs from persistence. Every method may raise `StoreUnavailableError`."""

    #: A short label for status displays ("sqlite :memory:", "supabase https://…").
    description: str

    async def load_catalog(self) -> Catalog:
        """The menu as stored."""
        ...

    async def get_profile(self, user: str) -> Profile | None:
        """A profile by id or handle ("demo"); None when there is none."""
        ...

    async def load_cart(self, user_id: str) -> Cart:
        """The user's saved cart (lines priced from the current menu), or a new empty one."""
        ...

    async def save_cart(self, cart: Cart) -> None:
        """Replace the user's saved cart with `cart` if the saved cart is still the one `cart`
        was based on (same `cart_id` and `revision`; none saved for revision 0), and set
        `cart.revision` to the new revision. Otherwise raise `CartConflictError`, saying
        whether this same save was applied before (its answer lost)."""
        ...

    async def checkout(self, cart: Cart) -> Order:
        """Persist `cart` as an order and delete the saved cart, atomically.

        Idempotent per `cart.checkout_key()`: calling it again returns the same order. Refused
        with `CartConflictError` when the saved cart is not the one `cart` is based on, and
        with `ItemsUnavailableError` for retired items. Prices come from the current menu. The
        in-memory `cart` is not changed; the caller clears it once the order is confirmed.
        """
        ...

    async def find_order(self, user_id: str, checkout_key: str) -> Order | None:
        """The order placed under `checkout_key`, or None when there is none."""
        ...

    async def list_orders(self, user_id: str) -> list[Order]:
        """The user's orders, newest first."""
        ...

    async def seed(self, data: SeedData) -> None:
        """Load (or refresh) the menu and profiles; items missing from `data` are retired (not
        orderable; orders holding them are kept). Carts and orders are kept."""
        ...

    async def close(self) -> None: ...
