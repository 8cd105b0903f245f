from livekit.agents.llm.async_toolset import AsyncRunContext  # expect: LK017


async def tool(ctx: AsyncRunContext) -> str:
    return str(ctx)
