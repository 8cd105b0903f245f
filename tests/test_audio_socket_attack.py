"""The live panel's audio socket against a hostile or broken client: a page that never reads what
the kernel sends, headers built to break the JSON parser, numbers no page can mean, widgets opened
at the same moment, and the panel closed while pages flood it. Each must leave the call (or the
kernel) in a plain state: a counted bad frame, a dropped page, a closed port — never a hang, a
traceback or a socket left listening."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import struct
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from concierge.live.audio_socket import MAX_BACKLOG_BYTES, MAX_PAGES, decode, encode
from concierge.live.voice import BrowserVoice

from .audio_page import ORIGIN, dial, ticket


@pytest.fixture
async def voice() -> AsyncIterator[BrowserVoice]:
    voice = BrowserVoice()
    await voice.widget.open_direct()
    yield voice
    await asyncio.wait_for(voice.aclose(), 5)


def _raw(header: bytes, payload: bytes = b"") -> bytes:
    """A frame whose header is these exact bytes (json.dumps could not write NaN or 1e400)."""
    return struct.pack("<I", len(header)) + header + payload


async def _hello(ws: aiohttp.ClientWebSocketResponse) -> None:
    assert decode((await ws.receive(timeout=5)).data)[0]["type"] == "hello"


async def _deaf_page(url: str, origin: str = ORIGIN) -> socket.socket:
    """A client that opens the WebSocket and then never reads a byte (a hung tab, a stray tool)."""
    where = urlparse(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (where.hostname, where.port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        (
            f"GET {where.path} HTTP/1.1\r\nHost: {where.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\n\r\n"
        ).encode(),
    )
    return sock


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_a_page_that_never_reads_is_dropped_and_the_panel_still_stops() -> None:
    """Agent audio queued for a page that takes none of it is bounded: past MAX_BACKLOG_BYTES the
    page is dropped (replies go by comm messages again), and closing the panel does not wait on it."""
    voice = BrowserVoice()
    await voice.widget.open_direct()
    widget, channel = voice.widget, voice.widget.channel
    assert channel is not None
    port = channel.server.port
    deaf = await _deaf_page(ticket(widget))
    for _ in range(100):
        if channel.connected:
            break
        await asyncio.sleep(0.02)
    assert channel.connected
    by_comm: list[dict[str, Any]] = []
    widget.send = lambda content, buffers=None: by_comm.append(content)  # type: ignore[method-assign]
    chunk = bytes(12000)  # 250 ms of 24 kHz agent audio, as BrowserSpeaker sends it
    for _ in range(1200):  # five minutes of speech: far more than the kernel's socket buffers hold
        widget.play(chunk, 24000, 1)
        await asyncio.sleep(0)
        if not channel.connected:
            break
    assert not channel.connected, "the page that reads nothing is still fed"
    assert sum(p.backlog for p in channel._pages.values()) <= MAX_BACKLOG_BYTES
    widget.play(chunk, 24000, 2)
    assert by_comm and by_comm[-1]["seg"] == 2  # the next reply goes the way that still works
    await asyncio.wait_for(
        voice.aclose(), 60
    )  # closes: waits on the unread page for a while, not for ever
    assert not _listening(port)
    deaf.close()


async def test_closing_the_panel_does_not_wait_on_a_page_that_never_answers_the_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each deaf page gets CLOSE_TIMEOUT_S, all at once: three take one timeout, not three. The
    timeout is set long here so a loaded machine's delays are small beside it."""
    import concierge.live.audio_socket as audio_socket

    monkeypatch.setattr(audio_socket, "CLOSE_TIMEOUT_S", 5.0)
    voice = BrowserVoice()
    await voice.widget.open_direct()
    assert voice.widget.channel is not None
    port = voice.widget.channel.server.port
    deaf = [await _deaf_page(ticket(voice.widget)) for _ in range(3)]
    await asyncio.sleep(0.2)
    pages = voice.widget.channel._pages.values()
    for _ in range(1000):  # until every socket is full and agent audio queues up behind it
        if len(pages) == 3 and all(p.backlog > 0 for p in pages):
            break
        voice.widget.play(bytes(12000), 24000, 1)
        await asyncio.sleep(0.001)
    assert len(pages) == 3 and all(0 < p.backlog <= MAX_BACKLOG_BYTES for p in pages)
    started = time.perf_counter()
    await asyncio.wait_for(voice.aclose(), 60)
    assert time.perf_counter() - started < 2 * audio_socket.CLOSE_TIMEOUT_S  # one after another: 3
    assert not _listening(port)
    for sock in deaf:
        sock.close()


