"""A model that sends a bad tool call: the user hears a plain sentence, the cart stays as it was.

Real models sometimes send an id that is not in the enum, a string for a number, a call cut off
mid-JSON, or a tool that does not exist. `ScriptedLLM` sends exactly such calls through the real
`AgentSession`, so what is checked here is livekit's argument parsing plus our `ToolError`s.
"""

from __future__ import annotations

from typing import Any

import pytest

from concierge.cart import Cart
from concierge.menu import Catalog
from concierge.offline.llm import PlannedCall, ScriptedLLM
from concierge.replies import Code, Reply
from concierge.session import offline_session
from concierge.store import Store

BAD_CALLS: list[tuple[str, dict[str, Any] | str]] = [
    ("add_to_cart", {"item_id": "lasagna", "quantity": 1, "size": "null", "notes": ""}),
    ("add_to_cart", {"item_id": "coke", "quantity": "two", "size": "large", "notes": ""}),
    ("add_to_cart", {"item_id": "coke", "quantity": 1, "size": "enormous", "notes": ""}),
    ("add_to_cart", {"item_id": "coke", "quantity": 500, "size": "large", "notes": ""}),
    ("add_to_cart", {"item_id": "coke", "quantity": -1, "size": "large", "notes": ""}),
    ("add_to_cart", '{"item_id": "coke", "quantity": '),
    ("add_to_cart", "not json at all"),
    ("add_to_cart", {}),
    ("remove_from_cart", {"item_id": "sprite", "size": "null"}),
    ("get_restaurant_menu", {"restaurant_id": "pizza_planet"}),
]


@pytest.mark.parametrize(("tool", "arguments"), BAD_CALLS, ids=[str(a)[:40] for _, a in BAD_CALLS])
async def test_a_bad_call_is_refused_plainly_and_the_cart_is_kept(
    store: Store, catalog: Catalog, tool: str, arguments: dict[str, Any] | str
) -> None:
    saved = Cart(user_id="bad-calls")
    saved.add(catalog, "classic_cheeseburger", 2)
    await store.save_cart(saved)
    model = ScriptedLLM(catalog, [PlannedCall(tool, arguments)])
    async with offline_session(store=store, user_id="bad-calls", model=model) as session:
        assert session.userdata.cart.lines == saved.lines
        result = await session.run(user_input="(the model misbehaves)")

        outputs = [e.item for e in result.events if e.type == "function_call_output"]
        assert len(outputs) == 1 and outputs[0].is_error, outputs
        replies = [e.item.text_content or "" for e in result.events if e.type == "message"]
        assert replies and replies[-1].startswith("Sorry"), replies
        assert not any(noise in replies[-1] for noise in ("pydantic", "validation error", "\n"))
        assert session.userdata.cart.lines == saved.lines
    assert (await store.load_cart("bad-calls")).lines == saved.lines


async def test_a_tool_that_does_not_exist_gets_an_answer_not_a_crash(
    store: Store, catalog: Catalog
) -> None:
    model = ScriptedLLM(catalog, [PlannedCall("teleport_pizza", {"where": "moon"})])
    async with offline_session(store=store, user_id="no-such-tool", model=model) as session:
        result = await session.run(user_input="teleport me a pizza")
        assert session.userdata.cart.is_empty()
        replies = [e.item.text_content or "" for e in result.events if e.type == "message"]
        assert replies, "the user always hears something"


# --- a model cannot skip the read-back: the tools refuse ------------------------------------------


def _outputs(result) -> list[str]:
    return [e.item.output for e in result.events if e.type == "function_call_output"]


def _code(output: str) -> Code | None:
    reply = Reply.parse(output)
    return reply.code if reply else None


async def _with_a_cart(store: Store, catalog: Catalog, user: str) -> None:
    saved = Cart(user_id=user)
    saved.add(catalog, "churros", 2)
    await store.save_cart(saved)


