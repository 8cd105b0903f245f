"""Providers switch on from the environment only; offline is the default."""

from __future__ import annotations

import sys

import pytest

from concierge.lab import require_offline_speech
from concierge.live.launch import speech_status
from concierge.menu import Catalog
from concierge.offline.llm import StandInLLM
from concierge.providers import (
    detect_mode,
    missing_speech_engines,
    offline_speech,
    prewarm_models,
    text_models,
)


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


@pytest.fixture
def no_pocketsphinx(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on Python 3.12, where the `speech` extra leaves pocketsphinx out (no wheel)."""
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # find_spec → None, import fails


def test_a_missing_speech_engine_is_said_plainly_everywhere(
    catalog: Catalog, no_pocketsphinx: None
) -> None:
    missing = missing_speech_engines()
    assert list(missing) == ["speech-to-text"]
    sentence = missing["speech-to-text"]
    assert "pocketsphinx" in sentence and "concierge-lab[speech]" in sentence

    prewarmed = prewarm_models(catalog, env={}, decoders=0)
    speech_to_text, text_to_speech = offline_speech(prewarmed)
    assert speech_to_text is None and text_to_speech is not None
    assert prewarmed.notes == [sentence]

    assert "Type your order below" in speech_status(False)
    with pytest.raises(RuntimeError, match="needs both offline speech engines") as raised:
        require_offline_speech()
    assert sentence in str(raised.value)
    # In a notebook, IPython shows this in place of the traceback: the sentence alone.
    shown = raised.value._render_traceback_()  # type: ignore[attr-defined]
    assert shown == [f"OfflineSpeechMissing: {raised.value}"]


def test_installed_speech_engines_are_named() -> None:
    assert missing_speech_engines() == {}
    assert require_offline_speech() == (
        "Offline speech: pocketsphinx (speech-to-text), hibari (text-to-speech) installed."
    )
    assert speech_status(True).startswith("Click Talk")
