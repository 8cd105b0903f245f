"""Providers switch on from the environment only; offline is the default."""

from __future__ import annotations

from concierge.menu import Catalog
from concierge.offline.llm import StandInLLM
from concierge.providers import detect_mode, text_models


def test_modes_from_environment() -> None:
    assert detect_mode({}) == "offline"
    assert detect_mode({"OPENAI_API_KEY": "sk-test"}) == "openai"
    assert detect_mode({"OPENAI_API_KEY": "sk-test", "CONCIERGE_OFFLINE": "1"}) == "offline"
    assert detect_mode({"LIVEKIT_INFERENCE": "1", "LIVEKIT_API_KEY": "k"}) == "livekit-inference"
    assert detect_mode({"LIVEKIT_INFERENCE": "1"}) == "offline"


def test_offline_text_models_use_the_stand_in(catalog: Catalog) -> None:
    models = text_models(catalog, env={})
    assert isinstance(models.llm, StandInLLM)
    assert models.mode == "offline" and "concierge-stand-in" in models.describe()


def test_openai_key_selects_the_openai_plugin(catalog: Catalog) -> None:
    models = text_models(catalog, env={"OPENAI_API_KEY": "sk-test-not-real"})
    assert models.mode == "openai"
    assert type(models.llm).__module__.startswith("livekit.plugins.openai")
