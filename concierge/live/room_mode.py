"""Room mode: the panel's page joins the agent's LiveKit room; the agent runs in a worker process.

    handle = await launch(mode="room")    # local livekit-server + `python -m concierge start`

This is how a LiveKit agent ships: the browser is a participant (`livekit-client`, bundled into
`room_widget.js`), the agent a worker in another process, and everything the panel shows comes
through the room — the cart and its total (`concierge.cart` attribute), the agent's state
(`lk.agent.state`), transcripts (`lk.transcription`), tool calls (`concierge.tools`), each turn's
stages (`concierge.turn`), typed turns (`lk.chat`); the page adds whether you are speaking (its
own participant among the room's active speakers). The page relays what it receives to this kernel as small widget messages, and the
panel's views (`.widgets`) render them; the kernel holds no session and carries no audio.

The local server and its worker (`concierge.livekit_server`) start once per kernel and are reused
by later launches; `shutdown()` (also at exit) stops them. The worker's store is the configured
one (`CONCIERGE_STORE`, else the SQLite file in your data directory), inherited from this kernel.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..cart import Cart
from ..timeline import TurnTiming
from .voice import in_loop
from .widgets import (
    CartView,
    MetricsStrip,
    StatusBadge,
    ToolCallShown,
    TranscriptView,
    Turn,
    tool_label,
)

log = logging.getLogger(__name__)

__all__ = [
    "RoomLink",
    "RoomWidget",
    "join_room",
    "local_worker",
    "shutdown",
    "start_server_and_worker",
    "worker_store_url",
]

_HERE = Path(__file__).parent
#: The most text one relayed message may carry into the transcript.
MAX_TEXT = 4000


class RoomWidget(anywidget.AnyWidget):
    """The page's side of the room (room_widget.js): joins with a token sent as a message (never
    a trait, so never saved), publishes the microphone, plays the agent, relays what it hears."""

    _esm = _HERE / "room_widget.js"
    _css = _HERE / "voice.css"
    enabled = traitlets.Bool(True).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.join: tuple[str, str] | None = None  # (url, token) to hand each view that says hello
        self.on_page: Callable[[dict[str, Any]], None] | None = None
        self.on_msg(self._on_msg)

    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: list[Any]) -> None:
        if content.get("type") == "hello" and self.join is not None:
            url, token = self.join
            self.send({"type": "join", "url": url, "token": token})
        elif self.on_page is not None:
            self.on_page(content)


@dataclass
class RoomLink:
    """What the page relays from the room, into the panel's views and its one status."""

    widget: RoomWidget
    cart_view: CartView
    transcript: TranscriptView
    status: StatusBadge
    room: str
    loop: asyncio.AbstractEventLoop | None = None
    agent_identity: str = ""
    local_identity: str = ""
    cart: dict[str, Any] = field(default_factory=dict)  # the last concierge.cart payload
    metrics: MetricsStrip | None = None  # where each answered turn's stages show
    joined: asyncio.Event = field(default_factory=asyncio.Event)
    _replies: list[tuple[Turn, asyncio.Future[str]]] = field(default_factory=list)  # typed, open
    _segments: dict[str, Turn] = field(default_factory=dict)
    _said: dict[str, str] = field(default_factory=dict)  # segment → the agent's text so far

    def __post_init__(self) -> None:
        self.widget.on_page = lambda content: in_loop(self.loop, self.relay, content)

    def relay(self, content: dict[str, Any]) -> None:
        """One message from the page (malformed ones are dropped; the call goes on)."""
        try:
            self._relay(content)
        except (AttributeError, KeyError, TypeError, ValueError):
            log.warning("dropped a malformed message from the room widget: %.200r", content)

    def _relay(self, content: dict[str, Any]) -> None:
        kind = content.get("type")
        if kind == "connection":
            self._on_connection(content)
        elif kind == "agent":
            attributes = content["attributes"]
            if not isinstance(attributes, dict):
                raise ValueError("a participant's attributes are a mapping")
            self._on_agent(bool(content["present"]), str(content["identity"]), attributes)
        elif kind == "mic":
            self.status.apply("mic", (bool(content["active"]), str(content.get("error", ""))))
        elif kind == "transcript":
            self._on_transcript(content)
        elif kind == "tools":
            self._on_tools(content["calls"])
        elif kind == "turn":
            self._on_turn(json.loads(content["payload"]))
        elif kind == "user":
            self.status.apply("user", "speaking" if content["speaking"] is True else "listening")

    async def enter(self, server: Any, user_id: str) -> None:
        """Dispatch the agent into a fresh room on `server` for `user_id` and send the page there
        (leaving the room it was in: a reconnect after the agent left)."""
        from livekit import api

        from ..server import AGENT_NAME

        room = f"panel-{secrets.token_hex(4)}"
        async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lkapi:
            await lkapi.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(
                    agent_name=AGENT_NAME, room=room, metadata=json.dumps({"user_id": user_id})
                )
            )
        self.room, self._segments, self._said = room, {}, {}
        if self.transcript.turns:  # a reconnect: the new agent's greeting is a turn of its own
            self.transcript.turns.append(Turn(user=""))
        identity = f"panel-{user_id}-{secrets.token_hex(2)}"
        self.widget.join = (server.url, server.token(identity, room))
        self.widget.send({"type": "join", "url": self.widget.join[0], "token": self.widget.join[1]})

    def current_cart(self) -> Cart | None:
        """The cart as the agent last published it (None before it has)."""
        return Cart.from_dict(self.cart["cart"]) if self.cart else None

    def _on_connection(self, content: dict[str, Any]) -> None:
        state = content["state"]
        if state == "connected":
            self.local_identity = str(content.get("identity", ""))
            self.status.apply("voice", True)
            self.joined.set()
        elif state == "failed":
            self.status.apply("failed")
        elif state == "disconnected":
            self.status.apply("stopped")

    def _on_agent(self, present: bool, identity: str, attributes: dict[str, Any]) -> None:
        self.agent_identity = identity
        if not present:
            self.status.apply("agent", "left")
            return
        state = str(attributes.get("lk.agent.state", "") or "")
        if state:
            if self.status.state.connection == "starting":
                self.status.apply("live", state)
            else:
                self.status.apply("agent", state)
        payload = attributes.get("concierge.cart")
        if payload:
            self.cart = json.loads(payload)
            self.cart_view.bind(Cart.from_dict(self.cart["cart"]))

    def typed(self, text: str) -> asyncio.Future[str]:
        """A typed turn: in the transcript at once, and to the agent on `lk.chat` by the page.
        The future is the agent's reply, as its transcript arrives through the room."""
        self.transcript.turns.append(Turn(user=text))
        self.transcript.render()
        reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._replies.append((self.transcript.turns[-1], reply))
        self.widget.send({"type": "chat", "text": text})
        return reply

    def _on_transcript(self, content: dict[str, Any]) -> None:
        text = str(content["text"])[:MAX_TEXT].strip()
        if not text:
            return
        turns = self.transcript.turns
        if content["identity"] == self.agent_identity:
            self._on_agent_words(str(content.get("segment", "")), text, bool(content["final"]))
        elif content.get("final", True):
            turns.append(Turn(user=text, spoken=True))
            self.transcript.interim = ""
        else:
            self.transcript.interim = text
        self.transcript.render()

    def _on_agent_words(self, segment: str, text: str, final: bool) -> None:
        """The agent's text so far in one segment: shown under the turn that was last when the
        segment began (a reply cut short by a typed turn stays under the turn it answered)."""
        turns = self.transcript.turns
        if segment not in self._segments:
            if not turns:  # the greeting, before anyone spoke (`enter` opens one on a reconnect)
                turns.append(Turn(user=""))
            self._segments[segment] = turns[-1]
            self._said[segment] = ""
        turn = self._segments[segment]
        self._said[segment] = text
        turn.reply = " ".join(t for s, t in self._said.items() if self._segments[s] is turn)
        if final:
            for asked, reply in self._replies:
                if asked is turn and not reply.done():
                    reply.set_result(text)
            self._replies = [(t, r) for t, r in self._replies if not r.done()]

    def _on_tools(self, calls: list[dict[str, Any]]) -> None:
        if not self.transcript.turns:
            self.transcript.turns.append(Turn(user=""))
        turn = self.transcript.turns[-1]
        for call in calls:
            name, arguments = str(call["name"]), str(call["arguments"])
            turn.tools.append(
                ToolCallShown(
                    name,
                    arguments,
                    str(call["output"]),
                    bool(call["is_error"]),
                    _label(name, arguments, str(call.get("item_name") or "")),
                )
            )
        self.transcript.render()

    def _on_turn(self, payload: dict[str, Any]) -> None:
        """A turn's stages (`concierge.turn`), for the turn the caller's words name (else the
        latest answered turn not yet timed): a reply cut short early may not be on the page yet."""
        timing = TurnTiming(
            spoken=bool(payload["spoken"]),
            stages={str(k): float(v) for k, v in dict(payload["stages"]).items()},
            whole_ms=float(payload["whole_ms"]),
            origin=float(payload["origin"]),
            livekit_e2e_ms=_number(payload.get("livekit_e2e_ms")),
        )
        untimed = [t for t in self.transcript.turns if t.timing is None]
        if not untimed:
            return
        said = str(payload.get("user") or "").strip()
        same = [t for t in untimed if said and t.user.strip() == said]
        answered = [t for t in untimed if t.reply and t.user]
        turn = (same or answered or untimed)[-1]
        turn.timing, turn.interrupted = timing, payload.get("interrupted") is True
        self.transcript.render()
        if self.metrics is not None:
            self.metrics.turns = self.transcript.turns
            self.metrics.render()


