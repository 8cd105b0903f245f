from livekit.agents import AgentSession


def slow_down(session: AgentSession) -> None:
    session.update_options(min_endpointing_delay=1.0)  # expect: LK021
    session.update_options(endpointing_opts={"min_delay": 1.0})
