"""`offline_session()`: the one documented way to run the migrated agent in-process, as text.

Tests, notebooks, the bench and the live widgets all use it. It starts a real `AgentSession`
running `FoodConciergeAgent` (real tool schemas, real `RunContext`, real tool execution) with no
room, no audio and no keys:

    async with offline_session() as session:
        result = await session.run(user_input="two classic cheeseburgers")
        print(session.userdata.cart.summary())

When the block ends the cart is saved to the store, as `on_session_end` does for a room session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from livekit.agents import AgentSession, llm

from .agent import MAX_TOOL_STEPS, FoodConciergeAgent, build_session
from .providers import Models, text_models
from .state import UserState, new_userdata
from .store import Store, open_store


@asynccontextmanager
async def offline_session(
    store: Store | None = None,
    user_id: str = "demo",
    *,
    model: llm.LLM | None = None,
    max_tool_steps: int = MAX_TOOL_STEPS,
) -> AsyncIterator[AgentSession[UserState]]:
    """Yield a started text-only `AgentSession[UserState]` for `user_id`.

    `store` defaults to a fresh in-memory SQLite store (seeded from data/menu.toml), so nothing a
    test does leaks into the next. `model` defaults to the provider the environment selects: the
    offline `StandInLLM` unless keys are set.
    """
    own_store = store is None
    store = store or await open_store("memory")
    userdata = await new_userdata(store, user_id)
    models = (
        Models(mode="offline", llm=model) if model is not None else text_models(userdata.catalog)
    )
    session = build_session(userdata, models, max_tool_steps=max_tool_steps)
    await session.start(FoodConciergeAgent(userdata.catalog))
    try:
        yield session
    finally:
        await session.aclose()
        await userdata.save_cart()
        if own_store:
            await store.close()
