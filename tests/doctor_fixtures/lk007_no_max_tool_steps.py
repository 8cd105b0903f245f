from livekit.agents import Agent, AgentSession, function_tool


@function_tool
async def add(item: str) -> str:
    return item


def make() -> tuple[Agent, AgentSession, AgentSession, AgentSession]:
    agent = Agent(instructions="hi", tools=[add])
    short = AgentSession(llm="openai/gpt-4.1-mini")  # expect: LK007
    sized = AgentSession(
        llm="openai/gpt-4.1-mini", max_tool_steps=3
    )  # 3 is enough: one tool per turn
    # the default max_tool_steps (3) is enough: one tool per turn
    kept = AgentSession(llm="openai/gpt-4.1-mini")
    return agent, short, sized, kept
