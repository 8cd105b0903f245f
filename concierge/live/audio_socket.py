"""A direct WebSocket between the live panel's page and this kernel, for its audio both ways.

Why it exists: sent as widget (comm) messages, every 100 ms microphone chunk crosses the Jupyter
server, runs a kernel shell handler that publishes busy and idle status, and that status crosses the
server again to the page, which redraws its kernel indicator. On two cores that traffic slowed the
voice loop beside it (the kernel's reply came ~40–60 ms later with Chromium and Jupyter running
than alone). This socket carries the same audio straight from the page to the kernel's own event
loop, with none of that, and the agent's voice back the same way.

Where the page cannot reach the kernel's 127.0.0.1 (JupyterLab on another machine, a hosted
notebook, a browser that forbids it), the widget keeps using comm messages: the page tries the
socket when it renders and falls back on any failure, and `CONCIERGE_VOICE_TRANSPORT=comm` skips
the socket altogether.

Who may connect (tried as a hostile user would, issue 22):
- **Tickets, not a standing token.** Nothing secret is a synced trait, so nothing secret lands in
  the notebook's saved widget state. The page asks for a ticket over the widget's comm channel
  (which Jupyter authenticates) and gets it in a one-off custom message; a ticket opens one
  WebSocket handshake, once (used or refused, it is gone). A channel holds at most `MAX_TICKETS`
  unused ones (the oldest is revoked), and they die with the channel.
- **The page's own origin only.** The page reports `location.origin` with its request; the
  ticket is bound to it, and a handshake whose `Origin` header differs is refused (403), so
  another site's page that learned a ticket cannot use it. A handshake with no `Origin` is refused
  too: a browser always sends one, so it is not the panel's page. (A local program can write any
  header it likes; the ticket, which only travels over Jupyter's authenticated channel, is what
  keeps it out.) An opaque origin (`"null"`: a sandboxed frame, a file) gets no ticket: any page
  could claim it. The page then keeps using comm messages.
- The server listens on 127.0.0.1 only; the page only sends microphone audio once the kernel has
  answered with the channel's `proof` (delivered with the ticket), so it never streams to some
  other program that took the port.

A frame, both ways: a 4-byte little-endian header length, a UTF-8 JSON header (`{"type": ...}`,
padded to an even length), then the raw payload (int16 PCM, possibly empty). A frame that does not
parse is counted and dropped; the connection stays up.

Bounded whatever a page sends: every structure a frame touches has a cap (tickets `MAX_TICKETS`,
pages `MAX_PAGES`, queued agent audio `MAX_BACKLOG_BYTES`; on the voice's side the microphone's
frame queue, its delay window and the speaker's kept frames, see `.voice`), and a frame that
carries nothing to hear (an empty chunk) is counted and dropped, not recorded.

A page that stops reading (a hung tab, some other program holding the URL) must not cost the kernel
memory or its shutdown: agent audio queued for it is capped (`MAX_BACKLOG_BYTES`, then that page is
dropped and replies go by comm messages), and closing waits `CLOSE_TIMEOUT_S` at most per page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

#: The largest frame accepted from the page: a few seconds of 16 kHz audio.
MAX_FRAME_BYTES = 1 << 20
#: Agent audio waiting for one page (~20 s at 24 kHz) before that page counts as gone.
MAX_BACKLOG_BYTES = 1 << 20
#: How long a page has to answer the kernel's close before its connection is cut.
CLOSE_TIMEOUT_S = 1.0
#: Unused tickets one channel holds (a view asks once when it renders, again on Talk).
MAX_TICKETS = 4
#: Connections one channel serves at once (the panel shown in a few views of a few tabs).
MAX_PAGES = 8
#: The longest origin a page may report (scheme, host and port; no real one comes close).
MAX_ORIGIN_CHARS = 256
_HEADER_LENGTH = struct.Struct("<I")

Handler = Callable[[dict[str, Any], bytes], None]


def direct_transport_enabled() -> bool:
    """False when `CONCIERGE_VOICE_TRANSPORT=comm`: audio then travels as widget messages only.
    ValueError, saying what is allowed, for any value but `auto`, `comm` or none."""
    value = os.environ.get("CONCIERGE_VOICE_TRANSPORT", "").strip().lower()
    if value not in ("", "auto", "comm"):
        raise ValueError(
            f"CONCIERGE_VOICE_TRANSPORT={value!r} is not a transport: use 'auto' (the default: a "
            "direct socket, falling back to widget messages) or 'comm' (widget messages only)"
        )
    return value != "comm"


def encode(header: dict[str, Any], payload: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (len(head) % 2)  # the payload starts at an even offset: int16 views need it
    return _HEADER_LENGTH.pack(len(head)) + head + payload


def decode(frame: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and payload of a frame; ValueError when it is not one."""
    if len(frame) < _HEADER_LENGTH.size:
        raise ValueError("frame shorter than its header length")
    (size,) = _HEADER_LENGTH.unpack_from(frame)
    end = _HEADER_LENGTH.size + size
    if end > len(frame):
        raise ValueError("header runs past the frame")
    try:
        header = json.loads(frame[_HEADER_LENGTH.size : end])
    except RecursionError as e:  # "[[[[…": nested deeper than the parser goes
        raise ValueError("header nested too deep") from e
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ValueError("header is not an object with a 'type'")
    return header, frame[end:]


