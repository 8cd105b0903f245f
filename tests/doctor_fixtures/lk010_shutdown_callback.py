from livekit.agents import AgentServer, AgentSession, JobContext

server = AgentServer()


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    session = AgentSession(userdata={"cart": []})

    async def save() -> None:
        print(session.userdata)

    ctx.add_shutdown_callback(save)
    await ctx.connect()
