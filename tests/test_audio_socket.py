"""The live panel's direct audio socket (concierge/live/audio_socket.py), driven by a real aiohttp
WebSocket client where the browser would be: who may connect, that audio reaches the session in
order, that garbage is dropped without ending the call, and that comm messages take over when no
page holds the socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from concierge.live.audio_socket import decode, direct_transport_enabled, encode
from concierge.live.voice import BrowserVoice

from .audio_page import ORIGIN, ask, dial, ticket


@pytest.fixture
async def voice() -> AsyncIterator[BrowserVoice]:
    voice = BrowserVoice()
    await voice.widget.open_direct()
    yield voice
    await voice.aclose()


async def _hello(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    header, _ = decode((await ws.receive(timeout=5)).data)
    return header


async def test_only_a_ticket_from_the_comm_opens_the_socket_and_the_kernel_proves_itself(
    voice: BrowserVoice,
) -> None:
    answer = ask(voice.widget, ask_id="view-1")
    url = answer["url"]
    assert url.startswith("ws://127.0.0.1:") and answer["ask"] == "view-1"
    async with aiohttp.ClientSession() as http:
        for wrong in (url.rsplit("/", 1)[0] + "/guess", url + "x", url.rsplit("/", 1)[0] + "/"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(wrong, origin=ORIGIN)
            assert refused.value.status in (403, 404)
        async with http.ws_connect(url, origin=ORIGIN) as ws:
            assert await _hello(ws) == {"type": "hello", "proof": answer["proof"]}


async def test_microphone_audio_through_the_socket_reaches_the_session_in_order(
    voice: BrowserVoice,
) -> None:
    chunks = [bytes([n]) * 3200 for n in range(1, 9)]  # eight 100 ms chunks, each recognisable
    async with aiohttp.ClientSession() as http, dial(http, voice.widget) as ws:
        await _hello(ws)
        for chunk in chunks:
            await ws.send_bytes(encode({"type": "audio", "t": time.time() * 1000}, chunk))
        frames = [await asyncio.wait_for(anext(voice.mic), 5) for _ in range(8 * 5)]
    assert b"".join(bytes(f.data) for f in frames) == b"".join(chunks)
    assert len(voice.mic.transport_delays) == 8
    assert all(0 <= d < 1 for d in voice.mic.transport_delays)


async def test_replies_and_barge_in_go_through_the_socket_once_the_page_holds_it(
    voice: BrowserVoice,
) -> None:
    widget = voice.widget
    by_comm: list[dict[str, Any]] = []
    widget.send = lambda content, buffers=None: by_comm.append(content)  # type: ignore[method-assign]
    widget.play(b"\x01\x00" * 240, 24000, 1)  # no page connected yet: a comm message
    assert [m["type"] for m in by_comm] == ["play"]
    async with aiohttp.ClientSession() as http, dial(http, widget) as ws:
        await _hello(ws)
        widget.play(b"\x02\x00" * 480, 24000, 2)
        widget.play(b"\x03\x00" * 480, 24000, 2)
        widget.stop_playback()
        got = [decode((await ws.receive(timeout=5)).data) for _ in range(3)]
    assert [(h["type"], h.get("seg"), p[:2]) for h, p in got] == [
        ("play", 2, b"\x02\x00"),
        ("play", 2, b"\x03\x00"),
        ("stop", None, b""),
    ]
    assert len(by_comm) == 1  # nothing went both ways
    await asyncio.sleep(0.05)
    assert not widget.channel or not widget.channel.connected
    widget.stop_playback()  # the page left: comm again
    assert [m["type"] for m in by_comm] == ["play", "stop"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.lists(st.one_of(st.binary(max_size=64), st.text(max_size=16)), max_size=6))
async def test_garbage_from_the_page_is_dropped_and_the_call_goes_on(
    voice: BrowserVoice, garbage: list[bytes | str]
) -> None:
    """Frames that do not parse, headers of the wrong shape, text messages: each is counted and
    dropped; the connection stays open and the next real chunk still reaches the session."""
    hostile = [
        *garbage,
        encode({"type": "started", "seg": "x", "at": None}),
        encode({"type": "audio", "t": "soon"}, bytes(3200)),
        encode({"type": "audio"}, b"\x05"),  # half a sample: dropped, later ones stay aligned
    ]
    async with aiohttp.ClientSession() as http, dial(http, voice.widget) as ws:
        await _hello(ws)
        for message in hostile:
            await (ws.send_str(message) if isinstance(message, str) else ws.send_bytes(message))
        await ws.send_bytes(encode({"type": "audio", "t": time.time() * 1000}, b"\x07" * 640))
        frames = [await asyncio.wait_for(anext(voice.mic), 5) for _ in range(1)]
        assert not ws.closed
    assert bytes(frames[-1].data) == b"\x07" * 640
    assert voice.widget.bad_messages >= 3
    while not voice.mic._frames.empty():  # the next example starts from an empty microphone
        voice.mic._frames.get_nowait()


@given(
    header=st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=4),
    payload=st.binary(max_size=256),
)
def test_a_frame_decodes_to_what_was_encoded_with_its_payload_at_an_even_offset(
    header: dict[str, Any], payload: bytes
) -> None:
    header = {**header, "type": "play"}
    frame = encode(header, payload)
    assert decode(frame) == (header, payload)
    assert (len(frame) - len(payload)) % 2 == 0


async def test_the_server_stops_with_its_last_widget() -> None:
    voice = BrowserVoice()
    await voice.widget.open_direct()
    async with aiohttp.ClientSession() as http:
        ws = await dial(http, voice.widget)
        await _hello(ws)
        unused = ticket(voice.widget)
        await voice.aclose()  # the panel stopped: the page's socket closes, the port with it
        assert (await ws.receive(timeout=5)).type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        )
        await ws.close()
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.ws_connect(unused, origin=ORIGIN)
    assert not voice.widget.direct


async def test_comm_only_when_asked_and_a_wrong_setting_says_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONCIERGE_VOICE_TRANSPORT", "comm")
    voice = BrowserVoice()
    await voice.widget.open_direct()
    assert not voice.widget.direct and voice.widget.channel is None
    assert "url" not in ask(voice.widget)  # the page is told to use comm messages
    await voice.aclose()
    monkeypatch.setenv("CONCIERGE_VOICE_TRANSPORT", "websocket")
    with pytest.raises(ValueError, match="'auto'.*'comm'"):
        direct_transport_enabled()


async def test_the_widget_shown_twice_plays_the_agent_once_on_the_page_that_spoke(
    voice: BrowserVoice,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        dial(http, voice.widget) as first,
        dial(http, voice.widget) as second,
    ):
        await _hello(first)
        await _hello(second)
        voice.widget.play(b"\x01\x00" * 240, 24000, 1)  # nobody spoke yet: both views get it
        for ws in (first, second):
            assert decode((await ws.receive(timeout=5)).data)[0]["seg"] == 1
        await second.send_bytes(encode({"type": "audio", "t": time.time() * 1000}, bytes(3200)))
        await asyncio.wait_for(anext(voice.mic), 5)
        voice.widget.play(b"\x02\x00" * 240, 24000, 2)
        assert decode((await second.receive(timeout=5)).data)[0]["seg"] == 2
        with pytest.raises(asyncio.TimeoutError):
            await first.receive(timeout=0.3)


async def test_no_loopback_to_listen_on_leaves_the_widget_on_comm_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def refuse(_site: Any) -> None:
        raise OSError(99, "Cannot assign requested address")

    monkeypatch.setattr(aiohttp.web.TCPSite, "start", refuse)
    voice = BrowserVoice()
    await voice.widget.open_direct()  # says so in the log, and the panel still starts
    assert not voice.widget.direct and voice.widget.channel is None
    sent: list[dict[str, Any]] = []
    voice.widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    voice.widget.play(bytes(480), 24000, 1)
    assert [m["type"] for m in sent] == ["play"]
    await voice.aclose()