def _label(name: str, arguments: str, item_name: str) -> str:
    """The chip's text, naming the item as the agent's menu does (`item_name`, "" if none)."""

    def named(item_id: str) -> str:
        return item_name or item_id

    return tool_label(name, arguments, named)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass
class _Local:
    """The kernel's server (local, or the configured one) and worker, started once and reused
    while the same server and store are asked for."""

    server: Any = None
    worker: Any = None
    key: tuple[str, str] = ("", "")  # (configured server URL or "", store URL or "")

    def running(self, key: tuple[str, str]) -> bool:
        return (
            key == self.key
            and self.server is not None
            and self.server.running
            and self.worker is not None
            and self.worker.process.poll() is None
        )


_local = _Local()


def _start(configured: Any, store_url: str | None) -> Any:
    """The server — `configured` (a `ConfiguredServer`: LiveKit Cloud or your own), else the local
    one, started here — and a ready worker against it, whose store is `store_url` (else the
    configured store). Blocking: run it on a thread."""
    from ..livekit_server import start_server, start_worker
    from ..worker_load import COUNT_CALLS_ONLY

    key = (configured.url if configured is not None else "", store_url or "")
    if _local.running(key):
        return _local.server
    if key == _local.key and _local.server is not None and _local.server.running:
        _local.worker = None  # it died (crashed, killed): a new one on the same server
    else:
        shutdown()
        _local.server = configured if configured is not None else start_server(timeout=60)
        _local.key = key
    env = {**COUNT_CALLS_ONLY, **({"CONCIERGE_STORE": store_url} if store_url else {})}
    _local.worker = start_worker(_local.server, env=env)
    _local.worker.wait_ready(timeout=180)
    return _local.server


