"""LK036: the 0.x tool API, reached through `llm.` and imported bare."""

from typing import Annotated

from livekit.agents import llm
from livekit.agents.llm import TypeInfo, ai_callable  # expect: LK036


class Tools(llm.FunctionContext):  # expect: LK036
    @llm.ai_callable(description="Look the weather up")  # expect: LK036
    async def weather(
        self,
        city: Annotated[str, llm.TypeInfo(description="The city")],  # expect: LK036
    ) -> str:
        return city

    @ai_callable()  # expect: LK036
    async def time(
        self,
        zone: Annotated[str, TypeInfo(description="Zone")],  # expect: LK036
    ) -> str:
        return zone


print(Tools().ai_functions)  # expect: LK036
