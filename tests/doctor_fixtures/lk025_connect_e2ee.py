from livekit import rtc
from livekit.agents import JobContext


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect(e2ee=rtc.E2EEOptions())  # expect: LK025
