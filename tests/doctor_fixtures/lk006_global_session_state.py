from livekit.agents import JobContext, function_tool

cart: list[str] = []
current_user = {"id": "demo"}
PRICES = {"burger": 5}


@function_tool
async def add(item: str) -> str:
    cart.append(item)  # expect: LK006
    return f"{len(cart)} items"


@function_tool
async def price(item: str) -> str:
    return str(PRICES.get(item, 0))


async def entrypoint(ctx: JobContext) -> None:  # expect: LK010
    current_user["id"] = ctx.job.id  # expect: LK006
    await ctx.connect()
