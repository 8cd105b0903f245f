"""Cart changes and checkout under concurrency and faults (issue #10), on the real SQLite store.

Each test fails on the code before issue #10: checkout keyed on `cart_id` alone, whole-cart
saves with the last writer winning, tool changes half-applied by a store refusal, a turn's
parallel tool calls racing, views able to fail a tool.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from concierge.cart import Cart, CartChange
from concierge.menu import Catalog
from concierge.offline.llm import PlannedCall, ScriptedLLM
from concierge.session import offline_session
from concierge.state import CheckoutUnknownError, UserState, new_userdata
from concierge.store import (
    SQLiteStore,
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
    open_store,
)


class Faulty:
    """Wraps a real store. `refuse`: the next writes raise that error; `lose_checkout_answer`:
    the next checkout happens, then its answer is lost; `delay`: every call sleeps first (the
    awaits a network store has between a tool's change and its save)."""

    def __init__(self, inner: SQLiteStore, delay: float = 0.0) -> None:
        self.inner, self.delay = inner, delay
        self.refuse: StoreError | None = None
        self.lose_checkout_answer = False
        self.description = "faulty " + inner.description

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name in ("load_catalog", "close") or not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(self.delay)
            if self.refuse is not None and name in ("save_cart", "checkout"):
                raise self.refuse
            result = await attr(*args, **kwargs)
            if name == "checkout" and self.lose_checkout_answer:
                self.lose_checkout_answer = False
                raise StoreUnavailableError(
                    "answer lost", reason="it timed out", maybe_applied=True
                )
            return result

        return call


async def _sqlite() -> SQLiteStore:
    store = await open_store("memory")
    assert isinstance(store, SQLiteStore)
    return store


def _replies(result: Any) -> list[str]:
    return [e.item.text_content or "" for e in result.events if e.type == "message"]


def _outputs(result: Any) -> list[Any]:
    return [e.item for e in result.events if e.type == "function_call_output"]


async def _place_order(session: Any) -> Any:
    """Check out as a customer does: hear the order read back, then say yes."""
    await session.run(user_input="checkout")
    return await session.run(user_input="yes")


# --- 1. checkout idempotency keyed on contents ----------------------------------------------


async def test_a_cart_changed_after_checkout_never_gets_the_older_order(catalog: Catalog) -> None:
    """Issue #10.1: two devices share a saved cart; one checks out, the other keeps ordering."""
    store = await _sqlite()
    first = await new_userdata(store, "alex")
    await first.apply(lambda cart: cart.add(catalog, "coke", 1, "small"))
    a = await new_userdata(store, "alex")
    b = await new_userdata(store, "alex")
    assert a.cart.cart_id == b.cart.cart_id  # both loaded the same saved cart
    await a.apply(lambda cart: cart.add(catalog, "churros", 1))
    placed_a = await a.checkout()
    _, update = await b.apply(lambda cart: cart.add(catalog, "edamame", 1))
    assert update.merged and [ln.item_id for ln in b.cart.lines] == ["edamame"]
    placed_b = await b.checkout()
    assert placed_b.order.order_id != placed_a.order.order_id
    assert [ln.item_id for ln in placed_a.order.lines] == ["coke", "churros"]
    assert [ln.item_id for ln in placed_b.order.lines] == ["edamame"]


async def test_two_sessions_of_one_user_checking_out_keep_every_item_exactly_once(
    catalog: Catalog,
) -> None:
    store = await _sqlite()
    a = await new_userdata(store, "alex")
    b = await new_userdata(store, "alex")
    await a.apply(lambda cart: cart.add(catalog, "churros", 2))
    await b.apply(lambda cart: cart.add(catalog, "edamame", 1))
    outcomes = await asyncio.gather(a.checkout(), b.checkout(), return_exceptions=True)
    for state in (a, b):  # whoever was refused confirms and checks out again
        if not state.cart.is_empty():
            await state.checkout()
    orders = await store.list_orders(a.user_id)
    counted: dict[str, int] = {}
    for order in orders:
        for line in order.lines:
            counted[line.item_id] = counted.get(line.item_id, 0) + line.quantity
    assert counted == {"churros": 2, "edamame": 1}, (counted, outcomes)
    assert (await store.load_cart(a.user_id)).is_empty()


async def test_a_checkout_behind_only_in_revision_places_the_confirmed_lines(
    catalog: Catalog,
) -> None:
    """Another session of the user saved the very lines confirmed here (a merge of the same
    change): the revision moved, the contents did not, so the order goes through."""
    store = await _sqlite()
    a = await new_userdata(store, "alex")
    await a.apply(lambda cart: cart.add(catalog, "churros", 2))
    b = await new_userdata(store, "alex")
    await b.apply(lambda cart: None)  # b saves the same lines: only the revision moves
    assert b.cart.lines == a.cart.lines and b.cart.revision > a.cart.revision
    result = await a.checkout()
    assert [(ln.item_id, ln.quantity) for ln in result.order.lines] == [("churros", 2)]
    assert len(await store.list_orders(a.user_id)) == 1


def test_a_memory_store_shared_by_threads_runs_one_transaction_at_a_time(catalog: Catalog) -> None:
    """A memory store runs transactions inline; sessions on several threads (livekit's thread
    executor) must still never interleave them: every add of every thread is kept."""
    import threading

    store = asyncio.run(_sqlite())
    users, adds = 4, 15

    def caller(n: int) -> None:
        async def run() -> None:
            state = await new_userdata(store, f"thread-{n}")
            for _ in range(adds):
                await state.apply(lambda cart: cart.add(catalog, "churros", 1))

        asyncio.run(run())

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def quantities() -> list[int]:
        carts = [await store.load_cart(f"thread-{n}") for n in range(users)]
        return [sum(ln.quantity for ln in c.lines) for c in carts]

    assert asyncio.run(quantities()) == [adds] * users


async def test_a_lost_checkout_answer_is_settled_by_key_never_reordered(catalog: Catalog) -> None:
    inner = await _sqlite()
    store = Faulty(inner)
    state = await new_userdata(store, "alex")  # type: ignore[arg-type]
    await state.apply(lambda cart: cart.add(catalog, "churros", 2))
    store.lose_checkout_answer = True
    with pytest.raises(CheckoutUnknownError):
        await state.checkout()
    assert not state.cart.is_empty(), "unknown is not 'placed': the cart is kept"
    # The user adds something, then checks out again: the earlier order is found, not repeated.
    await state.apply(lambda cart: cart.add(catalog, "edamame", 1))
    assert [ln.item_id for ln in state.cart.lines] == ["edamame"]
    assert len(state.orders) == 1
    second = await state.checkout()
    assert [ln.item_id for ln in second.order.lines] == ["edamame"]
    placed = [
        (ln.item_id, ln.quantity) for o in await inner.list_orders(state.user_id) for ln in o.lines
    ]
    assert sorted(placed) == [("churros", 2), ("edamame", 1)]


async def test_the_agent_says_an_unknown_checkout_outcome_and_settles_it(catalog: Catalog) -> None:
    inner = await _sqlite()
    store = Faulty(inner)
    async with offline_session(store=store, user_id="alex") as session:  # type: ignore[arg-type]
        await session.run(user_input="three churros")
        store.lose_checkout_answer = True
        result = await _place_order(session)
        assert "cannot tell yet whether it was placed" in _outputs(result)[-1].output
        result = await _place_order(session)
        assert "earlier order did go through" in _outputs(result)[-1].output
        assert session.userdata.cart.is_empty() and len(session.userdata.orders) == 1
    assert len(await inner.list_orders(session.userdata.user_id)) == 1


# --- 2. no lost updates ---------------------------------------------------------------------


async def test_concurrent_sessions_of_one_user_merge_and_say_so(catalog: Catalog) -> None:
    store = await _sqlite()
    a = await new_userdata(store, "alex")
    b = await new_userdata(store, "alex")
    await a.apply(lambda cart: cart.add(catalog, "churros", 1))
    _, update = await b.apply(lambda cart: cart.add(catalog, "edamame", 2))
    assert update.merged, "b's reply must say the cart changed elsewhere"
    saved = await store.load_cart(a.user_id)
    assert [(ln.item_id, ln.quantity) for ln in saved.lines] == [("churros", 1), ("edamame", 2)]
    _, update = await a.apply(lambda cart: cart.remove("churros"))
    assert update.merged
    assert [ln.item_id for ln in (await store.load_cart(a.user_id)).lines] == ["edamame"]


# --- 3. all or nothing; closing never raises ------------------------------------------------


async def test_a_store_refusal_rolls_the_change_back_and_names_the_cause() -> None:
    inner = await _sqlite()
    store = Faulty(inner)
    async with offline_session(store=store, user_id="alex") as session:  # type: ignore[arg-type]
        store.refuse = StoreAuthError("token expired", expired=True)
        for _ in range(2):
            result = await session.run(user_input="two churros")
            assert "sign-in has expired" in _outputs(result)[-1].output
            assert session.userdata.cart.is_empty(), "a refused change leaves no trace"
    # leaving the block saved nothing and raised nothing, though the store still refuses


async def test_closing_a_session_never_raises_whatever_the_store_does() -> None:
    inner = await _sqlite()
    store = Faulty(inner)
    async with offline_session(store=store, user_id="alex") as session:  # type: ignore[arg-type]
        await session.run(user_input="two churros")
        session.userdata.cart_unsaved = True
        store.refuse = StoreError("refused on close")
    assert session.userdata.cart.item_count == 2


async def test_a_view_that_raises_never_fails_or_repeats_a_change(catalog: Catalog) -> None:
    async with offline_session(user_id="alex") as session:

        def broken(change: CartChange) -> None:
            raise RuntimeError("widget bug")

        session.userdata.cart.subscribe(broken)
        result = await session.run(user_input="two churros")
        assert not _outputs(result)[-1].is_error
        assert [(ln.item_id, ln.quantity) for ln in session.userdata.cart.lines] == [("churros", 2)]


# --- 10. a turn's parallel tool calls ---------------------------------------------------------


@pytest.mark.parametrize("delay", [0.0, 0.02])
async def test_parallel_tool_calls_of_one_turn_are_serialized(
    catalog: Catalog, delay: float
) -> None:
    inner = await _sqlite()
    store = Faulty(inner, delay=delay)
    calls = [
        PlannedCall("add_to_cart", {"item_id": "falafel_bowl", "quantity": 1, "size": "null", "notes": ""}),
        PlannedCall("add_to_cart", {"item_id": "lentil_soup", "quantity": 1, "size": "null", "notes": ""}),
        PlannedCall("add_to_cart", {"item_id": "kombucha", "quantity": 1, "size": "null", "notes": ""}),
    ]  # fmt: skip
    model = ScriptedLLM(catalog, calls)
    async with offline_session(store=store, user_id="alex", model=model) as session:  # type: ignore[arg-type]
        result = await session.run(user_input="(three adds at once)")
        totals = sorted(
            re.findall(r"Cart total (\$[\d.,]+)\.", o.output)[0] for o in _outputs(result)
        )
        # Each reply reports the cart its own change produced: three different running totals.
        assert totals == ["$12.50", "$19.00", "$23.00"], totals
        final = session.userdata.cart
    saved = await inner.load_cart(final.user_id)
    assert saved.lines == final.lines and len(saved.lines) == 3


def test_cart_checkout_key_covers_contents_and_revision(catalog: Catalog) -> None:
    cart = Cart("u")
    cart.add(catalog, "churros", 1)
    key = cart.checkout_key()
    assert Cart("u", list(cart.lines), cart.cart_id, cart.revision).checkout_key() == key
    cart.add(catalog, "churros", 1)
    assert cart.checkout_key() != key
    assert (
        Cart("u", list(cart.lines), cart.cart_id, cart.revision + 1).checkout_key()
        != cart.checkout_key()
    )


def test_userstate_keeps_its_public_shape() -> None:
    fields = UserState.__dataclass_fields__
    assert list(fields) == [
        "store",
        "catalog",
        "user_id",
        "profile",
        "cart",
        "orders",
        "cart_unsaved",
        "cart_loaded",
        "retired",
    ]


HOSTILE_CALLS = [
    ("add_to_cart", {"item_id": "coke", "quantity": True, "size": "large", "notes": ""}),
    ("add_to_cart", {"item_id": "coke", "quantity": 1, "size": "large", "notes": "no\x00ice"}),
    ("add_to_cart", {"item_id": "coke", "quantity": 1, "size": "large", "notes": "x" * 201}),
    ("find_food_item", {"query": "pizza" * 50_000, "restaurant_id": "null", "dietary": "null"}),
]


@pytest.mark.parametrize(
    ("tool", "arguments"), HOSTILE_CALLS, ids=["bool", "nul", "long-notes", "long-query"]
)
async def test_hostile_arguments_get_a_plain_refusal(
    catalog: Catalog, tool: str, arguments: dict[str, Any]
) -> None:
    model = ScriptedLLM(catalog, [PlannedCall(tool, arguments)])
    async with offline_session(user_id="alex", model=model) as session:
        result = await session.run(user_input="(hostile)")
        outputs = _outputs(result)
        assert len(outputs) == 1 and outputs[0].is_error, outputs
        assert session.userdata.cart.is_empty()
        assert "Traceback" not in outputs[0].output and len(outputs[0].output) < 400


def test_notes_are_cleaned_or_refused(catalog: Catalog) -> None:
    from concierge.cart import CartError

    cart = Cart("u")
    line = cart.add(catalog, "coke", 1, "large", notes="  no\tice \n please ")
    assert line.notes == "no ice please"
    for bad in ("a\x00b", "\x1b[31m", "\ud800", "y" * 201):
        with pytest.raises(CartError):
            cart.add(catalog, "coke", 1, "large", notes=bad)
    assert cart.item_count == 1


async def test_a_megabyte_message_gets_a_plain_reply_at_once() -> None:
    import time

    async with offline_session(user_id="alex") as session:
        await session.run(user_input="two churros")
        before = session.userdata.cart.to_dict()
        started = time.perf_counter()
        result = await session.run(user_input="margherita pizza please " * 44_000)
        elapsed = time.perf_counter() - started
        reply = _replies(result)[-1]
        assert "too long" in reply and "few words" in reply
        assert session.userdata.cart.to_dict() == before
        assert elapsed < 1.0, elapsed  # the stand-in used to plan 44,000 tool calls: seconds
        history = session.history.items
        assert all(len(getattr(i, "text_content", "") or "") < 5000 for i in history)


async def test_catalog_changes_are_said_retired_items_and_new_prices(catalog: Catalog) -> None:
    """Issue #10.7: one rule on every store — price from the current menu at checkout, the user
    told when it changed; an item dropped from the menu is retired and a saved cart says so."""
    from dataclasses import replace

    from concierge.menu import Catalog as Menu
    from concierge.store import load_seed

    store = await _sqlite()
    profile = await store.get_profile("alex")
    assert profile is not None
    saved = Cart(profile.id)
    saved.add(catalog, "churros", 1)
    saved.add(catalog, "edamame", 1)
    await store.save_cart(saved)
    full = load_seed()
    items = [it for it in full.catalog.items.values() if it.id != "churros"]
    await store.seed(replace(full, catalog=Menu(full.catalog.restaurants.values(), items)))

    async with offline_session(store=store, user_id="alex") as session:
        result = await session.run(user_input="what's in my cart")
        said = _outputs(result)[-1].output
        assert said.startswith("Your cart: 1 × Edamame") and "Churros left the menu" in said
        assert [ln.item_id for ln in session.userdata.cart.lines] == ["edamame"]
        state = session.userdata
        state.cart.lines[0] = replace(
            state.cart.lines[0], unit_price_cents=1
        )  # seen at an old price
        result = await _place_order(session)
        said = _outputs(result)[-1].output
        assert "Edamame now costs $4.50 (was $0.01)" in said
        assert state.orders[-1].total_cents == 450
    assert [o.lines[0].item_id for o in await store.list_orders(profile.id)] == ["edamame"]


async def test_a_memory_store_change_never_suspends_so_no_cancellation_can_split_it(
    catalog: Catalog,
) -> None:
    """`UserState` runs a change on an inline store without a shielded task, which is only safe
    while nothing in the change and its write yields to the loop: prove it never does."""
    store = await _sqlite()
    state = await new_userdata(store, "alex")
    step = state.apply(lambda cart: cart.add(catalog, "churros", 2))
    with pytest.raises(StopIteration):
        step.send(None)  # finished on its first step: no await in it suspended
    saved = await store.load_cart(state.user_id)
    assert [(ln.item_id, ln.quantity) for ln in saved.lines] == [("churros", 2)]


async def test_a_settled_cart_shows_only_lines_the_store_has(catalog: Catalog) -> None:
    """What a frontend reads after `settled()` (the room's `get_cart`) is already saved: a worker
    killed right after the read loses nothing it showed."""
    store = Faulty(await _sqlite(), delay=0.05)
    state = await new_userdata(store, "alex")  # type: ignore[arg-type]
    change = asyncio.ensure_future(state.apply(lambda cart: cart.add(catalog, "churros", 3)))
    while not state.cart.lines:  # the change is applied in memory, its write still in flight
        await asyncio.sleep(0)
    await state.settled()
    shown = [(ln.item_id, ln.quantity) for ln in state.cart.lines]
    saved = await store.inner.load_cart(state.cart.user_id)
    assert [(ln.item_id, ln.quantity) for ln in saved.lines] == shown
    await change