def shutdown() -> None:
    """Stop the worker and the server this kernel started (at exit too)."""
    if _local.worker is not None:
        _local.worker.stop(timeout=20)
        _local.worker = None
    if _local.server is not None:
        _local.server.stop()
        _local.server = None


atexit.register(shutdown)


def local_worker() -> Any:
    """The worker this kernel started (None before the first room launch); tests kill it."""
    return _local.worker


def worker_store_url(store: Any) -> str | None:
    """The URL a worker process opens to reach `store` (None for a store only this kernel holds:
    an in-memory SQLite database)."""
    from ..store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        return None if store.path == ":memory:" else f"sqlite:///{store.path}"
    return "supabase" if type(store).__name__ == "SupabaseStore" else None


async def start_server_and_worker(configured: Any = None, store_url: str | None = None) -> Any:
    """Start (or reuse) the server and worker; see `_start`."""
    return await asyncio.to_thread(_start, configured, store_url)


async def join_room(
    server: Any,
    widget: RoomWidget,
    cart_view: CartView,
    transcript: TranscriptView,
    status: StatusBadge,
    user_id: str,
) -> RoomLink:
    """Dispatch the agent into a fresh room on `server` for `user_id` and hand the page its
    token; returns the link relaying the room into the views."""
    link = RoomLink(widget, cart_view, transcript, status, "", loop=asyncio.get_running_loop())
    await link.enter(server, user_id)
    return link
