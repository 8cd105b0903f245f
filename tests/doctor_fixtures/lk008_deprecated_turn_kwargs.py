from livekit.agents import Agent, AgentSession


class Concierge(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="hi", allow_interruptions=False)  # expect: LK008


def make() -> AgentSession:
    return AgentSession(min_endpointing_delay=0.5, preemptive_generation=True)  # expect: LK008
