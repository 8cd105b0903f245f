"""A spoken turn's stages add up: one origin, no negative stage, the turn decided before audio.

The stages come from livekit's own timestamps (`ChatMessage.metrics`) measured from when its VAD
heard the user stop speaking; the whole is livekit's `e2e_latency`. The chart that shows them is
checked for what a viewer needs: linear axes, labels, the legend clear of the bars.
"""

from __future__ import annotations

import pytest

from concierge import bench
from concierge.offline.tts import offline_tts
from concierge.offline.voice import STAGE_TOLERANCE_MS, STAGES, VoiceTurn
from concierge.providers import missing_speech_engines
from concierge.session import voice_session

needs_speech = pytest.mark.skipif(
    bool(missing_speech_engines()), reason=" ".join(missing_speech_engines().values())
)


@pytest.fixture(scope="module")
def voice():
    if missing_speech_engines():
        pytest.skip(" ".join(missing_speech_engines().values()))
    return offline_tts()


@needs_speech
async def test_spoken_stages_are_consistent(voice) -> None:
    turns: list[VoiceTurn] = []
    async with voice_session(playback_speed=8) as rig:
        for text in ("three churros", "two classic cheeseburgers and a large coke"):
            turns.append(await rig.say(voice.pcm16(text), 24000))
            await rig.wait_until_quiet()
    for turn in turns:
        stages = turn.stages()
        assert stages is not None and list(stages) == list(STAGES), turn  # each turn calls a tool
        assert stages["speech-to-text"] == pytest.approx(turn.transcription_ms), turn
        assert all(ms >= 0 for ms in stages.values()), stages
        assert turn.transcription_ms is not None and turn.end_of_turn_ms is not None
        assert turn.voice_turn_ms is not None and turn.e2e_latency_ms is not None
        assert turn.transcription_ms <= turn.end_of_turn_ms < turn.voice_turn_ms, turn
        # the parts, stacked, are livekit's own whole (measured independently by livekit)
        assert abs(sum(stages.values()) - turn.e2e_latency_ms) <= STAGE_TOLERANCE_MS, turn


def test_a_turn_without_livekit_figures_has_no_stages() -> None:
    assert VoiceTurn("", "", 1.0, voice_turn_ms=None).stages() is None


def _results() -> dict:
    turns = [
        {"stages": dict(zip(STAGES, (700.0, 100.0, 10.0, 12.0, 70.0), strict=True))},
        {"stages": dict(zip(STAGES, (800.0, 100.0, 12.0, 8.0, 90.0), strict=True))},
    ]
    return {"floor_ms_p50": 3.0, "floor_tool_ms_p50": 6.0, "turn_ms_p50": 8.0, "voice_turns": turns}


def test_stage_breakdown_bars_add_up_to_their_wholes() -> None:
    stages = bench.stage_breakdown(_results())
    assert sum(stages["text turn"].values()) == pytest.approx(8.0)
    no_tool = {"stages": {"speech-to-text": 600.0, "end of turn": 90.0, "model": 5.0}}
    mixed = bench.stage_breakdown(
        {**_results(), "voice_turns": [*_results()["voice_turns"], no_tool]}
    )
    assert sum(mixed["spoken turn"].values()) == pytest.approx((892 + 1010 + 695) / 3)
    with_calls = bench.stage_breakdown({**_results(), "floor_calls_ms_p50": 7.0})
    assert sum(with_calls["text turn"].values()) == pytest.approx(8.0)
    assert list(with_calls["text turn"].values())[-1] == pytest.approx(1.0)  # ours: 8 - 7
    assert sum(stages["spoken turn"].values()) == pytest.approx((892 + 1010) / 2)


@pytest.mark.parametrize("dark", [False, True])
def test_stage_chart_reads_at_a_glance(dark: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    fig = bench.stage_chart(bench.stage_breakdown(_results()), dark=dark)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    bars, keys = fig.axes[0::2], fig.axes[1::2]
    assert len(bars) == 2
    for ax, key in zip(bars, keys, strict=True):
        assert ax.get_xscale() == "linear"
        assert ax.get_xlabel() == "milliseconds" and "ms in all" in ax.get_title(loc="left")
        legend = key.get_legend()
        assert legend is not None and all(" ms" in t.get_text() for t in legend.get_texts())
        box = legend.get_window_extent(renderer)
        label = ax.xaxis.label.get_window_extent(renderer)
        plot = ax.get_window_extent(renderer)
        assert box.y1 <= min(plot.y0, label.y0) and box.y0 >= 0, "legend clear of bars and label"
        assert box.x1 <= fig.bbox.width
    assert fig.patch.get_alpha() == 0.0  # transparent: the page's theme shows through


@needs_speech
async def test_barge_in_inside_and_after_the_echo_warmup(voice) -> None:
    """Inside livekit's AEC warm-up (first 3 s of agent speech) the caller's words are replaced
    with silence for the speech-to-text and do not stop the agent; after it, the agent stops
    within a second and the interrupting words are heard and answered."""
    menu, churros = voice.pcm16("whats on the menu at burger barn"), voice.pcm16("three churros")
    async with voice_session() as rig:
        warmup = rig.session.options.aec_warmup_duration
        assert warmup == 3.0
        early = await rig.talk_over(menu, churros, 24000, after=1.0)
        await rig.wait_until_quiet()
        late = await rig.talk_over(menu, churros, 24000, after=warmup + 0.6)
        await rig.wait_until_quiet()
        cart = [(ln.item_id, ln.quantity) for ln in rig.session.userdata.cart.lines]
    assert "three churros" not in early.heard and early.answer == ""
    # not stopped inside the warm-up (at its end only if the caller is still talking then)
    assert early.stopped_after_ms is None or early.stopped_after_ms >= 1000 * (warmup - 1.0) - 100
    assert early.interrupted == (early.stopped_after_ms is not None)
    assert late.interrupted and late.heard[-1] == "three churros" and "Churros" in late.answer
    assert late.stopped_after_ms is not None and late.stopped_after_ms < 1500
    assert cart == [("churros", 3)]
