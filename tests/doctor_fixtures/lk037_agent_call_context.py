"""LK037: AgentCallContext (the 0.x way a tool reached its agent)."""

from livekit.agents.pipeline import AgentCallContext  # expect: LK031


async def filler() -> None:
    agent = AgentCallContext.get_current().agent  # expect: LK037
    await agent.say("One moment")
