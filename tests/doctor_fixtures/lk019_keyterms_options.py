from livekit.agents import AgentSession


def make(options: dict[str, list[str]]) -> AgentSession:
    return AgentSession(keyterms_options=options)  # expect: LK019
