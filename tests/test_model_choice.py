"""One place picks the models for every way a session starts: the worker's job, the offline text
session, the offline voice session and the live panel all reach `providers.pick_models`, and only
it asks `_llm` for the model."""

from __future__ import annotations

from typing import Any

import pytest

from concierge import providers
from concierge.providers import missing_speech_engines
from concierge.store import Store


@pytest.fixture
def picks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The `mode` of every model choice made while the test runs (through `pick_models` only)."""
    seen: list[str] = []
    real = providers._llm

    def spy(mode: Any, catalog: Any, env: Any) -> Any:
        seen.append(mode)
        return real(mode, catalog, env)

    monkeypatch.setattr(providers, "_llm", spy)
    return seen


async def test_the_worker_job_picks_through_pick_models(store: Store, picks: list[str]) -> None:
    from concierge.lab.inprocess import run_job

    await run_job(store, ["two churros"])
    assert picks == ["offline"]


async def test_the_offline_session_picks_through_pick_models(picks: list[str]) -> None:
    from concierge.session import offline_session

    async with offline_session() as session:
        await session.run(user_input="a kombucha")
    assert picks == ["offline"]


@pytest.mark.skipif(bool(missing_speech_engines()), reason="offline speech engines missing")
async def test_the_voice_session_picks_through_pick_models(picks: list[str]) -> None:
    from concierge.session import voice_session

    async with voice_session():
        pass
    assert picks == ["offline"]


async def test_the_live_panel_picks_through_pick_models(store: Store, picks: list[str]) -> None:
    from concierge import live

    handle = await live.launch(store=store, display=False, voice=False)
    try:
        assert picks == ["offline"]
    finally:
        await handle.stop()


def test_pick_models_is_the_only_caller_of_the_model_choice() -> None:
    import inspect

    source = inspect.getsource(providers)
    body = source[
        source.index("def pick_models(") : source.index("\ndef ", source.index("def pick_models("))
    ]
    assert source.count("_llm(mode, catalog, env)") == body.count("_llm(mode, catalog, env)") == 2
