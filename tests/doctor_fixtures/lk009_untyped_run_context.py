from livekit.agents import RunContext, function_tool


@function_tool
async def view_cart(ctx: RunContext) -> str:  # expect: LK009
    return str(ctx.userdata.cart)


@function_tool
async def ping(ctx: RunContext) -> str:
    return "pong"
