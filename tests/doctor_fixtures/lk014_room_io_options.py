from livekit.agents import Agent, AgentSession, JobContext, room_io


async def start(ctx: JobContext, session: AgentSession) -> None:
    await session.start(
        agent=Agent(instructions="hi"),
        room=ctx.room,
        room_input_options=room_io.RoomInputOptions(close_on_disconnect=False),  # expect: LK014
    )


async def start_with(
    ctx: JobContext, session: AgentSession, options: room_io.RoomInputOptions
) -> None:
    await session.start(
        agent=Agent(instructions="hi"),
        room=ctx.room,
        room_input_options=options,  # expect: LK014
    )
