"""A 0.x agent with tuned turn-taking, a turn detector, metrics logging and a goodbye."""

from __future__ import annotations

import logging

from livekit.agents import JobContext, JobProcess, WorkerOptions, cli, llm, metrics
from livekit.agents.pipeline import VoicePipelineAgent
from livekit.plugins import openai, silero, turn_detector

logger = logging.getLogger("turns")


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = silero.VAD.load()


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    participant = await ctx.wait_for_participant()
    initial = llm.ChatContext().append(text="You are a patient support agent.", role="system")
    agent = VoicePipelineAgent(
        vad=ctx.proc.userdata["vad"],
        stt=openai.STT(),
        llm=openai.LLM(),
        tts=openai.TTS(),
        turn_detector=turn_detector.EOUModel(),
        chat_ctx=initial,
        interrupt_speech_duration=0.6,
        interrupt_min_words=2,
        min_endpointing_delay=0.5,
        preemptive_synthesis=True,
    )

    @agent.on("metrics_collected")
    def on_metrics(mtrcs: metrics.AgentMetrics) -> None:
        metrics.log_metrics(mtrcs)

    @agent.on("user_started_speaking")
    def on_speaking() -> None:
        logger.info("caller speaking")

    agent.start(ctx.room, participant)
    await agent.say("Support here, what went wrong?")


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, prewarm_fnc=prewarm))
