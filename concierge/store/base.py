"""The store contract: what every backend (SQLite by default, Supabase in production) provides.

The agent talks to a `Store`, never to a database. Carts and orders outlive a session (and a
worker process) because they live here: a new session for the same user finds the cart as it
was, and `checkout` is idempotent per `cart_id`, so a retried call never creates a second order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..cart import Cart, Order
from ..menu import Catalog, read_menu_file


class StoreError(RuntimeError):
    """The store refused or failed an operation; the message is safe to show a person."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached right now (down, timing out, 5xx). Nothing was lost:
    the session keeps the cart and writes it when the store is back."""


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


def load_seed(path: str | Path | None = None) -> SeedData:
    """Read the menu file (`CONCIERGE_MENU` or data/menu.toml) with its demo profiles."""
    raw = read_menu_file(path)
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
        """The user's saved cart, or a new empty one."""
        ...

    async def save_cart(self, cart: Cart) -> None:
        """Replace the user's saved cart with `cart`."""
        ...

    async def checkout(self, cart: Cart) -> Order:
        """Persist `cart` as an order and empty the saved cart, atomically.

        Idempotent per `cart.cart_id`: calling it again returns the same order. The in-memory
        `cart` is not changed; the caller clears it once the order is confirmed.
        """
        ...

    async def list_orders(self, user_id: str) -> list[Order]:
        """The user's orders, newest first."""
        ...

    async def seed(self, data: SeedData) -> None:
        """Load (or refresh) the menu and profiles; carts and orders are kept."""
        ...

    async def close(self) -> None: ...
