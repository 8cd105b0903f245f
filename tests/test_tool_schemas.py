"""The migrated tools' schemas are ones OpenAI's strict mode accepts, built by the pinned library."""

from __future__ import annotations

from typing import Any

import pytest
from livekit.agents import llm
from livekit.agents.llm.utils import build_strict_openai_schema

from concierge.menu import Catalog
from concierge.tools import build_tools


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
    return build_tools(catalog)


def test_the_seven_tools(tools: list[llm.FunctionTool]) -> None:
    assert [t.info.name for t in tools] == [
        "find_food_item", "get_restaurant_menu", "get_user_profile", "add_to_cart",
        "remove_from_cart", "view_cart", "checkout",
    ]  # fmt: skip


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
