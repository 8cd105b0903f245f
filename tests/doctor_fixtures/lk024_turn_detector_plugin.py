from livekit.agents import AgentSession
from livekit.plugins.turn_detector.multilingual import MultilingualModel  # expect: LK024


def make() -> AgentSession:
    return AgentSession(turn_handling={"turn_detection": MultilingualModel()})
