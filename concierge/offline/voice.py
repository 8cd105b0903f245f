"""`VoiceRig`: speak into a running voice session and measure each spoken turn.

`concierge.session.voice_session()` starts the real `AgentSession` with a `SpeechInput`
(a paced, microphone-like stream) and a `RecordingOutput` (a speaker that keeps what it played);
the rig it yields says an utterance, waits for the spoken reply, and reports what was heard, what
was answered and how long each stage took. Only the microphone and the speaker are files.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import AgentSession

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
    session: AgentSession[Any]
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

    @classmethod
    def listening_to(
        cls, session: AgentSession[Any], mic: SpeechInput, speaker: RecordingOutput, models: Any
    ) -> VoiceRig:
        """A rig that records what `session` hears and answers (attach it as a session view)."""
        rig = cls(session, mic, speaker, models)

        def on_item(ev: Any) -> None:
            item = ev.item
            if getattr(item, "type", "") != "message":
                return
            if item.role == "assistant":
                rig._replies.put_nowait(item)
            elif item.role == "user":
                rig._heard.append(item)

        session.on("conversation_item_added", on_item)
        return rig

    async def wait_until_quiet(self, timeout: float = 30.0) -> None:
        """Wait until the agent has finished playing what it is saying."""
        deadline = time.perf_counter() + timeout
        while self.session.agent_state == "speaking" and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000
