"""Per-session state: everything one conversation knows, reached by tools as `ctx.userdata`.

The legacy agent kept the current user and cart in module globals, so two calls at once shared
one cart. Here each `AgentSession[UserState]` owns a `UserState` built by `new_userdata`, and tools
get it through `RunContext[UserState]`: two sessions in one process never see each other's data.

What the state guarantees to the tools (issue #10):

* one change at a time: livekit runs a turn's tool calls concurrently, so every cart change and
  checkout holds the session's lock from the change through the store's answer; each result
  describes the cart its own change produced;
* all or nothing: `apply` either keeps the change (saved, or kept in the session while the store
  is down and written later) or, when the store refuses it, puts the cart back and re-raises;
* no lost updates: a save that finds the saved cart changed elsewhere (another device, another
  worker) merges both sides' changes and saves again, and says so (`CartUpdate.merged`);
* no lost or doubled orders: a checkout whose answer was lost is settled by looking the order up
  by its key before anything else touches the cart.

State raises typed errors and returns facts; the tools turn them into sentences.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from .cart import Cart, CartError, CartLine, Order, merge_lines
from .menu import Catalog
from .store import (
    CartConflictError,
    ItemsUnavailableError,
    Profile,
    SQLiteStore,
    Store,
    StoreAuthError,
    StoreUnavailableError,
)

logger = logging.getLogger("concierge")

T = TypeVar("T")

#: How many times one change merges with changes made elsewhere before giving up for now.
MAX_MERGES = 3


@dataclass(frozen=True)
class CartUpdate:
    """What a cart change left behind, for the tool's reply."""

    #: The cart as this change left it (a snapshot: later changes do not alter it).
    cart: Cart
    #: The saved cart had changed in another session; both sides' changes were merged.
    merged: bool = False
    #: Set when the store is down: the change is kept in this session and written later.
    unsaved: StoreUnavailableError | None = None


@dataclass(frozen=True)
class CheckoutResult:
    """A placed order and what the user should hear about it."""

    order: Order
    #: (line as in the cart, line as ordered) for every line whose menu price changed.
    repriced: tuple[tuple[CartLine, CartLine], ...] = ()
    #: True when this is an order placed by an earlier checkout whose answer was lost.
    earlier: bool = False
    #: The cart after the order (lines added after that earlier checkout stay here).
    remaining: Cart | None = None


class CheckoutUnknownError(Exception):
    """The store stopped answering after the order may have been created: nobody knows yet.

    The session remembers the order's key; the next checkout (or cart change) looks it up first,
    so the order is neither lost nor placed twice.
    """

    def __init__(self, cause: StoreUnavailableError) -> None:
        super().__init__(f"checkout outcome unknown: {cause}")
        self.cause = cause


class CartChangedError(Exception):
    """Checkout stopped before ordering: the saved cart had changed in another session. The carts
    were merged (`cart`); the user should hear the new contents and confirm."""

    def __init__(self, cart: Cart) -> None:
        super().__init__("the cart changed in another session")
        self.cart = cart


class ItemsRetiredError(Exception):
    """Checkout stopped before ordering: `lines` are no longer on the menu and were taken out of
    the cart (`cart` is what is left)."""

    def __init__(self, lines: Sequence[CartLine], cart: Cart) -> None:
        super().__init__(f"no longer on the menu: {', '.join(ln.name for ln in lines)}")
        self.lines, self.cart = tuple(lines), cart