@given(depth=st.integers(min_value=1, max_value=200_000), opener=st.sampled_from([b"[", b'{"a":']))
def test_any_header_that_is_not_a_frame_is_a_value_error(depth: int, opener: bytes) -> None:
    """Deep nesting makes json.loads raise RecursionError: it must say "not a frame" like the rest."""
    with pytest.raises(ValueError):
        decode(_raw(opener * depth))


async def test_a_deeply_nested_header_is_a_bad_frame_and_the_call_goes_on(
    voice: BrowserVoice, caplog: pytest.LogCaptureFixture
) -> None:
    channel = voice.widget.channel
    assert channel is not None
    async with aiohttp.ClientSession() as http, dial(http, voice.widget) as ws:
        await _hello(ws)
        await ws.send_bytes(_raw(b"[" * 100_000))
        await ws.send_bytes(encode({"type": "audio", "t": time.time() * 1000}, b"\x07" * 640))
        frame = await asyncio.wait_for(anext(voice.mic), 5)
        assert not ws.closed
    assert bytes(frame.data) == b"\x07" * 640
    assert channel.bad_frames == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


HOSTILE_NUMBERS = [
    _raw(b'{"type":"audio","t":NaN}', bytes(640)),
    _raw(b'{"type":"audio","t":Infinity}', bytes(640)),
    _raw(b'{"type":"audio","t":' + b"9" * 400 + b"}", bytes(640)),
    _raw(b'{"type":"started","seg":Infinity,"at":1}'),
    _raw(b'{"type":"started","seg":NaN,"at":1}'),
    _raw(b'{"type":"started","seg":1,"at":' + b"9" * 400 + b"}"),
    _raw(b'{"type":"started","seg":1,"at":NaN}'),
    _raw(b'{"type":"started","seg":1,"at":1,"transit":-Infinity}'),
    _raw(b'{"type":"started","seg":1,"at":1,"latency":NaN}'),
]


async def test_numbers_no_page_can_send_are_bad_messages_without_a_traceback(
    voice: BrowserVoice, caplog: pytest.LogCaptureFixture
) -> None:
    """NaN, infinities and 400-digit integers parse as JSON here but mean nothing: each message is
    counted and dropped; none reaches the timings (a NaN there cannot even be synced to the page)."""
    widget = voice.widget
    seen: list[tuple[Any, ...]] = []
    widget.on_started = lambda *args: seen.append(args)
    async with aiohttp.ClientSession() as http, dial(http, widget) as ws:
        await _hello(ws)
        for frame in HOSTILE_NUMBERS:
            await ws.send_bytes(frame)
        await ws.send_bytes(encode({"type": "audio", "t": time.time() * 1000}, b"\x07" * 640))
        frame = await asyncio.wait_for(anext(voice.mic), 5)
    assert bytes(frame.data) == b"\x07" * 640  # the hostile chunks never reached the microphone
    assert widget.bad_messages == len(HOSTILE_NUMBERS)
    assert seen == []
    assert len(voice.mic.transport_delays) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_widgets_opened_at_once_share_one_server_and_leave_no_port_behind() -> None:
    voices = [BrowserVoice() for _ in range(3)]
    await asyncio.gather(*(v.widget.open_direct() for v in voices))
    ports = {urlparse(ticket(v.widget)).port for v in voices}
    assert len(ports) == 1
    for v in voices:
        await v.aclose()
    assert ports and not any(_listening(p) for p in ports if p is not None)


