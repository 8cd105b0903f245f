"""The live panel's widgets, headless: what they show equals what the session and cart hold,
and the turn metrics add up (typed turns here; spoken ones in test_live_voice.py)."""

from __future__ import annotations

import html
import json
import logging

import pytest

from concierge import live
from concierge.live.widgets import MetricsStrip, Turn, tool_label
from concierge.store import Store
from concierge.timeline import TOLERANCE_MS


@pytest.fixture
async def handle(store: Store):
    h = await live.launch(store=store, display=False, voice=False)
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
    assert "concierge-chip concierge-error" in html and "<details" in html
    assert first.timing is not None and first.timing.stages["model"] > 0


async def test_tool_calls_are_compact_chips_with_the_json_folded_away(handle) -> None:
    await handle.say("two classic cheeseburgers and a large coke")
    labels = [t.label for t in handle.transcript.turns[-1].tools]
    assert labels == [
        "add_to_cart · Classic Cheeseburger (classic_cheeseburger) × 2",
        "add_to_cart · Coke (coke) × 1 · large",
    ]
    html = handle.transcript.widget.value
    summaries = [s.split("</summary>")[0] for s in html.split("<summary")[1:]]
    assert all("{" not in s and "notes" not in s for s in summaries)  # no raw JSON in a chip
    assert "<pre>" in html and "&quot;item_id&quot;" in html  # ... it is folded under the chip
    assert "🔧" not in html and "<svg" in html  # an icon every browser can draw


def test_tool_label_skips_empty_values_and_survives_bad_json() -> None:
    args = json.dumps({"item_id": "x", "quantity": 3, "size": "null", "notes": ""})
    assert tool_label("add_to_cart", args, lambda _i: "Churros") == "add_to_cart · Churros (x) × 3"
    assert tool_label("checkout", "{}") == "checkout"
    assert tool_label("view_cart", "{not json") == "view_cart"


async def test_typed_turn_metrics_add_up_and_show_no_empty_columns(handle) -> None:
    for text in ("two classic cheeseburgers", "what's in my cart", "checkout"):
        await handle.say(text)
    for turn in handle.transcript.turns:
        timing = turn.timing
        assert timing is not None and not timing.spoken
        assert all(v >= 0 for v in timing.stages.values())
        assert abs(timing.parts_ms - timing.whole_ms) <= TOLERANCE_MS
        assert timing.skew_ms <= TOLERANCE_MS
        assert set(timing.stages) <= {"model", "tools"}  # typed, no voice: no end of turn, no TTS
    html = handle.metrics.widget.value
    assert "end of turn" not in html.split("<table>")[1] and "TTS first audio</th>" not in html
    assert html.count("concierge-metrics-row") == 3 and "<td class='num'>" in html


def test_metrics_strip_has_an_empty_state_and_whole_milliseconds() -> None:
    strip = MetricsStrip()
    assert "No turns yet" in strip.widget.value
    assert Turn(user="x").timing is None


async def test_the_panel_uses_no_deprecated_livekit_api(store: Store, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="livekit.agents")
    h = await live.launch(store=store, display=False, voice=False)
    await h.say("two churros")
    await h.stop()
    assert not [r for r in caplog.records if "deprecat" in r.getMessage().lower()]


async def test_chat_box_sends_on_enter(handle) -> None:
    handle.chat.value = "a kombucha"  # what pressing Enter does with continuous_update=False
    await handle.settle()
    assert handle.chat.value == ""
    assert [r[0] for r in handle.cart_view.rows] == ["Kombucha"]


async def test_status_badge_follows_the_agent(handle) -> None:
    await handle.say("hello")
    assert handle.status.connected and handle.status.mode == "offline"
    assert handle.status.agent_state in ("listening", "idle")
    assert "starting" not in handle.status.widget.value and "live" in handle.status.widget.value


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
    """Room mode wherever a server is available (the LIVEKIT_URL one, else a local one), the
    in-kernel session otherwise — and the panel's sentence says which, and why it fell back."""
    from concierge.live.launch import choose_path

    creds = {
        "LIVEKIT_URL": "wss://x.livekit.cloud",
        "LIVEKIT_API_KEY": "k",
        "LIVEKIT_API_SECRET": "s",
    }
    none, local = (lambda: "no server here"), (lambda: None)
    assert choose_path("auto", env={}, can_serve=local).path == "room"
    fell = choose_path("auto", env={}, can_serve=none)
    assert fell.path == "offline" and fell.sentence.startswith(
        "In-kernel session (the fallback), because no LiveKit server can run here (no server here;"
    )
    on_url = choose_path("auto", env=creds, can_serve=none)  # the same room path, on that server
    assert (on_url.path, on_url.where, on_url.server.url) == (
        "room",
        "room-url",
        creds["LIVEKIT_URL"],
    )
    assert on_url.server.http_url == "https://x.livekit.cloud" and "'s'" not in repr(on_url.server)
    assert choose_path("cloud", env=creds).path == "cloud"
    with pytest.raises(RuntimeError, match="LIVEKIT_URL"):
        choose_path("cloud", env={})
    assert choose_path("offline", env=creds).path == "offline"
    with pytest.raises(RuntimeError, match="no server here"):
        choose_path("room", env={}, can_serve=none)


async def test_a_store_in_this_kernels_memory_keeps_the_panel_in_the_kernel(
    store, tmp_path
) -> None:
    from concierge.live.launch import choose_path
    from concierge.store import open_store

    kept = choose_path("auto", store=store, env={}, can_serve=lambda: None)
    assert kept.path == "offline" and "in this kernel's memory" in kept.sentence
    with pytest.raises(ValueError, match="worker process can open"):
        choose_path("room", store=store, env={}, can_serve=lambda: None)
    on_disk = await open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        chosen = choose_path("auto", store=on_disk, env={}, can_serve=lambda: None)
        assert (chosen.path, chosen.store_url) == ("room", f"sqlite:///{tmp_path / 'c.db'}")
    finally:
        await on_disk.close()


async def test_the_panel_says_which_path_it_is_on(store) -> None:
    h = await live.launch(store=store, display=False, voice=False)
    try:
        assert h.mode == "offline" and h.path is not None
        said = html.escape(h.path.sentence)
        assert "memory" in said and h.note.value.index(said) < h.note.value.index("Type your order")
    finally:
        await h.stop()


@pytest.mark.parametrize("fallback", ["offline", "none"])
async def test_a_key_with_no_network_is_one_sentence_in_the_panel(
    store: Store,
    unreachable_openai: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fallback: str,
) -> None:
    monkeypatch.setenv("CONCIERGE_FALLBACK", fallback)
    h = await live.launch(store=store, display=False, voice=False)
    try:
        with caplog.at_level(logging.INFO):
            reply = await h.say("three churros")
        if fallback == "offline":
            assert "Churros" in reply and h.cart.item_count == 3
        else:
            assert reply.startswith("The cloud model could not be reached"), reply
            assert "CONCIERGE_OFFLINE=1" in reply and "\n" not in reply
            assert h.cart.item_count == 0
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    finally:
        await h.stop()
