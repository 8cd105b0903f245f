"""The lab's own code uses no API that livekit-agents 1.8.9 deprecates.

livekit announces a deprecation two ways, both read from its pinned source
(livekit/agents: `utils/deprecation.py`'s `deprecate_params`, `AgentSession.on`, `job.py`,
`voice/agent.py`, `metrics/usage_collector.py`, `llm/async_toolset.py`, `cli/_legacy.py`, …):
a `DeprecationWarning` (the built-in CLI, `UsageCollector`, `AsyncToolset(on_duplicate_call=)`,
`RoomInputOptions`…) or a *log line* on the `livekit.agents` logger containing "deprecated"
(`metrics_collected`, `turn_detection=`/`min_endpointing_delay=`… keyword arguments, MCP servers
on `AgentSession`, `e2ee=`…). Each case below drives one of the package's main paths with both
captured and fails on either. The legacy agent and its demos are left out on purpose: there the
deprecation is the lesson (notebook 2).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import concierge
from concierge import bench
from concierge.lab.inprocess import run_job
from concierge.providers import missing_speech_engines
from concierge.session import offline_session, voice_session
from concierge.store import open_store

PACKAGE = Path(concierge.__file__).resolve().parent
LEGACY = PACKAGE / "lab" / "legacy"


class _DeprecationLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "deprecat" in text.lower():
            self.lines.append(f"{record.name}: {text}")


def _ours_or_livekits(filename: str) -> bool:
    path = Path(filename).resolve()
    in_livekit = "livekit" in path.parts
    in_package = PACKAGE in path.parents and LEGACY not in path.parents
    return in_livekit or in_package


@contextmanager
def no_livekit_deprecations() -> Iterator[None]:
    """Fail if livekit warns or logs a deprecation inside the block."""
    handler = _DeprecationLog()
    logger = logging.getLogger("livekit")
    quiet = [(lg, lg.level) for lg in (logger, logging.getLogger("livekit.agents"))]
    for lg, _ in quiet:  # a caller (bench.run) may have silenced livekit: hear everything here
        lg.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            warnings.simplefilter("always", PendingDeprecationWarning)
            yield
    finally:
        logger.removeHandler(handler)
        for lg, level in quiet:
            lg.setLevel(level)
    found = [
        f"{w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, DeprecationWarning | PendingDeprecationWarning)
        and _ours_or_livekits(w.filename)
    ]
    assert not found and not handler.lines, "\n".join(found + handler.lines)


async def _text_turns() -> None:
    async with offline_session() as session:
        await session.run(user_input="two classic cheeseburgers")
        await session.run(user_input="checkout")


async def _server_job() -> None:
    store = await open_store("memory")
    try:
        await run_job(store, ["three churros"], user_id="alex")
    finally:
        await store.close()


def _need_speech() -> None:
    if missing_speech_engines():
        pytest.skip(" ".join(missing_speech_engines().values()))


async def _voice_turn() -> None:
    _need_speech()
    async with voice_session(playback_speed=8) as rig:
        await rig.say(rig.models.tts.pcm16("three churros"), 24000)
        await rig.wait_until_quiet()


async def _bench_quick() -> None:
    await bench.session_starts(1)
    await bench.text_turns(4)
    await bench.concurrent_sessions(2, turns_each=1, pause=(0.0, 0.05))
    bench.search_times(5)


async def _bench_voice() -> None:
    _need_speech()
    await bench.voice_figures(["three churros"], playback_speed=8.0)


async def _live_panel() -> None:
    from concierge.live import launch

    store = await open_store("memory")
    handle = await launch(mode="offline", store=store, display=False)
    try:
        await handle.say("two classic cheeseburgers")
    finally:
        await handle.stop()
        await store.close()


PATHS: dict[str, Callable[[], Awaitable[Any]]] = {
    "offline_session": _text_turns,
    "server_job": _server_job,
    "voice_session": _voice_turn,
    "bench": _bench_quick,
    "bench_voice": _bench_voice,
}


@pytest.mark.parametrize("name", list(PATHS))
async def test_main_paths_use_no_deprecated_livekit_api(name: str) -> None:
    with no_livekit_deprecations():
        await PATHS[name]()


async def test_live_panel_uses_no_deprecated_livekit_api() -> None:
    with no_livekit_deprecations():
        await _live_panel()


async def test_the_check_catches_a_deprecation() -> None:
    """The guard itself: a deprecated subscription is caught (else every case above is vacuous)."""
    caught = pytest.raises(AssertionError, match="metrics_collected is deprecated")
    with caught, no_livekit_deprecations():
        async with offline_session() as session:
            session.on("metrics_collected", lambda ev: None)
