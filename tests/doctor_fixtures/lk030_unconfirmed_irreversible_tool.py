from livekit.agents import function_tool


@function_tool
async def place_order() -> str:  # expect: LK030
    return "placed"


@function_tool
async def checkout(confirmed: bool) -> str:
    return "placed" if confirmed else "not placed"


@function_tool
async def pay_bill() -> str:
    """Charge the card. Only call it after the user confirms the total."""
    return "paid"
