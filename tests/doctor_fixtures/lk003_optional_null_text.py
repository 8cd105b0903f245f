from livekit.agents import function_tool


@function_tool
async def note(text: str | None) -> str:  # expect: LK003
    return text or ""


@function_tool
async def handled(text: str | None) -> str:
    if text in (None, "null", ""):
        return "no note"
    return text


@function_tool
async def count(quantity: int | None) -> str:
    return str(quantity)
