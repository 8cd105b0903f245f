"""The migrated food-concierge agent, written the livekit-agents 1.8 way: the part to copy.

What changed from `concierge.lab.legacy` and why:
- per-session `UserState` through `RunContext[UserState]` replaces module-level globals;
- tools built from the catalog with enum-constrained ids and no defaults (see `concierge.tools`);
- an explicit `max_tool_steps` sized for multi-item orders (the default is 3);
- the worker side — `AgentServer()` + `@server.rtc_session` instead of
  `cli.run_app(WorkerOptions(entrypoint_fnc=...))`, and `on_session_end` — is in
  `concierge.server`; how a session is built (models, VAD + turn detection) in `concierge.session`.
"""

from __future__ import annotations

from typing import Any

from livekit.agents import Agent, ModelSettings, llm

from .menu import Catalog
from .tools import OrderTools, build_tools

__all__ = ["MAX_TOOL_STEPS", "FoodConciergeAgent", "instructions_for"]

#: One user turn may need: find an item, add it, add a second, a third, a fourth, then view the
#: cart. Models that call one tool per step need about six steps for a four-item order; the
#: library default of 3 cuts such an order short and ends the turn with no reply.
MAX_TOOL_STEPS = 8

#: The longest user message sent to the model; a spoken turn is a few dozen words.
MAX_MESSAGE_CHARS = 2000


def instructions_for(catalog: Catalog) -> str:
    """The system prompt: who the agent is, how to use the tools, and the restaurants by id."""
    restaurants = "\n".join(
        f"- {r.name} (id {r.id}, {r.cuisine})" for r in catalog.restaurants.values()
    )
    return (
        "You are a friendly voice food concierge. You help the user order food from these "
        f"restaurants:\n{restaurants}\n"
        "Keep replies short and spoken: no lists, no markdown. Use find_food_item to turn what "
        "the user says into item ids before adding them; never guess an id. Ask for the size "
        "when an item comes in sizes. When a tool returns an error, explain it plainly and ask "
        "what the user wants instead. To change the cart use one tool call (set_quantity, "
        "change_size, remove_quantity, remove_from_cart, clear_cart). When the user is done, call "
        "review_order and read the order back; call place_order only after they say yes."
    )


class FoodConciergeAgent(OrderTools, Agent):
    """The concierge: instructions and tools built from one catalog, UI- and store-agnostic.
    The menu-id tools come from `build_tools`; the others are `OrderTools` methods."""

    def __init__(self, catalog: Catalog, **kwargs: Any) -> None:
        super().__init__(
            instructions=instructions_for(catalog), tools=build_tools(catalog), **kwargs
        )

    def llm_node(
        self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: ModelSettings
    ) -> Any:
        """Answer an over-long message plainly instead of sending it to the model (issue #10.4:
        one pasted megabyte must not cost every session a model call's worth of time)."""
        last = next((m for m in reversed(chat_ctx.items) if m.type == "message"), None)
        text = last.text_content or "" if isinstance(last, llm.ChatMessage) else ""
        if last is None or last.role != "user" or len(text) <= MAX_MESSAGE_CHARS:
            return Agent.default.llm_node(self, chat_ctx, tools, model_settings)
        last.content = [f"(a message of {len(text):,} characters, too long to read)"]

        async def too_long() -> str:
            return (
                f"Sorry, I didn't understand that: it is {len(text):,} characters, too long for "
                "me to read. Please tell me what you'd like in a few words."
            )

        return too_long()
