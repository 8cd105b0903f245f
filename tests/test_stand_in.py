"""The offline stand-in model: what it understands, and that it never sends invalid arguments."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit.agents.llm import ChatMessage

from concierge.agent import FoodConciergeAgent
from concierge.menu import Catalog, default_catalog
from concierge.offline.llm import StandInLLM
from concierge.offline.standin import IntentParser
from concierge.offline.standin.history import Conversation
from concierge.offline.standin.planner import plan_intent
from concierge.offline.standin.validation import is_valid
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


# --- the failures observed in issue 16, one test each -------------------------------------------


def _cart(session) -> list[tuple[int, str | None, str]]:
    return [(ln.quantity, ln.size, ln.item_id) for ln in session.userdata.cart.lines]


def _calls(result) -> list[str]:
    return [e.item.name for e in result.events if e.type == "function_call"]


def _reply(result) -> str:
    return [e.item.text_content or "" for e in result.events if e.type == "message"][-1]


async def test_make_that_one_is_one_set_quantity_call(store: Store) -> None:
    async with offline_session(store=store) as session:
        await session.run(user_input="two margherita pizzas large")
        result = await session.run(user_input="actually, make that one margherita pizza")
        assert _calls(result) == ["set_quantity"]
        assert _cart(session) == [(1, "large", "margherita_pizza")]


async def test_i_do_not_want_adds_nothing(store: Store) -> None:
    async with offline_session(store=store) as session:
        result = await session.run(user_input="I do not want a classic cheeseburger")
        assert _calls(result) == [] and session.userdata.cart.is_empty()
        assert "no Classic Cheeseburger" in _reply(result)


async def test_small_coke_instead_changes_the_size(store: Store) -> None:
    async with offline_session(store=store) as session:
        await session.run(user_input="a coke")
        await session.run(user_input="large")
        result = await session.run(user_input="make it a small coke instead")
        assert _calls(result) == ["change_size"]
        assert _cart(session) == [(1, "small", "coke")]


@pytest.mark.parametrize(
    ("order", "remove", "left"),
    [
        ("two margherita pizzas large", "remove one margherita pizza", 1),
        ("five classic cheeseburgers", "remove one classic cheeseburger", 4),
    ],
)
async def test_remove_one_removes_one(store: Store, order: str, remove: str, left: int) -> None:
    async with offline_session(store=store) as session:
        await session.run(user_input=order)
        result = await session.run(user_input=remove)
        assert _calls(result) == ["remove_quantity"]
        assert [q for q, _, _ in _cart(session)] == [left]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("twenty one cokes large", "at most 20"),
        ("-3 cokes", "whole number"),
        ("2.5 tiramisu", "whole number"),
        ("one hundred churros", "at most 20"),
    ],
)
async def test_impossible_quantities_are_refused_never_changed(
    store: Store, text: str, says: str
) -> None:
    async with offline_session(store=store) as session:
        result = await session.run(user_input=text)
        assert session.userdata.cart.is_empty()
        assert says in _reply(result)
        for ev in result.events:  # if a quantity reached a tool, it was the one said
            if ev.type == "function_call":
                assert json.loads(ev.item.arguments)["quantity"] in (21, 100)


async def test_dont_add_a_sprite_does_not_ask_for_a_size(store: Store) -> None:
    async with offline_session(store=store) as session:
        result = await session.run(user_input="don't add a sprite")
        assert _calls(result) == [] and "size" not in _reply(result)
        assert session.userdata.cart.is_empty()


@pytest.mark.parametrize(
    "closing", ["great thanks that's all", "thanks!", "perfect, thanks", "ok", "cheers"]
)
async def test_a_closing_remark_never_places_the_order(store: Store, closing: str) -> None:
    async with offline_session(store=store) as session:
        await session.run(user_input="a falafel bowl")
        await session.run(user_input="that's it")
        await session.run(user_input=closing)
        assert session.userdata.orders == [] and len(session.userdata.cart.lines) == 1
        await session.run(user_input="yes")
        assert len(session.userdata.orders) == 1


async def test_start_over_and_one_more_of_those(store: Store) -> None:
    async with offline_session(store=store) as session:
        await session.run(user_input="a large coke")
        result = await session.run(user_input="one more of those")
        assert _cart(session) == [(2, "large", "coke")]
        result = await session.run(user_input="let's start over")
        assert _calls(result) == ["clear_cart"] and session.userdata.cart.is_empty()


async def test_each_message_is_read_and_planned_once(
    store: Store, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = StandInLLM(catalog)
    parsed: list[str] = []
    parse = model.parser.parse
    monkeypatch.setattr(model.parser, "parse", lambda text: parsed.append(text) or parse(text))
    async with offline_session(store=store, model=model) as session:
        for text in ("two classic cheeseburgers and a large coke", "remove the coke", "that's it"):
            before = model.calls
            await session.run(user_input=text)
            assert model.calls - before >= 2  # the model was called again after the tools ran
    assert parsed == ["two classic cheeseburgers and a large coke", "remove the coke", "that's it"]


@pytest.mark.parametrize(
    ("text", "quantity", "unclear"),
    [
        ("twenty one cokes", 21, None), ("a dozen churros", 12, None), ("2x edamame", 2, None),
        ("edamame x3", 3, None), ("a couple of tacos", 2, None), ("a few churros", 1, "few"),
        ("-3 cokes", 1, "negative"), ("2.5 tiramisu", 1, "fraction"),
        ("forty two fries", 42, None), ("half a dozen churros", 6, None),
    ],
)  # fmt: skip
def test_quantities_as_people_say_them(
    parser: IntentParser, text: str, quantity: int, unclear: str | None
) -> None:
    (request,) = parser.parse(text).items
    assert (request.quantity, request.unclear) == (quantity, unclear)


# --- invariants over many utterances (Hypothesis) -----------------------------------------------

_ONE_SIZE = sorted(i.name for i in default_catalog().items.values() if not i.has_sizes)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=-50, max_value=10_000),
    name=st.sampled_from(_ONE_SIZE),
    lead=st.sampled_from(["", "I'd like ", "can I get ", "please add ", "actually, "]),
)
def test_a_said_number_is_never_turned_into_another(n: int, name: str, lead: str) -> None:
    """Whatever the number, the parser keeps it (or refuses it): never another quantity."""
    (request,) = IntentParser(default_catalog()).parse(f"{lead}{n} {name}").items
    if n < 0:
        assert request.unclear == "negative"
    else:
        assert (request.quantity, request.unclear, request.counted) == (n, None, True)


@settings(max_examples=200, deadline=None)
@given(
    say=st.text(
        alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz0123456789 ,.-'?!x")), max_size=40
    )
    | st.sampled_from(UTTERANCES)
)
def test_every_plan_is_schema_valid(say: str) -> None:
    """Any text (noise included) plans only calls the offered tools' strict schemas accept."""
    catalog = default_catalog()
    tools = FoodConciergeAgent(catalog).tools
    model = StandInLLM(catalog)
    message = ChatMessage(role="user", content=[say])
    for call in model._plan_for([message], 0, tools).calls:
        assert is_valid(call.name, call.arguments, tools), (say, call)


