# mypy: ignore-errors
"""A pizza-counter agent written for livekit-agents **0.x** — it cannot even be imported under 1.8.9.

Most agents in the wild were written this way (a `VoicePipelineAgent`, tools on an
`llm.FunctionContext`, the system prompt in a `ChatContext`), and 1.0 removed every one of those
names. Notebook 2 lets the doctor read this file (it never imports it), lists what 1.x removed,
applies `doctor --fix`, and runs the result against livekit-agents 1.8.9. Written for this lab
in the shape of LiveKit's own 0.x examples; do not run it.
"""

from __future__ import annotations

import logging
from typing import Annotated

from livekit.agents import AutoSubscribe, JobContext, JobProcess, WorkerOptions, cli, llm
from livekit.agents.pipeline import VoicePipelineAgent
from livekit.plugins import openai, silero

logger = logging.getLogger("pizza-counter")

PROMPT = (
    "You take pizza orders by voice. Keep answers short; say prices in dollars. "
    "Look a dish up before you add it to the order."
)
MENU = {"margherita": 1150, "diavola": 1350, "quattro formaggi": 1450}  # price in cents


class PizzaTools(llm.FunctionContext):
    """The tools the model may call; one order per caller."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    @llm.ai_callable(description="Find pizzas on the menu by name")
    async def search_menu(
        self,
        query: Annotated[str, llm.TypeInfo(description="A pizza name, or part of one")],
    ) -> str:
        found = [name for name in MENU if query.lower() in name]
        return ", ".join(f"{n} (${MENU[n] / 100:.2f})" for n in found) or "Nothing matches."

    @llm.ai_callable()
    async def add_to_order(
        self,
        pizza: Annotated[str, llm.TypeInfo(description="The pizza to add", choices=list(MENU))],
    ) -> str:
        """Add one pizza to the caller's order."""
        self.order.append(pizza)
        return f"Added a {pizza}; the order has {len(self.order)} pizza(s)."


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = silero.VAD.load()


async def entrypoint(ctx: JobContext) -> None:
    initial_ctx = llm.ChatContext().append(role="system", text=PROMPT)
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    participant = await ctx.wait_for_participant()

    agent = VoicePipelineAgent(
        vad=ctx.proc.userdata["vad"],
        stt=openai.STT(),
        llm=openai.LLM(model="gpt-4o-mini"),
        tts=openai.TTS(),
        chat_ctx=initial_ctx,
        fnc_ctx=PizzaTools(),
        # give callers time to finish a long order
        min_endpointing_delay=0.8,
        max_nested_fnc_calls=3,
    )

    @agent.on("user_speech_committed")
    def on_user_speech(msg: llm.ChatMessage) -> None:
        logger.info("caller said: %s", msg.content)

    agent.start(ctx.room, participant)
    await agent.say("Pizza counter, what can I get you?", allow_interruptions=True)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, prewarm_fnc=prewarm))
