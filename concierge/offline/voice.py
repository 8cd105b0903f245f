"""`voice_session()`: the migrated agent's whole voice pipeline, offline, on audio.

Speech goes in through `SpeechInput` (a paced, microphone-like stream), through Silero VAD, the
on-device end-of-turn model, the menu-grammar speech-to-text, the agent and its tools, and comes
out of the offline text-to-speech into `RecordingOutput`. Everything is the real
`AgentSession` — only the microphone and the speaker are files.

    async with voice_session() as rig:
        turn = await rig.say(pcm16, sample_rate=24000)
        print(turn.heard, turn.reply, turn.voice_turn_ms)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import AgentSession

from ..state import UserState
from .audio_io import RecordingOutput, SpeechInput


@dataclass
class VoiceTurn:
    """One spoken turn, measured."""

    heard: str
    reply: str
    speech_seconds: float
    voice_turn_ms: float | None  # end of the user's speech → first agent audio frame
    end_of_turn_ms: float | None = None
    transcription_ms: float | None = None
    llm_ms: float | None = None
    tts_ms: float | None = None


@dataclass
class VoiceRig:
    session: AgentSession[UserState]
    mic: SpeechInput
    speaker: RecordingOutput
    models: Any
    _replies: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    _heard: list[Any] = field(default_factory=list)

    async def say(self, pcm16: bytes, sample_rate: int, *, timeout: float = 30.0) -> VoiceTurn:
        """Speak one utterance into the session and wait for the agent's spoken reply."""
        while not self._replies.empty():
            self._replies.get_nowait()
        heard_before = len(self._heard)
        segments_before = len(self.speaker.segment_first_frames)
        seconds = self.mic.say(pcm16, sample_rate)
        reply = await asyncio.wait_for(self._replies.get(), timeout)
        deadline = time.perf_counter() + timeout
        while (
            len(self.speaker.segment_first_frames) <= segments_before
            and time.perf_counter() < deadline
        ):
            await asyncio.sleep(0.01)
        first_audio = (
            self.speaker.segment_first_frames[segments_before]
            if len(self.speaker.segment_first_frames) > segments_before
            else None
        )
        ended = self.mic.speech_ended_at
        user = self._heard[heard_before] if len(self._heard) > heard_before else None
        metrics = dict(user.metrics) if user is not None else {}
        reply_metrics = dict(reply.metrics)
        return VoiceTurn(
            heard=(user.text_content or "") if user is not None else "",
            reply=reply.text_content or "",
            speech_seconds=seconds,
            voice_turn_ms=(first_audio - ended) * 1000 if first_audio and ended else None,
            end_of_turn_ms=_ms(metrics.get("end_of_turn_delay")),
            transcription_ms=_ms(metrics.get("transcription_delay")),
            llm_ms=_ms(reply_metrics.get("llm_node_ttft")),
            tts_ms=_ms(reply_metrics.get("tts_node_ttfb")),
        )

    async def wait_until_quiet(self, timeout: float = 30.0) -> None:
        """Wait until the agent has finished playing what it is saying."""
        deadline = time.perf_counter() + timeout
        while self.session.agent_state == "speaking" and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


@asynccontextmanager
async def voice_session(
    store: Any = None, user_id: str = "demo", *, models: Any = None, playback_speed: float = 1.0
) -> AsyncIterator[VoiceRig]:
    """A started voice `AgentSession[UserState]` fed by a `SpeechInput`, recorded by a `RecordingOutput`."""
    from ..agent import FoodConciergeAgent, build_session
    from ..providers import pick_models
    from ..state import new_userdata
    from ..store import open_store

    own_store = store is None
    store = store or await open_store("memory")
    userdata = await new_userdata(store, user_id)
    models = models or pick_models(userdata.catalog, env={})
    if models.stt is None or models.tts is None:
        raise RuntimeError("offline speech engines unavailable: " + "; ".join(models.notes))
    session = build_session(userdata, models)
    mic, speaker = SpeechInput(), RecordingOutput(playback_speed=playback_speed)
    session.input.audio = mic
    session.output.audio = speaker
    rig = VoiceRig(session, mic, speaker, models)

    def on_item(ev: Any) -> None:
        item = ev.item
        if getattr(item, "type", "") == "message" and item.role == "assistant":
            rig._replies.put_nowait(item)
        elif getattr(item, "type", "") == "message" and item.role == "user":
            rig._heard.append(item)

    session.on("conversation_item_added", on_item)
    await session.start(FoodConciergeAgent(userdata.catalog))
    try:
        yield rig
    finally:
        mic.close()
        await session.aclose()
        await userdata.save_cart()
        if own_store:
            await store.close()
