"""Providers switch on from the environment only; offline is the default."""

from __future__ import annotations

import logging
import sys

import pytest
from livekit.agents import APIConnectionError, llm, stt, tts

from concierge.lab import require_offline_speech
from concierge.live.launch import speech_status
from concierge.menu import Catalog
from concierge.offline.llm import StandInLLM
from concierge.providers import (
    FALLBACK_NOTICE,
    detect_mode,
    missing_speech_engines,
    offline_speech,
    pick_models,
    prewarm_models,
    text_models,
    turn_error_message,
)
from concierge.session import offline_session


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


def test_openai_key_selects_the_openai_plugin_with_the_stand_in_behind_it(
    catalog: Catalog,
) -> None:
    models = text_models(catalog, env={"OPENAI_API_KEY": "sk-test-not-real"})
    assert models.mode == "openai"
    assert isinstance(models.llm, llm.FallbackAdapter)
    cloud, standin = models.llm._llm_instances
    assert type(cloud).__module__.startswith("livekit.plugins.openai")
    assert isinstance(standin, StandInLLM)
    alone = text_models(
        catalog, env={"OPENAI_API_KEY": "sk-test-not-real", "CONCIERGE_FALLBACK": "none"}
    )
    assert type(alone.llm).__module__.startswith("livekit.plugins.openai")


async def test_an_unreachable_cloud_model_hands_the_session_to_the_stand_in_and_says_so_once(
    unreachable_openai: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="concierge"):
        async with offline_session() as session:
            await session.run(user_input="two churros")
            await session.run(user_input="a large coke")
            assert session.userdata.cart.item_count == 3
    notices = [r.getMessage() for r in caplog.records if r.name == "concierge"]
    assert notices == [FALLBACK_NOTICE.format(what="model", name="gpt-4.1-mini")]
    assert "CONCIERGE_OFFLINE=1" in notices[0]


async def test_without_fallback_a_failed_turn_is_one_sentence_and_the_cart_stays(
    unreachable_openai: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONCIERGE_FALLBACK", "none")
    async with offline_session() as session:
        userdata = session.userdata  # what the customer had before the outage
        userdata.cart.add(userdata.catalog, "churros", 2)
        with pytest.raises(APIConnectionError) as failed:
            await session.run(user_input="three tacos")
        message = turn_error_message(failed.value)
        assert "\n" not in message and "CONCIERGE_OFFLINE=1" in message
        assert message.startswith("The cloud model could not be reached")
        assert session.userdata.cart.item_count == 2


def test_other_errors_are_named_in_one_line() -> None:
    assert turn_error_message(ValueError("bad\nthing")) == "ValueError: bad"


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


def test_cloud_speech_has_the_offline_engines_behind_it(catalog: Catalog) -> None:
    env = {"OPENAI_API_KEY": "sk-test-not-real"}
    models = pick_models(catalog, env, prewarmed=prewarm_models(catalog, env, decoders=0))
    standins = offline_speech(prewarm_models(catalog, {}, decoders=0))
    for adapter, kind, standin in ((models.stt, stt, standins[0]), (models.tts, tts, standins[1])):
        if standin is None:  # this engine is not installed here (pocketsphinx on 3.12)
            continue
        assert isinstance(adapter, kind.FallbackAdapter)
        cloud, behind = adapter._stt_instances if kind is stt else adapter._tts_instances
        cloud = getattr(cloud, "wrapped_stt", cloud)  # whisper does not stream: livekit wraps it
        assert type(cloud).__module__.startswith("livekit.plugins.openai")
        assert type(behind) is type(standin)


def test_only_a_cloud_models_failure_is_blamed_on_the_cloud() -> None:
    from livekit.agents import APIStatusError

    from concierge.store import StoreUnavailableError

    refused = turn_error_message(APIStatusError("invalid api key", status_code=401))
    assert refused.startswith("The cloud model refused") and "CONCIERGE_OFFLINE=1" in refused
    try:
        raise StoreUnavailableError("The store timed out.", reason="timeout") from TimeoutError()
    except StoreUnavailableError as e:
        assert turn_error_message(e) == "StoreUnavailableError: The store timed out."
