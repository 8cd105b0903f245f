from typing import Literal

from livekit.agents import function_tool


@function_tool
async def find_food(query: str, max_results: int = 5) -> str:  # expect: LK002
    return query * max_results


@function_tool
async def pick_size(size: Literal["small", "large", "null"] = "null") -> str:
    return size
