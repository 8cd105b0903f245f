"""`VoiceRig`: speak into a running voice session and measure each spoken turn.

`concierge.session.voice_session()` starts the real `AgentSession` with a `SpeechInput`
(a paced, microphone-like stream) and a `RecordingOutput` (a speaker that keeps what it played);
the rig it yields says an utterance, waits for the spoken reply, and reports what was heard, what
was answered and how long each stage took. Only the microphone and the speaker are files.

Every stage of a `VoiceTurn` is measured from **one origin**: the moment livekit's VAD says the
user stopped speaking (`stopped_speaking_at` on the user's `ChatMessage.metrics`). livekit puts the
transcript and the end-of-turn decision on that clock (`transcription_delay`,
`end_of_turn_delay`) and the agent's first audio too (`e2e_latency` on the reply's metrics). The
stages are the gaps between those instants, so they are never negative and add up to the whole
turn. (The end of the *audio clip* is a different, later instant: a synthesized clip ends in a
few hundred ms of silence that the VAD has already recognised as not-speech. Mixing the two
origins is how a transcript can seem to arrive after the reply.)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import AgentSession

from ..timeline import STAGES, TurnTiming, turn_timing
from .audio_io import RecordingOutput, SpeechInput

__all__ = ["STAGES", "STAGE_TOLERANCE_MS", "BargeIn", "VoiceRig", "VoiceTurn"]

#: How far the stacked stages may drift from livekit's own `e2e_latency`, in ms. The last stage
#: ends at our speaker's first frame, stamped a few microseconds away from the instant livekit
#: records as `started_speaking_at`; a different segment or a stale metric would be far off.
STAGE_TOLERANCE_MS = 20.0


@dataclass
class VoiceTurn:
    """One spoken turn, measured in ms from when the VAD heard the user stop speaking."""

    heard: str
    reply: str
    speech_seconds: float
    voice_turn_ms: float | None  # user stopped speaking → the agent's first audio frame played
    end_of_turn_ms: float | None = None  # → the end of the turn was decided
    transcription_ms: float | None = None  # → the final transcript arrived
    llm_ms: float | None = None  # the model's time to first token (livekit's llm_node_ttft)
    tts_ms: float | None = None  # text-to-speech's time to first audio (tts_node_ttfb)
    e2e_latency_ms: float | None = None  # livekit's own figure for voice_turn_ms

    #: The turn cut into stages by `concierge.timeline.turn_timing` — the live panel's cut.
    timing: TurnTiming | None = None

    def stages(self) -> dict[str, float] | None:
        """The turn as consecutive stages (of `STAGES`: speech-to-text, end of turn, model,
        tools, TTS first audio), or None if livekit did not report an end of speech for it.

        The model's first-token time is not a stage of its own: with preemptive generation (on by
        default in 1.8.9) the model starts on the transcript while the end of turn is still being
        decided, so it overlaps the stages before. What follows the end of turn is the model, the
        tools it called and the text-to-speech, which starts only once the turn is decided.
        """
        if self.timing is None or not self.timing.spoken:
            return None
        return dict(self.timing.stages)


@dataclass
class BargeIn:
    """What happened when the caller talked over the agent (`VoiceRig.talk_over`)."""

    after_seconds: float  # how far into the agent's answer the caller started talking
    interrupted: (
        bool  # the caller's words stopped the agent (livekit marked its answer interrupted)
    )
    stopped_after_ms: float | None  # caller's first word → the agent stopped (None: talked on)
    heard: list[str]  # final transcripts of this exchange, in order
    answer: str  # the agent's reply to the interruption ("" if there was none)


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
        user = self._heard[heard_before] if len(self._heard) > heard_before else None
        metrics = dict(user.metrics) if user is not None else {}
        reply_metrics = dict(reply.metrics)
        timing = (
            turn_timing(
                user.created_at, metrics, self._tool_spans(user.created_at), reply_metrics,
                reply.created_at,
            )
            if user is not None
            else None
        )  # fmt: skip
        stopped = metrics.get("stopped_speaking_at")  # livekit's clock: time.time()
        first_audio_wall = (
            None if first_audio is None else first_audio + (time.time() - time.perf_counter())
        )
        return VoiceTurn(
            heard=(user.text_content or "") if user is not None else "",
            reply=reply.text_content or "",
            speech_seconds=seconds,
            voice_turn_ms=(
                (first_audio_wall - stopped) * 1000 if first_audio_wall and stopped else None
            ),
            end_of_turn_ms=_ms(metrics.get("end_of_turn_delay")),
            transcription_ms=_ms(metrics.get("transcription_delay")),
            llm_ms=_ms(reply_metrics.get("llm_node_ttft")),
            tts_ms=_ms(reply_metrics.get("tts_node_ttfb")),
            e2e_latency_ms=_ms(reply_metrics.get("e2e_latency")),
            timing=timing,
        )

    def _tool_spans(self, since: float) -> list[tuple[float, float]]:
        """(call asked, output back) for each tool call of the turn whose message came at `since`."""
        items = [it for it in self.session.history.items if it.created_at >= since]
        outputs = {it.call_id: it for it in items if it.type == "function_call_output"}
        return [
            (it.created_at, outputs[it.call_id].created_at)
            for it in items
            if it.type == "function_call" and it.call_id in outputs
        ]

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

    async def talk_over(
        self, first: bytes, interruption: bytes, sample_rate: int, *, after: float
    ) -> BargeIn:
        """Say `first`, then say `interruption` `after` seconds into the agent's spoken answer.

        If the agent is still talking 3 s after the interruption ended, it was not interrupted:
        the rig stops it with `session.interrupt()` to move on, and reports that it talked on.
        """
        heard: list[str] = []
        stops: list[float] = []

        def on_transcript(ev: Any) -> None:
            if ev.is_final:
                heard.append(ev.transcript)

        def on_state(ev: Any) -> None:
            if ev.old_state == "speaking":
                stops.append(time.perf_counter())

        self.session.on("user_input_transcribed", on_transcript)
        self.session.on("agent_state_changed", on_state)
        try:
            answer = asyncio.create_task(self.say(first, sample_rate, timeout=60))
            while self.session.agent_state != "speaking" and not answer.done():
                await asyncio.sleep(0.01)
            await asyncio.sleep(after)
            spoke_at = time.perf_counter() + self.mic.pending_seconds()
            self.mic.say(interruption, sample_rate)
            done, _ = await asyncio.wait({answer}, timeout=self.mic.pending_seconds() + 3.0)
            talked_on = not done
            if talked_on:
                await self.session.interrupt()
            cut = await asyncio.wait_for(answer, 60)
            try:
                reply = await asyncio.wait_for(self._replies.get(), 8)
            except TimeoutError:
                reply = None
        finally:
            self.session.off("user_input_transcribed", on_transcript)
            self.session.off("agent_state_changed", on_state)
        stopped = None if talked_on else next((t for t in stops if t >= spoke_at), None)
        messages = [m for m in self.session.history.items if m.type == "message"]
        marked = any(m.interrupted and m.text_content == cut.reply for m in messages)
        return BargeIn(
            after_seconds=after,
            interrupted=marked and not talked_on,
            stopped_after_ms=None if stopped is None else (stopped - spoke_at) * 1000,
            heard=heard,
            answer=(reply.text_content or "") if reply is not None else "",
        )

    async def wait_until_quiet(self, timeout: float = 30.0) -> None:
        """Wait until the agent has finished playing what it is saying."""
        deadline = time.perf_counter() + timeout
        while self.session.agent_state == "speaking" and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000
