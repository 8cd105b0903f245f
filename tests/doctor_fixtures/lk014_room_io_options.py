from livekit.agents import Agent, AgentSession, JobContext, room_io


async def start(ctx: JobContext, session: AgentSession) -> None:
    await session.start(
        agent=Agent(instructions="hi"),
        room=ctx.room,
        room_input_options=room_io.RoomInputOptions(close_on_disconnect=False),  # expect: LK014
    )
