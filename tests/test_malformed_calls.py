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
