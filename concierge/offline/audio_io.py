"""Drive an `AgentSession` with audio and no room: speech in from WAV/PCM, agent audio out to a WAV.

livekit's session reads microphone audio from `session.input.audio` and writes speech to
`session.output.audio`; a room normally fills both. `SpeechInput` and `RecordingOutput` fill them
from this process instead, so the whole voice pipeline — Silero VAD, the on-device end-of-turn
model, speech-to-text, the agent, text-to-speech — runs offline, in real time, and can be
measured: `RecordingOutput.segment_first_frames` marks the agent's first audio out of each reply,
and `VoiceRig` times it from when livekit's VAD heard the user stop (see offline/voice.py; the end
of the clip, `SpeechInput.speech_ended_at`, is later, by the silence the clip ends with).

    session.input.audio = mic = SpeechInput()
    session.output.audio = speaker = RecordingOutput()
    await session.start(agent)
    mic.say(pcm16, sample_rate=22050)        # queued behind silence, paced like a microphone
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections import deque
from pathlib import Path

import numpy as np
from livekit import rtc
from livekit.agents.voice import io

from .stt import to_pcm16_mono

INPUT_RATE = 16000
FRAME_MS = 50  # what livekit's RoomIO delivers from a room (RoomOptions audio frame_size_ms=50)


def read_wav(path: str | Path) -> tuple[bytes, int]:
    """16-bit PCM and sample rate of a mono or stereo WAV file (stereo is mixed down)."""
    with wave.open(str(path)) as w:
        frame = rtc.AudioFrame(
            w.readframes(w.getnframes()), w.getframerate(), w.getnchannels(), w.getnframes()
        )
    return to_pcm16_mono(frame, frame.sample_rate), frame.sample_rate


def write_wav(path: str | Path, pcm16: bytes, sample_rate: int) -> Path:
    path = Path(path)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm16)
    return path


class SpeechInput(io.AudioInput):
    """A microphone made of queued utterances and silence, delivered at real-time pace."""

    def __init__(self, *, sample_rate: int = INPUT_RATE) -> None:
        super().__init__(label="concierge-speech-input")
        self.sample_rate = sample_rate
        self._samples_per_frame = sample_rate * FRAME_MS // 1000
        self._queue: deque[tuple[bytes, bool]] = deque()
        self._next_at: float | None = None
        self._closed = False
        self.speech_ended_at: float | None = None
        self.speech_seconds = 0.0

    def say(self, pcm16: bytes, sample_rate: int) -> float:
        """Queue one utterance (any rate; converted to 16 kHz). Returns its length in seconds."""
        pcm = to_pcm16_mono(
            rtc.AudioFrame(pcm16, sample_rate, 1, len(pcm16) // 2), self.sample_rate
        )
        step = self._samples_per_frame * 2
        chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
        for i, chunk in enumerate(chunks):
            padded = chunk.ljust(step, b"\0")
            self._queue.append((padded, i == len(chunks) - 1))
        seconds = len(pcm) / 2 / self.sample_rate
        self.speech_seconds += seconds
        return seconds

    def pending_seconds(self) -> float:
        return len(self._queue) * FRAME_MS / 1000

    def close(self) -> None:
        self._closed = True

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        now = time.perf_counter()
        self._next_at = max(self._next_at or now, now - 0.1)
        delay = self._next_at - now
        if delay > 0:
            await asyncio.sleep(delay)
        self._next_at += FRAME_MS / 1000
        if self._queue:
            data, last = self._queue.popleft()
            if last:
                self.speech_ended_at = time.perf_counter()
        else:
            data = b"\0\0" * self._samples_per_frame
        return rtc.AudioFrame(data, self.sample_rate, 1, self._samples_per_frame)


class RecordingOutput(io.AudioOutput):
    """A speaker that records what the agent says and plays it out in (simulated) real time."""

    def __init__(
        self,
        *,
        sample_rate: int | None = None,
        playback_speed: float = 1.0,
        max_frames: int | None = None,
    ) -> None:
        """`playback_speed` > 1 plays the recording out faster than real time (a 10 s reply
        "finishes" in 10 / speed s), which keeps tests and notebooks short; timings of when audio
        *starts* are unaffected. `max_frames` keeps only the latest frames (a long-running
        session's speaker must not hold everything it ever said)."""
        self.playback_speed = playback_speed
        super().__init__(
            label="concierge-recording-output",
            capabilities=io.AudioOutputCapabilities(pause=False),
            sample_rate=sample_rate,
        )
        self.frames: deque[rtc.AudioFrame] = deque(maxlen=max_frames)
        self.first_frame_at: float | None = None
        self.segment_first_frames: list[float] = []
        self.interruptions = 0
        self._segment_seconds = 0.0
        self._segment_started: float | None = None
        self._playout: asyncio.TimerHandle | None = None

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        now = time.perf_counter()
        if self._segment_started is None:
            self._segment_started = now
            self.segment_first_frames.append(now)
            self.on_playback_started(created_at=time.time())
        if self.first_frame_at is None:
            self.first_frame_at = now
        self.frames.append(frame)
        self._segment_seconds += frame.samples_per_channel / frame.sample_rate

    def flush(self) -> None:
        super().flush()
        if self._segment_started is None:
            return
        ends_at = self._segment_started + self._segment_seconds / self.playback_speed
        remaining = max(0.0, ends_at - time.perf_counter())
        seconds = self._segment_seconds
        self._playout = asyncio.get_running_loop().call_later(
            remaining, self._finish, seconds, False
        )

    def clear_buffer(self) -> None:
        if self._segment_started is None:
            return
        played = min(
            self._segment_seconds,
            (time.perf_counter() - self._segment_started) * self.playback_speed,
        )
        if self._playout is not None:
            self._playout.cancel()
        self.interruptions += 1
        self._finish(played, True)

    def _finish(self, position: float, interrupted: bool) -> None:
        self._segment_started, self._segment_seconds, self._playout = None, 0.0, None
        self.on_playback_finished(playback_position=position, interrupted=interrupted)

    def pcm16(self) -> tuple[bytes, int]:
        """Everything the agent said, as one mono PCM buffer and its sample rate."""
        if not self.frames:
            return b"", 24000
        rate = self.frames[0].sample_rate
        return b"".join(bytes(f.data) for f in self.frames), rate

    def save(self, path: str | Path) -> Path:
        pcm, rate = self.pcm16()
        return write_wav(path, pcm, rate)


def silence(seconds: float, sample_rate: int = INPUT_RATE) -> bytes:
    return np.zeros(int(seconds * sample_rate), dtype=np.int16).tobytes()
