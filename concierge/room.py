"""What a frontend reads from the room: the cart, by RPC and as a participant attribute.

A browser (or a test caller) in the agent's room sees the agent as a participant. LiveKit's own
frontends read an agent's state from the room itself — `lk.agent.state` in its attributes,
transcripts on the `lk.transcription` text stream — so the cart travels the same way:

| what | how | payload |
|---|---|---|
| `get_cart` | RPC on the agent participant: `perform_rpc(destination_identity=agent, method="get_cart", payload="")` | `{"user_id", "cart": Cart.to_dict() + "total_cents", "orders": [{"order_id", "total_cents", "lines"}]}` |
| `concierge.cart` | participant attribute of the agent, rewritten after every turn that ran tools | the same JSON |
| `concierge.tools` | text stream from the agent, one per step that ran tools | `[{"name", "arguments", "output", "is_error", "item_name"}]` (`item_name`: the menu's name for the call's `item_id`, "" if none) |
| `concierge.turn` | text stream from the agent, one per answered turn, once its first reply is in the conversation | `{"user", "interrupted", "spoken", "origin", "stages": {stage: ms}, "whole_ms", "livekit_e2e_ms"}` (`interrupted`: the caller spoke over the reply and it stopped) (`concierge.timeline.turn_timing`) |
| `lk.agent.state` | participant attribute of the agent (livekit sets it) | `initializing`, `listening`, `thinking`, `speaking` |

The job attaches it as a session view (`room_view(room)`), so the agent and its tools know
nothing about it. `get_cart` answers once a change being written is saved, so a frontend never
shows a line that a crash in the middle of its write would lose.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession

from .session import SessionView
from .state import UserState
from .timeline import TurnTiming, turn_timing

__all__ = [
    "CART_ATTRIBUTE",
    "GET_CART",
    "TOOLS_TOPIC",
    "TURN_TOPIC",
    "cart_payload",
    "room_view",
    "tools_payload",
]

logger = logging.getLogger("concierge")

#: The RPC method a frontend calls on the agent participant to read the cart.
GET_CART = "get_cart"
#: The agent participant's attribute holding the same JSON, updated after each tool step.
CART_ATTRIBUTE = "concierge.cart"
#: The text-stream topic on which the agent sends the tool calls of each step, as they ran.
TOOLS_TOPIC = "concierge.tools"
#: The text-stream topic on which the agent sends each answered turn's stages (ms).
TURN_TOPIC = "concierge.turn"


def cart_payload(state: UserState) -> str:
    """The cart and this session's orders as the JSON both `get_cart` and the attribute carry."""
    cart: dict[str, Any] = {**state.cart.to_dict(), "total_cents": state.cart.total_cents}
    orders = [
        {
            "order_id": o.order_id,
            "total_cents": o.total_cents,
            "lines": [ln.to_dict() for ln in o.lines],
        }
        for o in state.orders
    ]
    return json.dumps({"user_id": state.user_id, "cart": cart, "orders": orders})


def tools_payload(ev: Any, catalog: Any = None) -> str:
    """One step's tool calls (a `function_tools_executed` event) as the JSON `concierge.tools`
    carries; `catalog` names the item each call's `item_id` refers to."""
    calls = [
        {
            "name": call.name,
            "arguments": call.arguments,
            "output": out.output if out is not None else "",
            "is_error": bool(out is not None and out.is_error),
            "item_name": _item_name(catalog, call.arguments),
        }
        for call, out in zip(ev.function_calls, ev.function_call_outputs, strict=False)
    ]
    return json.dumps(calls)


def _item_name(catalog: Any, arguments: str) -> str:
    try:
        item_id = json.loads(arguments).get("item_id")
        return str(catalog.item(item_id).name) if item_id else ""
    except Exception:  # no catalog, arguments that are not an object, an id the model made up
        return ""


def turn_payload(timing: TurnTiming, interrupted: bool = False, user: str = "") -> str:
    """One answered turn's stages (and whether its reply was cut short by the caller speaking
    over it) as the JSON `concierge.turn` carries; `user` is what the caller said, so a frontend
    puts the stages on that turn even when its reply's transcript has not reached it yet."""
    return json.dumps(
        {
            "user": user,
            "interrupted": interrupted,
            "spoken": timing.spoken,
            "origin": timing.origin,
            "stages": timing.stages,
            "whole_ms": timing.whole_ms,
            "livekit_e2e_ms": timing.livekit_e2e_ms,
        }
    )


class TurnClock:
    """Cuts each turn into stages from the session's own items (see `concierge.timeline`): the
    user's message, the tool calls it caused, and the first reply that answers it."""

    def __init__(self) -> None:
        self.user: Any = None
        self.spans: list[tuple[float, float]] = []
        self.answered = ""  # what the caller said in the turn timed last

    def on_tools(self, ev: Any) -> None:
        if self.user is None:
            return
        for call, out in zip(ev.function_calls, ev.function_call_outputs, strict=False):
            if out is not None:
                self.spans.append((call.created_at, out.created_at))

    def on_item(self, ev: Any) -> TurnTiming | None:
        """The turn's timing when `ev` is its first reply; None for any other item."""
        item = ev.item
        if getattr(item, "type", "") != "message":
            return None
        if item.role == "user":
            self.user, self.spans = item, []
            return None
        if item.role != "assistant" or self.user is None:
            return None
        user, self.user = self.user, None
        self.answered = user.text_content or ""
        return turn_timing(
            user.created_at, dict(user.metrics), self.spans, dict(item.metrics), item.created_at
        )


def room_view(room: rtc.Room) -> SessionView:
    """A session view that serves `get_cart` and keeps `concierge.cart` current in `room`."""

    def attach(session: AgentSession[UserState]) -> None:
        participant = room.local_participant
        tasks: set[asyncio.Task[None]] = set()

        async def get_cart(_data: rtc.RpcInvocationData) -> str:
            await session.userdata.settled()
            return cart_payload(session.userdata)

        async def publish() -> None:
            try:
                await participant.set_attributes({CART_ATTRIBUTE: cart_payload(session.userdata)})
            except Exception:  # a frontend missing one update must not disturb the call
                logger.warning("could not publish the cart to the room", exc_info=True)

        async def send(payload: str, topic: str) -> None:
            try:
                await participant.send_text(payload, topic=topic, compress=False)
            except Exception:
                logger.warning("could not send %s to the room", topic, exc_info=True)

        def soon(work: Any) -> None:
            task = asyncio.ensure_future(work)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        def republish(*_args: object) -> None:
            soon(publish())

        clock = TurnClock()

        def after_tools(ev: Any) -> None:
            clock.on_tools(ev)
            soon(send(tools_payload(ev, session.userdata.catalog), TOOLS_TOPIC))
            republish()

        def on_item(ev: Any) -> None:
            timing = clock.on_item(ev)
            if timing is not None:
                interrupted = bool(getattr(ev.item, "interrupted", False))
                soon(send(turn_payload(timing, interrupted, clock.answered), TURN_TOPIC))

        participant.register_rpc_method(GET_CART, get_cart)
        session.on("function_tools_executed", after_tools)
        session.on("conversation_item_added", on_item)
        republish()

    return attach
