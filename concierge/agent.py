"""The migrated food-concierge agent, written the livekit-agents 1.8 way.

What changed from `concierge.lab.legacy` and why:
- `AgentServer()` + `@server.rtc_session` replace `cli.run_app(WorkerOptions(entrypoint_fnc=...))`
  (in 1.8 `WorkerOptions` is only an alias converted to an `AgentServer` behind your back);
- per-session `UserState` through `RunContext[UserState]` replaces module-level globals;
- tools built from the catalog with enum-constrained ids and no defaults (see `concierge.tools`);
- an explicit `max_tool_steps` sized for multi-item orders (the default is 3);
- VAD plus the on-device end-of-turn model through `turn_handling=TurnHandlingOptions(...)`;
- `on_session_end` saves the cart and logs the session report.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentServer, AgentSession, JobContext, TurnHandlingOptions

from . import providers
from .menu import Catalog
from .state import UserState, new_userdata
from .store import Store, open_store
from .tools import build_tools

__all__ = [
    "MAX_TOOL_STEPS",
    "FoodConciergeAgent",
    "UserState",
    "build_session",
    "entrypoint",
    "new_userdata",
    "on_session_end",
    "server",
    "start_session",
]

logger = logging.getLogger("concierge")

#: One user turn may need: find an item, add it, add a second, a third, a fourth, then view the
#: cart. Models that call one tool per step need about six steps for a four-item order; the
#: library default of 3 cuts such an order short and ends the turn with no reply.
MAX_TOOL_STEPS = 8

#: The fraction of CPU above which this worker tells LiveKit it is full. Each session runs VAD
#: and the end-of-turn model on this machine's CPU; past ~75 % those inferences queue and turns
#: get slow, so new sessions go to another worker instead. (LiveKit's production default is 0.7.)
LOAD_THRESHOLD = 0.75


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
        "what the user wants instead. Only check out when the user asks to."
    )


class FoodConciergeAgent(Agent):
    """The concierge: instructions and tools built from one catalog, UI- and store-agnostic."""

    def __init__(self, catalog: Catalog, **kwargs: Any) -> None:
        super().__init__(
            instructions=instructions_for(catalog), tools=build_tools(catalog), **kwargs
        )
        self.catalog = catalog


def build_session(
    userdata: UserState,
    models: providers.Models | None = None,
    *,
    max_tool_steps: int = MAX_TOOL_STEPS,
) -> AgentSession[UserState]:
    """An `AgentSession[UserState]` with the models `providers` picked (offline or cloud)."""
    models = models or providers.pick_models(userdata.catalog)
    turn_handling = TurnHandlingOptions(
        turn_detection=models.turn_detection,
        endpointing={"min_delay": 0.4, "max_delay": 3.0},
        interruption={"enabled": True},
    )
    kwargs: dict[str, Any] = {}
    if models.stt is not None:
        kwargs["stt"] = models.stt
    if models.tts is not None:
        kwargs["tts"] = models.tts
    return AgentSession[UserState](
        llm=models.llm,
        vad=models.vad,
        turn_handling=turn_handling,
        max_tool_steps=max_tool_steps,
        userdata=userdata,
        **kwargs,
    )


async def on_session_end(ctx: JobContext) -> None:
    """After the session closes: save the cart (in case the last write failed) and log the report."""
    try:
        session: AgentSession[UserState] = ctx.primary_session
    except RuntimeError:
        logger.info("session ended before an AgentSession started; nothing to save")
        return
    state = session.userdata
    await state.save_cart()
    report = ctx.make_session_report(session).to_dict()
    logger.info(
        "session for %s ended: %d cart line(s), %d order(s), %d history item(s)",
        state.user_id,
        len(state.cart.lines),
        len(state.orders),
        len(report.get("chat_history", {}).get("items", [])),
    )


server = AgentServer(load_threshold=LOAD_THRESHOLD)

#: Observers told about each session this process starts (the live notebook's widgets bind here).
#: The agent never calls into a UI; a view registers itself.
SESSION_HOOKS: list[Callable[[AgentSession[UserState]], None]] = []


def user_id_from_job(ctx: JobContext) -> str:
    """The user to serve: `{"user_id": ...}` in the job metadata (set by your dispatch), else the
    first remote participant's identity once connected, else "demo"."""
    try:
        meta = json.loads(ctx.job.metadata or "{}")
    except json.JSONDecodeError:
        meta = {}
    return str(meta.get("user_id") or "demo")


async def start_session(
    ctx: JobContext, store: Store, models: providers.Models | None = None, *, room: rtc.Room | None
) -> AgentSession[UserState]:
    """What the entrypoint does for one job, minus the greeting: state, session, agent, start.

    `room=None` starts it text-only, which is how `concierge.lab.inprocess` runs a job offline.
    """
    userdata = await new_userdata(store, user_id_from_job(ctx))
    session = build_session(userdata, models)
    agent = FoodConciergeAgent(userdata.catalog)
    if room is None:  # livekit treats an explicit room=None as "a room", so leave it out
        await session.start(agent=agent)
    else:
        await session.start(agent=agent, room=room)
    for hook in list(SESSION_HOOKS):
        hook(session)
    return session


@server.rtc_session(agent_name="food-concierge", on_session_end=on_session_end)
async def entrypoint(ctx: JobContext) -> None:
    """One LiveKit room = one session: build the user's state, then start the agent in the room."""
    store = await open_store()
    session = await start_session(ctx, store, room=ctx.room)
    await session.generate_reply(instructions="Greet the user and ask what they'd like to eat.")