@dataclass
class UserState:
    """What one session knows: the store, the menu, who is ordering, and their cart."""

    store: Store
    catalog: Catalog
    user_id: str
    profile: Profile | None
    cart: Cart
    #: The orders this session placed.
    orders: list[Order] = field(default_factory=list)
    #: True while the store has not got the latest cart (it was down): the next change, the next
    #: checkout, or `save_cart` when the session closes writes it first.
    cart_unsaved: bool = False
    #: False when the saved cart could not be read at session start; the first write that
    #: succeeds merges the saved lines in first, so nothing saved earlier is overwritten.
    cart_loaded: bool = True
    #: Lines of the saved cart whose items are no longer on the menu, taken out at load; the
    #: tools mention them once (`take_retired`).
    retired: list[CartLine] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Bookkeeping, not part of what a session knows: the lines as last saved (the base of a
        # merge), a checkout whose answer was lost, the last cart sent, the one-change lock.
        self._synced: list[CartLine] = list(self.cart.lines)
        self._pending: tuple[str, tuple[CartLine, ...]] | None = None
        self._unconfirmed: Cart | None = None
        self._lock = asyncio.Lock()
        self._take_out_retired(self.cart)

    # --- changing the cart --------------------------------------------------------------------

    async def apply(self, change: Callable[[Cart], T]) -> tuple[T, CartUpdate]:
        """Run `change(cart)` and save, one change at a time; all or nothing.

        A `CartError` from `change` leaves the cart as it was (the domain guarantees it). A store
        refusal (`StoreError` other than an outage) puts the cart back and is re-raised. A
        cancelled tool never half-applies: the change and its write finish under the lock.
        """
        return await self._locked(lambda: self._apply(change))

    async def _apply(self, change: Callable[[Cart], T]) -> tuple[T, CartUpdate]:
        try:  # settle what earlier outages left open before this change, so a rollback keeps it
            await self._settle_pending()
            if not self.cart_loaded:
                await self._recover_saved_cart()
        except StoreUnavailableError:
            pass  # still down: the write below keeps the change in the session
        before = self.cart.copy()
        value = change(self.cart)
        try:
            update = await self._write()
        except BaseException:
            self.cart.replace_contents(before)
            raise
        return value, update

    async def _locked(self, work: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            async with self._lock:
                return await work()

        if _answers_inline(self.store) and not self._lock.locked():
            # The store answers without suspending and the lock is free, so nothing in `work`
            # yields to the loop: a cancellation cannot land between a change and its write.
            # (The shielded task below cost a third of a millisecond per turn.)
            return await run()
        # Shielded: if the tool is cancelled mid-write the write still completes, with the lock.
        return await asyncio.shield(asyncio.ensure_future(run()))

    async def _write(self) -> CartUpdate:
        """Save the cart (settling a lost checkout and recovering first), merging conflicts."""
        merged = False
        try:
            await self._settle_pending()
            if not self.cart_loaded:
                await self._recover_saved_cart()
            merged = await self._confirm_lost_save()
            for _ in range(MAX_MERGES):
                try:
                    await self._save(self.cart)
                    break
                except CartConflictError as conflict:
                    merged |= self._merge(conflict.current, self._synced)
            else:
                raise StoreUnavailableError(
                    "the saved cart kept changing elsewhere", reason="it kept changing elsewhere"
                )
        except StoreUnavailableError as e:
            logger.warning("cart for %s kept in the session, not saved: %s", self.user_id, e)
            self.cart_unsaved = True
            return CartUpdate(self.cart.copy(), merged, e)
        self._synced = list(self.cart.lines)
        self.cart_unsaved = False
        return CartUpdate(self.cart.copy(), merged)

    async def _save(self, cart: Cart) -> None:
        """One save; when its answer is lost it is remembered, to be confirmed before the next."""
        sent = cart.copy()
        try:
            await self.store.save_cart(sent)
        except StoreUnavailableError as e:
            if e.maybe_applied:
                self._unconfirmed = cart.copy()  # as sent: the store may have touched `sent`
            raise
        cart.revision = sent.revision

    async def _confirm_lost_save(self) -> bool:
        """Send a save whose answer was lost again, unchanged: the store then says whether it had
        been applied, which decides the base of the merge (so a change is never applied twice).
        Returns True when the cart was merged with changes made elsewhere."""
        lost = self._unconfirmed
        if lost is None:
            return False
        retry = lost.copy()
        try:
            await self.store.save_cart(retry)
        except CartConflictError as conflict:
            self._unconfirmed = None
            base = lost.lines if conflict.applied else self._synced
            if conflict.applied and conflict.current.lines == lost.lines:
                base = lost.lines
            return self._merge(conflict.current, base)
        self._unconfirmed = None
        # It had not been applied; now it has. What this session changed since stays on top.
        self._synced = list(lost.lines)
        if self.cart.cart_id == lost.cart_id:
            self.cart.revision = retry.revision
        return False

    def _merge(self, current: Cart, base: Sequence[CartLine]) -> bool:
        """Rebase the cart on `current` (the cart saved now), keeping what changed here since
        `base`. Returns True when `current` holds changes made elsewhere."""
        lines = merge_lines(base, self.cart.lines, current.lines)
        elsewhere = list(current.lines) != list(base)
        self._synced = list(current.lines)
        self.cart.replace_contents(Cart(self.user_id, lines, current.cart_id, current.revision))
        return elsewhere

    async def _recover_saved_cart(self) -> None:
        """The store is back after failing at session start: resolve the profile, then merge the
        lines saved before this session with this session's (quantities of one line add up)."""
        if self.profile is None:
            self.profile = await self.store.get_profile(self.user_id)
            if self.profile is not None:
                self.user_id = self.cart.user_id = self.profile.id
        saved = await self.store.load_cart(self.user_id)
        saved = self._take_out_retired(saved)
        lines = merge_lines([], self.cart.lines, saved.lines)
        self.cart.replace_contents(Cart(self.user_id, lines, saved.cart_id, saved.revision))
        self._synced = list(saved.lines)
        self.cart_loaded = True

    def _take_out_retired(self, saved: Cart) -> Cart:
        gone = [ln for ln in saved.lines if ln.item_id not in self.catalog.items]
        if gone:
            self.retired.extend(gone)
            saved.lines = [ln for ln in saved.lines if ln.item_id in self.catalog.items]
            self.cart_unsaved = True
        return saved

    def take_retired(self) -> list[CartLine]:
        """Lines taken out at load because their items left the menu (once; then cleared)."""
        gone, self.retired = self.retired, []
        return gone

    # --- checkout -----------------------------------------------------------------------------

    async def checkout(self) -> CheckoutResult:
        """Turn the cart into an order through the store, then empty the cart.

        Raises `CartError` (empty cart), `StoreUnavailableError` (store down, nothing ordered),
        `CheckoutUnknownError` (the order may exist: settled on the next try), `CartChangedError`
        (merged with changes made elsewhere; confirm first), `ItemsRetiredError`, `StoreError`.
        """
        return await self._locked(self._checkout)

    async def _checkout(self) -> CheckoutResult:
        if self._pending is not None:
            try:
                earlier = await self._settle_pending()
            except StoreUnavailableError as e:
                raise CheckoutUnknownError(e) from e
            if earlier is not None:
                return CheckoutResult(earlier, earlier=True, remaining=self.cart.copy())
        if self.cart.is_empty():
            raise CartError("The cart is empty: add something before checking out.")
        if self.cart_unsaved or not self.cart_loaded:
            update = await self._write()
            if update.unsaved is not None:
                raise update.unsaved
            if update.merged:
                raise CartChangedError(self.cart.copy())
        order, submitted = await self._submit()
        repriced = tuple(
            (mine, ordered)
            for mine, ordered in zip(submitted.lines, order.lines, strict=False)
            if mine.unit_price_cents != ordered.unit_price_cents
        )
        self._record(order, submitted.lines)
        return CheckoutResult(order, repriced)

    async def _submit(self) -> tuple[Order, Cart]:
        """Send the cart to the store's checkout; returns the order and the cart it consumed."""
        for _ in range(MAX_MERGES):
            submitted = self.cart.copy()
            try:
                return await self.store.checkout(submitted), submitted
            except StoreUnavailableError as e:
                if not e.maybe_applied:
                    raise
                self._pending = (submitted.checkout_key(), tuple(submitted.lines))
                raise CheckoutUnknownError(e) from e
            except CartConflictError as conflict:
                self._merge(conflict.current, self._synced)
                if conflict.current.lines == submitted.lines:
                    # Saved elsewhere with the very lines confirmed here (another session of
                    # this user merged the same changes): only the revision moved. Order them.
                    continue
                await self._write()
                raise CartChangedError(self.cart.copy()) from None
            except ItemsUnavailableError as e:
                gone = [ln for ln in self.cart.lines if ln.item_id in e.item_ids]
                self.cart.lines = [ln for ln in self.cart.lines if ln.item_id not in e.item_ids]
                self.cart.replace_contents(self.cart.copy())  # tell the views
                await self._write()
                raise ItemsRetiredError(gone, self.cart.copy()) from None
        raise CartChangedError(self.cart.copy())

    async def _settle_pending(self) -> Order | None:
        """Look up the order of a checkout whose answer was lost; record it if it exists."""
        if self._pending is None:
            return None
        key, submitted = self._pending
        order = await self.store.find_order(self.user_id, key)
        self._pending = None
        if order is not None:
            self._record(order, submitted)
        return order

    def _record(self, order: Order, submitted: Sequence[CartLine]) -> None:
        """`order` consumed `submitted`: keep only what was added since, in a new cart."""
        if all(o.order_id != order.order_id for o in self.orders):
            self.orders.append(order)
        self._unconfirmed = None  # the order consumed whatever that lost save had saved
        rest = merge_lines(submitted, self.cart.lines, [])
        self.cart.clear(new_cart=True)
        if rest:
            self.cart.replace_contents(Cart(self.user_id, rest))
            self.cart_unsaved = True
        self._synced = []

    async def settled(self) -> None:
        """Wait until no change is being written. A frontend reading the cart right after this
        sees what is kept (saved, or kept in the session while the store is down), never a line
        that a crash in the middle of its write would lose."""
        async with self._lock:
            pass

    # --- closing ------------------------------------------------------------------------------

    async def save_cart(self) -> None:
        """Write the cart if the store has not got its latest state. Never raises: the session
        calls it when it closes, and closing a session must not fail."""
        if not (self.cart_unsaved or self._pending or self._unconfirmed or not self.cart_loaded):
            return
        try:
            await self._locked(self._write)
        except Exception:
            logger.exception("could not save the cart of %s while closing", self.user_id)


def _answers_inline(store: Store) -> bool:
    """An in-memory SQLite store itself — not a wrapper around one, which may await anything."""
    return type(store) is SQLiteStore and store.runs_inline


async def new_userdata(
    store: Store, user_id: str = "demo", catalog: Catalog | None = None
) -> UserState:
    """Build the state for one session: load the menu, the profile and the saved cart.

    `user_id` may be a profile id or handle ("demo"); carts are keyed by the profile's id when
    there is one, so "demo" and its UUID reach the same cart. Lines whose items left the menu
    are taken out of the cart and remembered in `retired` for the tools to mention.
    """
    catalog = catalog or await store.load_catalog()
    try:
        profile = await store.get_profile(user_id)
        key = profile.id if profile else user_id
        cart = await store.load_cart(key)
    except (StoreUnavailableError, StoreAuthError) as e:
        # Serve the user anyway: an empty cart now, the saved one merged in when the store is back.
        # A refused sign-in (an expired token) is not a passing outage, but a session that fails to
        # start is a silent call; started, each change says the cause in one sentence instead.
        logger.warning("store unavailable at session start for %s: %s", user_id, e)
        return UserState(
            store, catalog, user_id, None, Cart(user_id), cart_unsaved=True, cart_loaded=False
        )
    return UserState(store=store, catalog=catalog, user_id=key, profile=profile, cart=cart)