_NAMES = {i.id: i.name.lower() for i in default_catalog().items.values() if not i.has_sizes}


@settings(max_examples=25, deadline=None)
@given(
    ids=st.lists(st.sampled_from(sorted(_NAMES)), min_size=2, max_size=2, unique=True),
    held=st.integers(min_value=1, max_value=9),
    data=st.data(),
    form=st.sampled_from(
        ["make {n} of them {b}", "change {n} of them to {b}", "{n} of those should be {b}"]
    ),
)
def test_a_partial_swap_moves_exactly_the_units_named(
    ids: list[str], held: int, data: st.DataObject, form: str
) -> None:
    """ "make two of them X": that many units become X, the rest stay; no unit is lost or made."""
    import asyncio

    a, b = ids
    n = data.draw(st.integers(min_value=1, max_value=held), label="n")
    say = form.format(n=n, b=f"a {_NAMES[b]}" if n == 1 else f"{n} {_NAMES[b]}")

    async def run() -> dict[str, int]:
        async with offline_session(user_id="swapper") as session:
            await session.run(user_input=f"{held} {_NAMES[a]}")
            await session.run(user_input=say)
            return {ln.item_id: ln.quantity for ln in session.userdata.cart.lines}

    expected = {a: held - n, b: n} if n < held else {b: n}
    assert asyncio.run(run()) == expected, say


