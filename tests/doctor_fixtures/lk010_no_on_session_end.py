from dataclasses import dataclass, field

from livekit.agents import AgentServer, AgentSession, JobContext

server = AgentServer()


@dataclass
class UserState:
    cart: list[str] = field(default_factory=list)


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:  # expect: LK010
    session = AgentSession[UserState](userdata=UserState())
    await ctx.connect()
    del session