async def test_closing_the_panel_while_pages_flood_it_closes_them_all_promptly() -> None:
    voice = BrowserVoice()
    await voice.widget.open_direct()
    chunk = encode({"type": "audio", "t": time.time() * 1000}, bytes(3200))

    async def flood(ws: aiohttp.ClientWebSocketResponse) -> None:
        with_errors = (ConnectionError, RuntimeError)
        try:
            while not ws.closed:
                await ws.send_bytes(chunk)
                await asyncio.sleep(0)
        except with_errors:
            pass

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        pages = [await dial(http, voice.widget) for _ in range(MAX_PAGES)]
        late = ticket(voice.widget)
        floods = [asyncio.create_task(flood(ws)) for ws in pages]
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        await asyncio.wait_for(voice.aclose(), 5)
        closing = time.perf_counter() - started
        await asyncio.wait_for(asyncio.gather(*floods), 5)
        for ws in pages:
            await ws.close()
    assert closing < 2.5
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http:
            await http.ws_connect(late, origin=ORIGIN)


# The page's side (voice.js), run in Node with just enough of a browser faked around it: a
# WebSocket whose state the test drives, a model, an element, and a microphone that never sounds.
PAGE_HARNESS = r"""
import { pathToFileURL } from "node:url";
const sockets = [];
globalThis.WebSocket = class {
  static OPEN = 1;
  constructor(url) { this.url = url; this.readyState = 0; this.sent = 0; this.lost = 0; sockets.push(this); }
  send() { if (this.readyState === 1) this.sent++; else this.lost++; }  // as a browser: dropped
  close() { if (this.readyState < 2) { this.readyState = 2; this.closed = true; } }
  hear(header) {  // the kernel sends a frame; a socket the page closed dispatches nothing
    if (this.closed) return;
    const head = new TextEncoder().encode(JSON.stringify(header));
    const buf = new Uint8Array(4 + head.length);
    new DataView(buf.buffer).setUint32(0, head.length, true);
    buf.set(head, 4);
    this.onmessage({ data: buf.buffer });
  }
};
const clicks = [];
const node = () => {
  const found = {};
  return {
    classList: { add() {}, remove() {}, toggle() {} }, style: {}, dataset: {}, textContent: "",
    querySelector: (sel) => (found[sel] ??= node()), addEventListener: (_kind, fn) => clicks.push(fn),
  };
};
let worklet = null;
globalThis.navigator = { mediaDevices: { getUserMedia: async () => ({ getTracks: () => [] }) } };
globalThis.AudioWorkletNode = class { constructor() { this.port = {}; worklet = this; } connect(n) { return n; } };
globalThis.AudioContext = class {
  constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
  get audioWorklet() { return { addModule: async () => {} }; }
  createMediaStreamSource() { return { connect: (n) => n }; }
  createGain() { return { gain: {}, connect: (n) => n }; }
  resume() {} close() {}
};
globalThis.location = { origin: "http://127.0.0.1:8888" };
function model() {
  const state = { direct: true, played_samples: 0, enabled: true };
  const on = {};
  return {
    state, byComm: [], asks: [],
    get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {},
    send(header) {
      this.byComm.push(header.type);
      if (header.type === "connect") this.asks.push(header);
      if (header.type === "mic") state.active = header.active;  // what the kernel does with it
    },
    on: (e, f) => { (on[e] ??= []).push(f); }, off: (e, f) => { on[e] = (on[e] || []).filter((g) => g !== f); },
    emit(e) { for (const f of on[e] || []) f(); },
    grant(i = -1, extra = {}) {  // the kernel answers a view's request (by default the latest)
      const answer = { type: "socket", ask: this.asks.at(i).ask, url: "ws://127.0.0.1:1/ticket", proof: "proof", ...extra };
      for (const f of on["msg:custom"] || []) f(answer, []);
    },
  };
}
const { default: widget } = await import(pathToFileURL(process.argv[2]).href);
const out = {};

// 1. the view is removed before the kernel's hello arrives
let m = model();
let teardown = widget.render({ model: m, el: node() });
m.grant();
const early = sockets.at(-1);
early.readyState = 1;
teardown();
early.hear({ type: "hello", proof: "proof" });
out.removed_view = { socket_closed: !!early.closed, transport: m.state.transport ?? "comm" };

// 2. the kernel closes the socket mid-call: chunks sent while it is closing must not vanish
m = model();
widget.render({ model: m, el: node() });
m.grant();
const ws = sockets.at(-1);
ws.readyState = 1;
ws.hear({ type: "hello", proof: "proof" });
await clicks.at(-1)();  // Talk
const chunk = () => worklet.port.onmessage({ data: { pcm: new Int16Array(1600).buffer, rms: 0 } });
chunk();
ws.readyState = 2;  // the kernel's close frame arrived; onclose comes once the TCP close is done
chunk();
out.closing = { direct: ws.sent, lost: ws.lost, by_comm: m.byComm.filter((t) => t === "audio").length };

// 3. the kernel was busy (a blocking cell) and never answered the first socket: Talk tries again
m = model();
widget.render({ model: m, el: node() });
m.grant();
const missed = sockets.at(-1);
missed.readyState = 3;
missed.onclose();  // the page gave up waiting for the hello
const before = sockets.length;
await clicks.at(-1)();  // Talk: a new request, a new ticket
m.grant();
const again = sockets.at(-1);
again.readyState = 1;
again.hear({ type: "hello", proof: "proof" });
chunk();
out.retry = {
  new_sockets: sockets.length - before, transport: m.state.transport, direct: again.sent, asks: m.asks.length,
};

// 5. two views of one model ask at once: an answer opens a socket only in the view that asked,
// an answer without a ticket opens none, and no secret ever becomes a trait (traits are saved)
m = model();
widget.render({ model: m, el: node() });
widget.render({ model: m, el: node() });
const base = sockets.length;
m.grant(0);
const afterFirst = sockets.length - base;
m.grant(0);  // the same answer again (a late duplicate): that view asks nothing any more
m.grant(1, { url: undefined, proof: undefined });  // the kernel offers comm only
out.tickets = {
  asks: m.asks.length,
  origins: [...new Set(m.asks.map((a) => a.origin))],
  sockets_after_first: afterFirst,
  sockets: sockets.length - base,
  url: sockets.at(-1).url,
  secret_traits: Object.keys(m.state).filter((k) => /url|proof|token|ticket/.test(k)),
};

// 4. the panel's session stopped: its Talk button must not open a microphone nobody hears
m = model();
let asked = 0;
globalThis.navigator.mediaDevices.getUserMedia = async () => { asked++; return { getTracks: () => [] }; };
const el = node();
widget.render({ model: m, el });
m.state.enabled = false;
await clicks.at(-1)();  // Talk, on a stopped panel
out.stopped_panel = { microphone_opened: asked, active: m.state.active ?? false };

// 6. Talk follows the kernel's `enabled` both ways: off while the panel is not live, on once it is
m = model();
m.state.enabled = false;
const shown = node();
widget.render({ model: m, el: shown });
const talk = shown.querySelector(".concierge-mic");
const offAtFirst = talk.disabled;
m.state.enabled = true;
m.emit("change:enabled");
const onWhenLive = !talk.disabled;
await clicks.at(-1)();  // Talk: the microphone opens
const opened = m.state.active;
m.state.enabled = false;
m.emit("change:enabled");  // the panel stopped: the microphone closes with it
out.follows_status = { off_at_first: offAtFirst, on_when_live: onWhenLive, opened, closed: m.state.active === false, off_again: talk.disabled };
console.log(JSON.stringify(out));
process.exit(0);  // the connect timeouts left running would keep Node up for seconds
"""


