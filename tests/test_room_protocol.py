"""The agent's side of the room protocol (concierge/room.py), from livekit's own event objects:
each answered turn is cut into stages once (`concierge.turn`), and each tool call names the item
its `item_id` refers to (`concierge.tools`). The same payloads travel a real room in
tests/test_live_room_browser.py."""

from __future__ import annotations

import json

from livekit.agents import llm
from livekit.agents.voice.events import ConversationItemAddedEvent, FunctionToolsExecutedEvent

from concierge.room import TurnClock, tools_payload, turn_payload
from concierge.timeline import turn_timing

T0 = 1_700_000_000.0


def added(item: llm.ChatMessage) -> ConversationItemAddedEvent:
    return ConversationItemAddedEvent(item=item)


def step(item_id: str) -> FunctionToolsExecutedEvent:
    arguments = json.dumps({"item_id": item_id, "quantity": 2})
    call = llm.FunctionCall(call_id="c", name="add_to_cart", arguments=arguments, created_at=T0 + 1)
    out = llm.FunctionCallOutput(
        call_id="c", name="add_to_cart", output="Added", is_error=False, created_at=T0 + 1.25
    )
    return FunctionToolsExecutedEvent(function_calls=[call], function_call_outputs=[out])


def test_each_answered_turn_is_timed_once_from_its_own_messages(catalog) -> None:
    clock = TurnClock()
    user = llm.ChatMessage(role="user", content=["two classic"], created_at=T0)
    user.metrics.update({"stopped_speaking_at": T0 - 0.5, "end_of_turn_delay": 0.9})
    reply = llm.ChatMessage(role="assistant", content=["Added."], created_at=T0 + 2)
    reply.metrics.update({"started_speaking_at": T0 + 1.75, "tts_node_ttfb": 0.2})
    assert clock.on_item(added(user)) is None
    clock.on_tools(step("classic_cheeseburger"))
    timing = clock.on_item(added(reply))
    expected = turn_timing(T0, user.metrics, [(T0 + 1, T0 + 1.25)], reply.metrics, T0 + 2)
    assert timing == expected and timing.spoken and timing.whole_ms == 2250.0
    assert clock.answered == "two classic"  # what the page matches the stages to
    assert clock.on_item(added(reply)) is None  # a second reply to the same turn: not re-timed
    sent = json.loads(turn_payload(timing))
    assert sent["stages"] == timing.stages and sent["origin"] == T0 - 0.5
    assert abs(sum(sent["stages"].values()) - sent["whole_ms"]) < 1e-6
    calls = json.loads(tools_payload(step("classic_cheeseburger"), catalog))
    assert calls[0]["item_name"] == "Classic Cheeseburger" and not calls[0]["is_error"]
    assert json.loads(tools_payload(step("no_such_item"), catalog))[0]["item_name"] == ""
