from livekit.agents import inference


def make() -> inference.RealtimeModel:
    return inference.RealtimeModel("openai/gpt-realtime-1.5")  # expect: LK028
