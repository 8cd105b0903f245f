"""Offline speech-to-text: pocketsphinx with a grammar generated from the menu.

Open-vocabulary recognisers that fit in a wheel are poor at this job (pocketsphinx's general
model gets 12–68 % of words right on ordering sentences, measured on these machines). A
restaurant concierge does not need open vocabulary: people say item names, sizes, numbers and a
few commands. `menu_grammar()` writes exactly that as a JSGF grammar, and the recogniser can only
hear sentences the grammar allows — the speech-side twin of enum-constrained tool ids.

`offline_stt(catalog)` returns a streaming livekit `stt.STT`: the session feeds it audio as it
comes, pocketsphinx decodes it in small increments (it holds the GIL while decoding, so no
increment may stall the other sessions on the worker for long), and the session's own VAD ends
each utterance with a flush — one VAD per call, no `StreamAdapter`. The model (`MenuRecognizer`) is
loaded once per process and shared. Menu words missing from pocketsphinx's dictionary get
hand-written pronunciations below (ARPAbet, as in CMUdict).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import APIConnectOptions, stt
from livekit.agents.language import LanguageCode
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.utils import AudioBuffer, shortuuid

from ..menu import Catalog, words
from .recognition_pool import PooledUtterance, RecognitionError, RecognitionPool, new_decoder

SAMPLE_RATE = 16000

logger = logging.getLogger("concierge")

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


#: Decode in increments this long. pocketsphinx holds the GIL while it decodes, so this bounds
#: how long any other session on the worker waits (~8–20 ms of CPU per increment here).
CHUNK_MS = 80
#: Peak amplitude (of 32767) from which audio is worth decoding (about -44 dBFS). Below it, between
#: utterances, nothing is decoded: pocketsphinx costs as much on silence as on speech. It only
#: decides where decoding *starts*; where an utterance ends is the session's VAD's call (a flush).
START_LEVEL = 200
PRE_ROLL_MS = 200
#: An utterance the session never flushes (noise its VAD did not take for speech) is dropped.
MAX_UTTERANCE_S = 20.0


class MenuRecognizer:
    """The pocketsphinx model for one menu: loaded once per process, shared by every session.

    It holds the grammar and a pronunciation dictionary of only the grammar's words (pocketsphinx's
    whole 130k-word dictionary cost 0.5 s and 33 MB per decoder here; the menu's ~170 words cost
    0.05 s and ~3 MB). A decoder holds one utterance at a time, so a session borrows one for the
    length of an utterance and gives it back: the pool grows to the number of utterances being
    decoded at once, not the number of sessions. Thread-safe, because livekit's thread executor
    runs each job on a thread of its own.
    """

    def __init__(self, grammar: str) -> None:
        self.grammar = grammar
        self._dir = tempfile.TemporaryDirectory(prefix="concierge-stt-")
        self.dictionary = os.path.join(self._dir.name, "menu.dict")
        with open(self.dictionary, "w", encoding="utf-8") as f:
            f.writelines(_dictionary_lines(grammar_words(grammar)))
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self.decoders_made = 0

    def _new_decoder(self) -> Any:
        decoder = new_decoder(self.dictionary, self.grammar, SAMPLE_RATE)
        with self._lock:
            self.decoders_made += 1
        return decoder

    def warm(self, decoders: int) -> MenuRecognizer:
        """Make `decoders` ahead of time (each takes ~0.05 s of CPU that would stall a session)."""
        with self._lock:
            missing = max(0, decoders - len(self._idle))
        made = [self._new_decoder() for _ in range(missing)]
        with self._lock:
            self._idle.extend(made)
        return self

    def borrow(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._new_decoder()

    def give_back(self, decoder: Any) -> None:
        with self._lock:
            self._idle.append(decoder)

    def utterance(self) -> _Utterance:
        """A new utterance decoded here, on a borrowed decoder (see `RecognitionPool` for the
        same off this process)."""
        return _Utterance(self)

    def pool(self, processes: int) -> RecognitionPool:
        """A started pool of `processes` recognition processes for this grammar."""
        pool = RecognitionPool(self.grammar, self.dictionary, SAMPLE_RATE, processes, owner=self)
        return pool.start()

    def transcribe(self, pcm16: bytes) -> str:
        """Recognise one whole utterance of 16 kHz mono 16-bit PCM (blocking)."""
        decoder = self.borrow()
        try:
            decoder.start_utt()
            decoder.process_raw(pcm16, full_utt=True)
            decoder.end_utt()
            hyp = decoder.hyp()
            return hyp.hypstr if hyp is not None else ""
        finally:
            self.give_back(decoder)


def grammar_words(grammar: str) -> set[str]:
    """The words a JSGF grammar can produce (its rule names and keywords excluded)."""
    body = grammar.split("grammar concierge;", 1)[-1]
    body = re.sub(r"<[^>]*>", " ", body)
    return set(re.findall(r"[a-z]+", body)) - {"public"}


def _dictionary_lines(vocabulary: set[str]) -> list[str]:
    lines = []
    with open(_dictionary_path(), encoding="utf-8") as f:
        for line in f:
            if line.split(" ", 1)[0].split("(", 1)[0] in vocabulary:
                lines.append(line)
    listed = {line.split(" ", 1)[0] for line in lines}
    for word, phones in EXTRA_PRONUNCIATIONS.items():
        if word in vocabulary and word not in listed:
            lines.append(f"{word} {phones}\n")
    return lines


class GrammarSTT(stt.STT):
    """The menu recogniser as a livekit `stt.STT`: streaming, flushed by the session.

    One per session, cheap: the model is the process's shared `MenuRecognizer`. It streams
    (`streaming=True`), so the session feeds it its audio as it comes and no `StreamAdapter` runs a
    second VAD beside the session's; `manual_flush=True` tells the session to flush the stream when
    its own VAD and turn detector say the user stopped, which ends the utterance.
    """

    def __init__(self, recognizer: MenuRecognizer | RecognitionPool) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True, interim_results=False, manual_flush=True
            )
        )
        self.recognizer = recognizer

    @property
    def model(self) -> str:
        return "pocketsphinx-menu-grammar"

    @property
    def provider(self) -> str:
        return "concierge (offline)"

    def transcribe(self, pcm16: bytes) -> str:
        """Recognise one utterance of 16 kHz mono 16-bit PCM."""
        return self.recognizer.transcribe(pcm16)

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> GrammarStream:
        return GrammarStream(stt=self, conn_options=conn_options)

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = rtc.combine_audio_frames(buffer) if isinstance(buffer, list) else buffer
        utterance = self.recognizer.utterance()
        pcm = to_pcm16_mono(frame, SAMPLE_RATE)
        step = SAMPLE_RATE * 2 * CHUNK_MS // 1000
        try:
            for i in range(0, len(pcm), step):
                utterance.decode(pcm[i : i + step])
                await asyncio.sleep(0)  # let the other sessions run between increments
            text = await utterance.result()
        finally:
            utterance.close()
        return _final(text, len(pcm) / 2 / SAMPLE_RATE)[0]


class _Utterance:
    """One utterance on a borrowed decoder, decoded increment by increment."""

    def __init__(self, recognizer: MenuRecognizer) -> None:
        self._recognizer = recognizer
        self._decoder: Any = recognizer.borrow()
        self._decoder.start_utt()
        self.seconds = 0.0

    def decode(self, pcm16: bytes) -> None:
        self._decoder.process_raw(pcm16, False, False)
        self.seconds += len(pcm16) / 2 / SAMPLE_RATE

    def finish(self) -> str:
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    async def result(self) -> str:
        """End the utterance: what it heard (the same call as a `PooledUtterance`'s)."""
        return self.finish()

    def close(self) -> None:
        if self._decoder is not None:
            with contextlib.suppress(Exception):  # an utterance left open is ended first
                self._decoder.end_utt()
            self._recognizer.give_back(self._decoder)
            self._decoder = None


def _final(text: str, seconds: float) -> list[stt.SpeechEvent]:
    request_id = shortuuid("stt_")
    events = [
        stt.SpeechEvent(
            type=stt.SpeechEventType.RECOGNITION_USAGE,
            request_id=request_id,
            recognition_usage=stt.RecognitionUsage(audio_duration=seconds),
        )
    ]
    events.insert(
        0,
        stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=request_id,
            alternatives=[
                stt.SpeechData(
                    language=LanguageCode("en"), text=text, confidence=1.0 if text else 0.0
                )
            ],
        ),
    )
    return events


