"""Failure behaviour of the Supabase store, with each fault injected for real.

Unreachable is a closed port; a timeout is the harness sleeping past the client's deadline; a 5xx
"mid-order" is the harness committing the checkout and then answering 502/503, i.e. the answer
is lost after the order exists. Transient faults are retried a bounded number of times; when
they persist the caller gets a typed `StoreUnavailableError` (the reason, the attempts, whether
the request may have reached the database); and no fault, however timed, ever produces a second
order for one cart.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import httpx
import psycopg
import pytest

from concierge.cart import Cart, CartLine
from concierge.menu import default_catalog
from concierge.session import offline_session
from concierge.store import StoreError, StoreUnavailableError
from concierge.store.supabase import RetryPolicy

from .conftest import FAST_RETRY, LocalSupabase


def _cart(user_id: str) -> Cart:
    cart = Cart(user_id=user_id)
    cart.add(default_catalog(), "classic_cheeseburger", 2)
    cart.add(default_catalog(), "coke", 1, size="large", notes="no ice")
    return cart


def _orders_in_db(local: LocalSupabase, cart_id: str) -> list[str]:
    """Straight from PostgreSQL as the superuser: the ground truth, past any API."""
    with psycopg.connect(local.pg.dsn()) as conn:
        rows = conn.execute("select id::text from public.orders where cart_id = %s", (cart_id,))
        return [r[0] for r in rows]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_store_gives_a_plain_sentence_after_bounded_retries(
    supa: LocalSupabase,
) -> None:
    user = str(uuid.uuid4())
    store = await supa.user_store(user, url=f"http://127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as down:
        await store.load_cart(user)
    assert down.value.reason == "it cannot be reached" and down.value.attempts == 3
    assert not down.value.maybe_applied, "no attempt reached the database"
    assert time.monotonic() - started < 2.0


async def test_a_timeout_is_retried_then_reported(supa: LocalSupabase) -> None:
    user = str(uuid.uuid4())
    store = await supa.user_store(
        user, retry=RetryPolicy(attempts=3, timeout=0.2, initial_wait=0.01, max_wait=0.02)
    )
    slow = supa.app.faults.add("POST /rest/v1/rpc/load_cart", status=0, delay=0.6, times=10)
    with pytest.raises(StoreUnavailableError, match="timed out"):
        await store.load_cart(user)
    assert slow.hits == 3, "exactly the configured number of attempts, no more"
    await asyncio.sleep(0.7)  # let the harness finish the abandoned requests before the next test


async def test_a_passing_5xx_is_retried_and_the_call_succeeds(supa: LocalSupabase) -> None:
    user = str(uuid.uuid4())
    store = await supa.user_store(user)
    cart = _cart(user)
    await store.save_cart(cart)
    supa.app.log.clear()
    blip = supa.app.faults.add("POST /rest/v1/rpc/load_cart", status=503)
    loaded = await store.load_cart(user)
    assert loaded.lines == cart.lines
    assert blip.hits == 1 and len(supa.app.log) == 2


async def test_a_lost_checkout_answer_is_retried_without_a_duplicate_order(
    supa: LocalSupabase,
) -> None:
    user = str(uuid.uuid4())
    store = await supa.user_store(user)
    cart = _cart(user)
    lost = supa.app.faults.add("POST /rest/v1/rpc/checkout", status=502, when="after")
    order = await store.checkout(cart)
    assert lost.hits == 1
    assert _orders_in_db(supa, cart.cart_id) == [order.order_id]


async def test_checkout_failing_mid_order_reports_and_never_duplicates(supa: LocalSupabase) -> None:
    user = str(uuid.uuid4())
    store = await supa.user_store(user)
    cart = _cart(user)
    outage = supa.app.faults.add("POST /rest/v1/rpc/checkout", status=503, when="after", times=3)
    with pytest.raises(StoreUnavailableError) as down:
        await store.checkout(cart)
    assert "HTTP 503" in down.value.reason
    assert down.value.maybe_applied, "the order may exist: the agent must not say it does not"
    assert outage.hits == 3
    placed = _orders_in_db(supa, cart.cart_id)
    assert len(placed) == 1, "three attempts reached the database; one order exists"

    # The store is back; the session still holds the cart and checks out again: the same order.
    order = await store.checkout(cart)
    assert order.order_id == placed[0]
    assert _orders_in_db(supa, cart.cart_id) == placed


async def test_concurrent_checkouts_of_one_cart_make_one_order(supa: LocalSupabase) -> None:
    """Two workers (or a retry racing the original) check out the same cart at once."""
    user = str(uuid.uuid4())
    first, second = await supa.user_store(user), await supa.user_store(user)
    cart = _cart(user)
    a, b = await asyncio.gather(first.checkout(cart), second.checkout(cart))
    assert a == b
    assert _orders_in_db(supa, cart.cart_id) == [a.order_id]


async def test_checkout_refused_before_the_database_creates_nothing_and_keeps_the_cart(
    supa: LocalSupabase,
) -> None:
    user = str(uuid.uuid4())
    store = await supa.user_store(user)
    cart = _cart(user)
    await store.save_cart(cart)
    supa.app.faults.add("POST /rest/v1/rpc/checkout", status=503, times=3)
    with pytest.raises(StoreUnavailableError):
        await store.checkout(cart)
    assert _orders_in_db(supa, cart.cart_id) == []
    assert (await store.load_cart(user)).lines == cart.lines


async def test_refusals_are_not_retried(supa: LocalSupabase) -> None:
    user = str(uuid.uuid4())
    store = await supa.user_store(user)
    bogus = CartLine("unicorn_steak", "Unicorn Steak", "burger_barn", "Burger Barn", None, 1, 100)
    supa.app.log.clear()
    with pytest.raises(StoreError, match="no menu item with id unicorn_steak") as refused:
        await store.checkout(Cart(user_id=user, lines=[bogus]))
    assert not isinstance(refused.value, StoreUnavailableError)
    assert len(supa.app.log) == 1


async def test_every_call_is_retried_the_same_bounded_number_of_times(supa: LocalSupabase) -> None:
    store = await supa.user_store(str(uuid.uuid4()))
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused")

    with pytest.raises(StoreUnavailableError) as down:
        await store._call("anything", flaky)
    assert calls == FAST_RETRY.attempts == down.value.attempts


async def test_the_agent_keeps_the_cart_through_an_outage(supa: LocalSupabase) -> None:
    """The whole path: a real AgentSession on the Supabase store while the store goes down."""
    user = str(uuid.uuid4())
    store = await supa.user_store(user)
    async with offline_session(store=store, user_id=user) as session:
        supa.app.faults.add("POST /rest/v1/rpc/save_cart", status=503, times=3)
        await session.run(user_input="two classic cheeseburgers please")
        state = session.userdata
        assert [(ln.item_id, ln.quantity) for ln in state.cart.lines] == [
            ("classic_cheeseburger", 2)
        ]
        assert state.cart_unsaved, "the session knows the store has not got the cart"

        supa.app.faults.add("POST /rest/v1/rpc/checkout", status=503, times=3)
        await session.run(user_input="checkout")  # the order is read back
        result = await session.run(user_input="yes")
        result.expect.next_event().is_function_call(name="place_order")
        output = result.expect.next_event().is_function_call_output(is_error=True).event().item
        assert "cannot tell yet whether it was placed" in output.output
        assert "will not be placed twice" in output.output
        assert not state.cart.is_empty(), "a failed checkout keeps the cart"
        cart_id = state.cart.cart_id
        assert _orders_in_db(supa, cart_id) == []

        await session.run(user_input="checkout")  # the store is back
        result = await session.run(user_input="yes")
        result.expect.next_event().is_function_call(name="place_order")
        result.expect.next_event().is_function_call_output(is_error=False)
        assert state.cart.is_empty()
    assert len(_orders_in_db(supa, cart_id)) == 1
    assert (await store.list_orders(user))[0].cart_id == cart_id


async def test_a_lost_save_answer_is_retried_without_applying_it_twice(supa: LocalSupabase) -> None:
    user = str(uuid.uuid4())
    store = await supa.user_store(user)
    cart = _cart(user)
    lost = supa.app.faults.add("POST /rest/v1/rpc/save_cart", status=502, when="after")
    await store.save_cart(cart)  # applied, answer lost, retried: the store recognises its write
    assert lost.hits == 1 and cart.revision == 1
    assert (await store.load_cart(user)).lines == cart.lines
    cart.add(default_catalog(), "churros", 1)
    await store.save_cart(cart)  # the next save is based on the revision the lost answer made
    assert cart.revision == 2
