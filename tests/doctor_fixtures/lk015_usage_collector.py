from livekit.agents import metrics
from livekit.agents.metrics import UsageSummary  # expect: LK015

collector = metrics.UsageCollector()  # expect: LK015


def total(summary: UsageSummary) -> float:
    return summary.llm_prompt_tokens
