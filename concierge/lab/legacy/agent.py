"""THE LEGACY CONCIERGE AGENT — BROKEN ON PURPOSE. Do not copy it; the lab migrates away from it.

This is the agent as it was first written, kept so the lab can run it and watch it fail. It
imports and runs against livekit-agents 1.8.9; what is wrong with it is exactly this list, and
`concierge.lab.legacy.demos` makes each item happen:

1. Tool schemas. Parameters with defaults (`max_results: int = 5`), `Optional` without a "null"
   choice (`profile_id: str | None = None`), a bare `list` (`additional_items: list | None`) and
   free-text names where ids are known. In strict mode the bare list becomes an array whose
   `items` has no `type`, which OpenAI's function calling rejects.
2. Global state. The current user and the cart are module globals: two rooms served by one
   worker process share one cart.
3. No `max_tool_steps`. The session keeps livekit's default of 3 tool steps per turn, too few for
   a model that adds one item per tool call to finish a multi-item order.
4. The old server pattern: `cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))`. In 1.8
   `WorkerOptions` is an alias that is quietly converted to an `AgentServer`, and the built-in
   CLI is deprecated.
5. No turn detection and no `on_session_end`: turns end on silence alone, and nothing saves the
   cart or reports the session when the room closes. (The fix once recommended for turn
   detection, `MultilingualModel`, is itself deprecated in 1.8 — see `demos.multilingual_model`.)
"""

from __future__ import annotations

import os
from typing import Any

from livekit.agents import Agent, AgentSession, JobContext, WorkerOptions, cli, llm

from ...cart import Cart, CartError
from ...menu import Catalog, default_catalog, format_usd

# --- global state: one of the bugs. Every session in this process shares these. -------------
current_user_id: str = "demo"
current_cart: Cart = Cart(user_id="demo")
catalog: Catalog = default_catalog()
orders: list[dict[str, Any]] = []


def reset_globals() -> None:
    """Empty the shared cart and orders (the demos call it so each starts from a clean slate)."""
    global current_user_id, current_cart
    current_user_id = "demo"
    current_cart = Cart(user_id="demo")
    orders.clear()


@llm.function_tool(description="Find food items matching the user's query.")
async def find_food_item_tool(query: str, max_results: int = 5) -> str:
    hits = catalog.search(query, limit=max_results)
    if not hits:
        return f"No items found for {query}."
    return "; ".join(f"{h.item.name} ({h.item.price_label()})" for h in hits)


@llm.function_tool(description="Get the user's profile.")
async def get_user_profile_tool(profile_id: str | None = None) -> str:
    return f"Profile for {profile_id or current_user_id}."


@llm.function_tool(description="Quickly add an item (and optionally more items) to the cart.")
async def quick_add_to_cart_tool(
    item_name: str,
    quantity: int = 1,
    restaurant_name: str | None = None,
    additional_items: list | None = None,  # type: ignore[type-arg]  # a bare list: bug 1
) -> str:
    query = f"{item_name} from {restaurant_name}" if restaurant_name else item_name
    hits = catalog.search(query, limit=1)
    if not hits:
        return f"Could not find {item_name}."
    item = hits[0].item
    size = item.sizes[-1] if item.has_sizes else None  # no way to ask: the schema has no size
    try:
        current_cart.add(catalog, item.id, quantity, size)
    except CartError as e:
        return f"Error: {e}"
    return f"Added {quantity} {item.name} for {current_user_id}. Total {format_usd(current_cart.total_cents)}."


@llm.function_tool(description="Get a restaurant's menu.")
async def get_restaurant_menu_tool(restaurant_name: str) -> str:
    rid, _ = catalog.find_restaurant(restaurant_name)
    if rid is None:
        return f"No restaurant called {restaurant_name}."
    return "; ".join(f"{i.name} {i.price_label()}" for i in catalog.items_at(rid))


@llm.function_tool(description="View the cart.")
async def quick_view_cart_tool() -> str:
    return current_cart.summary()


@llm.function_tool(description="Check out the cart.")
async def quick_checkout_tool() -> str:
    if current_cart.is_empty():
        return "Cart is empty."
    order: dict[str, Any] = {
        "user_id": current_user_id,
        "lines": list(current_cart.lines),
        "total": current_cart.total_cents,
    }
    orders.append(order)
    current_cart.clear()
    return f"Order placed for {current_user_id}: total {format_usd(order['total'])}."


LEGACY_TOOLS: list[llm.FunctionTool] = [
    find_food_item_tool,
    get_user_profile_tool,
    quick_add_to_cart_tool,
    get_restaurant_menu_tool,
    quick_view_cart_tool,
    quick_checkout_tool,
]


class LegacyConciergeAgent(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions="You are a food concierge. Help the user order food.",
            tools=list(LEGACY_TOOLS),
        )


def legacy_models() -> dict[str, Any]:
    """OpenAI models when a key is set (as the original did), else the legacy stand-in."""
    if os.environ.get("OPENAI_API_KEY"):
        from livekit.plugins import openai, silero

        return {
            "stt": openai.STT(),
            "llm": openai.LLM(model="gpt-4"),
            "tts": openai.TTS(),
            "vad": silero.VAD.load(),
        }
    from .standin import LegacyStandInLLM

    return {"llm": LegacyStandInLLM(catalog)}


async def entrypoint(ctx: JobContext) -> None:
    global current_user_id
    await ctx.connect()
    current_user_id = ctx.job.metadata or "demo"  # bug 2: one variable for every room
    # bugs 3 and 5: no max_tool_steps, no turn detection, 0.x-style endpointing keyword
    session = AgentSession(**legacy_models(), min_endpointing_delay=0.5)
    await session.start(agent=LegacyConciergeAgent(), room=ctx.room)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))  # bug 4
