"""Whole conversations with the migrated agent, through the real AgentSession and LiveKit's
testing API (`result.expect`), on the offline stand-in model and an in-memory SQLite store."""

from __future__ import annotations

import asyncio

import pytest

from concierge.session import offline_session
from concierge.store import Store


async def test_order_remove_checkout(store: Store) -> None:
    async with offline_session(store=store) as session:
        result = await session.run(user_input="I'd like two classic cheeseburgers and a large coke")
        result.expect.next_event().is_function_call(
            name="add_to_cart",
            arguments={"item_id": "classic_cheeseburger", "quantity": 2, "size": "null"},
        )
        result.expect.next_event().is_function_call(
            name="add_to_cart", arguments={"item_id": "coke", "quantity": 1, "size": "large"}
        )
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        cart = session.userdata.cart
        assert [(ln.item_id, ln.size, ln.quantity) for ln in cart.lines] == [
            ("classic_cheeseburger", None, 2),
            ("coke", "large", 1),
        ]
        assert str(cart.total) == "22.97"

        result = await session.run(user_input="actually remove the coke")
        result.expect.next_event().is_function_call(
            name="remove_from_cart", arguments={"item_id": "coke"}
        )
        assert [ln.item_id for ln in cart.lines] == ["classic_cheeseburger"]

        result = await session.run(user_input="checkout")
        result.expect.next_event().is_function_call(name="review_order")
        result.expect.next_event().is_function_call_output(is_error=False)
        reply = result.expect.next_event().is_message(role="assistant").event().item
        assert "2 × Classic Cheeseburger" in (reply.text_content or "")
        assert "Shall I place it?" in (reply.text_content or "")
        assert not cart.is_empty() and await store.list_orders(session.userdata.user_id) == []

        result = await session.run(user_input="yes please")
        result.expect.next_event().is_function_call(name="place_order")
        result.expect.next_event().is_function_call_output(is_error=False)
        assert cart.is_empty()
        user_id = session.userdata.user_id

    orders = await store.list_orders(user_id)
    assert len(orders) == 1 and orders[0].total_cents == 1998
    assert (await store.load_cart(user_id)).is_empty()


async def test_missing_size_is_asked_then_completed(store: Store) -> None:
    async with offline_session(store=store) as session:
        result = await session.run(user_input="a coke please")
        result.expect.next_event().is_function_call(
            name="add_to_cart", arguments={"item_id": "coke"}
        )
        result.expect.next_event().is_function_call_output(is_error=True)
        msg = result.expect.next_event().is_message(role="assistant").event().item
        assert "which size" in (msg.text_content or "")
        assert session.userdata.cart.is_empty()
        result = await session.run(user_input="medium")
        result.expect.next_event().is_function_call(
            name="add_to_cart", arguments={"item_id": "coke", "size": "medium"}
        )
        assert [(ln.item_id, ln.size) for ln in session.userdata.cart.lines] == [("coke", "medium")]


@pytest.mark.parametrize(
    ("utterance", "reply_contains"),
    [
        ("I want 500 sprites, large", "at most 20"),
        ("0 large fries", "at least 1"),
        ("a large tiramisu", "one size only"),
        ("two large pineapple calzones", "Nothing"),
        ("asdf qwerty zxcv", "didn't understand"),
        ("x" * 5000, "didn't understand"),
        ("🍕🍕🍕 !!! ???", "didn't understand"),
        ("", "didn't understand"),
    ],
)
async def test_bad_input_gets_a_clear_reply_and_changes_nothing(
    store: Store, utterance: str, reply_contains: str
) -> None:
    async with offline_session(store=store) as session:
        await session.run(user_input="two edamame")
        before = session.userdata.cart.to_dict()
        result = await session.run(user_input=utterance)
        reply = [e.item for e in result.events if e.type == "message"][-1]
        assert reply_contains in (reply.text_content or "")
        assert session.userdata.cart.to_dict() == before


async def test_dietary_question_filters_by_restaurant(store: Store) -> None:
    async with offline_session(store=store) as session:
        result = await session.run(user_input="anything vegan at Green Bowl?")
        result.expect.next_event().is_function_call(
            name="find_food_item", arguments={"restaurant_id": "green_bowl", "dietary": "vegan"}
        )
        result.expect.next_event().is_function_call_output(is_error=False)
        reply = (
            result.expect.next_event().is_message(role="assistant").event().item.text_content or ""
        )
        assert "Falafel Bowl" in reply and "Classic Cheeseburger" not in reply


async def test_cart_survives_the_session(store: Store) -> None:
    async with offline_session(store=store, user_id="alex") as session:
        await session.run(user_input="three churros")
    async with offline_session(store=store, user_id="alex") as session:
        assert [(ln.item_id, ln.quantity) for ln in session.userdata.cart.lines] == [("churros", 3)]


async def test_checkout_is_idempotent_per_cart(store: Store) -> None:
    async with offline_session(store=store) as session:
        await session.run(user_input="a falafel bowl")
        state = session.userdata
        cart_copy = type(state.cart).from_dict(state.cart.to_dict())
        first = await store.checkout(cart_copy)
        again = await store.checkout(cart_copy)  # a retry after a timeout, say
        assert first.order_id == again.order_id
        assert len(await store.list_orders(state.user_id)) == 1


async def test_two_users_at_once_never_share_a_cart(store: Store) -> None:
    async def order(user: str, utterances: list[str]) -> list[tuple[str, int]]:
        async with offline_session(store=store, user_id=user) as session:
            for text in utterances:
                await session.run(user_input=text)
                await asyncio.sleep(0)
            return [(ln.item_id, ln.quantity) for ln in session.userdata.cart.lines]

    a, b = await asyncio.gather(
        order("demo", ["two classic cheeseburgers", "a large coke", "three churros"]),
        order("alex", ["a falafel bowl", "four edamame", "a kombucha"]),
    )
    assert a == [("classic_cheeseburger", 2), ("coke", 1), ("churros", 3)]
    assert b == [("falafel_bowl", 1), ("edamame", 4), ("kombucha", 1)]