class GrammarStream(stt.RecognizeStream):
    """The session's audio, decoded as it arrives; a flush ends the utterance and says what it heard.

    Between utterances (after a flush, or before the first sound) audio under `START_LEVEL` is
    kept only as a short pre-roll and not decoded. With a `RecognitionPool` the increments are
    decoded in a recognition process and the flush awaits its hypothesis; an utterance the pool
    could not decode is logged and heard as nothing, and the next one starts afresh.
    """

    def __init__(self, *, stt: GrammarSTT, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=stt, conn_options=conn_options, sample_rate=SAMPLE_RATE)
        self._recognizer = stt.recognizer
        self._utterance: _Utterance | PooledUtterance | None = None
        self._pending = bytearray()
        self._pre_roll: deque[bytes] = deque()
        self._pre_roll_bytes = 0

    async def _run(self) -> None:
        step = SAMPLE_RATE * 2 * CHUNK_MS // 1000
        try:
            async for item in self._input_ch:
                if isinstance(item, self._FlushSentinel):
                    await self._flush()
                    continue
                self._feed(to_pcm16_mono(item, SAMPLE_RATE))
                if self._utterance is not None and len(self._pending) >= step:
                    self._utterance.decode(bytes(self._pending[:step]))
                    del self._pending[:step]
                    if self._utterance.seconds > MAX_UTTERANCE_S:
                        self._drop()
                    await asyncio.sleep(0)  # the other sessions run between increments
        finally:
            self._drop()

    def _feed(self, pcm: bytes) -> None:
        if self._utterance is not None:
            self._pending += pcm
            return
        if _peak(pcm) >= START_LEVEL:
            self._utterance = self._recognizer.utterance()
            self._pending = bytearray(b"".join(self._pre_roll)) + pcm
            self._pre_roll.clear()
            self._pre_roll_bytes = 0
            return
        self._pre_roll.append(pcm)
        self._pre_roll_bytes += len(pcm)
        while self._pre_roll_bytes > SAMPLE_RATE * 2 * PRE_ROLL_MS // 1000:
            self._pre_roll_bytes -= len(self._pre_roll.popleft())

    async def _flush(self) -> None:
        utterance, self._utterance = self._utterance, None
        if utterance is None:
            return
        try:
            step = SAMPLE_RATE * 2 * CHUNK_MS // 1000
            for i in range(0, len(self._pending), step):
                utterance.decode(bytes(self._pending[i : i + step]))
            self._pending.clear()
            text = await utterance.result()
        except RecognitionError as e:
            logger.error("speech-to-text: an utterance was lost: %s", e)
            text = ""
        finally:
            self._pending.clear()
            utterance.close()
        if text:
            for event in _final(text, utterance.seconds):
                self._event_ch.send_nowait(event)

    def _drop(self) -> None:
        if self._utterance is not None:
            self._utterance.close()
            self._utterance = None
        self._pending.clear()


