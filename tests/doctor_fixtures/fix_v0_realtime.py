"""A 0.x realtime agent for `doctor --fix` (read and rewritten by the tests, never imported as is)."""

from __future__ import annotations

from livekit import rtc
from livekit.agents import AutoSubscribe, JobContext, WorkerOptions, cli, llm
from livekit.agents.multimodal import MultimodalAgent
from livekit.plugins import openai


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    participant = await ctx.wait_for_participant()
    run_agent(ctx, participant)


def run_agent(ctx: JobContext, participant: rtc.RemoteParticipant) -> None:
    fnc_ctx = llm.FunctionContext()

    @fnc_ctx.ai_callable()
    async def opening_hours() -> str:
        """When the shop is open."""
        return "From noon to ten."

    # the system prompt lives on the model in 0.x
    model = openai.realtime.RealtimeModel(
        instructions="You answer questions about the shop.",
        voice="alloy",
    )
    agent = MultimodalAgent(model=model, fnc_ctx=fnc_ctx)
    agent.start(ctx.room, participant)

    session = model.sessions[0]
    session.conversation.item.create(llm.ChatMessage(role="user", content="Say hello."))
    session.response.create()

    @agent.on("agent_started_speaking")
    def speaking() -> None:
        print("speaking")


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
