"""The live panel's offline voice mode, headless: recorded audio through the microphone widget's
Python side (where the browser's chunks land) drives the real session; the agent's voice goes to
the widget; speaking over the agent stops its playback. And the turn stages always add up."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from concierge import live
from concierge.live.voice import BrowserVoice
from concierge.providers import missing_speech_engines
from concierge.store import Store
from concierge.timeline import TOLERANCE_MS, turn_timing

needs_offline_speech = pytest.mark.skipif(
    bool(missing_speech_engines()), reason=" ".join(missing_speech_engines().values())
)


@pytest.fixture
async def voice_handle(store: Store):
    h = await live.launch(store=store, display=False, voice=True)
    yield h
    if h.session is not None:
        await h.stop()


def assert_consistent(turn) -> None:
    timing = turn.timing
    assert timing is not None
    assert all(v >= 0 for v in timing.stages.values()), timing
    assert abs(timing.parts_ms - timing.whole_ms) <= TOLERANCE_MS, timing
    assert timing.skew_ms <= TOLERANCE_MS, timing
    if timing.spoken:  # the whole is livekit's own end of speech → first audio
        assert timing.livekit_e2e_ms is not None
        assert abs(timing.whole_ms - timing.livekit_e2e_ms) <= TOLERANCE_MS
        assert timing.stages["end of turn"] <= timing.whole_ms  # decided before the first audio


@needs_offline_speech
async def test_a_spoken_order_fills_the_cart_and_the_reply_goes_to_the_browser(
    voice_handle,
) -> None:
    h = voice_handle
    assert h.voice is not None and h.voice.widget in h.controls.children
    turn = await h.speak("three churros")
    assert turn is not None and turn.spoken and turn.user == "three churros"
    assert [(r[0], r[3]) for r in h.cart_view.rows] == [("Churros", 3)]
    assert h.voice.speaker.segments >= 1 and h.voice.speaker.frames  # sent to the widget
    assert_consistent(turn)
    assert set(turn.timing.stages) == {
        "speech-to-text",
        "end of turn",
        "model",
        "tools",
        "TTS first audio",
    }
    assert "you (heard)" in h.transcript.widget.value and "spoken" in h.metrics.widget.value
    # typed turns keep working beside the microphone (and are spoken now that voice is on)
    await h.say("a kombucha")
    assert [r[0] for r in h.cart_view.rows] == ["Churros", "Kombucha"]
    assert_consistent(h.transcript.turns[-1])


@needs_offline_speech
async def test_speaking_over_the_agent_stops_its_playback(voice_handle) -> None:
    h = voice_handle
    tts = await asyncio.to_thread(_tts)
    question = tts.pcm16("whats on the menu at burger barn")  # a long answer
    interrupt = tts.pcm16("three churros")
    await h.voice.feed(question, 24000)
    deadline = time.perf_counter() + 20
    while h.session.agent_state != "speaking" and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    assert h.session.agent_state == "speaking"
    # livekit ignores interruptions for the first aec_warmup_duration (3 s) of the agent's first
    # speech (notebook 6 shows it): talk over it after that, not at a moment that only sometimes
    # lets the user's speech outlast the warm-up
    await asyncio.sleep((h.session.options.aec_warmup_duration or 0.0) + 0.5)
    assert h.session.agent_state == "speaking"  # the reply (the whole menu) is still playing
    await h.voice.feed(interrupt, 24000)
    deadline = time.perf_counter() + 20
    while h.voice.widget.stop_requests == 0 and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    assert h.voice.widget.stop_requests >= 1 and h.voice.speaker.interruptions >= 1
    while not any(t.interrupted for t in h.transcript.turns) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    assert h.transcript.turns[0].interrupted and "(interrupted)" in h.transcript.widget.value


def _tts():
    from concierge.offline.tts import offline_tts

    return offline_tts()


async def test_microphone_chunks_from_a_subshell_thread_reach_the_session_at_once() -> None:
    """JupyterLab sends widget messages to a kernel subshell: the browser's chunks are handled on
    another thread than the session's loop. They must wake that loop at once — before, the VAD read
    them only when something else woke it, in late bursts, and livekit dropped the end-of-speech
    time of most spoken turns in the browser."""
    voice = BrowserVoice()
    heard: list[float] = []

    async def session_reads() -> None:
        async for _frame in voice.mic:
            heard.append(time.perf_counter())

    sent: list[float] = []

    def subshell() -> None:  # a comm message arriving while the loop sleeps in its selector
        time.sleep(0.2)
        sent.append(time.perf_counter())
        chunk = {"type": "audio", "t": time.time() * 1000}
        voice.widget._on_browser_msg(voice.widget, chunk, [memoryview(bytes(3200))])

    reader = asyncio.create_task(session_reads())
    threading.Thread(target=subshell).start()
    await asyncio.sleep(1.5)  # the only other thing that would wake the loop
    await voice.aclose()
    await reader
    assert len(heard) == 5  # 100 ms → five 20 ms frames
    assert heard[0] - sent[0] < 0.25, f"the session got the chunk {heard[0] - sent[0]:.2f} s late"


async def test_voice_false_keeps_a_text_panel(store: Store) -> None:
    h = await live.launch(store=store, display=False, voice=False)
    assert h.voice is None and "Type your order" in h.note.value
    with pytest.raises(RuntimeError, match="no voice"):
        await h.hear(b"\0\0" * 1600, 16000)
    await h.stop()


seconds = st.floats(min_value=0.0, max_value=5.0, allow_nan=False)


@given(
    origin=st.floats(min_value=1.7e9, max_value=1.8e9),
    eot=seconds,
    tools=st.lists(st.tuples(seconds, seconds), max_size=3),
    ttfb=st.one_of(st.none(), seconds),
    first=seconds,
    spoken=st.booleans(),
)
def test_stages_never_go_negative_and_add_up_to_the_whole(
    origin, eot, tools, ttfb, first, spoken
) -> None:
    """Whatever order livekit's timestamps come in, no stage is negative and the parts equal the
    whole; when they come in order, nothing is corrected."""
    user = {"stopped_speaking_at": origin, "end_of_turn_delay": eot} if spoken else {}
    spans = [(origin + a, origin + a + b) for a, b in tools]
    reply = {"started_speaking_at": origin + first}
    if ttfb is not None:
        reply["tts_node_ttfb"] = ttfb
    timing = turn_timing(origin, user, spans, reply, origin + first)
    assert all(v >= 0 for v in timing.stages.values())
    assert abs(timing.parts_ms - timing.whole_ms) <= 1e-3
    assert timing.whole_ms >= 0
    bounds = [origin, origin + (eot if spoken else 0)]
    if spans:
        bounds += [min(s for s, _ in spans), max(e for _, e in spans)]
    bounds += [origin + first - (ttfb or 0), origin + first]
    if bounds == sorted(bounds):
        assert timing.skew_ms == 0
        assert abs(timing.whole_ms - first * 1000) <= 1e-3