def _peak(pcm16: bytes) -> int:
    """The largest sample magnitude (no int32 copy: max and min of the int16 samples)."""
    samples = np.frombuffer(pcm16, dtype=np.int16)
    if not len(samples):
        return 0
    return max(int(samples.max()), -int(samples.min()))


def to_pcm16_mono(frame: rtc.AudioFrame, rate: int) -> bytes:
    """Any livekit frame → mono 16-bit PCM at `rate`.

    Resampled in the frequency domain (FFT, cut above the new Nyquist): plain linear
    interpolation aliases high frequencies into the speech band, and the recogniser then missed
    words it otherwise gets ("checkout"), measured on espeak-ng audio.
    """
    if frame.sample_rate == rate and frame.num_channels == 1:
        return bytes(frame.data)  # already what the recogniser takes: no float round trip
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


_recognizers: dict[str, MenuRecognizer] = {}
_recognizers_lock = threading.Lock()
_dictionary_words: set[str] | None = None


def dictionary_words() -> set[str]:
    """Every word pocketsphinx's English dictionary can pronounce (read once per process)."""
    global _dictionary_words
    if _dictionary_words is None:
        with open(_dictionary_path(), encoding="utf-8") as f:
            _dictionary_words = {line.split(" ", 1)[0] for line in f}
    return _dictionary_words


def load_recognizer(catalog: Catalog) -> MenuRecognizer:
    """A new recogniser for `catalog`'s menu (not shared: see `menu_recognizer`)."""
    return MenuRecognizer(menu_grammar(catalog, dictionary_words()))


def menu_recognizer(catalog: Catalog) -> MenuRecognizer:
    """This process's recogniser for `catalog`'s menu, loaded on first use (`prewarm` does it)."""
    grammar = menu_grammar(catalog, dictionary_words())
    with _recognizers_lock:
        recognizer = _recognizers.get(grammar)
        if recognizer is None:
            recognizer = _recognizers[grammar] = MenuRecognizer(grammar)
    return recognizer


def offline_stt(catalog: Catalog) -> GrammarSTT:
    """The offline speech-to-text engine for this menu (the model is shared within the process)."""
    return GrammarSTT(menu_recognizer(catalog))
