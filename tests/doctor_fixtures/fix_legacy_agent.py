"""A legacy agent with every pattern `doctor --fix` rewrites (tests import it before and after)."""

from typing import Any

from livekit.agents import (
    Agent,
    AgentSession,
    JobContext,
    JobProcess,
    RoomInputOptions,
    RoomOutputOptions,
    WorkerOptions,
    cli,
    function_tool,
)
from livekit.agents.beta.workflows import WarmTransferTask


@function_tool
async def add_item(item: str) -> str:
    """Add an item."""
    return item


class Concierge(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions="You take food orders.",
            tools=[add_item],
            turn_detection="vad",  # the caller's turn ends on silence
            allow_interruptions=False,
        )


def prewarm(proc: JobProcess) -> None:
    proc.userdata["ready"] = True


def make_session() -> AgentSession:
    # endpointing tuned for slow speakers
    return AgentSession(
        turn_detection="vad",
        min_endpointing_delay=0.8,  # wait for the caller to finish
        max_endpointing_delay=4.0,
        allow_interruptions=False,
        min_interruption_duration=0.6,
        preemptive_generation=True,
        user_away_timeout=20.0,
    )


async def start(session: Any, ctx: Any) -> None:
    await session.start(
        agent=Concierge(),
        room=ctx.room,
        room_input_options=RoomInputOptions(close_on_disconnect=False, audio_sample_rate=16000),
        room_output_options=RoomOutputOptions(transcription_enabled=False),
    )


def transfer() -> WarmTransferTask:
    return WarmTransferTask(target_phone_number="+15105550123", sip_trunk_id="ST_x")


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect(e2ee=None)
    await start(make_session(), ctx)


if __name__ == "__main__":
    cli.run_app(
        WorkerOptions(entrypoint_fnc=entrypoint, prewarm_fnc=prewarm, agent_name="concierge")
    )
