"""The offline stand-in model: what it understands, and that it never sends invalid arguments."""

from __future__ import annotations

import json

import pytest

from concierge.menu import Catalog
from concierge.offline.llm import StandInLLM
from concierge.offline.standin import IntentParser
from concierge.session import offline_session
from concierge.store import Store


@pytest.fixture
def parser(catalog: Catalog) -> IntentParser:
    return IntentParser(catalog)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "two classic cheeseburgers and a large coke",
            [("classic_cheeseburger", 2, None), ("coke", 1, "large")],
        ),
        ("a couple of spicy tuna rolls", [("spicy_tuna_roll", 2, None)]),
        (
            "3 small fries, a medium sprite and a tiramisu",
            [("fries", 3, "small"), ("sprite", 1, "medium"), ("tiramisu", 1, None)],
        ),
        ("I'll have a bean and cheese burrito", [("bean_and_cheese_burrito", 1, None)]),
        ("the margherita from Luigi's, large", [("margherita_pizza", 1, "large")]),
        ("a large margherita from luigi's", [("margherita_pizza", 1, "large")]),
        ("twelve churros", [("churros", 12, None)]),
        ("a horchata", [("horchata", 1, None)]),
    ],
)
def test_orders(parser: IntentParser, text: str, expected: list) -> None:
    intent = parser.parse(text)
    assert intent.kind == "order"
    assert [(r.item_id, r.quantity, r.size) for r in intent.items] == expected


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("checkout", "review"), ("that's all, place my order", "review"), ("yes please", "confirm"),
        ("what's in my cart?", "view_cart"), ("remove the fries", "remove"),
        ("what's on the menu at Sakura?", "menu"), ("anything gluten free at Taqueria Sol?", "search"),
        ("do you have miso soup?", "search"), ("what's my address", "profile"),
        ("hello", "greeting"), ("large", "size_answer"), ("blorp", "unknown"),
    ],
)  # fmt: skip
def test_intents(parser: IntentParser, text: str, kind: str) -> None:
    assert parser.parse(text).kind == kind


def test_notes_are_kept(parser: IntentParser) -> None:
    (request,) = parser.parse("a veggie burger with no onions").items
    assert (request.item_id, request.notes) == ("veggie_burger", "no onions")


def test_ambiguous_names_are_searched_not_guessed(parser: IntentParser) -> None:
    (request,) = parser.parse("I'd like a pizza").items
    assert request.item_id is None and set(request.ambiguous) == {
        "margherita_pizza",
        "pepperoni_pizza",
    }


UTTERANCES = [
    "two classic cheeseburgers and a large coke", "a coke", "remove the coke", "remove everything",
    "I want a pizza", "7 large margherita pizzas and 3 small pepperoni", "20 churros", "21 churros",
    "a large tiramisu", "anything vegetarian?", "menu at burger barn", "menu", "checkout",
    "what's in my cart", "my profile", "a small chocolate shake", "999999999999 fries",
    "remove the large fries", "a green tea and a kombucha and edamame and miso soup and a salmon nigiri",
    "hello", "thanks!", "'; DROP TABLE carts; --", "null", "a null", "size null coke",
]  # fmt: skip


async def test_stand_in_only_sends_schema_valid_arguments(store: Store, catalog: Catalog) -> None:
    model = StandInLLM(catalog)
    async with offline_session(store=store, model=model) as session:
        for text in UTTERANCES:
            result = await session.run(user_input=text)
            for ev in result.events:
                if ev.type == "function_call_output":
                    # an error here must come from our ToolError, never from argument parsing
                    assert "Error parsing arguments" not in ev.item.output, (text, ev.item.output)
                if ev.type == "function_call":
                    json.loads(ev.item.arguments)
            assert any(ev.type == "message" for ev in result.events), text
    assert model.calls > len(UTTERANCES)


def test_zero_is_a_quantity_the_tool_can_refuse(parser: IntentParser) -> None:
    (request,) = parser.parse("zero cheeseburgers").items
    assert (request.item_id, request.quantity) == ("classic_cheeseburger", 0)


async def test_a_bare_ambiguous_name_is_looked_up(store: Store) -> None:
    async with offline_session(store=store, user_id="pizza-asker") as session:
        result = await session.run(user_input="a pizza")
        result.expect.next_event().is_function_call(
            name="find_food_item",
            arguments={"query": "pizza", "restaurant_id": "null", "dietary": "null"},
        )
        assert session.userdata.cart.is_empty()


async def test_remove_resolves_an_ambiguous_name_against_what_was_added(store: Store) -> None:
    async with offline_session(store=store, user_id="pizza-remover") as session:
        await session.run(user_input="a large pepperoni pizza")
        await session.run(user_input="remove the pizza")  # only one pizza was added: that one
        assert session.userdata.cart.is_empty()

        await session.run(user_input="a small margherita and a large pepperoni")
        result = await session.run(user_input="remove the pizza")  # two: ask, change nothing
        result.expect.next_event().is_message(role="assistant")
        reply = result.events[-1].item.text_content or ""
        assert "Margherita Pizza or Pepperoni Pizza" in reply
        assert len(session.userdata.cart.lines) == 2

        result = await session.run(user_input="remove the lasagna")
        assert "lasagna" in (result.events[-1].item.text_content or "")
        assert len(session.userdata.cart.lines) == 2
