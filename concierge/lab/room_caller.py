"""A caller in a LiveKit room, in Python: what a phone or a browser does, for the lab and the tests.

`RoomCaller` joins a room with `livekit.rtc`, keeps a microphone track open (silence between
utterances, paced in real time like a real microphone), says PCM into it, and records what comes
back from the agent: its audio (with the time of every frame, on this process's clock), its
transcripts on the `lk.transcription` text stream, and its cart through the room protocol of
`concierge.room` (`get_cart` RPC). It can also type on `lk.chat`, LiveKit's text input.

    async with RoomCaller.joined(url, token) as caller:
        await caller.wait_for_agent()
        spoken_end = await caller.say(pcm16, 24000)      # monotonic time of the last voiced frame
        start, end = await caller.next_agent_speech(after=spoken_end)
        print(caller.hear(start, end), await caller.cart())
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit import rtc

from ..room import GET_CART

__all__ = ["AgentSpeech", "RoomCaller", "speech_end"]

#: Mono 16-bit PCM at this rate is what the caller sends and records (the recogniser's rate).
RATE = 16000
FRAME_MS = 10
SAMPLES = RATE * FRAME_MS // 1000
#: A 10 ms frame whose peak is above this is speech (int16; the codec's silence is far below).
VOICED = 500
#: This much quiet after the agent stops speaking ends its answer.
PAUSE_S = 0.5
#: The microphone's send queue (ms).
QUEUE_MS = 40
#: Audio kept before the first voiced frame of an answer (200 ms).
PREROLL_FRAMES = 20


def _peak(pcm16: bytes) -> int:
    return int(np.abs(np.frombuffer(pcm16, dtype=np.int16).astype(np.int32)).max(initial=0))


def speech_end(pcm16: bytes) -> int:
    """The index of the last 10 ms frame of `pcm16` (at `RATE`) whose peak is voiced."""
    samples = np.frombuffer(pcm16, dtype=np.int16)
    frames = len(samples) // SAMPLES
    peaks = np.abs(samples[: frames * SAMPLES].astype(np.int32)).reshape(frames, SAMPLES).max(1)
    voiced = np.flatnonzero(peaks > VOICED)
    return int(voiced[-1]) if len(voiced) else -1


@dataclass(frozen=True)
class AgentSpeech:
    """One stretch of the agent's voice as the caller received it (monotonic seconds)."""

    start: float
    end: float
    pcm16: bytes


