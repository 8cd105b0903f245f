"""LK032 / LK033 / LK034: a 0.x pipeline agent, its keyword arguments and its start/say."""

from livekit.agents import JobContext, llm, pipeline  # expect: LK031
from livekit.plugins import deepgram, openai, silero


class VoiceAssistant:  # the user's own class of that name is not livekit's
    def start(self) -> None: ...


async def before_llm(agent, chat_ctx): ...


async def entrypoint(ctx: JobContext) -> None:
    participant = await ctx.wait_for_participant()
    agent = pipeline.VoicePipelineAgent(  # expect: LK032
        vad=silero.VAD.load(),
        stt=deepgram.STT(),
        llm=openai.LLM(),
        tts=openai.TTS(),
        chat_ctx=llm.ChatContext(),  # expect: LK033
        before_llm_cb=before_llm,  # expect: LK033
        max_nested_fnc_calls=2,  # expect: LK033
        min_endpointing_delay=0.5,
    )
    agent.start(ctx.room, participant)  # expect: LK034
    await agent.say("Hello!", allow_interruptions=True)  # expect: LK034
    VoiceAssistant().start()
