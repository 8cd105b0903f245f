"""Recognition in processes of its own: same transcripts as inline, no hang when one dies.

In livekit's thread executor every call on a worker shares one process, and pocketsphinx holds
the GIL while it decodes; the pool moves decoding to a few recognition processes. These check
that nothing is lost on the way: the transcripts, a dead process (the utterance fails, logged,
the session's stream goes on and the next utterance works), and shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import pytest
from livekit import rtc
from livekit.agents import stt

from concierge.menu import Catalog
from concierge.offline.audio_io import silence
from concierge.offline.recognition_pool import RecognitionError, RecognitionPool
from concierge.offline.stt import SAMPLE_RATE, GrammarSTT, load_recognizer, to_pcm16_mono
from concierge.offline.tts import offline_tts

ORDERS = ["three churros", "two classic cheeseburgers", "a large coke", "checkout"]


@pytest.fixture(scope="module")
def clips() -> dict[str, bytes]:
    voice = offline_tts()
    out = {}
    for text in ORDERS:
        pcm = voice.pcm16(text)
        out[text] = to_pcm16_mono(rtc.AudioFrame(pcm, 24000, 1, len(pcm) // 2), SAMPLE_RATE)
    return out


@pytest.fixture
def pool(catalog: Catalog):
    pool = load_recognizer(catalog).pool(2)
    yield pool
    pool.close()


def frames(pcm16: bytes, ms: int = 20) -> list[rtc.AudioFrame]:
    step = SAMPLE_RATE * 2 * ms // 1000
    return [
        rtc.AudioFrame(pcm16[i : i + step], SAMPLE_RATE, 1, len(pcm16[i : i + step]) // 2)
        for i in range(0, len(pcm16), step)
    ]


async def stream_texts(recognizer, *utterances: bytes) -> list[str]:
    """What a session's stream hears: each utterance, then a flush (the session's VAD's call)."""
    stream = GrammarSTT(recognizer).stream()
    for pcm in utterances:
        for frame in frames(silence(0.2) + pcm + silence(0.2)):
            stream.push_frame(frame)
        stream.flush()
    stream.end_input()
    return [
        e.alternatives[0].text
        async for e in stream
        if e.type == stt.SpeechEventType.FINAL_TRANSCRIPT
    ]


async def test_the_pool_hears_what_inline_decoding_hears(
    catalog: Catalog, pool: RecognitionPool, clips: dict[str, bytes]
) -> None:
    inline = load_recognizer(catalog)
    for text, pcm in clips.items():
        assert await asyncio.to_thread(pool.transcribe, pcm) == inline.transcribe(pcm), text
    streamed_inline = await stream_texts(inline, *clips.values())
    # two sessions at once on the pool, each streaming its utterances increment by increment
    a, b = await asyncio.gather(
        stream_texts(pool, *clips.values()), stream_texts(pool, *reversed(clips.values()))
    )
    assert a == streamed_inline == list(reversed(b))
    assert streamed_inline == [
        "three churros",
        "two classic cheeseburgers",
        "a large coke",
        "checkout",
    ]


#: Far longer than anything here takes even on a loaded machine, and far shorter than the
#: result timeout these tests set: a wait that reaches it waited for the timeout (a hang).
NO_HANG_S = 60


async def test_a_killed_recognition_process_fails_the_utterance_not_the_session(
    catalog: Catalog,
    clips: dict[str, bytes],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import concierge.offline.recognition_pool as module

    monkeypatch.setattr(module, "RESULT_TIMEOUT_S", 10 * NO_HANG_S)
    pool = load_recognizer(catalog).pool(1)
    try:
        stream = GrammarSTT(pool).stream()
        for frame in frames(clips["three churros"]):
            stream.push_frame(frame)
        while not any(pool._processes[0].utterances):  # the utterance is pinned and streaming
            await asyncio.sleep(0.01)
        (victim,) = pool.pids
        os.kill(victim, signal.SIGKILL)
        started = time.monotonic()
        with caplog.at_level(logging.ERROR, logger="concierge"):
            stream.flush()
            # the next utterance, once the pool has restarted the process, is heard
            while pool.pids in ([victim], []) or not pool._processes[0].ready.is_set():
                assert time.monotonic() - started < NO_HANG_S, "the process was not restarted"
                await asyncio.sleep(0.02)
            for frame in frames(silence(0.2) + clips["a large coke"] + silence(0.2)):
                stream.push_frame(frame)
            stream.flush()
            stream.end_input()
            texts = [e.alternatives[0].text async for e in stream if e.alternatives]
        assert time.monotonic() - started < NO_HANG_S  # no hang: nothing waited for the timeout
        assert texts == ["a large coke"]  # the lost utterance is heard as nothing
        assert pool.restarts == 1 and pool.pids != [victim]
        assert any(f"recognition process {victim} exited" in r.message for r in caplog.records)
        assert any("an utterance was lost" in r.message for r in caplog.records)
    finally:
        pool.close()


async def test_closing_the_pool_stops_its_processes_and_fails_waiting_utterances(
    catalog: Catalog, clips: dict[str, bytes]
) -> None:
    pool = load_recognizer(catalog).pool(2)
    processes = [p.process for p in pool._processes]
    assert all(p.poll() is None for p in processes)
    utterance = pool.utterance()
    utterance.decode(clips["checkout"])
    pool.close()
    assert all(p.poll() is not None for p in processes)  # exited, not left behind
    assert pool.closed and pool.pids
    with pytest.raises(RecognitionError):
        await utterance.result()
    with pytest.raises(RecognitionError):  # a new utterance after close fails plainly too
        await pool.utterance().result()


def test_16khz_mono_frames_pass_through_unchanged() -> None:
    import numpy as np

    pcm = (np.sin(np.arange(1600) / 3) * 30000).astype(np.int16).tobytes()
    frame = rtc.AudioFrame(pcm, SAMPLE_RATE, 1, 1600)
    assert to_pcm16_mono(frame, SAMPLE_RATE) == pcm
    stereo = rtc.AudioFrame(pcm, SAMPLE_RATE, 2, 800)  # the slow path still mixes down
    assert len(to_pcm16_mono(stereo, SAMPLE_RATE)) == len(pcm) // 2


async def test_a_stalled_recognition_process_never_blocks_the_sessions_loop(
    catalog: Catalog, clips: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    import concierge.offline.recognition_pool as module

    monkeypatch.setattr(module, "RESULT_TIMEOUT_S", 0.5)
    pool = load_recognizer(catalog).pool(1)
    (pid,) = pool.pids
    try:
        os.kill(pid, signal.SIGSTOP)  # alive, reading nothing: its socket queue fills up
        utterance = pool.utterance()
        started = time.monotonic()
        for _ in range(50):  # 4 s of audio in 80 ms increments, far more than the queue holds
            utterance.decode(clips["checkout"][:2560])
        # every increment returned: a send that waited for the stopped process would never
        # return (the limit is for a loaded machine, not a speed claim)
        assert time.monotonic() - started < NO_HANG_S
        with pytest.raises(RecognitionError, match="no hypothesis"):
            await utterance.result()  # after RESULT_TIMEOUT_S, not never
        assert time.monotonic() - started < NO_HANG_S
    finally:
        os.kill(pid, signal.SIGCONT)
    monkeypatch.setattr(module, "RESULT_TIMEOUT_S", 10 * NO_HANG_S)  # back to waiting for it
    try:
        assert await asyncio.to_thread(pool.transcribe, clips["checkout"]) == "checkout"
    finally:
        pool.close()
