"""Offline text-to-speech: hibari, a 7.9 MB Kokoro-distilled voice that ships inside its wheel.

`offline_tts()` returns a livekit `tts.TTS` (non-streaming: one sentence in, 24 kHz audio out;
the session wraps it with a sentence-splitting `tts.StreamAdapter`). Only the built-in voice
"heart" is used: the package's other voices download from a model hub on first use, which this
lab never does. Measured here: ~0.1 real-time factor on one core after the first call.

The engine (1.3 s and ~80 MB to load) is loaded once per process and shared: `HibariTTS` is a thin
per-session wrapper around it. Synthesis runs on a thread (onnxruntime releases the GIL), one
sentence at a time per process, under a thread lock — livekit's thread executor runs each job on
its own thread and event loop, so an `asyncio.Lock` could not guard it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
from livekit.agents import APIConnectOptions, tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS
from livekit.agents.utils import shortuuid

SAMPLE_RATE = 24000


class HibariTTS(tts.TTS):
    """hibari's built-in voice as a livekit TTS plugin."""

    def __init__(self, engine: Any = None) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        self._engine = engine if engine is not None else hibari_engine()

    @property
    def model(self) -> str:
        return "hibari-heart"

    @property
    def provider(self) -> str:
        return "concierge (offline)"

    def pcm16(self, text: str) -> bytes:
        """Synthesize `text` to 24 kHz mono 16-bit PCM."""
        with _synthesis_lock:
            audio = np.asarray(self._engine(text), dtype=np.float32)
        return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16).tobytes()

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> HibariStream:
        return HibariStream(tts=self, input_text=text, conn_options=conn_options)


class HibariStream(tts.ChunkedStream):
    """One synthesis: the whole sentence at once (hibari is ~100x faster than real time)."""

    def __init__(self, *, tts: HibariTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._hibari = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=shortuuid("tts_"),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
            mime_type="audio/pcm",
        )
        pcm = await asyncio.to_thread(self._hibari.pcm16, self.input_text)
        output_emitter.push(pcm)
        output_emitter.flush()


_engine: Any = None
_engine_lock = threading.Lock()
_synthesis_lock = threading.Lock()


def load_engine() -> Any:
    """A new hibari engine, warmed up (not shared: see `hibari_engine`)."""
    from hibari import Hibari

    engine = Hibari(threads=1)  # the voice in the wheel; no download
    engine("ready")  # the first synthesis is slow: pay it here, not in a caller's turn
    return engine


def hibari_engine() -> Any:
    """This process's hibari engine, loaded on first use (`prewarm` does it)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = load_engine()
    return _engine


def offline_tts() -> HibariTTS:
    """The offline text-to-speech engine (the model is shared within the process)."""
    return HibariTTS()
