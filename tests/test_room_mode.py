"""Room mode's kernel side, without a browser: what the page relays from the agent's room lands in
the panel's views and its one status, and nothing a page sends can break the panel. (The page and
the room themselves are tested in a real browser by tests/test_live_room_browser.py.)"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from concierge.cart import Cart
from concierge.live.room_mode import RoomLink, RoomWidget
from concierge.live.status import controls
from concierge.live.widgets import CartView, MetricsStrip, StatusBadge, TranscriptView

AGENT = "agent-AJ_x"
CART = {
    "user_id": "u",
    "cart": {
        "user_id": "u",
        "cart_id": "c1",
        "revision": 2,
        "lines": [
            {
                "item_id": "classic_cheeseburger",
                "name": "Classic Cheeseburger",
                "restaurant_id": "burger_barn",
                "restaurant_name": "Burger Barn",
                "size": None,
                "quantity": 2,
                "unit_price_cents": 999,
                "notes": "",
            }
        ],
        "total_cents": 1998,
    },
    "orders": [],
}


def new_link() -> tuple[RoomLink, list[dict[str, Any]]]:
    widget = RoomWidget()
    sent: list[dict[str, Any]] = []
    widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    link = RoomLink(widget, CartView(Cart(user_id="-")), TranscriptView(), StatusBadge("room"), "r")
    return link, sent


def agent(state: str, cart: dict[str, Any] | None = None, present: bool = True) -> dict[str, Any]:
    attributes = {"lk.agent.state": state}
    if cart is not None:
        attributes["concierge.cart"] = json.dumps(cart)
    return {"type": "agent", "present": present, "identity": AGENT, "attributes": attributes}


async def test_the_room_fills_the_panel() -> None:
    link, sent = new_link()
    link.relay({"type": "connection", "state": "connected", "identity": "panel-u"})
    link.relay({"type": "mic", "active": True, "error": ""})
    assert link.status.state.connection == "starting"  # live once the agent is there
    link.relay(agent("listening"))
    assert link.status.connected and link.status.state.mic == "on"
    link.relay({"type": "transcript", "identity": "panel-u", "text": "two classic", "final": False})
    assert link.transcript.interim == "two classic"
    spoken = "two classic cheeseburgers"
    link.relay({"type": "transcript", "identity": "panel-u", "text": spoken, "final": True})
    link.relay(
        {
            "type": "tools",
            "calls": [
                {
                    "name": "add_to_cart",
                    "arguments": '{"item_id": "classic_cheeseburger", "quantity": 2}',
                    "output": "Added 2",
                    "is_error": False,
                }
            ],
        }
    )
    link.relay(agent("speaking", CART))
    said = {"type": "transcript", "identity": AGENT, "segment": "s1"}
    link.relay({**said, "text": "Added", "final": False})
    link.relay({**said, "text": "Added 2.", "final": True})
    turn = link.transcript.turns[-1]
    assert (turn.user, turn.spoken, turn.reply) == (spoken, True, "Added 2.")
    assert [t.name for t in turn.tools] == ["add_to_cart"]
    assert link.cart_view.total_text == "$19.98" and link.cart_view.rows[0][3] == 2
    assert link.status.agent_state == "speaking"
    # a typed turn shows at once, goes to the page for lk.chat, and resolves with the reply
    reply = link.typed("remove one")
    assert link.transcript.turns[-1].user == "remove one" and not reply.done()
    assert sent[-1] == {"type": "chat", "text": "remove one"}
    link.relay({**said, "segment": "s2", "text": "Removed", "final": False})
    assert not reply.done()  # the reply is the agent's whole segment
    link.typed("checkout")  # typed over the agent: its words so far stay under "remove one"
    link.relay({**said, "segment": "s2", "text": "Removed 1.", "final": True})
    assert await asyncio.wait_for(reply, 1) == "Removed 1."
    assert link.transcript.turns[-2].reply == "Removed 1." and link.transcript.turns[-1].reply == ""
    # the agent leaves: the panel says so
    link.relay(agent("listening", present=False))
    assert link.status.state.agent == "left" and "left the room" in link.status.widget.value
    assert controls(link.status.state).reconnect  # the panel offers to reconnect


def test_the_token_is_a_message_never_a_trait() -> None:
    link, sent = new_link()
    link.widget.join = ("ws://127.0.0.1:1", "secret-token")
    link.widget._on_msg(link.widget, {"type": "hello"}, [])
    assert sent == [{"type": "join", "url": "ws://127.0.0.1:1", "token": "secret-token"}]
    assert "secret-token" not in json.dumps(link.widget.get_state(), default=str)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20), _containers, max_leaves=8
)
#: Each message the page sends, with its keys and any JSON values (and sometimes a key missing).
KEYS = {
    "connection": ["state", "identity", "error"],
    "agent": ["present", "identity", "attributes"],
    "mic": ["active", "error"],
    "transcript": ["identity", "text", "final", "segment"],
    "tools": ["calls"],
    "turn": ["payload"],
    "user": ["speaking"],
}
MESSAGES = st.sampled_from(sorted(KEYS)).flatmap(
    lambda kind: st.fixed_dictionaries(
        {"type": st.just(kind)}, optional={key: JSON for key in KEYS[kind]}
    )
)


@settings(max_examples=300, deadline=None)
@given(messages=st.lists(MESSAGES, max_size=8))
def test_no_page_message_breaks_the_panel(messages: list[dict[str, Any]]) -> None:
    link, _ = new_link()
    link.relay(agent("listening", CART))
    for message in messages:
        link.relay(message)  # malformed ones are dropped
    assert link.cart_view.total_text.startswith("$")
    link.status.render()
    link.transcript.render()


def test_stages_speaking_and_item_names_come_through_the_room() -> None:
    """`concierge.turn` times the turn it answers in the metrics strip, the page's own speaking
    lights the mic pill, a tool chip names the item and its id, and `current_cart()` is the cart
    the agent published."""
    link, _ = new_link()
    link.metrics = MetricsStrip()
    link.relay({"type": "connection", "state": "connected", "identity": "panel-u"})
    link.relay({"type": "mic", "active": True, "error": ""})
    link.relay(agent("listening", CART))
    link.relay({"type": "user", "speaking": True})
    assert (
        link.status.state.user == "speaking" and "you&#x27;re speaking" in link.status.widget.value
    )
    link.relay({"type": "user", "speaking": False})
    link.relay({"type": "transcript", "identity": "panel-u", "text": "two classic", "final": True})
    call = {
        "name": "add_to_cart",
        "arguments": '{"item_id": "classic_cheeseburger", "quantity": 2}',
        "output": "Added 2",
        "is_error": False,
        "item_name": "Classic Cheeseburger",
    }
    link.relay({"type": "tools", "calls": [call]})
    assert link.transcript.turns[-1].tools[0].label == (
        "add_to_cart · Classic Cheeseburger (classic_cheeseburger) × 2"
    )
    link.relay(
        {"type": "transcript", "identity": AGENT, "segment": "s", "text": "Ok.", "final": True}
    )
    stages = {"speech-to-text": 300.0, "end of turn": 200.0, "model": 50.0, "TTS first audio": 90.0}
    payload = {"spoken": True, "origin": 1700000000.5, "stages": stages, "whole_ms": 640.0}
    payload["interrupted"] = True  # the caller spoke over the reply: the transcript says so
    link.relay({"type": "turn", "payload": json.dumps(payload)})
    timing = link.transcript.turns[-1].timing
    assert timing is not None and timing.stages == stages and timing.whole_ms == 640.0
    assert "concierge-metrics-row" in link.metrics.widget.value
    assert link.transcript.turns[-1].interrupted and "(interrupted)" in link.transcript.widget.value
    assert "1700000000.500" in link.metrics.widget.value  # the origin a page-side bench reads
    cart = link.current_cart()
    assert cart is not None and cart.total_cents == 1998


def test_a_cut_reply_is_marked_on_its_own_turn_before_its_transcript_arrives() -> None:
    """A reply cut short early reaches the conversation (and `concierge.turn`) before any of its
    transcript reaches the page; the stages and the "(interrupted)" mark still go to the turn the
    caller's words name, not to an older answered turn the page never timed (the greeting)."""
    link, _ = new_link()
    link.metrics = MetricsStrip()
    link.relay({"type": "connection", "state": "connected", "identity": "panel-u"})
    link.relay(agent("listening", CART))
    link.relay({"type": "transcript", "identity": "panel-u", "text": "hello", "final": True})
    link.relay(
        {"type": "transcript", "identity": AGENT, "segment": "g", "text": "Hi!", "final": True}
    )
    asked = "what do you have at Luigi's?"
    link.relay({"type": "transcript", "identity": "panel-u", "text": asked, "final": True})
    stages = {"speech-to-text": 300.0, "model": 50.0}
    payload = {"user": asked, "interrupted": True, "spoken": False, "origin": 1.0}
    payload |= {"stages": stages, "whole_ms": 350.0}
    link.relay({"type": "turn", "payload": json.dumps(payload)})
    first, second = link.transcript.turns[-2:]
    assert first.timing is None and not first.interrupted
    assert second.user == asked and second.interrupted and second.timing is not None
