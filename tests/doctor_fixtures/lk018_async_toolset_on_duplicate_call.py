from livekit.agents.llm import AsyncToolset

toolset = AsyncToolset(id="booking", on_duplicate_call="confirm")  # expect: LK018
