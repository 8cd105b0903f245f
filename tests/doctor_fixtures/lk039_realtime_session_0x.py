"""LK039: the 0.x realtime session API."""

from livekit.agents import llm
from livekit.plugins import openai


def greet() -> None:
    model = openai.realtime.RealtimeModel(voice="alloy")
    session = model.sessions[0]  # expect: LK039
    session.conversation.item.create(  # expect: LK039
        llm.ChatMessage(role="user", content=["Say hello."])
    )
    session.response.create()  # expect: LK039
    sessions = {"a": 1}
    print(sessions["a"])
