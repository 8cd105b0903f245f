"""The streaming menu recogniser: one VAD per call, decoding in small increments, shared models.

Before, the recogniser was non-streaming and the session wrapped it in livekit's `StreamAdapter`,
which runs a second VAD on every call; and it decoded a whole utterance in one call holding the
GIL (~135–400 ms during which every other session on the worker froze).
"""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc
from livekit.agents import stt

from concierge.menu import Catalog, default_catalog
from concierge.offline.audio_io import silence
from concierge.offline.stt import (
    CHUNK_MS,
    SAMPLE_RATE,
    GrammarSTT,
    load_recognizer,
    menu_recognizer,
    to_pcm16_mono,
)
from concierge.offline.tts import offline_tts
from concierge.providers import pick_models, process_models
from concierge.session import voice_session


@pytest.fixture(scope="module")
def churros() -> bytes:
    pcm = offline_tts().pcm16("three churros")
    return to_pcm16_mono(rtc.AudioFrame(pcm, 24000, 1, len(pcm) // 2), SAMPLE_RATE)


def frames(pcm16: bytes, ms: int = 50) -> list[rtc.AudioFrame]:
    step = SAMPLE_RATE * 2 * ms // 1000
    return [
        rtc.AudioFrame(pcm16[i : i + step], SAMPLE_RATE, 1, len(pcm16[i : i + step]) // 2)
        for i in range(0, len(pcm16), step)
    ]


class Spy:
    """Wraps a decoder: records how much audio each decode call got, and what ran in between."""

    def __init__(self, decoder, log: list[str]) -> None:
        self._decoder, self._log = decoder, log

    def process_raw(self, data: bytes, *args) -> None:
        self._log.append(f"decode {len(data) / 2 / SAMPLE_RATE * 1000:.0f}")
        self._decoder.process_raw(data, *args)

    def __getattr__(self, name: str):
        return getattr(self._decoder, name)


async def test_the_stream_decodes_in_small_increments_and_lets_others_run(
    catalog: Catalog, churros: bytes
) -> None:
    recognizer = load_recognizer(catalog)
    log: list[str] = []
    borrow = recognizer.borrow
    recognizer.borrow = lambda: Spy(borrow(), log)  # type: ignore[method-assign]
    stream = GrammarSTT(recognizer).stream()

    async def neighbour() -> None:  # another session's loop work
        while True:
            log.append("other")
            await asyncio.sleep(0)

    other = asyncio.create_task(neighbour())
    for frame in frames(silence(0.3) + churros + silence(0.3)):
        stream.push_frame(frame)  # all at once: the worst case, a backlog
    stream.flush()
    stream.end_input()
    events = [ev async for ev in stream]
    other.cancel()

    final = [e for e in events if e.type == stt.SpeechEventType.FINAL_TRANSCRIPT]
    assert [e.alternatives[0].text for e in final] == ["three churros"]
    decodes = [entry for entry in log if entry.startswith("decode")]
    assert decodes and all(float(d.split()[1]) <= CHUNK_MS for d in decodes)
    streamed = log[: log.index(decodes[-2])] if len(decodes) > 2 else log
    # between any two increments decoded while streaming, the loop ran someone else
    for a, b in zip(streamed, streamed[1:], strict=False):
        assert not (a.startswith("decode") and b.startswith("decode")), streamed


async def test_silence_between_utterances_is_not_decoded(catalog: Catalog) -> None:
    recognizer = load_recognizer(catalog)
    log: list[str] = []
    borrow = recognizer.borrow
    recognizer.borrow = lambda: Spy(borrow(), log)  # type: ignore[method-assign]
    stream = GrammarSTT(recognizer).stream()
    for frame in frames(silence(3.0)):
        stream.push_frame(frame)
    stream.flush()
    stream.end_input()
    assert [ev async for ev in stream] == []
    assert log == []


async def test_decoders_are_lent_per_utterance_not_per_session(
    catalog: Catalog, churros: bytes
) -> None:
    recognizer = load_recognizer(catalog)
    texts = []
    for _ in range(3):  # three sessions, one after another: one decoder serves them all
        stream = GrammarSTT(recognizer).stream()
        for frame in frames(churros + silence(0.2)):
            stream.push_frame(frame)
        stream.end_input()
        texts += [e.alternatives[0].text async for e in stream if e.alternatives]
    assert texts == ["three churros"] * 3
    assert recognizer.decoders_made == 1


def test_the_process_shares_one_recogniser_and_voice(catalog: Catalog) -> None:
    shared = process_models(catalog, env={})
    a = pick_models(catalog, env={}, prewarmed=shared)
    b = pick_models(catalog, env={}, prewarmed=shared)
    assert a.stt is not b.stt  # thin per-session wrappers...
    assert isinstance(a.stt, GrammarSTT) and isinstance(b.stt, GrammarSTT)
    assert a.stt.recognizer is b.stt.recognizer is menu_recognizer(catalog)  # ...one model
    assert a.tts._engine is b.tts._engine is shared.voice  # type: ignore[union-attr]
    # the livekit objects a session subscribes to are its own: no session hears another's events
    assert a.vad is not b.vad and a.turn_detection is not b.turn_detection
    assert a.tts is not b.tts


async def test_a_voice_session_runs_one_vad(churros: bytes) -> None:
    models = pick_models(default_catalog(), env={}, prewarmed=process_models(env={}))
    opened = []
    original = models.vad.stream

    def counted():
        stream = original()
        opened.append(stream)
        return stream

    models.vad.stream = counted  # type: ignore[method-assign,union-attr]
    async with voice_session(models=models, playback_speed=8) as rig:
        turn = await rig.say(churros, SAMPLE_RATE)
        assert turn.heard == "three churros"
        assert rig.session.stt is models.stt  # not wrapped in a StreamAdapter
    assert len(opened) == 1  # the session's own; a StreamAdapter would open a second
