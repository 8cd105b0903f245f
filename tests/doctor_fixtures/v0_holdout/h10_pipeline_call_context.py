"""A 0.x agent whose tool talks while it works, through AgentCallContext."""

from __future__ import annotations

from typing import Annotated

from livekit.agents import AutoSubscribe, JobContext, WorkerOptions, cli, llm
from livekit.agents.pipeline import AgentCallContext, VoicePipelineAgent
from livekit.plugins import openai, silero


class Tools(llm.FunctionContext):
    @llm.ai_callable()
    async def search_flights(
        self, city: Annotated[str, llm.TypeInfo(description="Destination city")]
    ) -> str:
        """Search flights to a city."""
        call_ctx = AgentCallContext.get_current()
        await call_ctx.agent.say("Let me check the flights.")
        return f"Two flights to {city} tomorrow."


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    agent = VoicePipelineAgent(
        vad=silero.VAD.load(),
        stt=openai.STT(),
        llm=openai.LLM(),
        tts=openai.TTS(),
        fnc_ctx=Tools(),
    )
    agent.start(ctx.room)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
