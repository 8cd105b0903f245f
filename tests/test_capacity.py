"""The capacity benchmark's machinery: it runs (N=2, thread executor) and reads its figures right.

The sweep itself is a benchmark (`python -m concierge bench --capacity`), not a test: these check
that two callers really talk to the real worker, that every turn is measured and recognised, and
that `voice_capacity` is the largest N that held — never timings.
"""

from __future__ import annotations

import numpy as np

from concierge.bench_capacity import Point, _voiced_end, summarize, sweep


async def test_two_callers_in_one_thread_worker_are_measured() -> None:
    figures = await sweep([2], modes=["thread"], orders=["three churros"])
    (point,) = figures["voice_capacity_points"]
    assert point["errors"] == [] and point["failed"] == 0
    assert point["turns"] == 2  # one order from each caller, each answered in audio
    assert point["recognised"] == 1.0
    assert point["voice_turn_ms_p50"] is not None and point["voice_turn_ms_p50"] > 0
    assert point["cpu_percent"] > 0 and point["mb_per_session"] is not None


def test_trailing_silence_is_not_counted_as_speech() -> None:
    rate = 16000
    voiced = (np.sin(np.arange(rate) / 5) * 8000).astype(np.int16)
    clip = np.concatenate([voiced, np.zeros(rate // 2, dtype=np.int16)]).tobytes()
    assert abs(_voiced_end(clip, rate) - 0.5) < 0.011


def test_capacity_is_the_largest_n_that_held() -> None:
    def point(n: int, p95: float, heard: float = 1.0) -> Point:
        return Point(mode="thread", sessions=n, voice_turn_ms_p95=p95, recognised=heard)

    figures = summarize([point(8, 700), point(16, 1400), point(24, 1600), point(32, 900, 0.9)])
    assert figures["voice_capacity"] == 16 and figures["voice_capacity_p95_ms"] == 1400
    assert figures["voice_capacity_mode"] == "thread"
