"""A 0.x agent built and started by a class that owns it (restartable on new settings)."""

from __future__ import annotations

from livekit.agents import AutoSubscribe, JobContext, WorkerOptions, cli, llm
from livekit.agents.multimodal import MultimodalAgent
from livekit.plugins import openai


class Assistant:
    def __init__(self, instructions: str) -> None:
        self.instructions = instructions
        self.agent: MultimodalAgent | None = None

    def build(self) -> MultimodalAgent:
        model = openai.realtime.RealtimeModel(instructions=self.instructions, voice="alloy")
        return MultimodalAgent(model=model, chat_ctx=llm.ChatContext())

    def start(self, ctx: JobContext) -> None:
        self.agent = self.build()
        self.agent.start(ctx.room)


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    Assistant("You are a concise assistant.").start(ctx)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
