"""The migrated tools' schemas are ones OpenAI's strict mode accepts, built by the pinned library."""

from __future__ import annotations

from typing import Any

import pytest
from livekit.agents import llm
from livekit.agents.llm.utils import build_strict_openai_schema

from concierge.agent import FoodConciergeAgent
from concierge.menu import Catalog
from concierge.replies import Code, Reply


def _walk(schema: Any, path: str = "$"):
    if isinstance(schema, dict):
        yield path, schema
        for key, value in schema.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _walk(value, f"{path}[{i}]")


@pytest.fixture
def tools(catalog: Catalog) -> list[llm.FunctionTool]:
    return [t for t in FoodConciergeAgent(catalog).tools if isinstance(t, llm.FunctionTool)]


def test_the_counter_tools(tools: list[llm.FunctionTool]) -> None:
    """Menu-id tools from the factory, then the agent's methods; no tool places an order alone."""
    assert sorted(t.info.name for t in tools) == sorted([
        "find_food_item", "get_restaurant_menu", "add_to_cart", "remove_from_cart",
        "remove_quantity", "set_quantity", "change_size",
        "get_user_profile", "view_cart", "clear_cart", "review_order", "place_order",
    ])  # fmt: skip
    assert "checkout" not in {t.info.name for t in tools}


def test_change_tools_take_ids_and_a_line_size(
    tools: list[llm.FunctionTool], catalog: Catalog
) -> None:
    for name in ("remove_quantity", "set_quantity", "change_size", "remove_from_cart"):
        tool = next(t for t in tools if t.info.name == name)
        props = build_strict_openai_schema(tool)["function"]["parameters"]["properties"]
        assert props["item_id"]["enum"] == catalog.item_ids, name
        assert props["size"]["enum"] == ["small", "medium", "large", "null"], name
    size = next(t for t in tools if t.info.name == "change_size")
    new = build_strict_openai_schema(size)["function"]["parameters"]["properties"]["new_size"]
    assert new["enum"] == ["small", "medium", "large"]  # a new size is never "null"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(Code.ADDED, "Added 2 × Coke."),
        Reply(Code.MATCHES, "Matches: Coke; Sprite.", ids=("coke", "sprite")),
        Reply(Code.SIZE_NEEDED, "Coke comes in small, medium, large: which size?", "Ask."),
        Reply(Code.REVIEW, "Your order:\n2 × Coke. (ids: not really)", "Wait for a yes."),
    ],
)
def test_a_reply_reads_back_exactly(reply: Reply) -> None:
    assert Reply.parse(reply.render()) == reply


def test_text_that_no_tool_rendered_has_no_code() -> None:
    assert Reply.parse("Error parsing arguments for `add_to_cart`: bad") is None
    assert Reply.parse("Added a coke.\n(result: teleported)") is None


def test_every_schema_is_strict_and_typed(tools: list[llm.FunctionTool]) -> None:
    for tool in tools:
        params = build_strict_openai_schema(tool)["function"]["parameters"]
        assert params["additionalProperties"] is False
        assert sorted(params.get("required", [])) == sorted(params["properties"])
        for path, node in _walk(params["properties"]):
            if path.count(".") == 1:  # a property
                assert "type" in node, f"{tool.info.name} {path} has no type"
                assert "default" not in node, f"{tool.info.name} {path} leaks a default"
            if "items" in node:
                assert "type" in node["items"], f"{tool.info.name} {path}.items has no type"


def test_ids_are_enums_from_the_catalog(tools: list[llm.FunctionTool], catalog: Catalog) -> None:
    add = next(t for t in tools if t.info.name == "add_to_cart")
    props = build_strict_openai_schema(add)["function"]["parameters"]["properties"]
    assert props["item_id"]["enum"] == catalog.item_ids
    assert props["size"]["enum"] == ["small", "medium", "large", "null"]
    assert props["quantity"]["type"] == "integer"
    find = next(t for t in tools if t.info.name == "find_food_item")
    fprops = build_strict_openai_schema(find)["function"]["parameters"]["properties"]
    assert fprops["restaurant_id"]["enum"] == [*catalog.restaurant_ids, "null"]