class RoomCaller:
    """One participant with a microphone, listening to the agent. Use `joined()` to connect."""

    def __init__(self, frame_ms: int = FRAME_MS, *, dtx: bool = False) -> None:
        #: The microphone's and the speaker's frame (10 ms; a bench running dozens of callers in
        #: one process uses 20 ms, the size of an Opus packet, for half the wake-ups).
        self.frame_ms = frame_ms
        #: Opus discontinuous transmission on the microphone (livekit-client's default for a
        #: browser's microphone): silence goes out as rare comfort-noise packets.
        self.dtx = dtx
        self._samples = RATE * frame_ms // 1000
        self.room = rtc.Room()
        self.transcripts: list[tuple[str, str]] = []  # (participant identity, text)
        self._frames: list[tuple[float, bytes]] = []  # agent audio: (arrival time, pcm16 10 ms)
        # whether each of `_frames` is voiced, judged once on arrival (the answer is polled every
        # 50 ms: judging every frame again per poll cost ~10 ms of CPU per call-second)
        self._voiced: list[bool] = []
        # A short queue, as a microphone has: livekit's default (1 s) would let a late loop's
        # catch-up frames sit in the queue and delay everything said after them.
        self._source = rtc.AudioSource(RATE, 1, queue_size_ms=QUEUE_MS)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._sent: dict[int, float] = {}  # frame number → time it was captured (voiced ends)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._agent_audio = asyncio.Event()

    @classmethod
    @contextlib.asynccontextmanager
    async def joined(
        cls, url: str, token: str, *, frame_ms: int = FRAME_MS, dtx: bool = False
    ) -> AsyncIterator[RoomCaller]:
        """Join the room, publish the microphone; leave when the block ends."""
        caller = cls(frame_ms, dtx=dtx)
        await caller.join(url, token)
        try:
            yield caller
        finally:
            await caller.leave()

    async def join(self, url: str, token: str) -> None:
        self.room.on("track_subscribed", self._on_track)
        self.room.register_text_stream_handler("lk.transcription", self._on_transcript)
        await self.room.connect(url, token)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", self._source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE, dtx=self.dtx)
        await self.room.local_participant.publish_track(track, options)
        self._spawn(self._microphone())

    async def leave(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.room.disconnect()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the microphone ------------------------------------------------------------------------

    async def _microphone(self) -> None:
        """Send one frame every `frame_ms`: queued speech, else silence (a live microphone)."""
        silence = bytes(self._samples * 2)
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        while True:
            chunk = silence if self._queue.empty() else self._queue.get_nowait()
            await self._source.capture_frame(rtc.AudioFrame(chunk, RATE, 1, self._samples))
            self._sent[n] = time.monotonic()
            n += 1
            # Late (a busy machine)? Send the frames that are due at once: `capture_frame` waits
            # while the short queue is full, so nothing is lost and the delay stays ≤ QUEUE_MS.
            await asyncio.sleep(max(0.0, start + n * self.frame_ms / 1000 - loop.time()))

    async def say(self, pcm16: bytes, sample_rate: int) -> float:
        """Speak `pcm16` in real time; returns when it has been sent, with the monotonic time the
        last voiced frame left the microphone (the caller's end of speech)."""
        from ..offline.stt import to_pcm16_mono

        pcm = to_pcm16_mono(rtc.AudioFrame(pcm16, sample_rate, 1, len(pcm16) // 2), RATE)
        size = self._samples * 2
        pcm += bytes(-len(pcm) % size)
        frames = [pcm[i : i + size] for i in range(0, len(pcm), size)]
        last_voiced = speech_end(pcm) * FRAME_MS // self.frame_ms  # in this caller's frames
        first = len(self._sent) + self._queue.qsize()
        for frame in frames:
            self._queue.put_nowait(frame)
        target = first + max(last_voiced, 0)
        while target not in self._sent or not self._queue.empty():
            await asyncio.sleep(FRAME_MS / 1000)
        return self._sent[target]

    async def type(self, text: str) -> None:
        """Type a message on `lk.chat`, LiveKit's text input (the agent answers as if spoken)."""
        await self.room.local_participant.send_text(text, topic="lk.chat")

    # --- what comes back ------------------------------------------------------------------------

    def _on_track(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, who: rtc.RemoteParticipant
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._spawn(self._listen(track))

    async def _listen(self, track: rtc.Track) -> None:
        size = None if self.frame_ms == FRAME_MS else self.frame_ms  # None: as WebRTC gives them
        stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1, frame_size_ms=size)
        self._agent_audio.set()
        async for event in stream:
            self._on_frame(time.monotonic(), bytes(event.frame.data))

    def _on_frame(self, at: float, pcm16: bytes) -> None:
        self._frames.append((at, pcm16))
        self._voiced.append(_peak(pcm16) > VOICED)

    def _on_transcript(self, reader: rtc.TextStreamReader, identity: str) -> None:
        async def read() -> None:
            with contextlib.suppress(Exception):  # a stream cut by a leaving participant
                self.transcripts.append((identity, await reader.read_all()))

        self._spawn(read())

    @property
    def agent(self) -> rtc.RemoteParticipant | None:
        """The agent participant in the room, once it has joined."""
        return next(
            (
                p
                for p in self.room.remote_participants.values()
                if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
            ),
            None,
        )

    async def wait_for_agent(self, timeout: float = 60) -> rtc.RemoteParticipant:
        """Wait until the agent has joined and its audio track reaches this caller."""
        await asyncio.wait_for(self._agent_audio.wait(), timeout)
        agent = self.agent
        assert agent is not None
        return agent

    async def next_agent_speech(self, *, after: float, timeout: float = 30) -> AgentSpeech:
        """The agent's next answer: its voice from the first voiced frame after `after`
        (monotonic) until it has finished speaking (`lk.agent.state` no longer "speaking") and
        its audio has been quiet for `PAUSE_S`. `TimeoutError` if it does not come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            speech = self._speech_after(after)
            if speech is not None:
                return speech
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no (complete) agent speech within {timeout:.0f} s")

    def _speech_after(self, after: float) -> AgentSpeech | None:
        # frames arrive in time order: cut at `after` without scanning the whole call (a bench
        # runs dozens of callers in one process, each polling)
        start = bisect.bisect_right(self._frames, after, key=lambda f: f[0])
        frames, voiced = self._frames[start:], self._voiced[start:]
        if True not in voiced:
            return None
        agent = self.agent
        speaking = agent is not None and agent.attributes.get("lk.agent.state") == "speaking"
        first, last = voiced.index(True), len(voiced) - 1 - voiced[::-1].index(True)
        if speaking or frames[-1][0] - frames[last][0] < PAUSE_S:
            return None
        preroll = max(
            0, first - PREROLL_FRAMES * FRAME_MS // self.frame_ms
        )  # the onset of a word is quieter than `VOICED`
        pcm = b"".join(p for _at, p in frames[preroll : last + 1])
        return AgentSpeech(frames[first][0] - self.frame_ms / 1000, frames[last][0], pcm)

    async def cart(self, timeout: float = 10) -> dict[str, Any]:
        """The cart as the agent serves it to frontends (`get_cart` RPC, `concierge.room`)."""
        agent = self.agent
        if agent is None:
            raise RuntimeError("no agent in the room yet")
        payload = await self.room.local_participant.perform_rpc(
            destination_identity=agent.identity,
            method=GET_CART,
            payload="",
            response_timeout=timeout,
        )
        answer: dict[str, Any] = json.loads(payload)
        return answer
