"""A 0.x agent whose tools are registered on a module-level FunctionContext, started by a helper."""

from __future__ import annotations

from typing import Annotated

from livekit import rtc
from livekit.agents import AutoSubscribe, JobContext, WorkerOptions, cli, llm
from livekit.agents.pipeline import VoicePipelineAgent
from livekit.plugins import openai, silero

ORDERS: dict[str, str] = {"A17": "shipped", "B02": "packed"}


class OrderTools(llm.FunctionContext):
    @llm.ai_callable(description="Look up the status of an order")
    async def order_status(
        self, order_id: Annotated[str, llm.TypeInfo(description="The order number")]
    ) -> str:
        return ORDERS.get(order_id.upper(), "No such order.")


def start_agent(ctx: JobContext, participant: rtc.RemoteParticipant) -> None:
    prompt = llm.ChatContext(
        messages=[
            llm.ChatMessage.create(
                role="system", text="You answer questions about orders. Ask for the order number."
            )
        ]
    )
    agent = VoicePipelineAgent(
        vad=silero.VAD.load(),
        stt=openai.STT(),
        llm=openai.LLM(),
        tts=openai.TTS(),
        chat_ctx=prompt,
        fnc_ctx=OrderTools(),
        max_nested_fnc_calls=2,
    )
    agent.start(ctx.room, participant)


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    participant = await ctx.wait_for_participant()
    start_agent(ctx, participant)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