async def test_place_order_without_a_read_back_is_refused(store: Store, catalog: Catalog) -> None:
    await _with_a_cart(store, catalog, "eager")
    model = ScriptedLLM(catalog, [PlannedCall("place_order", {})])
    async with offline_session(store=store, user_id="eager", model=model) as session:
        result = await session.run(user_input="yes")
        assert [_code(o) for o in _outputs(result)] == [Code.NOT_REVIEWED]
        assert session.userdata.orders == [] and session.userdata.cart.item_count == 2


async def test_read_back_and_place_in_one_turn_is_refused(store: Store, catalog: Catalog) -> None:
    await _with_a_cart(store, catalog, "hasty")
    calls = [PlannedCall("review_order", {}), PlannedCall("place_order", {})]
    model = ScriptedLLM(catalog, calls)
    model.one_tool_per_step = True
    async with offline_session(store=store, user_id="hasty", model=model) as session:
        result = await session.run(user_input="that's it, yes place it")
        assert [_code(o) for o in _outputs(result)] == [Code.REVIEW, Code.NOT_CONFIRMED]
        assert session.userdata.orders == []


@pytest.mark.parametrize("words", ["great thanks", "ok", "yes but add a coke", "hmm"])
async def test_only_an_explicit_yes_places_the_order(
    store: Store, catalog: Catalog, words: str
) -> None:
    await _with_a_cart(store, catalog, "unsure")
    model = ScriptedLLM(catalog, [PlannedCall("review_order", {})])
    async with offline_session(store=store, user_id="unsure", model=model) as session:
        await session.run(user_input="that's it")
        model.script = [PlannedCall("place_order", {})]
        result = await session.run(user_input=words)
        assert [_code(o) for o in _outputs(result)] == [Code.NOT_CONFIRMED]
        assert session.userdata.orders == []
        result = await session.run(user_input="yes, go ahead")
        if words == "yes but add a coke":  # it asked for a change: the read-back is void
            assert [_code(o) for o in _outputs(result)] == [Code.NOT_REVIEWED]
            return
        assert [_code(o) for o in _outputs(result)] == [Code.PLACED]
        assert len(session.userdata.orders) == 1 and session.userdata.cart.is_empty()


async def test_a_change_after_the_read_back_needs_a_new_one(store: Store, catalog: Catalog) -> None:
    await _with_a_cart(store, catalog, "changer")
    model = ScriptedLLM(catalog, [PlannedCall("review_order", {})])
    async with offline_session(store=store, user_id="changer", model=model) as session:
        await session.run(user_input="that's it")
        session.userdata.cart.add(catalog, "kombucha", 1)  # e.g. another tool call or device
        model.script = [PlannedCall("place_order", {})]
        result = await session.run(user_input="yes")
        assert [_code(o) for o in _outputs(result)] == [Code.NOT_REVIEWED]
        assert session.userdata.orders == []


@pytest.mark.parametrize("turned_down", ["no", "no wait", "actually hold on"])
async def test_a_yes_after_turning_the_read_back_down_places_nothing(
    store: Store, catalog: Catalog, turned_down: str
) -> None:
    """ "no" to the read-back, then "yes" to "what would you like to change?": a model that
    places the order then is refused until the order is read back again and confirmed."""
    await _with_a_cart(store, catalog, "declined")
    model = ScriptedLLM(catalog, [PlannedCall("review_order", {})])
    async with offline_session(store=store, user_id="declined", model=model) as session:
        await session.run(user_input="that's it")
        model.script = []
        await session.run(user_input=turned_down)
        model.script = [PlannedCall("place_order", {})]
        result = await session.run(user_input="yes")
        assert [_code(o) for o in _outputs(result)] == [Code.NOT_REVIEWED]
        assert session.userdata.orders == [] and session.userdata.cart.item_count == 2
        model.script = [PlannedCall("review_order", {})]
        await session.run(user_input="that's it")
        model.script = [PlannedCall("place_order", {})]
        result = await session.run(user_input="yes")
        assert [_code(o) for o in _outputs(result)] == [Code.PLACED]
