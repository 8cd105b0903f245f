from livekit.agents import AgentSession, TurnHandlingOptions


def make() -> AgentSession:
    return AgentSession(  # expect: LK020
        turn_handling=TurnHandlingOptions(turn_detection="vad"),
        preemptive_generation=True,
    )
