"""Who the live panel's audio socket trusts, what a saved notebook keeps of it, and what a flood
costs the kernel — the three findings of issue 22 (item 5), tried as a hostile user would:

- a connection with the right token was accepted from any `Origin` → a ticket opens the socket
  only from the origin the page reported over the widget's (authenticated) comm channel;
- saving the notebook while the panel ran wrote a working token into its widget state → no
  secret is a trait any more, and a ticket opens one connection, once;
- 200,000 empty audio frames grew a bookkeeping list by 157,216 entries → every structure a
  frame touches is bounded, checked by walking them all after a flood."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from ipywidgets.embed import embed_data

from concierge.live.audio_socket import MAX_PAGES, MAX_TICKETS, encode
from concierge.live.voice import BrowserVoice

from .audio_page import ORIGIN, ask, dial, ticket


@pytest.fixture
async def voice() -> AsyncIterator[BrowserVoice]:
    voice = BrowserVoice()
    await voice.widget.open_direct()
    yield voice
    await asyncio.wait_for(voice.aclose(), 5)


async def _status(http: aiohttp.ClientSession, url: str, origin: str | None) -> int:
    """101 when the handshake opened the socket, else the HTTP status it was refused with."""
    try:
        async with http.ws_connect(url, origin=origin):
            return 101
    except aiohttp.WSServerHandshakeError as e:
        return e.status


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",  # another site's page that learned the ticket
        "http://127.0.0.1:8889",  # another server on this machine
        "http://localhost:8888",  # the same server under another name: not what the page said
        "null",  # a sandboxed frame or a file
        None,  # no Origin at all: not a browser, so not the panel's page
    ],
)
async def test_a_ticket_opens_the_socket_only_from_the_origin_that_asked_for_it(
    voice: BrowserVoice, origin: str | None
) -> None:
    channel = voice.widget.channel
    assert channel is not None
    async with aiohttp.ClientSession() as http:
        url = ticket(voice.widget, ORIGIN)
        assert await _status(http, url, origin) == 403
        assert await _status(http, url, ORIGIN) == 403  # refused, the ticket is spent
        assert await _status(http, ticket(voice.widget, ORIGIN), ORIGIN) == 101
    assert channel.refused == 1


async def test_a_ticket_opens_one_connection_once(voice: BrowserVoice) -> None:
    async with aiohttp.ClientSession() as http:
        url = ticket(voice.widget)
        assert await _status(http, url, ORIGIN) == 101
        assert await _status(http, url, ORIGIN) == 403


@pytest.mark.parametrize(
    "origin", ["null", "", None, 8888, ["http://x"], "x" * 300, "http://a b", "127.0.0.1:8888"]
)
async def test_no_ticket_for_an_origin_any_page_could_claim_or_none_at_all(
    voice: BrowserVoice, origin: Any
) -> None:
    """The page is answered (so it stops waiting) without a ticket: it keeps to comm messages."""
    answer = ask(voice.widget, origin)
    assert answer == {"type": "socket", "ask": "test"}
    assert voice.widget.channel is not None and not voice.widget.channel.server.tickets


async def test_tickets_are_capped_and_revoked_with_the_panel(voice: BrowserVoice) -> None:
    channel = voice.widget.channel
    assert channel is not None
    urls = [ticket(voice.widget) for _ in range(100)]
    assert len(channel.server.tickets) == MAX_TICKETS
    async with aiohttp.ClientSession() as http:
        assert await _status(http, urls[0], ORIGIN) == 403  # the oldest were revoked
        assert await _status(http, urls[-1], ORIGIN) == 101
        pages = [await dial(http, voice.widget) for _ in range(MAX_PAGES)]
        assert await _status(http, ticket(voice.widget), ORIGIN) == 403  # no ninth page
        for ws in pages:
            await ws.close()
    left = ticket(voice.widget)
    await voice.aclose()
    assert not channel.server.tickets and left.rsplit("/", 1)[1] not in channel.server.tickets


async def test_tickets_are_only_handed_out_over_the_comm_channel(voice: BrowserVoice) -> None:
    """A page holding the socket (or anything on it) cannot ask for tickets through it."""
    channel = voice.widget.channel
    assert channel is not None
    by_comm: list[dict[str, Any]] = []
    voice.widget.send = lambda content, buffers=None: by_comm.append(content)  # type: ignore[method-assign]
    async with aiohttp.ClientSession() as http, dial(http, voice.widget) as ws:
        await ws.receive(timeout=5)  # hello
        for _ in range(20):
            await ws.send_bytes(encode({"type": "connect", "origin": ORIGIN, "ask": "x"}))
        await ws.send_bytes(encode({"type": "audio"}, bytes(640)))
        await asyncio.wait_for(anext(voice.mic), 5)
    assert not channel.server.tickets and by_comm == []


async def test_the_saved_widget_state_holds_no_working_secret() -> None:
    """What JupyterLab writes into the notebook when it is saved is the widgets' state: with the
    panel running, a page connected and a ticket outstanding, none of the secrets is in it."""
    from concierge.live import launch
    from concierge.store import open_store

    store = await open_store("memory")
    handle = await launch(store=store, display=False, voice=True)
    try:
        assert handle.voice is not None and handle.voice.widget.channel is not None
        widget, channel = handle.voice.widget, handle.voice.widget.channel
        answer = ask(widget)
        unused = ticket(widget)
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(answer["url"], origin=ORIGIN) as ws,
        ):
            await ws.receive(timeout=5)
            saved = json.dumps(
                [widget.get_state(), embed_data(views=[handle.panel])["manager_state"]],
                default=repr,
            )
            secrets = [channel.proof, answer["url"], unused, unused.rsplit("/", 1)[1]]
            assert [s for s in secrets if s in saved] == []
            assert "ws://" not in saved
            assert widget.get_state()["direct"] is True  # only that a socket is offered
            assert await _status(http, unused, ORIGIN) == 101  # the secrets were live
    finally:
        await handle.stop()
        await store.close()


# --- bounded under a flood ----------------------------------------------------------------------

#: No structure reachable from a live panel's voice may hold more entries than this, whatever a
#: page sends (the largest legitimate one is the microphone's frame queue: MIC_QUEUE_FRAMES).
MOST_ENTRIES = 2000


def _containers(root: Any) -> Iterator[tuple[str, int]]:
    """(path, entries) of every list, dict, set, deque, queue or bytes held by the voice's objects
    (the widget, the microphone, the speaker, the socket's channel, server and pages)."""
    seen: set[int] = set()
    todo: list[tuple[str, Any, int]] = [("voice", root, 0)]
    while todo:
        path, obj, depth = todo.pop()
        if id(obj) in seen or depth > 5:
            continue
        seen.add(id(obj))
        if isinstance(obj, asyncio.Queue):
            yield path, obj.qsize()
            continue
        if isinstance(obj, bytes):
            yield path, len(obj)
        elif isinstance(obj, list | dict | set | deque):
            yield path, len(obj)
            items = obj.items() if isinstance(obj, dict) else enumerate(obj)
            todo += [(f"{path}[{k!r}]", v, depth + 1) for k, v in list(items)[:50]]
            continue
        module = type(obj).__module__ or ""
        if module.startswith("concierge") and hasattr(obj, "__dict__"):
            todo += [(f"{path}.{k}", v, depth + 1) for k, v in vars(obj).items()]


def _largest(voice: BrowserVoice) -> tuple[str, int]:
    path, size = max(_containers(voice), key=lambda c: c[1])
    return path, size


async def test_a_flood_of_empty_and_tiny_frames_leaves_every_structure_bounded(
    voice: BrowserVoice,
) -> None:
    """200,000 messages by comm (the count the issue reported) and 20,000 over the socket: empty
    audio, two-byte audio, playback reports for segments never sent, requests for tickets, stops.
    Nothing the voice holds grows past MOST_ENTRIES, and the kernel's memory barely moves."""
    widget = voice.widget
    widget.send = lambda content, buffers=None: None  # type: ignore[method-assign]
    now_ms = time.time() * 1000
    comm = [
        ({"type": "audio", "t": now_ms}, [b""]),
        ({"type": "audio", "t": now_ms}, [b"\x01\x00"]),
        ({"type": "audio"}, [bytes(3200)]),
        ({"type": "started", "seg": 7, "at": now_ms, "latency": 1}, []),
        ({"type": "stop"}, []),
    ]
    socket_frames = [encode(header, buffers[0] if buffers else b"") for header, buffers in comm] + [
        encode({"type": "connect", "origin": ORIGIN, "ask": "x"})
    ]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(200_000):
            content, buffers = comm[n % len(comm)]
            widget._on_browser_msg(widget, content, buffers)
            if n % 5000 == 0:
                await asyncio.sleep(0)
        async with aiohttp.ClientSession() as http, dial(http, widget) as ws:
            await ws.receive(timeout=5)  # hello
            for n in range(20_000):
                await ws.send_bytes(socket_frames[n % len(socket_frames)])
            await ws.send_bytes(encode({"type": "audio", "t": time.time() * 1000}, b"\x09\x00"))
            for _ in range(500):  # until the socket's last chunk is handled
                if voice.mic._rest.endswith(b"\x09\x00"):
                    break
                await asyncio.sleep(0.01)
            assert voice.mic._rest.endswith(b"\x09\x00")
            grown = tracemalloc.get_traced_memory()[0] - before
            largest = _largest(voice)
    finally:
        tracemalloc.stop()
    # every non-empty chunk reached the burst gate (none refused at the door): heard or, past the
    # burst, dropped — how many of each depends on how fast this machine sent them
    sent = 2 * 200_000 // len(comm) + sum(
        1 for n in range(20_000) if n % len(socket_frames) in (1, 2)
    )
    assert voice.mic.chunks + voice.dropped_mic_chunks == sent + 1
    assert voice.mic.chunks > 0
    assert voice.dropped_mic_seconds > 3000  # the big ones past the burst were dropped
    assert widget.bad_messages >= 40_000 + 3_000  # the empty chunks: counted, dropped
    assert largest[1] <= MOST_ENTRIES, largest
    assert len(voice.mic.transport_delays) <= 50
    assert voice.speaker.browser_started_at == {}  # segment 7 was never sent
    assert widget.channel is not None and not widget.channel.server.tickets
    assert grown < 8 * 2**20, f"the kernel's memory grew by {grown / 2**20:.1f} MB"
