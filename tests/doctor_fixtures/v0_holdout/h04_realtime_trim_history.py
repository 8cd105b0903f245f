"""A 0.x realtime agent that keeps its history short after each reply."""

from __future__ import annotations

import asyncio
from typing import Annotated

from livekit.agents import AutoSubscribe, JobContext, WorkerOptions, WorkerType, cli, llm
from livekit.agents.multimodal import MultimodalAgent
from livekit.plugins import openai

MAX_MESSAGES = 12


async def entrypoint(ctx: JobContext) -> None:
    fnc_ctx = llm.FunctionContext()

    @fnc_ctx.ai_callable(description="Convert an amount between currencies")
    async def convert(
        amount: Annotated[float, llm.TypeInfo(description="The amount")],
        to: Annotated[str, llm.TypeInfo(description="Target currency code")],
    ) -> str:
        return f"{amount} is about {amount * 1.1:.2f} {to}."

    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    participant = await ctx.wait_for_participant()

    agent = MultimodalAgent(
        model=openai.realtime.RealtimeModel(
            instructions="You convert currencies for travellers.",
            voice="echo",
        ),
        fnc_ctx=fnc_ctx,
    )
    agent.start(ctx.room, participant)

    @agent.on("agent_speech_committed")
    def trim(msg: llm.ChatMessage) -> None:
        history = agent.chat_ctx_copy()
        if len(history.messages) > MAX_MESSAGES:
            history.messages = history.messages[-MAX_MESSAGES:]
            asyncio.create_task(agent.set_chat_ctx(history))


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, worker_type=WorkerType.ROOM))
