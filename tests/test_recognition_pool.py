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
import re
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit import rtc
from livekit.agents import stt

from concierge.menu import Catalog
from concierge.offline import recognition_pool
from concierge.offline.audio_io import silence
from concierge.offline.recognition_pool import (
    RESULT_TIMEOUT_S,
    RecognitionError,
    RecognitionPool,
    restart_delay,
)
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


async def test_an_utterance_on_a_killed_recognition_process_is_heard_by_its_replacement(
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
            stream.flush()  # waits for the restarted process, which gets the whole utterance
            for frame in frames(silence(0.2) + clips["a large coke"] + silence(0.2)):
                stream.push_frame(frame)
            stream.flush()
            stream.end_input()
            texts = [e.alternatives[0].text async for e in stream if e.alternatives]
        assert time.monotonic() - started < NO_HANG_S  # nothing waited for the timeout
        assert texts == ["three churros", "a large coke"]  # the crash cost nothing
        assert pool.restarts == 1 and pool.pids != [victim]
        assert any(f"recognition process {victim} exited" in r.message for r in caplog.records)
        assert not any("an utterance was lost" in r.message for r in caplog.records)
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


# --- a hostile user kills recognition processes ------------------------------------------------
#
# Whatever the kill schedule — bursts 20 ms apart, kills 0.5 s apart, kills of processes still
# starting — the pool ends with its target size, no pool thread raises, and the next utterance is
# heard. Each test waits on the pool being full again (with a generous limit), never on a sleep.

FULL_WITHIN_S = 60.0  # generous: restarts back off up to a few seconds, and CI shares its CPU


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every exception that escapes a thread during the test, and every one the pool's reader
    caught and logged only so as to go on (it must see none either)."""
    errors: list[str] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        errors.append(
            f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}: {args.exc_value}"
        )

    class Caught(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info:
                errors.append(f"logged: {record.getMessage()}: {record.exc_info[1]!r}")

    monkeypatch.setattr(threading, "excepthook", hook)
    caught = Caught(logging.ERROR)
    logging.getLogger("concierge").addHandler(caught)
    try:
        yield errors
    finally:
        logging.getLogger("concierge").removeHandler(caught)


def ready_processes(pool: RecognitionPool) -> int:
    """Processes ready and alive (a process just killed is ready to the pool until its reader
    sees the socket close: waiting on the pool's view alone would race with the kill)."""
    return sum(
        1
        for p in pool._processes
        if p is not None and p.ready.is_set() and not p.dead and p.process.poll() is None
    )


def wait_full(pool: RecognitionPool, within: float = FULL_WITHIN_S) -> None:
    """Wait until every process of the pool is alive and ready (or fail after `within` s)."""
    deadline = time.monotonic() + within
    while ready_processes(pool) < pool.size:
        assert time.monotonic() < deadline, (
            f"{ready_processes(pool)} of {pool.size} recognition processes ready "
            f"{within:g} s after the kills (pids {pool.pids}, restarts {pool.restarts})"
        )
        time.sleep(0.02)


def sigkill(pid: int) -> bool:
    """SIGKILL `pid` and wait until it is dead (a zombie for the pool to reap), so that what
    follows never races with the kill; False if it had exited already."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + FULL_WITHIN_S
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True  # reaped already (or while being read)
        if state in ("Z", "X"):
            return True
        time.sleep(0.001)
    raise AssertionError(f"process {pid} survived SIGKILL for {FULL_WITHIN_S:g} s")


def kill_some(pool: RecognitionPool, kills: int, gap: float) -> list[int]:
    """SIGKILL `kills` times, `gap` seconds apart, a process of the pool that is up (ready or
    still starting), alternating between them; the pids killed."""
    killed = []
    for i in range(kills):
        pids = pool.pids
        if pids:
            victim = pids[i % len(pids)]
            if sigkill(victim):
                killed.append(victim)
        time.sleep(gap)
    return killed


def kill_while_starting(pool: RecognitionPool, kills: int) -> list[int]:
    """Kill a process, then each replacement the moment its pid appears (a fresh interpreter takes
    far longer than the 1 ms poll to load pocketsphinx and a decoder), `kills` times in all."""
    killed: list[int] = []
    deadline = time.monotonic() + FULL_WITHIN_S
    while len(killed) < kills and time.monotonic() < deadline:
        fresh = [pid for pid in pool.pids if pid not in killed]
        if fresh:
            sigkill(fresh[0])
            killed.append(fresh[0])
        time.sleep(0.001)
    return killed


async def talk_until(done: asyncio.Event, pool: RecognitionPool, clip: bytes) -> list[str]:
    """Utterances of `clip` in 80 ms increments until `done`: what each was heard as, or why
    it failed (the pool's error)."""
    outcomes = []
    while not done.is_set():
        utterance = pool.utterance()
        for i in range(0, len(clip), 2560):
            utterance.decode(clip[i : i + 2560])
            await asyncio.sleep(0.02)
        try:
            outcomes.append(await utterance.result())
        except RecognitionError as e:
            outcomes.append(str(e))
    return outcomes


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def heard_after(pool: RecognitionPool, clips: dict[str, bytes]) -> list[str]:
    wait_full(pool)
    return await stream_texts(pool, clips["two classic cheeseburgers"], clips["checkout"])


@pytest.mark.parametrize(
    ("kills", "gap"), [(20, 0.02), (10, 0.5)], ids=["20-kills-20ms-apart", "kills-0.5s-apart"]
)
async def test_after_a_burst_of_kills_the_pool_is_whole_and_the_next_utterance_is_heard(
    pool: RecognitionPool,
    clips: dict[str, bytes],
    thread_errors: list[str],
    kills: int,
    gap: float,
) -> None:
    descriptors = open_descriptors()
    done = asyncio.Event()

    async def kill() -> list[int]:
        try:
            return await asyncio.to_thread(kill_some, pool, kills, gap)
        finally:
            done.set()

    # two callers keep talking through the kills: each utterance is heard, or fails plainly
    killed, *talked = await asyncio.gather(
        kill(),
        talk_until(done, pool, clips["a large coke"]),
        talk_until(done, pool, clips["a large coke"]),
    )
    outcomes = [outcome for outcomes in talked for outcome in outcomes]
    assert outcomes and all(
        o == "a large coke" or re.fullmatch(r"recognition process \d+ exited.*", o)
        for o in outcomes
    ), outcomes
    assert await heard_after(pool, clips) == ["two classic cheeseburgers", "checkout"]
    assert len(set(killed)) > pool.size  # replacements were killed too, not only the first two
    assert not set(killed) & set(pool.pids)
    assert thread_errors == []
    # the dead processes' sockets are closed (a little after each death), none left open
    deadline = time.monotonic() + FULL_WITHIN_S
    while open_descriptors() > descriptors:
        assert time.monotonic() < deadline, f"{open_descriptors() - descriptors} sockets left open"
        await asyncio.sleep(0.05)


async def test_a_process_killed_while_it_starts_is_restarted_too(
    pool: RecognitionPool, clips: dict[str, bytes], thread_errors: list[str]
) -> None:
    killed = await asyncio.to_thread(kill_while_starting, pool, 6)
    assert await heard_after(pool, clips) == ["two classic cheeseburgers", "checkout"]
    assert len(killed) == 6
    assert thread_errors == []


async def test_kills_while_the_pool_starts_do_not_stop_it_starting(
    catalog: Catalog, clips: dict[str, bytes], thread_errors: list[str]
) -> None:
    recognizer = load_recognizer(catalog)
    pool = RecognitionPool(recognizer.grammar, recognizer.dictionary, SAMPLE_RATE, 2)
    try:
        starting = asyncio.create_task(asyncio.to_thread(pool.start))
        while not pool.pids:  # its processes exist as soon as `start` spawned them
            await asyncio.sleep(0.001)
        killed = await asyncio.to_thread(kill_while_starting, pool, 3)
        assert await starting is pool
        assert len(killed) == 3 and await heard_after(pool, clips) == [
            "two classic cheeseburgers",
            "checkout",
        ]
        assert thread_errors == []
    finally:
        pool.close()


def test_a_pool_whose_processes_fail_by_themselves_gives_up_starting(catalog: Catalog) -> None:
    """Killed processes are replaced while the pool starts, but one that exits with an error
    before any got ready (here: no dictionary) means a broken model; restarts would only fail
    again, so `start` fails at once (and the worker decodes inline), not after its timeout."""
    grammar = load_recognizer(catalog).grammar
    pool = RecognitionPool(grammar, "/nonexistent/menu.dict", SAMPLE_RATE, 2)
    processes = []
    with pytest.raises(RecognitionError, match=r"exited \(code 1\) before it was ready"):
        try:
            pool.start(timeout=recognition_pool.START_TIMEOUT_S)
        finally:
            processes = [p.process for p in pool._processes if p is not None]
    assert pool.closed and all(p.poll() is not None for p in processes)


async def test_utterances_on_killed_processes_are_sent_again_and_heard(
    pool: RecognitionPool, clips: dict[str, bytes], thread_errors: list[str]
) -> None:
    utterances = [pool.utterance() for _ in range(4)]  # two on each process
    assert {u._process for u in utterances} == set(pool._processes)
    for utterance in utterances:
        utterance.decode(clips["a large coke"])
    victims = pool.pids
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + FULL_WITHIN_S
    while set(victims) & set(pool.pids):  # the pool has seen both die (else an utterance might
        assert time.monotonic() < deadline  # go to the other victim: a second death holding it)
        await asyncio.sleep(0.01)
    assert [await u.result() for u in utterances] == ["a large coke"] * 4
    assert thread_errors == []


async def test_an_utterance_whose_processes_keep_dying_fails_with_the_reason(
    pool: RecognitionPool, clips: dict[str, bytes], thread_errors: list[str]
) -> None:
    """An utterance goes to two processes at most: audio that kills decoders must not go round
    the whole pool (here the kills are the test's, and the second one fails it)."""
    utterance = pool.utterance()
    utterance.decode(clips["checkout"])
    victims = []
    for _ in range(2):
        victim = utterance._process
        assert victim is not None and victim not in victims
        os.kill(victim.pid, signal.SIGKILL)
        victims.append(victim)
        deadline = time.monotonic() + FULL_WITHIN_S
        while not victim.dead:  # the pool has seen it die
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        utterance.decode(silence(0.1))  # the next increment notices, and moves on once
    started = time.monotonic()
    with pytest.raises(RecognitionError, match=rf"recognition process {victims[1].pid} exited"):
        await utterance.result()
    assert time.monotonic() - started < RESULT_TIMEOUT_S  # answered, not left to the timeout
    assert await heard_after(pool, clips) == ["two classic cheeseburgers", "checkout"]
    assert thread_errors == []


def test_any_kill_schedule_leaves_a_whole_pool_that_answers(
    catalog: Catalog,
    clips: dict[str, bytes],
    thread_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The invariant, over random schedules: kills of any process (ready or starting) at any
    spacing, then the pool is back at its size and the next request is answered. One pool lives
    through every example, so the schedules add up as they would on a long-lived worker. The
    back-off's cap is lowered to keep the run short: the invariant holds for any cap (the cap
    itself is `test_restart_delays_are_bounded_jittered_and_grow`'s)."""
    monkeypatch.setattr(recognition_pool, "RESTART_MAX_S", 0.5)
    pool = load_recognizer(catalog).pool(2)

    @settings(max_examples=8)
    @given(
        schedule=st.lists(
            st.tuples(st.floats(0, 0.3), st.integers(0, 1), st.booleans()), min_size=1, max_size=8
        )
    )
    def killing(schedule: list[tuple[float, int, bool]]) -> None:
        for pause, which, wait_for_fresh in schedule:
            time.sleep(pause)
            if wait_for_fresh:
                kill_while_starting(pool, 2)
                continue
            pids = pool.pids
            if pids:
                sigkill(pids[which % len(pids)])
        wait_full(pool)
        assert pool.transcribe(clips["a large coke"]) == "a large coke"
        assert thread_errors == []

    try:
        killing()
    finally:
        pool.close()


@given(failures=st.integers(1, 200))
def test_restart_delays_are_bounded_jittered_and_grow(failures: int) -> None:
    from concierge.offline.recognition_pool import RESTART_MAX_S, RESTART_MIN_S

    delay = restart_delay(failures)
    if failures == 1:
        assert delay == 0  # the first death after a stable run: replaced at once
    else:
        step = min(RESTART_MAX_S, RESTART_MIN_S * 2 ** (failures - 2))
        assert step / 2 <= delay <= step <= RESTART_MAX_S


def test_a_slot_forgets_its_deaths_once_a_process_stayed_up() -> None:
    pool = RecognitionPool("#JSGF V1.0;", "unused.dict", SAMPLE_RATE, 1)  # not started
    now = time.monotonic()
    delays = [pool._schedule_restart(0, up_since=now) for _ in range(12)]  # a crash loop
    assert delays[0] == 0 and 0 < delays[1] < delays[-1] <= recognition_pool.RESTART_MAX_S
    stayed_up = now - recognition_pool.RESTART_RESET_S - 1
    assert pool._schedule_restart(0, up_since=stayed_up) == 0  # replaced at once again
    assert pool._schedule_restart(0, up_since=None) > 0  # …but not if that one never got ready