# --- the selector: kinds come from the menu, places and prices from the words --------------------

_NOODLE_MENU = {
    "restaurants": [
        {
            "id": "noodle_bar", "name": "Noodle Bar", "cuisine": "Thai",
            "items": [
                {"id": "pad_thai", "name": "Pad Thai", "category": "noodles", "price": "11.00"},
                {"id": "drunken_noodles", "name": "Drunken Noodles", "category": "noodles",
                 "price": "12.00", "tags": ["vegan"]},
                {"id": "thai_iced_tea", "name": "Thai Iced Tea", "category": "beverage",
                 "price": "4.00"},
            ],
        }
    ]
}  # fmt: skip


def test_kinds_come_from_the_menu_not_from_the_code() -> None:
    """A menu with kinds the code never heard of ("noodles", "beverage"): scoped removals, keeps
    and "every" still work, because the selector learns its kinds from the catalog."""
    catalog = Catalog.from_dict(_NOODLE_MENU)
    parser = IntentParser(catalog)
    lines = {("pad_thai", None): 1, ("drunken_noodles", None): 1, ("thai_iced_tea", None): 1}

    def calls(said: str) -> list[tuple[str, str, int | None]]:
        plan = plan_intent(catalog, parser.parse(said), Conversation(lines=dict(lines)), None)
        return [(c.name, c.arguments["item_id"], c.arguments.get("quantity")) for c in plan.calls]

    assert calls("only keep the beverages") == [
        ("remove_from_cart", "pad_thai", None), ("remove_from_cart", "drunken_noodles", None)
    ]  # fmt: skip
    assert calls("remove the vegan stuff") == [("remove_from_cart", "drunken_noodles", None)]
    assert calls("two of every noodle dish") == [
        ("add_to_cart", "pad_thai", 2), ("add_to_cart", "drunken_noodles", 2)
    ]  # fmt: skip
    assert calls("drop the priciest item") == [("remove_from_cart", "drunken_noodles", None)]


@pytest.mark.parametrize(
    ("said", "left"),
    [
        ("drop the priciest item", {"tiramisu", "caesar_salad"}),
        ("remove the cheapest thing", {"spaghetti_carbonara", "caesar_salad"}),
        ("lose the middle one", {"spaghetti_carbonara", "caesar_salad"}),
        ("remove the first item", {"tiramisu", "caesar_salad"}),
        ("scratch the last thing", {"spaghetti_carbonara", "tiramisu"}),
        ("only keep the dessert", {"tiramisu"}),
        ("remove everything but the pasta", {"spaghetti_carbonara"}),
        ("blorp the flurb", {"spaghetti_carbonara", "tiramisu", "caesar_salad"}),
    ],
)
async def test_lines_picked_by_place_price_and_kind(store: Store, said: str, left: set) -> None:
    async with offline_session(store=store, user_id="picker") as session:
        await session.run(user_input="a spaghetti carbonara, a tiramisu and a caesar salad")
        await session.run(user_input=said)
        assert {ln.item_id for ln in session.userdata.cart.lines} == left
