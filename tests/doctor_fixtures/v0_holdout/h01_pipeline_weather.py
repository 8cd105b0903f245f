"""A 0.x weather agent: tools on a FunctionContext subclass, system prompt in a ChatContext."""

from __future__ import annotations

import logging
from typing import Annotated

from livekit.agents import AutoSubscribe, JobContext, JobProcess, WorkerOptions, cli, llm
from livekit.agents.pipeline import VoicePipelineAgent
from livekit.plugins import openai, silero

logger = logging.getLogger("weather")


class WeatherTools(llm.FunctionContext):
    @llm.ai_callable(description="Get the weather for a city")
    async def get_weather(
        self,
        city: Annotated[str, llm.TypeInfo(description="The city, e.g. Paris")],
        unit: Annotated[
            str, llm.TypeInfo(description="Temperature unit", choices=("celsius", "fahrenheit"))
        ] = "celsius",
    ) -> str:
        logger.info("weather for %s", city)
        return f"It is sunny in {city} (20 degrees {unit})."


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = silero.VAD.load()


async def entrypoint(ctx: JobContext) -> None:
    initial_ctx = llm.ChatContext().append(
        role="system",
        text="You are a weather assistant. Answer in one sentence.",
    )
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    participant = await ctx.wait_for_participant()

    assistant = VoicePipelineAgent(
        vad=ctx.proc.userdata["vad"],
        stt=openai.STT(),
        llm=openai.LLM(),
        tts=openai.TTS(),
        chat_ctx=initial_ctx,
        fnc_ctx=WeatherTools(),
    )
    assistant.start(ctx.room, participant)
    # greet once the caller is in
    await assistant.say("Hi, which city?", allow_interruptions=True)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, prewarm_fnc=prewarm))