@dataclass(eq=False)
class _Page:
    """One open connection: its socket, the frames waiting for it, and their size."""

    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    outbox: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    backlog: int = 0  # bytes queued and not yet handed to the socket
    writer: asyncio.Task[None] | None = None

    def cut(self) -> None:
        """End the connection now, unsent data and all (closing would wait for the page)."""
        if self.transport is not None:
            self.transport.abort()


def page_origin(value: Any) -> str | None:
    """The origin a page reported, if a ticket may be bound to it: a short string without
    whitespace, and not the opaque `"null"` that any sandboxed page would report."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ORIGIN_CHARS:
        return None
    if value == "null" or any(c.isspace() for c in value) or "://" not in value:
        return None
    return value


class AudioChannel:
    """One widget's end of the socket: its proof, its tickets, its open connections, what it
    received."""

    def __init__(self, server: AudioSocketServer, on_frame: Handler) -> None:
        self.server = server
        self.proof = secrets.token_urlsafe(24)
        self.on_frame = on_frame
        self.bad_frames = 0
        self.dropped_pages = 0  # pages cut off for not reading what the kernel sent them
        self.refused = 0  # handshakes refused: a wrong origin, too many pages, a closing panel
        self._tickets: deque[str] = deque()  # unused, oldest first
        self._pages: dict[web.WebSocketResponse, _Page] = {}
        self._talking: web.WebSocketResponse | None = None  # the page that sent audio last
        self._closed = False

    def ticket(self, origin: str) -> str:
        """A URL that opens one connection, once, from a page of `origin` (see the module
        docstring). The oldest unused ticket is revoked past `MAX_TICKETS`."""
        if self._closed:
            raise RuntimeError("this audio channel is closed")
        ticket = secrets.token_urlsafe(24)
        self._tickets.append(ticket)
        self.server.tickets[ticket] = (self, origin)
        while len(self._tickets) > MAX_TICKETS:
            self.server.tickets.pop(self._tickets.popleft(), None)
        return f"ws://127.0.0.1:{self.server.port}/{ticket}"

    def spend(self, ticket: str) -> None:
        """`ticket` was presented: it opens nothing again."""
        with contextlib.suppress(ValueError):
            self._tickets.remove(ticket)
        self.server.tickets.pop(ticket, None)

    def admits(self, origin: str | None, wanted: str) -> bool:
        """Whether a handshake from `origin`, on a ticket bound to `wanted`, may open a page."""
        if origin != wanted or self._closed or len(self._pages) >= MAX_PAGES:
            self.refused += 1
            return False
        return True

    @property
    def connected(self) -> bool:
        return bool(self._pages)

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        """Queue one frame, in order and without blocking the caller, for the page whose
        microphone spoke last (the widget shown twice must not play the agent twice), or for
        every open page while none has spoken."""
        frame = encode(header, payload)
        speaker = self._pages.get(self._talking) if self._talking is not None else None
        for page in [speaker] if speaker is not None else list(self._pages.values()):
            self._queue(page, frame)

    def _queue(self, page: _Page, frame: bytes) -> None:
        if page.backlog + len(frame) > MAX_BACKLOG_BYTES:  # it reads nothing: stop feeding it
            log.warning("a page stopped reading the live panel's audio socket; dropped it")
            self.dropped_pages += 1
            self._forget(page)
            page.cut()
            return
        page.backlog += len(frame)
        page.outbox.put_nowait(frame)

    def _forget(self, page: _Page) -> None:
        if self._pages.get(page.ws) is page:
            del self._pages[page.ws]
        if self._talking is page.ws:
            self._talking = None

    async def serve(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        if self._closed:  # it connected while the widget was closing
            await ws.close()
            return
        page = self._pages[ws] = _Page(ws, transport)
        page.writer = asyncio.create_task(self._write(page))
        self._queue(page, encode({"type": "hello", "proof": self.proof}))
        try:
            async for msg in ws:
                self._receive(ws, msg)
        finally:
            self._forget(page)
            page.writer.cancel()  # what is still queued has nowhere to go
            await asyncio.wait([page.writer])

    def _receive(self, ws: web.WebSocketResponse, msg: Any) -> None:
        if msg.type != WSMsgType.BINARY:
            self.bad_frames += 1
            return
        try:
            header, payload = decode(msg.data)
        except ValueError:
            self.bad_frames += 1
            return
        if header["type"] == "audio" and ws in self._pages:
            self._talking = ws
        try:
            self.on_frame(header, payload)
        except Exception:  # one bad frame must not end the learner's call
            self.bad_frames += 1
            log.exception("a frame from the page could not be handled")

    @staticmethod
    async def _write(page: _Page) -> None:
        while True:
            frame = await page.outbox.get()
            try:
                await page.ws.send_bytes(frame)
            except (ConnectionError, RuntimeError):  # the page went away mid-send
                return
            page.backlog -= len(frame)

    async def close(self) -> None:
        """Close every page's connection (at most `CLOSE_TIMEOUT_S` each, all at once) and leave
        the server, which stops with its last channel."""
        self._closed = True
        self.server.forget(self)  # no new page gets in from here: its tickets are revoked
        try:
            pages = list(self._pages.values())
            await asyncio.gather(*(self._close_page(p) for p in pages), return_exceptions=True)
        finally:  # whatever a page did, the port must not outlive the panel
            await self.server.unregister(self)

    @staticmethod
    async def _close_page(page: _Page) -> None:
        try:
            await asyncio.wait_for(page.ws.close(), CLOSE_TIMEOUT_S)
        except TimeoutError:  # it does not read, so it never sees the close: cut it
            page.cut()


class AudioSocketServer:
    """The kernel's WebSocket server on 127.0.0.1: one per event loop, shared by its widgets'
    channels, started with the first and stopped with the last."""

    _by_loop: dict[asyncio.AbstractEventLoop, AudioSocketServer] = {}

    def __init__(self) -> None:
        self.port = 0
        self.tickets: dict[str, tuple[AudioChannel, str]] = {}  # ticket → its channel, origin
        self._channels: set[AudioChannel] = set()
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()  # one start or stop at a time, however many widgets open

    @classmethod
    async def open_channel(cls, on_frame: Handler) -> AudioChannel:
        """A new channel on this loop's server (started now if it is not running)."""
        loop = asyncio.get_running_loop()
        server = cls._by_loop.get(loop)
        if server is None:
            server = cls._by_loop[loop] = cls()
        async with server._lock:
            if server._runner is None:
                await server._start()
            channel = AudioChannel(server, on_frame)
            server._channels.add(channel)
        return channel

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/{token}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
        except OSError:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["token"]
        found = self.tickets.get(ticket)
        if found is None:
            raise web.HTTPForbidden(text="unknown or used ticket")
        channel, origin = found
        channel.spend(ticket)  # used or refused, it is gone
        if not channel.admits(request.headers.get("Origin"), origin):
            raise web.HTTPForbidden(text="not the panel's page, or too many pages")
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        await channel.serve(ws, request.transport)
        return ws

    def forget(self, channel: AudioChannel) -> None:
        """Refuse `channel`'s tickets from now on."""
        self._channels.discard(channel)
        for ticket in list(channel._tickets):
            channel.spend(ticket)

    async def unregister(self, channel: AudioChannel) -> None:
        """Forget `channel`; stop listening when it was the last."""
        async with self._lock:
            self.forget(channel)
            if self._channels or self._runner is None:
                return
            runner, self._runner = self._runner, None
            with contextlib.suppress(Exception):
                await runner.cleanup()
            for loop, server in list(self._by_loop.items()):
                if server is self:
                    del self._by_loop[loop]
