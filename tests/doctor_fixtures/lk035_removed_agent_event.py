"""LK035: 0.x agent events that 1.x never emits (metrics_collected still exists: LK013's)."""

from livekit.agents import llm


def watch(agent) -> None:
    @agent.on("user_speech_committed")  # expect: LK035
    def on_user(msg: llm.ChatMessage) -> None:
        print(msg.content)

    agent.on("agent_started_speaking", lambda: None)  # expect: LK035
    agent.on("function_calls_finished", print)  # expect: LK035
    agent.on("conversation_item_added", print)  # a 1.x event
