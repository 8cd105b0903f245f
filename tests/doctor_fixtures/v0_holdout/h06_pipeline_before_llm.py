"""A 0.x agent that rewrites the context before each LLM call (a callback 1.x has no keyword for)."""

from __future__ import annotations

from livekit.agents import JobContext, WorkerOptions, cli, llm
from livekit.agents.pipeline import VoicePipelineAgent
from livekit.plugins import openai, silero


def add_date(agent: VoicePipelineAgent, chat_ctx: llm.ChatContext) -> None:
    chat_ctx.append(role="system", text="Today is Tuesday.")


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    agent = VoicePipelineAgent(
        vad=silero.VAD.load(),
        stt=openai.STT(),
        llm=openai.LLM(),
        tts=openai.TTS(),
        chat_ctx=llm.ChatContext().append(role="system", text="You plan the week."),
        before_llm_cb=add_date,
    )
    agent.start(ctx.room)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
