from livekit.agents import AgentSession, MetricsCollectedEvent, llm, metrics


def watch(session: AgentSession, model: llm.LLM) -> None:
    @session.on("metrics_collected")  # expect: LK013
    def _on_metrics(ev: MetricsCollectedEvent) -> None:
        metrics.log_metrics(ev.metrics)

    session.on("metrics_collected", print)  # expect: LK013
    session.on("session_usage_updated", print)
    model.on("metrics_collected", print)  # a model's own event: not deprecated
