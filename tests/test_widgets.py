"""The live panel's widgets, headless: what they show equals what the session and cart hold."""

from __future__ import annotations

import pytest

from concierge import live
from concierge.providers import missing_speech_engines
from concierge.store import Store

needs_offline_speech = pytest.mark.skipif(
    bool(missing_speech_engines()), reason=" ".join(missing_speech_engines().values())
)


@pytest.fixture
async def handle(store: Store):
    h = await live.launch(store=store, display=False)
    yield h
    if h.session is not None:
        await h.stop()


async def test_cart_widget_matches_the_cart_after_a_conversation(handle) -> None:
    await handle.say("two classic cheeseburgers and a large coke")
    await handle.say("a tiramisu")
    await handle.say("remove the coke")
    assert handle.cart_view.rows == [
        ("Classic Cheeseburger", "Burger Barn", "—", 2, "$19.98"),
        ("Tiramisu", "Luigi's Trattoria", "—", 1, "$7.00"),
    ]
    assert handle.cart_view.total_text == "$26.98"
    assert [ln.item_id for ln in handle.cart.lines] == ["classic_cheeseburger", "tiramisu"]
    html = handle.cart_view.widget.value
    assert html.count("concierge-cart-row") == 2 and "$26.98" in html


async def test_the_added_line_flashes(handle) -> None:
    await handle.say("two churros")
    assert "concierge-cart-row concierge-flash" in handle.cart_view.widget.value
    await handle.say("remove the churros")
    assert "concierge-flash" not in handle.cart_view.widget.value


async def test_transcript_folds_tools_under_turns_and_errors_are_red(handle) -> None:
    await handle.say("two edamame")
    await handle.say("500 large sprites")
    first, second = handle.transcript.turns
    assert [t.name for t in first.tools] == ["add_to_cart"] and not first.tools[0].is_error
    assert second.tools[0].is_error and "at most 20" in second.tools[0].output
    html = handle.transcript.widget.value
    assert "concierge-tool concierge-error" in html and "<details" in html
    assert first.llm_ms > 0 and first.total_ms is not None


async def test_chat_box_sends_on_enter(handle) -> None:
    handle.chat.value = "a kombucha"  # what pressing Enter does with continuous_update=False
    await handle.settle()
    assert handle.chat.value == ""
    assert [r[0] for r in handle.cart_view.rows] == ["Kombucha"]


async def test_status_badge_follows_the_agent(handle) -> None:
    await handle.say("hello")
    assert handle.status.connected and handle.status.mode == "offline"
    assert handle.status.agent_state in ("listening", "idle")


async def test_launch_twice_replaces_and_stop_saves(store: Store) -> None:
    first = await live.launch(store=store, display=False, user_id="alex")
    await first.say("three churros")
    second = await live.launch(store=store, display=False, user_id="alex")
    assert first.session is None and first.chat.disabled
    assert live.current() is second
    assert [(r[0], r[3]) for r in second.cart_view.rows] == [("Churros", 3)]  # saved by stop
    await second.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        await second.say("hello")


def test_mode_selection() -> None:
    assert live.resolve_mode("auto", env={}) == "offline"
    creds = {"LIVEKIT_URL": "wss://x", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"}
    assert live.resolve_mode("auto", env=creds) == "cloud"
    with pytest.raises(RuntimeError, match="LIVEKIT_URL"):
        live.resolve_mode("cloud", env={})


@needs_offline_speech
async def test_speak_it_goes_through_the_offline_speech_path(handle) -> None:
    await handle.speak("three churros")
    assert [(r[0], r[3]) for r in handle.cart_view.rows] == [("Churros", 3)]
    assert handle.transcript.turns[-1].user == "three churros"  # what the recogniser heard


@needs_offline_speech
async def test_speak_toggle_routes_the_chat_box_through_speech(handle) -> None:
    handle.voice_toggle.value = True
    handle.chat.value = "a falafel bowl"
    await handle.settle()
    assert [r[0] for r in handle.cart_view.rows] == ["Falafel Bowl"]
