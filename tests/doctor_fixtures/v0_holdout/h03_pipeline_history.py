"""A 0.x agent that starts with a few turns of history, and logs what the caller says."""

from __future__ import annotations

import logging

from livekit.agents import AutoSubscribe, JobContext, WorkerOptions, cli, llm
from livekit.agents.pipeline import VoicePipelineAgent
from livekit.plugins import openai, silero

logger = logging.getLogger("history")


async def entrypoint(ctx: JobContext) -> None:
    chat_ctx = llm.ChatContext()
    chat_ctx.append(role="system", text="You help people book a table.")
    chat_ctx.append(role="assistant", text="Hello! For how many people?")

    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    participant = await ctx.wait_for_participant()

    agent = VoicePipelineAgent(
        vad=silero.VAD.load(),
        stt=openai.STT(),
        llm=openai.LLM(model="gpt-4o-mini"),
        tts=openai.TTS(voice="alloy"),
        chat_ctx=chat_ctx,
        allow_interruptions=True,
        min_endpointing_delay=0.6,
    )

    @agent.on("user_speech_committed")
    def on_user(msg: llm.ChatMessage) -> None:
        logger.info("user: %s", msg.content)

    @agent.on("agent_speech_committed")
    def on_agent(msg: llm.ChatMessage) -> None:
        logger.info("agent: %s", msg.content)

    agent.start(ctx.room, participant)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
