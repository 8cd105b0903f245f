from typing import Annotated

from livekit.agents import function_tool
from pydantic import Field

ITEM_IDS = ["burger", "fries"]


@function_tool
async def add(item_id: str) -> str:  # expect: LK005
    return item_id


@function_tool
async def menu(restaurant_name: str) -> str:  # expect: LK005
    return restaurant_name


@function_tool
async def greet(guest_name: str, last_name: str) -> str:
    return guest_name + last_name


@function_tool
async def add_known(item_id: Annotated[str, Field(json_schema_extra={"enum": ITEM_IDS})]) -> str:
    return item_id
