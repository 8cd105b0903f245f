from livekit.agents import AgentFalseInterruptionEvent, AgentSession


def watch(session: AgentSession) -> None:
    @session.on("agent_false_interruption")
    def _on_false(ev: AgentFalseInterruptionEvent) -> None:
        print(ev.extra_instructions)  # expect: LK026
        print(ev.resumed)
