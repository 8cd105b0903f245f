from typing import Any

from livekit.agents import function_tool


@function_tool
async def add_items(items: list) -> str:  # expect: LK004
    return str(items)


@function_tool
async def set_options(options: dict[str, Any]) -> str:  # expect: LK004
    return str(options)


@function_tool
async def add_named(items: list[str]) -> str:
    return ", ".join(items)