@pytest.fixture(scope="module")
def page_side(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import json
    import shutil
    import subprocess
    from pathlib import Path

    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the page-side checks need it")
    harness = tmp_path_factory.mktemp("page") / "harness.mjs"
    harness.write_text(PAGE_HARNESS)
    voice_js = Path(__file__).parents[1] / "concierge" / "live" / "voice.js"
    done = subprocess.run(
        [node, str(harness), str(voice_js)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_view_removed_before_the_kernels_hello_closes_its_socket(
    page_side: dict[str, Any],
) -> None:
    """Else the hello, arriving later, makes the removed view the direct page: it takes the agent's
    audio (and plays it, unseen) and says "direct" for a view nobody looks at."""
    assert page_side["removed_view"] == {"socket_closed": True, "transport": "comm"}


def test_microphone_chunks_sent_while_the_kernel_closes_the_socket_go_by_comm(
    page_side: dict[str, Any],
) -> None:
    """A WebSocket that is closing silently drops what is sent on it; until its close event the
    page still held it as its direct socket, so those chunks of the user's speech were lost."""
    # direct: the microphone's "on" report, then the first chunk; the second goes by comm
    assert page_side["closing"] == {"direct": 2, "lost": 0, "by_comm": 1}


def test_talk_tries_the_socket_again_when_the_kernel_missed_the_first_hello(
    page_side: dict[str, Any],
) -> None:
    """A cell that blocks the kernel right after the panel appears delays the hello past the
    page's wait: the page used comm messages for the rest of the session. (A ticket opens one
    connection: the retry asks for a new one.)"""
    assert page_side["retry"] == {
        "new_sockets": 1,
        "transport": "direct",
        "direct": 1,
        "asks": 2,
    }


def test_a_ticket_opens_a_socket_only_in_the_view_that_asked_for_it(
    page_side: dict[str, Any],
) -> None:
    """The kernel's answer reaches every view of the widget; only the one whose request it
    answers dials, once. Each request carries the page's own origin, and nothing secret is kept
    as a trait (traits are what a saved notebook stores)."""
    assert page_side["tickets"] == {
        "asks": 2,
        "origins": ["http://127.0.0.1:8888"],
        "sockets_after_first": 1,
        "sockets": 1,
        "url": "ws://127.0.0.1:1/ticket",
        "secret_traits": [],
    }


def test_talk_follows_the_panels_status_both_ways(page_side: dict[str, Any]) -> None:
    """The kernel derives `enabled` from the panel's one status (concierge/live/status.py): Talk
    is off until the session is live, on while it is, and turning it off closes the microphone."""
    assert page_side["follows_status"] == {
        "off_at_first": True,
        "on_when_live": True,
        "opened": True,
        "closed": True,
        "off_again": True,
    }


def test_talk_on_a_stopped_panel_opens_no_microphone(page_side: dict[str, Any]) -> None:
    """Notebook 9 stops its first panel and launches another: the first panel's Talk button still
    streamed the learner's order to a session that was gone (nothing heard, nothing said)."""
    assert page_side["stopped_panel"] == {"microphone_opened": 0, "active": False}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            RuntimeError("the voice activity model could not load"),
            "the voice activity model could not load",
        ),
        (asyncio.CancelledError(), "CancelledError"),  # the learner interrupted the cell
    ],
)
async def test_a_launch_that_fails_after_opening_the_socket_leaves_no_port(
    monkeypatch: pytest.MonkeyPatch, error: BaseException, reason: str
) -> None:
    """No handle reaches the caller, so nobody could stop it: the socket stayed listening for the
    rest of the kernel's life (and kept later panels' server up)."""
    import concierge.session
    from concierge.live import launch
    from concierge.live.audio_socket import AudioSocketServer
    from concierge.store import open_store

    async def fails(*_args: Any, **_kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(concierge.session, "start_session", fails)
    opened: list[int] = []
    real_open = AudioSocketServer.open_channel

    async def watched(on_frame: Any) -> Any:
        channel = await real_open(on_frame)
        opened.append(channel.server.port)
        return channel

    monkeypatch.setattr(AudioSocketServer, "open_channel", watched)
    import sys

    launching = sys.modules["concierge.live.launch"]  # the package's `launch` is the function

    panels: list[Any] = []
    new_handle = launching._new_handle
    monkeypatch.setattr(
        launching, "_new_handle", lambda mode: panels.append(new_handle(mode)) or panels[-1]
    )
    store = await open_store("memory")
    try:
        with pytest.raises(type(error)):
            await launch(store=store, display=False, voice=True)
    finally:
        await store.close()
    assert opened and not _listening(opened[0])
    # the panel the learner already sees says it failed, and offers nothing that would go unheard
    (panel,) = panels
    assert f"could not start: {reason}" in panel.note.value
    assert "failed to start" in panel.status.widget.value
    assert panel.chat.disabled and panel.voice is not None and not panel.voice.widget.enabled


async def test_speaking_to_a_stopped_panel_says_it_stopped_and_leaves_no_port() -> None:
    from concierge.live import launch
    from concierge.store import open_store

    store = await open_store("memory")
    try:
        handle = await launch(store=store, display=False, voice=True)
        assert handle.voice is not None and handle.voice.widget.channel is not None
        port = handle.voice.widget.channel.server.port
        await handle.stop()
        await handle.stop()  # twice: nothing left to close, no error
    finally:
        await store.close()
    assert not _listening(port)
    with pytest.raises(RuntimeError, match="stopped; call launch"):
        await handle.speak("three churros")


async def test_microphone_audio_faster_than_speech_is_dropped_past_a_burst(
    voice: BrowserVoice,
) -> None:
    """A client flooding the socket with "microphone" audio grew the session's queues without
    bound (5 s of flooding: 3,000 s of audio, +140 MB, the next turn answered 16 s late). A
    page's backlog after a busy kernel (here 10 s at once) still arrives whole."""
    from concierge.live.voice import MIC_BURST_S, MIC_RATE

    second = bytes(MIC_RATE * 2)
    async with aiohttp.ClientSession() as http, dial(http, voice.widget) as ws:
        await _hello(ws)
        for _ in range(10):
            await ws.send_bytes(encode({"type": "audio"}, second))
        await asyncio.sleep(0.3)
        assert voice.dropped_mic_seconds == 0
        for _ in range(int(MIC_BURST_S) * 3):
            await ws.send_bytes(encode({"type": "audio"}, second))
        for _ in range(200):
            if voice.dropped_mic_seconds >= 2 * MIC_BURST_S - 10:
                break
            await asyncio.sleep(0.02)
        heard = voice.mic._frames.qsize() * 0.02
        assert heard <= MIC_BURST_S + 1
        assert voice.dropped_mic_seconds >= 2 * MIC_BURST_S - 10
        await asyncio.sleep(0.3)  # then real time again: a chunk as a page sends it is heard
        before = voice.mic._frames.qsize()
        await ws.send_bytes(encode({"type": "audio"}, bytes(MIC_RATE * 2 // 10)))
        for _ in range(100):
            if voice.mic._frames.qsize() > before:
                break
            await asyncio.sleep(0.02)
        assert voice.mic._frames.qsize() == before + 5


async def test_playback_reports_count_only_for_segments_the_kernel_sent_once_each(
    voice: BrowserVoice,
) -> None:
    """Each "started" report was stored under whatever segment it named: a client sending them in
    a loop grew two dicts without bound (5 s: 340,000 entries, +90 MB)."""
    from livekit import rtc

    speaker = voice.speaker
    await speaker.capture_frame(rtc.AudioFrame(bytes(960), 24000, 1, 480))  # segment 1 starts
    speaker.flush()
    async with aiohttp.ClientSession() as http, dial(http, voice.widget) as ws:
        await _hello(ws)
        for seg in range(2, 2002):
            await ws.send_bytes(encode({"type": "started", "seg": seg, "at": 1.0, "latency": 0}))
        await ws.send_bytes(encode({"type": "started", "seg": 1, "at": 5000.0, "latency": 3}))
        await ws.send_bytes(encode({"type": "started", "seg": 1, "at": 9000.0, "latency": 4}))
        for _ in range(200):
            if speaker.browser_started_at:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
    assert speaker.browser_started_at == {1: 5.0}
    assert speaker.browser_delays == {1: (None, 3.0)}


async def test_the_microphone_delay_reaches_the_page_once_a_second_however_small_the_chunks(
    voice: BrowserVoice,
) -> None:
    """It was synced every tenth chunk: a client sending two-byte chunks turned that into
    thousands of widget messages a second to the page."""
    synced: list[float] = []
    voice.widget.observe(lambda change: synced.append(change["new"]), names="mic_delay_ms")
    async with aiohttp.ClientSession() as http, dial(http, voice.widget) as ws:
        await _hello(ws)
        started = time.perf_counter()
        for _ in range(2000):
            await ws.send_bytes(encode({"type": "audio", "t": time.time() * 1000}, b"\x01\x00"))
        for _ in range(200):
            if voice.mic.chunks == 2000:
                break
            await asyncio.sleep(0.01)
        took = time.perf_counter() - started
    assert voice.mic.chunks == 2000
    assert 1 <= len(synced) <= took + 1


PAGE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(),  # NaN and infinities included
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
)


@given(
    kind=st.sampled_from(["audio", "started", "mic", "stop", ""]),
    fields=st.dictionaries(
        st.sampled_from(["t", "seg", "at", "transit", "latency", "active", "error"]), PAGE_VALUES
    ),
    payload=st.binary(max_size=33),
)
def test_whatever_a_page_sends_the_session_gets_finite_numbers_and_whole_samples(
    kind: str, fields: dict[str, Any], payload: bytes
) -> None:
    """The one handler both transports call: it never raises, and what it passes on is usable."""
    import math

    from concierge.live.voice import MicWidget

    widget = MicWidget()
    heard: list[tuple[bytes, float | None]] = []
    reports: list[tuple[Any, ...]] = []
    widget.on_audio = lambda pcm, at: heard.append((pcm, at))
    widget.on_started = lambda *args: reports.append(args)
    widget._on_browser_msg(widget, {"type": kind, **fields}, [payload])
    for pcm, at in heard:
        assert len(pcm) % 2 == 0
        assert at is None or math.isfinite(at)
    for seg, *numbers in reports:
        assert isinstance(seg, int)
        assert all(n is None or math.isfinite(n) for n in numbers)
    assert len(heard) + len(reports) + widget.bad_messages >= (kind in ("audio", "started"))


async def test_an_unknown_transport_setting_is_said_in_the_panel_and_the_default_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It raised inside launch(): a traceback, and a panel left on screen looking ready that
    swallowed what was typed into it."""
    from concierge.live import launch
    from concierge.store import open_store

    monkeypatch.setenv("CONCIERGE_VOICE_TRANSPORT", "websocket")
    store = await open_store("memory")
    handle = await launch(store=store, display=False, voice=True)
    try:
        assert (
            "CONCIERGE_VOICE_TRANSPORT=&#x27;websocket&#x27; is not a transport"
            in handle.note.value
        )
        assert "Using &#x27;auto&#x27;" in handle.note.value
        assert handle.voice is not None and ticket(handle.voice.widget).startswith("ws://")
        await handle.say("two churros")
        assert [(r[0], r[3]) for r in handle.cart_view.rows] == [("Churros", 2)]
    finally:
        await handle.stop()
        await store.close()
    assert not handle.voice.widget.enabled  # stopped: its Talk button is off
