"""The Python caller's reading of the agent's answer (concierge.lab.room_caller), without a server.

`RoomCaller` decides where an answer starts and ends from the agent audio it received; the
benches time every turn by it. Each frame is judged voiced once, on arrival; this checks that the
answer it finds is the one a judgement of every frame at poll time finds (`reference`).
"""

from __future__ import annotations

import asyncio

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from concierge.lab.room_caller import PAUSE_S, PREROLL_FRAMES, VOICED, RoomCaller, _peak

FRAME_MS = 20
LOUD = np.full(320, VOICED + 1, dtype=np.int16).tobytes()
QUIET = np.full(320, VOICED // 2, dtype=np.int16).tobytes()


def reference(frames: list[tuple[float, bytes]], after: float) -> tuple[float, float, bytes] | None:
    """Where the answer after `after` starts and ends, every frame judged now."""
    frames = [f for f in frames if f[0] > after]
    voiced = [i for i, (_at, pcm) in enumerate(frames) if _peak(pcm) > VOICED]
    if not voiced or frames[-1][0] - frames[voiced[-1]][0] < PAUSE_S:
        return None
    first, last = voiced[0], voiced[-1]
    preroll = max(0, first - PREROLL_FRAMES * 10 // FRAME_MS)
    pcm = b"".join(p for _at, p in frames[preroll : last + 1])
    return frames[first][0] - FRAME_MS / 1000, frames[last][0], pcm


@settings(max_examples=30, deadline=None)
@given(
    loud=st.lists(st.booleans(), max_size=120),
    after=st.integers(-1, 120),
)
def test_the_answer_found_from_flags_judged_on_arrival_is_the_one_judged_at_poll_time(
    loud: list[bool], after: int
) -> None:
    async def run() -> None:
        caller = RoomCaller(frame_ms=FRAME_MS)
        for i, is_loud in enumerate(loud):
            caller._on_frame(i * FRAME_MS / 1000, LOUD if is_loud else QUIET)
        cut = after * FRAME_MS / 1000
        found = caller._speech_after(cut)
        expected = reference(caller._frames, cut)
        assert (found is None) == (expected is None)
        if found is not None and expected is not None:
            assert (found.start, found.end, found.pcm16) == expected

    asyncio.run(run())
