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

Safety: the server listens on 127.0.0.1 only; each widget has its own random token in the URL (it
reaches the page through the widget's authenticated comm channel), and a wrong token is refused
before the WebSocket opens. The page only sends microphone audio once the kernel has answered with
the widget's second secret (`proof`), so it never streams to some other program on that port.

A frame, both ways: a 4-byte little-endian header length, a UTF-8 JSON header (`{"type": ...}`,
padded to an even length), then the raw payload (int16 PCM, possibly empty). A frame that does not parse is counted and
dropped; the connection stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import struct
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

#: The largest frame accepted from the page: a few seconds of 16 kHz audio.
MAX_FRAME_BYTES = 1 << 20
_HEADER_LENGTH = struct.Struct("<I")

Handler = Callable[[dict[str, Any], bytes], None]


def direct_transport_enabled() -> bool:
    """False when `CONCIERGE_VOICE_TRANSPORT=comm`: audio then travels as widget messages only."""
    value = os.environ.get("CONCIERGE_VOICE_TRANSPORT", "").strip().lower()
    if value not in ("", "auto", "direct", "comm"):
        raise ValueError(
            f"CONCIERGE_VOICE_TRANSPORT={value!r}: use 'auto' (the default: a direct socket, "
            "falling back to widget messages) or 'comm' (widget messages only)"
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
    header = json.loads(frame[_HEADER_LENGTH.size : end])
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ValueError("header is not an object with a 'type'")
    return header, frame[end:]


class AudioChannel:
    """One widget's end of the socket: its secrets, its open connections, what it received."""

    def __init__(self, server: AudioSocketServer, on_frame: Handler) -> None:
        self.server = server
        self.token = secrets.token_urlsafe(24)
        self.proof = secrets.token_urlsafe(24)
        self.on_frame = on_frame
        self.bad_frames = 0
        self._outboxes: dict[web.WebSocketResponse, asyncio.Queue[bytes | None]] = {}
        self._talking: web.WebSocketResponse | None = None  # the page that sent audio last

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/{self.token}"

    @property
    def connected(self) -> bool:
        return bool(self._outboxes)

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        """Queue one frame, in order and without blocking the caller, for the page whose
        microphone spoke last (the widget shown twice must not play the agent twice), or for
        every open page while none has spoken."""
        frame = encode(header, payload)
        speaker = self._outboxes.get(self._talking) if self._talking is not None else None
        for outbox in [speaker] if speaker is not None else self._outboxes.values():
            outbox.put_nowait(frame)

    async def serve(self, ws: web.WebSocketResponse) -> None:
        outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._outboxes[ws] = outbox
        writer = asyncio.create_task(self._write(ws, outbox))
        outbox.put_nowait(encode({"type": "hello", "proof": self.proof}))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    self.bad_frames += 1
                    continue
                try:
                    header, payload = decode(msg.data)
                except ValueError:
                    self.bad_frames += 1
                    continue
                if header["type"] == "audio":
                    self._talking = ws
                try:
                    self.on_frame(header, payload)
                except Exception:  # one bad frame must not end the learner's call
                    self.bad_frames += 1
                    log.exception("a frame from the page could not be handled")
        finally:
            del self._outboxes[ws]
            if self._talking is ws:
                self._talking = None
            outbox.put_nowait(None)
            await writer

    @staticmethod
    async def _write(ws: web.WebSocketResponse, outbox: asyncio.Queue[bytes | None]) -> None:
        while (frame := await outbox.get()) is not None:
            try:
                await ws.send_bytes(frame)
            except (ConnectionError, RuntimeError):  # the page went away mid-send
                return

    async def close(self) -> None:
        for ws in list(self._outboxes):
            await ws.close()
        await self.server.unregister(self)


class AudioSocketServer:
    """The kernel's WebSocket server on 127.0.0.1: one per event loop, shared by its widgets'
    channels, started with the first and stopped with the last."""

    _by_loop: dict[asyncio.AbstractEventLoop, AudioSocketServer] = {}

    def __init__(self) -> None:
        self.port = 0
        self._channels: dict[str, AudioChannel] = {}
        self._runner: web.AppRunner | None = None

    @classmethod
    async def open_channel(cls, on_frame: Handler) -> AudioChannel:
        """A new channel on this loop's server (started now if it is not running)."""
        loop = asyncio.get_running_loop()
        server = cls._by_loop.get(loop)
        if server is None:
            server = cls._by_loop[loop] = cls()
        if server._runner is None:
            await server._start()
        channel = AudioChannel(server, on_frame)
        server._channels[channel.token] = channel
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
        channel = self._channels.get(request.match_info["token"])
        if channel is None:
            raise web.HTTPForbidden(text="unknown token")
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        await channel.serve(ws)
        return ws

    async def unregister(self, channel: AudioChannel) -> None:
        self._channels.pop(channel.token, None)
        if not self._channels and self._runner is not None:
            runner, self._runner = self._runner, None
            with contextlib.suppress(Exception):
                await runner.cleanup()
            for loop, server in list(self._by_loop.items()):
                if server is self:
                    del self._by_loop[loop]
