"""The store going away, at session start or mid-order: plain replies, no cart lost."""

from __future__ import annotations

from typing import Any

from concierge.cart import Cart
from concierge.session import offline_session
from concierge.state import new_userdata
from concierge.store import (
    SQLiteStore,
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
    open_store,
)


class OutageStore:
    """Wraps a real SQLiteStore; while `down` is True every call but the menu read fails, with
    `error` (a connection refused, unless told otherwise)."""

    def __init__(self, inner: SQLiteStore, error: StoreError | None = None) -> None:
        self.inner, self.down = inner, False
        self.error = error or StoreUnavailableError("connection refused (injected)")
        self.description = "outage test double around " + inner.description

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name in ("load_catalog", "close") or not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise self.error
            return await attr(*args, **kwargs)

        return call


async def test_store_down_at_session_start_then_back() -> None:
    inner = await open_store("memory")
    assert isinstance(inner, SQLiteStore)
    profile = await inner.get_profile("demo")
    assert profile is not None
    saved = Cart(profile.id)
    saved.add(await inner.load_catalog(), "churros", 2)
    await inner.save_cart(saved)

    store = OutageStore(inner)
    store.down = True
    state = await new_userdata(store, "demo")  # type: ignore[arg-type]
    assert state.cart.is_empty() and not state.cart_loaded

    async with offline_session(store=store, user_id="demo") as session:  # type: ignore[arg-type]
        result = await session.run(user_input="a kombucha")
        reply = [e.item.text_content for e in result.events if e.type == "message"][-1] or ""
        assert "not working right now" in reply
        store.down = False
        await session.run(user_input="two edamame")  # the store is back: saved lines merged in
        lines = [(ln.item_id, ln.quantity) for ln in session.userdata.cart.lines]
        assert lines == [("churros", 2), ("kombucha", 1), ("edamame", 2)]
    stored = await inner.load_cart(profile.id)
    assert [ln.item_id for ln in stored.lines] == ["churros", "kombucha", "edamame"]


async def test_checkout_while_down_places_nothing_and_keeps_the_cart() -> None:
    inner = await open_store("memory")
    store = OutageStore(inner)  # type: ignore[arg-type]
    async with offline_session(store=store, user_id="alex") as session:  # type: ignore[arg-type]
        await session.run(user_input="three churros")
        await session.run(user_input="that's it")  # the order is read back
        store.down = True
        result = await session.run(user_input="yes")
        reply = [e.item.text_content for e in result.events if e.type == "message"][-1] or ""
        assert "no order was placed" in reply
        assert session.userdata.cart.item_count == 3
        store.down = False
        await session.run(user_input="yes, place it")
        user_id = session.userdata.user_id
    assert len(await inner.list_orders(user_id)) == 1


async def test_an_expired_sign_in_at_session_start_is_said_not_a_silent_call() -> None:
    """A token that expired before the call: the session still starts (a job that fails to start
    is dead air for the caller), and every change says why it cannot be made, in one sentence."""
    inner = await open_store("memory")
    assert isinstance(inner, SQLiteStore)
    expired = OutageStore(
        inner, StoreAuthError("the user's token expired (JWT expired)", expired=True)
    )
    expired.down = True
    async with offline_session(store=expired, user_id="demo") as session:  # type: ignore[arg-type]
        result = await session.run(user_input="two churros")
        said = " ".join(e.item.text_content or "" for e in result.events if e.type == "message")
        assert "sign-in has expired" in said and "sign in again" in said
        assert session.userdata.cart.is_empty()
        assert session.userdata.orders == []
    await inner.close()
