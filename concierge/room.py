"""What a frontend reads from the room: the cart, by RPC and as a participant attribute.

A browser (or a test caller) in the agent's room sees the agent as a participant. LiveKit's own
frontends read an agent's state from the room itself — `lk.agent.state` in its attributes,
transcripts on the `lk.transcription` text stream — so the cart travels the same way:

| what | how | payload |
|---|---|---|
| `get_cart` | RPC on the agent participant: `perform_rpc(destination_identity=agent, method="get_cart", payload="")` | `{"user_id", "cart": Cart.to_dict() + "total_cents", "orders": [{"order_id", "total_cents", "lines"}]}` |
| `concierge.cart` | participant attribute of the agent, rewritten after every turn that ran tools | the same JSON |
| `concierge.tools` | text stream from the agent, one per step that ran tools | `[{"name", "arguments", "output", "is_error"}]` |

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

__all__ = [
    "CART_ATTRIBUTE",
    "GET_CART",
    "TOOLS_TOPIC",
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


def tools_payload(ev: Any) -> str:
    """One step's tool calls (a `function_tools_executed` event) as the JSON `concierge.tools` carries."""
    calls = [
        {
            "name": call.name,
            "arguments": call.arguments,
            "output": out.output if out is not None else "",
            "is_error": bool(out is not None and out.is_error),
        }
        for call, out in zip(ev.function_calls, ev.function_call_outputs, strict=False)
    ]
    return json.dumps(calls)


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

        async def send_tools(payload: str) -> None:
            try:
                await participant.send_text(payload, topic=TOOLS_TOPIC, compress=False)
            except Exception:
                logger.warning("could not send the tool calls to the room", exc_info=True)

        def soon(work: Any) -> None:
            task = asyncio.ensure_future(work)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        def republish(*_args: object) -> None:
            soon(publish())

        def after_tools(ev: Any) -> None:
            soon(send_tools(tools_payload(ev)))
            republish()

        participant.register_rpc_method(GET_CART, get_cart)
        session.on("function_tools_executed", after_tools)
        republish()

    return attach
