"""A 0.x realtime agent that greets first only when text is on, and retunes the session live."""

from __future__ import annotations

from livekit.agents import AutoSubscribe, JobContext, WorkerOptions, cli, llm
from livekit.agents.multimodal import MultimodalAgent
from livekit.plugins import openai


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    participant = await ctx.wait_for_participant()
    text_on = participant.attributes.get("text") == "1"

    model = openai.realtime.RealtimeModel(instructions="You are a tour guide.", voice="alloy")
    agent = MultimodalAgent(model=model)
    agent.start(ctx.room, participant)
    session = model.sessions[0]
    if text_on:
        session.conversation.item.create(
            llm.ChatMessage(role="user", content="Introduce yourself.")
        )
        session.response.create()

    @ctx.room.on("participant_attributes_changed")
    def retune(changed: dict[str, str], who) -> None:
        session.session_update(instructions=changed.get("prompt", "You are a tour guide."))


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
