"""A 0.x realtime agent that greets by putting an assistant message in the conversation."""

from __future__ import annotations

from livekit.agents import AutoSubscribe, JobContext, WorkerOptions, cli, llm
from livekit.agents.multimodal import MultimodalAgent
from livekit.plugins import openai

INSTRUCTIONS = "You are the front desk of a small hotel. Be brief."
WELCOME = "Welcome to the Seaside Hotel, how can I help?"


class HotelTools(llm.FunctionContext):
    @llm.ai_callable()
    async def free_rooms(self) -> str:
        """How many rooms are free tonight."""
        return "Three rooms are free."


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_ALL)
    await ctx.wait_for_participant()

    model = openai.realtime.RealtimeModel(
        instructions=INSTRUCTIONS,
        voice="shimmer",
        temperature=0.7,
        modalities=["audio", "text"],
    )
    assistant = MultimodalAgent(model=model, fnc_ctx=HotelTools())
    assistant.start(ctx.room)

    session = model.sessions[0]
    session.conversation.item.create(llm.ChatMessage(role="assistant", content=WELCOME))
    session.response.create()


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
