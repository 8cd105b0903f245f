"""LK031: the 0.x agent modules, imported any way."""

import livekit.agents.pipeline  # expect: LK031
from livekit import agents
from livekit.agents import multimodal  # expect: LK031
from livekit.agents.transcription import STTSegmentsForwarder  # expect: LK031
from livekit.agents.voice_assistant import VoiceAssistant  # expect: LK031


def forwarders() -> tuple[object, ...]:
    return (
        STTSegmentsForwarder,
        VoiceAssistant,  # expect: LK032
        multimodal,
        livekit,
        agents.pipeline,  # expect: LK031
    )
