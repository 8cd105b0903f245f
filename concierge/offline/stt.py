"""Offline speech-to-text: pocketsphinx with a grammar generated from the menu.

Open-vocabulary recognisers that fit in a wheel are poor at this job (pocketsphinx's general
model gets 12–68 % of words right on ordering sentences, measured on these machines). A
restaurant concierge does not need open vocabulary: people say item names, sizes, numbers and a
few commands. `menu_grammar()` writes exactly that as a JSGF grammar, and the recogniser can only
hear sentences the grammar allows — the speech-side twin of enum-constrained tool ids.

`offline_stt(catalog)` returns a livekit `stt.STT` (non-streaming: one utterance at a time; the
session wraps it with a VAD-driven `stt.StreamAdapter`). Menu words missing from pocketsphinx's
dictionary get hand-written pronunciations below (ARPAbet, as in CMUdict).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable

import numpy as np
from livekit import rtc
from livekit.agents import APIConnectOptions, stt
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, NotGivenOr
from livekit.agents.utils import AudioBuffer, shortuuid

from ..menu import Catalog, words

SAMPLE_RATE = 16000

#: Pronunciations for menu words CMUdict lacks.
EXTRA_PRONUNCIATIONS = {
    "whats": "W AH T S", "acai": "AA S AY IY", "arrabbiata": "AA R AA B IY AA T AH", "asada": "AH S AA D AH",
    "churro": "CH UH R OW", "churros": "CH UH R OW Z", "edamame": "EH D AH M AA M EY",
    "horchata": "AO R CH AA T AH", "horchatas": "AO R CH AA T AH Z", "kombucha": "K AA M B UW CH AH",
    "kombuchas": "K AA M B UW CH AH Z", "luigis": "L UW IY JH IY Z", "margherita": "M AA R G AH R IY T AH",
    "margheritas": "M AA R G AH R IY T AH Z", "miso": "M IY S OW", "nigiri": "N IH G IH R IY",
    "penne": "P EH N EY", "taqueria": "T AA K EH R IY AH", "tempura": "T EH M P UH R AH",
    "trattoria": "T R AA T AO R IY AH",
}  # fmt: skip
QUANTITIES = ["a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
              "eleven", "twelve", "a couple of"]  # fmt: skip
# No apostrophes: pocketsphinx's JSGF reader does not take them inside a rule.
COMMANDS = [
    "checkout", "check out", "that is all", "what is in my cart", "whats in my cart",
    "yes", "no", "thank you", "hello",
]  # fmt: skip


def _dictionary_path() -> str:
    import pocketsphinx

    return os.path.join(
        os.path.dirname(pocketsphinx.__file__), "model", "en-us", "cmudict-en-us.dict"
    )


def _plural(phrase: str) -> str:
    head, _, last = phrase.rpartition(" ")
    plural = last + ("es" if last.endswith(("s", "ch", "sh")) else "s")
    return f"{head} {plural}".strip()


def menu_phrases(catalog: Catalog) -> list[str]:
    """Every item name as people say it (lower case, singular and plural)."""
    names = {" ".join(words(item.name)) for item in catalog.items.values()}
    return sorted(names | {_plural(n) for n in names if not n.endswith("s")})


def menu_grammar(catalog: Catalog, known_words: Iterable[str] | None = None) -> str:
    """A JSGF grammar of orders, removals, menu questions and commands for this catalog."""
    known = set(known_words) if known_words is not None else None

    def sayable(phrase: str) -> bool:
        return known is None or all(w in known or w in EXTRA_PRONUNCIATIONS for w in phrase.split())

    items = [p for p in menu_phrases(catalog) if sayable(p)]
    restaurants = sorted(
        {" ".join(words(r.name)) for r in catalog.restaurants.values()}
        | {" ".join(words(a)) for r in catalog.restaurants.values() for a in r.aliases}
    )
    restaurants = [r for r in restaurants if sayable(r)]
    alt = " | ".join
    return (
        "#JSGF V1.0;\ngrammar concierge;\n"
        "public <utterance> = [<polite>] (<order> | <removal> | <question> | <command>) [please];\n"
        "<polite> = i would like | i want | can i have | can i get | i will have | and | actually;\n"
        "<order> = <line> (and <line>)*;\n"
        f"<line> = [<quantity>] [<size>] <item> [from <restaurant>];\n"
        f"<quantity> = {alt(QUANTITIES)};\n"
        "<size> = small | medium | large;\n"
        f"<item> = {alt(items)};\n"
        f"<restaurant> = {alt(restaurants)};\n"
        "<removal> = (remove | no) [the] [<size>] <item>;\n"
        "<question> = (anything | whats) (vegan | vegetarian | gluten free) [at <restaurant>] | "
        "(whats on the menu at | menu at) <restaurant>;\n"
        f"<command> = {alt(COMMANDS)};\n"
    )


class GrammarSTT(stt.STT):
    """pocketsphinx constrained by a JSGF grammar, as a livekit `stt.STT` (one utterance per call)."""

    def __init__(self, grammar: str) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        from pocketsphinx import Config, Decoder

        config = Config(samprate=SAMPLE_RATE, loglevel="FATAL", lm=None)
        self._decoder = Decoder(config)
        known = self._known_words()
        for word, phones in EXTRA_PRONUNCIATIONS.items():
            if word not in known:
                self._decoder.add_word(word, phones, True)
        self._decoder.add_jsgf_string("concierge", grammar)
        self._decoder.activate_search("concierge")
        self._lock = asyncio.Lock()

    @staticmethod
    def _known_words() -> set[str]:
        with open(_dictionary_path(), encoding="utf-8") as f:
            return {line.split(" ", 1)[0] for line in f}

    @property
    def model(self) -> str:
        return "pocketsphinx-menu-grammar"

    @property
    def provider(self) -> str:
        return "concierge (offline)"

    def transcribe(self, pcm16: bytes) -> str:
        """Recognise one utterance of 16 kHz mono 16-bit PCM."""
        self._decoder.start_utt()
        self._decoder.process_raw(pcm16, full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = rtc.combine_audio_frames(buffer) if isinstance(buffer, list) else buffer
        pcm = to_pcm16_mono(frame, SAMPLE_RATE)
        async with self._lock:  # one decoder: one utterance at a time
            text = await asyncio.to_thread(self.transcribe, pcm)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=shortuuid("stt_"),
            alternatives=[
                stt.SpeechData(
                    language=LanguageCode("en"), text=text, confidence=1.0 if text else 0.0
                )
            ],
        )


def to_pcm16_mono(frame: rtc.AudioFrame, rate: int) -> bytes:
    """Any livekit frame → mono 16-bit PCM at `rate`.

    Resampled in the frequency domain (FFT, cut above the new Nyquist): plain linear
    interpolation aliases high frequencies into the speech band, and the recogniser then missed
    words it otherwise gets ("checkout"), measured on espeak-ng audio.
    """
    samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float64)
    if frame.num_channels > 1:
        samples = samples.reshape(-1, frame.num_channels).mean(axis=1)
    if frame.sample_rate != rate and len(samples):
        n = int(round(len(samples) * rate / frame.sample_rate))
        spectrum = np.fft.rfft(samples)
        kept = np.zeros(n // 2 + 1, dtype=complex)
        k = min(len(kept), len(spectrum))
        kept[:k] = spectrum[:k]
        samples = np.fft.irfft(kept, n) * (n / len(samples))
    return np.clip(samples, -32768, 32767).astype(np.int16).tobytes()


def offline_stt(catalog: Catalog) -> GrammarSTT:
    """The offline speech-to-text engine for this menu."""
    return GrammarSTT(menu_grammar(catalog, GrammarSTT._known_words()))
