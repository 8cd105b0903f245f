"""Per-session state: everything one conversation knows, reached by tools as `ctx.userdata`.

The legacy agent kept the current user and cart in module globals, so two calls at once shared
one cart. Here each `AgentSession[UserState]` owns a `UserState` built by `new_userdata`, and tools
get it through `RunContext[UserState]`: two sessions in one process never see each other's data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .cart import Cart, Order
from .menu import Catalog
from .store import Profile, Store, StoreUnavailableError

logger = logging.getLogger("concierge")


@dataclass
class UserState:
    """What one session knows: the store, the menu, who is ordering, and their cart."""

    store: Store
    catalog: Catalog
    user_id: str
    profile: Profile | None
    cart: Cart
    orders: list[Order] = field(default_factory=list)
    #: True while the store has not got the latest cart (it was down); the next write retries.
    cart_unsaved: bool = False
    #: False when the saved cart could not be read at session start; the first write that
    #: succeeds merges the saved lines in first, so nothing saved earlier is overwritten.
    cart_loaded: bool = True

    async def save_cart(self) -> str:
        """Write the cart to the store. Returns "" or a note for the reply when the store is down.

        The cart is never lost: it stays in this session and the next change (or the end of the
        session) writes it again.
        """
        try:
            if not self.cart_loaded:
                await self._recover_saved_cart()
            await self.store.save_cart(self.cart)
        except StoreUnavailableError as e:
            logger.warning("cart for %s not saved, keeping it in the session: %s", self.user_id, e)
            self.cart_unsaved = True
            return " (Saving to your account is not working right now; I'm keeping the cart here.)"
        self.cart_unsaved = False
        return ""

    async def _recover_saved_cart(self) -> None:
        """The store is back after failing at session start: resolve the profile, then put the
        lines saved before this session back into the cart, ahead of the new ones."""
        if self.profile is None:
            self.profile = await self.store.get_profile(self.user_id)
            if self.profile is not None:
                self.user_id = self.cart.user_id = self.profile.id
        saved = await self.store.load_cart(self.user_id)
        mine = {line.key for line in self.cart.lines}
        earlier = [line for line in saved.lines if line.key not in mine]
        if earlier:
            self.cart.replace_contents(Cart(self.user_id, earlier + self.cart.lines, saved.cart_id))
        self.cart_loaded = True

    async def checkout(self) -> Order:
        """Turn the cart into an order through the store, then empty the cart.

        Safe to retry: the store's checkout is idempotent per `cart.cart_id`, so a retry after a
        timeout returns the same order instead of placing a second one.
        """
        order = await self.store.checkout(self.cart)
        self.orders.append(order)
        self.cart.clear()
        self.cart_unsaved = False
        return order


async def new_userdata(
    store: Store, user_id: str = "demo", catalog: Catalog | None = None
) -> UserState:
    """Build the state for one session: load the menu, the profile and the saved cart.

    `user_id` may be a profile id or handle ("demo"); carts are keyed by the profile's id when
    there is one, so "demo" and its UUID reach the same cart.
    """
    catalog = catalog or await store.load_catalog()
    try:
        profile = await store.get_profile(user_id)
        key = profile.id if profile else user_id
        cart = await store.load_cart(key)
    except StoreUnavailableError as e:
        # Serve the user anyway: an empty cart now, the saved one merged in when the store is back.
        logger.warning("store unavailable at session start for %s: %s", user_id, e)
        return UserState(
            store, catalog, user_id, None, Cart(user_id), cart_unsaved=True, cart_loaded=False
        )
    return UserState(store=store, catalog=catalog, user_id=key, profile=profile, cart=cart)
