"""The live panel's voice: the browser's microphone into the session, the agent's voice back out.

    browser mic ─(100 ms int16 chunks)→ MicWidget ─→ BrowserMicInput (livekit AudioInput)
        → Silero VAD · end-of-turn model · menu-grammar STT · agent + tools · hibari TTS
        → BrowserSpeaker (livekit AudioOutput) ─(PCM)→ MicWidget → browser speaker

`MicWidget` is an anywidget (`voice.js`, `voice.css` ship in this package): one button starts
and stops the microphone, a meter shows its level, and it says plainly when the browser refuses the
microphone or has none. Audio travels on a WebSocket from the page to this loop
(`.audio_socket`, which says why) or, where the page cannot reach it, as comm messages with binary
buffers; no LiveKit server and no network are involved either way.

**Which thread.** Socket frames arrive on the session's loop. JupyterLab 4.6 sends widget
messages to a kernel *subshell* (ipykernel 7), so they are handled on that subshell's thread, even
while a cell runs — not on the notebook's event loop, where the session lives. An asyncio queue filled from another thread does not wake its loop:
the VAD then read the microphone in late bursts, livekit's wall-clock speech boundaries came out
of order, and it dropped the turn's end-of-speech time. So everything the browser sends is handed
to the session's loop with `call_soon_threadsafe` (`in_loop`).

Barge-in: when the user speaks over the agent, livekit clears the session's audio output;
`BrowserSpeaker.clear_buffer` tells the browser to stop what it scheduled, as a phone call would.

Without a browser (nbval, tests) the same path runs from Python: `MicWidget.receive_audio` is what
the browser's messages call, so feeding it recorded audio drives the session exactly as a
microphone does.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets
from livekit import rtc
from livekit.agents.voice import io

from ..offline.audio_io import RecordingOutput
from ..offline.stt import to_pcm16_mono
from .audio_socket import AudioChannel, AudioSocketServer, direct_transport_enabled, page_origin

log = logging.getLogger(__name__)

MIC_RATE = 16000
FRAME_MS = 20
CHUNK_MS = 100
#: How far ahead of the wall clock the page's microphone audio may run (the backlog a page sends
#: after the kernel was busy); more than that is no microphone, and would only pile up unheard.
MIC_BURST_S = 30.0
#: Microphone frames waiting for the session: the burst above, and a little more.
MIC_QUEUE_FRAMES = int(MIC_BURST_S * 1000 / FRAME_MS) + 100
#: The longest microphone error the page may report (the browser's sentences are far shorter).
MAX_ERROR_CHARS = 300
#: Chunks whose capture → kernel delay the panel's median is taken over.
DELAY_WINDOW = 50
#: Agent audio frames the speaker keeps for inspection (the latest); the page played the rest.
SPEAKER_FRAMES = 1000
_HERE = Path(__file__).parent


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _number(value: Any) -> float:
    """A finite number from the page; ValueError for anything else. JSON parsed here accepts
    NaN, Infinity and 400-digit integers, which no page means and no timing can use."""
    try:
        number = float(value)
    except OverflowError as e:
        raise ValueError(f"{value!r} is out of range") from e
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def in_loop(loop: asyncio.AbstractEventLoop | None, fn: Callable[..., None], *args: Any) -> None:
    """Run `fn(*args)` on `loop`'s thread: at once when called there (or without a loop), else
    through `call_soon_threadsafe`, which wakes the loop; calls keep their order either way."""
    if loop is None or loop.is_closed() or _running_loop() is loop:
        fn(*args)
    else:
        loop.call_soon_threadsafe(fn, *args)


class MicWidget(anywidget.AnyWidget):
    """Microphone button, level meter and speaker, in the browser; counters synced back."""

    _esm = _HERE / "voice.js"
    _css = _HERE / "voice.css"
    # the browser is capturing / why it could not (plain words): set from the page's "mic" message
    active = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    received_samples = traitlets.Int(0).tag(sync=True)  # agent audio the browser got
    played_samples = traitlets.Int(0).tag(sync=True)  # ... and really played
    playing = traitlets.Bool(False).tag(sync=True)
    stops = traitlets.Int(0).tag(sync=True)  # barge-ins the browser carried out
    cut_samples = traitlets.Int(0).tag(sync=True)  # agent audio it had and then did not play
    mic_delay_ms = traitlets.Float(0.0).tag(sync=True)  # browser capture → kernel, recent median
    # the kernel offers a direct socket (see .audio_socket): the page asks for a ticket by comm.
    # No secret is a trait: traits are saved with the notebook's widget state.
    direct = traitlets.Bool(False).tag(sync=True)
    transport = traitlets.Unicode("comm").tag(sync=True)  # the page says "direct" once connected
    enabled = traitlets.Bool(True).tag(sync=True)  # False once its session stopped: Talk is off

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loop = _running_loop()  # the session's: browser messages are handled there
        self.channel: AudioChannel | None = None
        self.on_audio: Callable[[bytes, float | None], None] | None = None
        # segment, when the page starts playing it (s), kernel → page message (ms), output latency (ms)
        self.on_started: Callable[[int, float, float | None, float], None] | None = None
        self.stop_requests = 0  # "stop" messages sent to the browser (barge-ins)
        self.bad_messages = 0  # from the page, dropped because they did not parse
        self.on_msg(self._on_browser_msg)

    def in_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """`fn(*args)` on the session's loop: now if this is its thread, else as soon as it can."""
        in_loop(self.loop, fn, *args)

    async def open_direct(self) -> str | None:
        """Offer the page a direct socket to this loop (unless `CONCIERGE_VOICE_TRANSPORT=comm`).
        Returns a sentence for the panel when the setting is not one it knows (the default is used)."""
        note = None
        try:
            wanted = direct_transport_enabled()
        except ValueError as e:
            wanted, note = True, f"{e}. Using 'auto'."
        if self.channel is None and wanted:
            try:
                self.channel = await AudioSocketServer.open_channel(
                    lambda header, payload: self._on_page_msg(header, [payload])
                )
            except OSError as e:  # no loopback to listen on: widget messages still carry it all
                log.warning("the live panel's audio socket could not start (%s); using comm", e)
                return note
            self.direct = True
        return note

    async def close_direct(self) -> None:
        if self.channel is not None:
            channel, self.channel = self.channel, None
            self.direct = False
            await channel.close()

    def _grant(self, origin: Any, ask: Any) -> None:
        """Answer a view's request for the socket (a comm message, so from a Jupyter page): a
        one-off message with a ticket bound to the view's origin, or without one (use comm)."""
        answer: dict[str, Any] = {"type": "socket", "ask": str(ask)[:64]}
        bound = page_origin(origin)
        if self.channel is not None and bound is not None:
            answer |= {"url": self.channel.ticket(bound), "proof": self.channel.proof}
        self.send(answer)

    def _to_page(self, content: dict[str, Any], payload: bytes | None = None) -> None:
        """To the page: through the direct socket when the page holds one, else as a comm message."""
        if self.channel is not None and self.channel.connected:
            self.channel.send(content, payload or b"")
        else:
            self.send(content, buffers=None if payload is None else [payload])

    def _on_browser_msg(self, _widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        """A comm message: on a subshell's thread (see the module docstring). Only this channel,
        which Jupyter authenticates, hands out socket tickets."""
        if content.get("type") == "connect":
            self.in_loop(self._grant, content.get("origin"), content.get("ask"))
        else:
            self._on_page_msg(content, buffers)

    def _on_page_msg(self, content: dict[str, Any], buffers: list[Any]) -> None:
        """What both transports carry from the page: microphone audio and playback reports."""
        kind = content.get("type")
        try:
            if kind == "audio" and buffers:
                t = content.get("t")
                sent_at = _number(t) / 1000 if t is not None else None
                pcm16 = bytes(buffers[0])
                if len(pcm16) % 2 or not pcm16:  # half a sample would shift every later one,
                    self.bad_messages += 1  # and a page never sends an empty chunk
                    pcm16 = pcm16[: len(pcm16) - len(pcm16) % 2]
                    if not pcm16:
                        return
                self.in_loop(self.receive_audio, pcm16, sent_at)
            elif kind == "mic":
                active, error = content["active"], content.get("error", "")
                if not isinstance(active, bool) or not isinstance(error, str):
                    raise ValueError("a microphone report is a bool and a sentence")
                self.in_loop(self._set_mic, active, error[:MAX_ERROR_CHARS])
            elif kind == "started" and self.on_started is not None:
                transit = content.get("transit")
                transit = _number(transit) if transit is not None else None
                latency = _number(content.get("latency") or 0.0)
                seg, at = int(_number(content["seg"])), _number(content["at"]) / 1000
                self.in_loop(self.on_started, seg, at, transit, latency)
        except (KeyError, TypeError, ValueError):  # a malformed message: dropped, the call goes on
            self.bad_messages += 1

    def _set_mic(self, active: bool, error: str) -> None:
        """What the page reported of its microphone (a message, not a trait update: see
        voice.js), set here so the kernel's observers, the panel's status among them, see both
        values at once."""
        with self.hold_trait_notifications():
            self.active, self.error = active, error

    def receive_audio(self, pcm16: bytes, sent_at: float | None = None) -> None:
        """16 kHz mono int16 from the microphone (the browser's messages land here)."""
        if self.on_audio is not None:
            self.on_audio(pcm16, sent_at)

    def play(self, pcm16: bytes, sample_rate: int, segment: int) -> None:
        sent = time.time() * 1000  # the page reports how long the message took
        self._to_page({"type": "play", "sr": sample_rate, "seg": segment, "t": sent}, pcm16)

    def stop_playback(self) -> None:
        self.stop_requests += 1
        self._to_page({"type": "stop"})


class BrowserMicInput(io.AudioInput):
    """A livekit audio input fed with the browser's microphone chunks, 20 ms frames at 16 kHz.

    Bounded whatever a page sends: frames wait in a queue of `MIC_QUEUE_FRAMES` at most (the
    session reads them in real time; past that they are dropped and counted), and the transport
    delays shown in the panel are a window of the last `DELAY_WINDOW` chunks."""

    def __init__(self) -> None:
        super().__init__(label="concierge-browser-mic")
        self._frames: asyncio.Queue[rtc.AudioFrame | None] = asyncio.Queue(MIC_QUEUE_FRAMES)
        self._step = MIC_RATE * FRAME_MS // 1000 * 2
        self._rest = b""
        self.transport_delays: deque[float] = deque(maxlen=DELAY_WINDOW)  # capture → kernel, s
        self.chunks = 0  # chunks pushed, all told
        self.dropped_frames = 0  # frames the session had not read when the queue was full

    def push(self, pcm16: bytes, sent_at: float | None = None) -> None:
        self.chunks += 1
        if sent_at is not None:
            self.transport_delays.append(time.time() - sent_at)
        data = self._rest + pcm16
        cut = len(data) - len(data) % self._step
        self._rest = data[cut:]
        for i in range(0, cut, self._step):
            frame = rtc.AudioFrame(data[i : i + self._step], MIC_RATE, 1, self._step // 2)
            try:
                self._frames.put_nowait(frame)
            except asyncio.QueueFull:
                self.dropped_frames += 1

    def close(self) -> None:
        if self._frames.full():  # the end must get through: it replaces the oldest frame
            self._frames.get_nowait()
            self.dropped_frames += 1
        self._frames.put_nowait(None)

    async def __anext__(self) -> rtc.AudioFrame:
        frame = await self._frames.get()
        if frame is None:
            raise StopAsyncIteration
        return frame


class BrowserSpeaker(RecordingOutput):
    """The session's audio output, streamed to the browser as it is produced.

    Playout is timed in the kernel (real time, as `RecordingOutput` does), so the session behaves
    the same with or without a browser attached; the browser's own counters say what it played.
    """

    def __init__(self, widget: MicWidget) -> None:
        super().__init__(max_frames=SPEAKER_FRAMES)
        self.widget = widget
        self.segments = 0
        self.browser_started_at: dict[int, float] = {}  # segment → wall clock it started playing
        self.kernel_started_at: dict[int, float] = {}  # segment → wall clock of its first frame
        # segment → (its first audio's kernel → page message, the page's output latency), ms
        self.browser_delays: dict[int, tuple[float | None, float]] = {}
        self._pending: list[bytes] = []
        self._pending_samples = 0
        self._rate = 24000
        widget.on_started = self._on_browser_started

    def _on_browser_started(
        self, segment: int, at: float, transit_ms: float | None, latency_ms: float
    ) -> None:
        if not 1 <= segment <= self.segments or segment in self.browser_started_at:
            return  # a segment never sent, or reported already: a page makes one report per segment
        self.browser_started_at[segment] = at
        self.browser_delays[segment] = (transit_ms, latency_ms)

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        starting = self._segment_started is None
        await super().capture_frame(frame)
        if starting:
            self.segments += 1
            self.kernel_started_at[self.segments] = time.time()
        self._rate = frame.sample_rate
        self._pending.append(bytes(frame.data))
        self._pending_samples += frame.samples_per_channel
        if starting or self._pending_samples >= frame.sample_rate // 4:
            self._send()

    def _send(self) -> None:
        if self._pending:
            self.widget.play(b"".join(self._pending), self._rate, self.segments)
        self._pending, self._pending_samples = [], 0

    def flush(self) -> None:
        self._send()
        super().flush()

    def clear_buffer(self) -> None:
        self._pending, self._pending_samples = [], 0
        if self._segment_started is not None:
            self.widget.stop_playback()  # barge-in: the browser stops what it scheduled
        super().clear_buffer()


class BrowserVoice:
    """The widget, the microphone input and the speaker output of one live panel."""

    def __init__(self, session_audio_output: Callable[[bool], None] | None = None) -> None:
        self.widget = MicWidget()
        self.mic = BrowserMicInput()
        self.speaker = BrowserSpeaker(self.widget)
        self.widget.on_audio = self._on_audio
        self.widget.observe(lambda ch: self.widget.in_loop(self._on_active, ch), names="active")
        self._enable_output = session_audio_output
        self._mic_credit, self._mic_clock = MIC_BURST_S, time.monotonic()
        self.dropped_mic_seconds = 0.0  # audio that came faster than anyone can speak it
        self.dropped_mic_chunks = 0  # the chunks that audio came in
        self._delay_shown_at = -1.0  # when mic_delay_ms was last synced (each sync is a message)

    def bind(self, enable_output: Callable[[bool], None]) -> None:
        """`enable_output(True)` switches the session's audio output on (off while only typing)."""
        self._enable_output = enable_output

    def _spoken_in_time(self, pcm16: bytes) -> bool:
        """False for audio beyond `MIC_BURST_S` ahead of real time: a client flooding the socket
        would otherwise grow the session's queues (and its backlog of turns) without bound."""
        now = time.monotonic()
        self._mic_credit = min(MIC_BURST_S, self._mic_credit + now - self._mic_clock)
        self._mic_clock = now
        seconds = len(pcm16) / 2 / MIC_RATE
        if seconds > self._mic_credit:
            self.dropped_mic_seconds += seconds
            self.dropped_mic_chunks += 1
            return False
        self._mic_credit -= seconds
        return True

    def _on_audio(self, pcm16: bytes, sent_at: float | None) -> None:
        if not self._spoken_in_time(pcm16):
            return
        self.voice_on()
        self.mic.push(pcm16, sent_at)
        now = time.monotonic()
        if sent_at is not None and now - self._delay_shown_at >= 1.0:  # however small the chunks
            self._delay_shown_at = now
            self.widget.mic_delay_ms = statistics.median(self.mic.transport_delays) * 1000

    def _on_active(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.voice_on()
        else:  # the mic stopped: a second of silence lets VAD close a sentence cut short
            self.mic.push(bytes(MIC_RATE * 2))

    def voice_on(self) -> None:
        if self._enable_output is not None:
            self._enable_output(True)

    async def feed(self, pcm16: bytes, sample_rate: int, *, trailing_silence: float = 1.2) -> None:
        """Feed recorded audio through the widget's Python side, paced like a microphone
        (100 ms chunks, real time), then silence. The kernel stays free while it plays.

        As from the browser, a chunk is sent once its last sample is "captured" (100 ms after its
        first), stamped with that time, so both paths time the end of speech alike."""
        pcm = to_pcm16_mono(rtc.AudioFrame(pcm16, sample_rate, 1, len(pcm16) // 2), MIC_RATE)
        pcm += bytes(int(trailing_silence * MIC_RATE) * 2)
        step = MIC_RATE * CHUNK_MS // 1000 * 2
        started = time.perf_counter()
        for n, i in enumerate(range(0, len(pcm), step)):
            await asyncio.sleep(max(0.0, started + (n + 1) * CHUNK_MS / 1000 - time.perf_counter()))
            self.widget.receive_audio(pcm[i : i + step].ljust(step, b"\0"), time.time())

    async def aclose(self) -> None:
        """End the microphone stream, switch the page's button off and close its direct socket."""
        self.widget.enabled = False
        self.mic.close()
        await self.widget.close_direct()
