from livekit.agents import inference
from livekit.plugins import openai


def make() -> inference.RealtimeModel:
    return inference.RealtimeModel("openai/gpt-realtime-1.5")  # expect: LK028


def azure() -> openai.realtime.RealtimeModel:
    return openai.realtime.RealtimeModel.with_azure(
        azure_deployment="gpt-realtime",
        api_version="2024-10-01-preview",  # expect: LK028
    )


def azure_llm() -> openai.LLM:
    return openai.LLM.with_azure(azure_deployment="gpt-4o", api_version="2024-10-01")
