"""`launch()`: the migrated agent, live in a notebook, with widgets showing the cart as tools run.

    handle = await launch()                       # room mode where a server is available, else offline
    await handle.say("two classic cheeseburgers")  # same path as typing in the chat box
    await handle.stop()                            # ends the session; the cart is saved

Which path (`choose_path`; the panel's note says it in one sentence, and why it fell back):

- **Room mode** (the default wherever a server is available: the one `LIVEKIT_URL`,
  `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET` name — LiveKit Cloud — else LiveKit's own server on
  127.0.0.1, found or built with Go): a worker process runs the agent, the page joins its room
  through `livekit-client` (microphone in, agent audio out over WebRTC), and every figure in the
  panel is relayed from the room; typed turns go to the agent on `lk.chat`
  (`concierge.live.room_mode`). `mode="room"` insists on it.
- **In-kernel** (the fallback where no server can run, or when `store` lives only in this
  kernel's memory; `mode="offline"` insists on it): the session starts with
  `concierge.session.start_session` in the kernel's event loop. Where the offline speech engines
  run, it hears the browser's microphone (`concierge.live.voice`: Silero VAD, the end-of-turn
  model, the menu-grammar recogniser) and answers with the offline voice in the browser; typed
  turns go through `session.run(user_input=...)`, where speech lands after speech-to-text.

    turn = await handle.speak("three churros")     # in-kernel: the offline voice, into the mic path

- `mode="cloud"` (LiveKit variables set) runs the migrated `AgentServer` in this process —
  `livekit.agents.jupyter.run_app`'s steps, on a thread of its own so the cell does not block
  (`concierge.live.cloud`) — and shows LiveKit's in-notebook room beside the same widgets.

Launching again replaces the previous panel's session cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from html import escape as _esc
from typing import Any, Literal

import ipywidgets as w

from ..providers import (
    Models,
    pick_models,
    quiet_cloud_tracebacks,
    text_models,
    turn_error_message,
)
from .cloud import CLOUD_VARIABLES, Credentials
from .status import Controls
from .voice import BrowserVoice, MicWidget, in_loop
from .widgets import (
    STYLE,
    CartView,
    MetricsStrip,
    SessionObserver,
    StatusBadge,
    TranscriptView,
    Turn,
)

Mode = Literal["auto", "offline", "cloud", "room"]
#: How long a typed turn waits for the cloud agent to join its room.
JOIN_TIMEOUT_S = 30.0


def cloud_configured(env: Any = None) -> bool:
    env = os.environ if env is None else env
    return all(env.get(v) for v in CLOUD_VARIABLES)


@dataclass(frozen=True)
class PanelPath:
    """Which path a panel is on, and the one sentence that says so (and why it fell back)."""

    path: Literal["offline", "cloud", "room"]
    sentence: str
    server: Any = None  # room mode on a configured server (LIVEKIT_URL): its ConfiguredServer
    store_url: str | None = None  # room mode: the store the worker opens (None: the configured one)

    @property
    def where(self) -> str:
        """The panel status's mode: "room-url" for a room on the LIVEKIT_URL server."""
        return "room-url" if self.path == "room" and self.server is not None else self.path


ROOM_LOCAL = (
    "Room mode: this page is a participant of the agent's LiveKit room on this machine "
    "(livekit-server on 127.0.0.1, the agent a worker process) — talk, or type."
)
ROOM_URL = (
    "Room mode on the LiveKit server at {url} (LIVEKIT_URL): this page is a participant of the "
    "agent's room there, the agent a worker process on this machine — talk, or type."
)
FELL_BACK = "In-kernel session (the fallback), because {reason}."


def fallback(reason: str) -> PanelPath:
    return PanelPath("offline", FELL_BACK.format(reason=reason))


def choose_path(
    mode: Mode,
    *,
    store: Any = None,
    env: Any = None,
    can_serve: Callable[[], str | None] | None = None,
) -> PanelPath:
    """The path `launch(mode=...)` takes. "auto" is room mode wherever a server is available —
    the one at `LIVEKIT_URL` when the three LiveKit variables are set, else the local one (found,
    or buildable with Go) — and the in-kernel session otherwise, or when `store` lives only in
    this kernel (a worker process could not open it). `can_serve()` says why no local server
    can run (None: one can; default `livekit_server.can_run_server`)."""
    from ..livekit_server import HOW_TO_GET_IT, ConfiguredServer, can_run_server
    from .room_mode import worker_store_url

    env = os.environ if env is None else env
    if mode == "offline":
        return PanelPath("offline", "In-kernel session: launch(mode='offline') asked for it.")
    if mode == "cloud":
        Credentials.from_env(env)  # says which variables are missing
        return PanelPath(
            "cloud",
            "LiveKit Cloud: the agent runs in this kernel's process and LiveKit's room widget "
            "below carries your microphone.",
        )
    store_url = worker_store_url(store) if store is not None else None
    if store is not None and store_url is None:
        if mode == "room":
            raise ValueError(
                "room mode needs a store the agent's worker process can open (a SQLite file or "
                "Supabase), not one in this kernel's memory; pass another store or none."
            )
        return fallback(
            "the store given to launch() is in this kernel's memory, which the agent's worker "
            "process cannot open"
        )
    if cloud_configured(env):
        creds = Credentials.from_env(env)
        server = ConfiguredServer(creds.url, creds.api_key, creds.api_secret)
        return PanelPath("room", ROOM_URL.format(url=creds.url), server, store_url)
    reason = (can_serve or can_run_server)()
    if reason is None:
        return PanelPath("room", ROOM_LOCAL, None, store_url)
    if mode == "room":
        from ..livekit_server import ServerUnavailable

        raise ServerUnavailable(f"{reason}: {HOW_TO_GET_IT}.")
    return fallback(f"no LiveKit server can run here ({reason}; {HOW_TO_GET_IT})")


def resolve_mode(mode: Mode, env: Any = None) -> Literal["offline", "cloud", "room"]:
    """The path `launch(mode=...)` takes with no store given (see `choose_path`)."""
    return choose_path(mode, env=env).path


def speech_status(voice: bool) -> str:
    """What the panel can hear, in a sentence: the recogniser's limits stated plainly."""
    if not voice:
        return (
            "Voice is off in this panel (offline speech engines unavailable here, or "
            "launch(voice=False)). Type your order below."
        )
    return (
        "Click Talk and order out loud, or type. The offline recogniser only hears what a food "
        "order can contain — menu items, sizes, quantities, “remove …”, “checkout”, menu "
        "questions — and the conversation shows what it heard. Typing always works."
    )


@dataclass
class LiveHandle:
    """A running live session and its panel."""

    mode: str
    panel: w.VBox
    cart_view: CartView
    transcript: TranscriptView
    metrics: MetricsStrip
    status: StatusBadge
    chat: w.Text
    session: Any = None
    voice: BrowserVoice | None = None  # the microphone/speaker widget, offline voice mode
    launch_seconds: float = 0.0
    room: w.Output = field(default_factory=w.Output)  # LiveKit's room widget, cloud mode
    controls: w.HBox = field(default_factory=w.HBox)  # mic, chat box, send
    note: w.HTML = field(default_factory=w.HTML)  # what the panel can hear, in a sentence
    _stack: AsyncExitStack | None = None
    _observer: SessionObserver | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _pending: set[asyncio.Task[Any]] = field(default_factory=set)
    _tts: Any = None
    _cloud: Any = None  # live_cloud.CloudSession once the cloud job's session has started
    _cloud_room: str | None = None  # the room whose job's session this panel waits for
    _joined: asyncio.Event = field(default_factory=asyncio.Event)
    link: Any = None  # room mode: room_mode.RoomLink, what the page relays from the room
    path: PanelPath | None = None  # which path this panel is on, and why (its sentence)
    user_id: str = ""  # room mode: whose agent a reconnect dispatches

    @property
    def cart(self) -> Any:
        """The session's cart (in-kernel), or the cart the agent last published (room mode)."""
        if self.link is not None:
            return self.link.current_cart()
        return self.session.userdata.cart if self.session is not None else None

    async def say(self, text: str) -> str:
        """One typed user turn; returns the agent's reply. Errors show in red.
        (Room mode: the turn goes to the agent on `lk.chat`; the reply is its transcript.)"""
        if self.link is not None:
            try:
                return await asyncio.wait_for(self.link.typed(text), JOIN_TIMEOUT_S)
            except TimeoutError:
                return f"The agent has not answered within {JOIN_TIMEOUT_S:.0f} s."
        if self.session is None and self._cloud_room is not None:  # cloud: wait for the agent
            try:
                await asyncio.wait_for(self._joined.wait(), JOIN_TIMEOUT_S)
            except TimeoutError:
                message = f"The agent has not joined the room after {JOIN_TIMEOUT_S:.0f} s."
                self.transcript.turns.append(Turn(user=text, error=message))
                self.transcript.render()
                return message
        if self.session is None:
            raise RuntimeError("this live session has been stopped; call launch() again")
        async with self._lock:
            try:
                if self._cloud is not None:  # the session runs on the cloud job's own thread
                    result = await self._cloud.run(text)
                else:
                    result = await self.session.run(user_input=text)
            except Exception as e:  # show it, keep the panel usable
                turn = self.transcript.turns[-1] if self.transcript.turns else None
                message = turn_error_message(e)
                if turn is not None:
                    turn.error = message
                self.transcript.render()
                return message
        return " ".join(e.item.text_content or "" for e in result.events if e.type == "message")

    async def hear(self, pcm16: bytes, sample_rate: int, *, timeout: float = 30.0) -> Turn | None:
        """A spoken turn from recorded audio, through the microphone widget's Python side (the
        path the browser's chunks take), paced in real time. Returns the turn once the agent has
        answered it (None if nothing was heard within `timeout`)."""
        if self.voice is None:
            raise RuntimeError(
                "this panel has no voice: launch(voice=True) where the offline speech engines run"
            )
        if self.session is None:
            raise RuntimeError("this live session has been stopped; call launch() again")
        before = len(self.transcript.turns)
        await self.voice.feed(pcm16, sample_rate)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            answered = [t for t in self.transcript.turns[before:] if t.timing is not None]
            if answered and self.session.agent_state != "speaking":
                return answered[0]
            await asyncio.sleep(0.05)
        return None

    async def speak(self, text: str, *, timeout: float = 30.0) -> Turn | None:
        """Say `text` with the offline voice into the microphone path; see `hear`."""
        if self._tts is None:
            from ..offline.tts import SAMPLE_RATE, offline_tts

            self._tts = (offline_tts(), SAMPLE_RATE)
        engine, rate = self._tts
        pcm = await asyncio.to_thread(engine.pcm16, text)
        return await self.hear(pcm, rate, timeout=timeout)

    async def reconnect(self) -> None:
        """Room mode, after the agent left (its worker crashed or was stopped): a new worker
        where the old one died, the agent dispatched into a fresh room, and the page moved there.
        The new session loads the cart the old one saved after its last change."""
        if self.link is None or self.path is None:
            raise RuntimeError("reconnect() is for a live room-mode panel; call launch() again")
        from .room_mode import start_server_and_worker

        server = await start_server_and_worker(self.path.server, self.path.store_url)
        await self.link.enter(server, self.user_id)

    def _start_reconnect(self) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self.reconnect())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _on_chat(self, change: dict[str, Any]) -> None:
        text = str(change["new"]).strip()
        if not text or self._loop is None:
            return
        self.chat.value = ""
        # a widget event: on a kernel subshell's thread when the browser sent it (see .voice)
        in_loop(self._loop, self._start_typed_turn, text)

    def _start_typed_turn(self, text: str) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self.say(text))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settle(self) -> None:
        """Wait for turns sent from the chat box to finish."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def failed(self, error: BaseException) -> None:
        """The agent could not start: release what did start (the session, the microphone's
        socket), and make the panel say so instead of looking ready (chat box and Talk off)."""
        with contextlib.suppress(Exception):
            await self.stop()
        self.status.apply("failed")
        reason = str(error) or type(error).__name__  # an interrupted cell says nothing itself
        self.note.value = (
            f"<div class='concierge-error'>The agent could not start: {_esc(reason)}. Fix that "
            "and run this cell again.</div>"
        )

    async def stop(self) -> None:
        """Close the session and save the cart (what `on_session_end` does for a room)."""
        await self.settle()
        if self._observer is not None:
            self._observer.detach()
        if self.voice is not None:
            await self.voice.aclose()
        if self._stack is not None:
            await self._stack.aclose()  # closes the session and saves the cart
            self._stack = None
        if self._cloud_room is not None:  # stopped before the agent joined: stop waiting for it
            from . import cloud as live_cloud

            live_cloud.ROOMS.forget(self._cloud_room)
            self._cloud_room = None
        if self._cloud is not None:
            await self._cloud.stop()  # ends the job: its on_session_end saves the cart
            self._cloud = None
        if self.link is not None:  # the page leaves the room: the job ends and saves the cart
            self.link.widget.send({"type": "leave"})
            self.link.widget.enabled = False
            self.link = None
        self.session = None
        self.status.apply("stopped")  # the chat box, Send and Talk follow (see StatusBadge)


_current: LiveHandle | None = None


def current() -> LiveHandle | None:
    """The handle of the panel launched last in this kernel (None after stop)."""
    return _current


async def launch(
    *,
    mode: Mode = "auto",
    user_id: str = "demo",
    store: Any = None,
    display: bool = True,
    voice: bool | None = None,
) -> LiveHandle:
    """Start the agent live and show the panel. Replaces a previous launch in this kernel.

    `store` defaults to the configured store (`CONCIERGE_STORE`, else a SQLite file in your user
    data directory), so a cart survives `stop()` and a later `launch()` for the same user.
    `voice` (offline mode): the microphone button and spoken replies; by default on where the
    offline speech engines can run. Typing works either way.
    """
    global _current
    started = time.perf_counter()
    quiet_cloud_tracebacks()  # a cloud model that cannot be reached: one sentence in the panel
    if _current is not None:
        await _current.stop()
        _current = None
    path = choose_path(mode, store=store)
    handle = _new_handle(path.where)
    handle.mode, handle.path = path.path, path
    if display:
        from IPython.display import display as show

        show(handle.panel)
    try:
        if path.path == "room":
            path = await _start_room(handle, path, user_id, fall_back=mode == "auto")
        if path.path == "offline":
            await _start_offline(handle, store, user_id, voice)
        elif path.path == "cloud":
            await _start_cloud(handle, handle.room)
        _say_path(handle)
    except BaseException as e:  # no handle reaches the caller: nothing else would release it
        await handle.failed(e)
        raise
    handle.launch_seconds = time.perf_counter() - started
    _current = handle
    return handle


def _new_handle(mode: str) -> LiveHandle:
    status = StatusBadge(mode)
    handle = LiveHandle(
        mode=mode,
        panel=w.VBox(layout=w.Layout(grid_gap="6px")),  # the views have no margins of their own
        cart_view=CartView(_empty_cart()),
        transcript=TranscriptView(),
        metrics=MetricsStrip(),
        status=status,
        chat=w.Text(
            placeholder="Type an order and press Enter",
            continuous_update=False,
            layout=w.Layout(flex="1"),
        ),
        _loop=asyncio.get_running_loop(),
    )
    handle._observer = SessionObserver(handle.cart_view, handle.transcript, handle.metrics, status)
    send = w.Button(description="Send", button_style="primary")
    send.on_click(lambda _b: handle._on_chat({"new": handle.chat.value}))
    handle.chat.observe(handle._on_chat, names="value")

    def typing(allowed: Controls) -> None:
        handle.chat.disabled = send.disabled = not allowed.send

    status.govern(typing)
    handle.controls.children = [handle.chat, send]
    side = w.Layout(flex="1 1 0", min_width="0")
    handle.panel.children = [
        w.HTML(STYLE),
        status.widget,
        w.HBox(
            [
                w.Box([handle.cart_view.widget], layout=side),
                w.Box([handle.transcript.widget], layout=side),
            ],
            layout=w.Layout(grid_gap="8px"),
        ),
        handle.metrics.widget,
        handle.controls,
        handle.note,
        handle.room,
    ]
    handle.panel.add_class("concierge-panel")
    return handle


async def _start_offline(handle: LiveHandle, store: Any, user_id: str, voice: bool | None) -> None:
    """The session in this kernel's loop: text only, or with the browser's mic and speaker."""
    from ..session import running_session
    from ..state import new_userdata
    from ..store import open_store

    store = store or await open_store()  # CONCIERGE_STORE, or the SQLite file in your data dir
    userdata = await new_userdata(store, user_id)
    models, notes = _models(userdata.catalog, voice)
    observer = handle._observer
    assert observer is not None
    views = [lambda session: observer.attach(session, session.userdata.cart)]
    audio: dict[str, Any] = {}
    if models.stt is not None and models.tts is not None:
        handle.voice = BrowserVoice()
        _govern_voice(handle.status, handle.voice.widget, handle._loop)
        if (transport_note := await handle.voice.widget.open_direct()) is not None:
            notes.append(transport_note)
        audio = {"audio_input": handle.voice.mic, "audio_output": handle.voice.speaker}
    handle._stack = AsyncExitStack()
    handle.session = await handle._stack.enter_async_context(
        running_session(userdata, models, views=views, **audio)
    )
    handle.note.value = (
        f"<div class='concierge-muted'>{_esc(speech_status(handle.voice is not None))}"
        + "".join(f"<br>{_esc(n)}" for n in notes)
        + "</div>"
    )
    if handle.voice is not None:
        output = handle.session.output
        output.set_audio_enabled(False)  # typed turns answer in text until the mic is used
        handle.voice.bind(output.set_audio_enabled)
        handle.controls.children = [handle.voice.widget, *handle.controls.children]


def _govern_voice(status: StatusBadge, widget: MicWidget, loop: Any) -> None:
    """The microphone widget in the one status: its Talk button follows the panel's state, and
    what the browser reports of the microphone goes into that state (on the session's loop: the
    browser's trait changes arrive on a kernel subshell's thread, see .voice)."""
    status.apply("voice", True)
    status.govern(lambda allowed: setattr(widget, "enabled", allowed.talk))

    def reported(_change: dict[str, Any]) -> None:
        in_loop(loop, status.apply, "mic", (widget.active, widget.error))

    widget.observe(reported, names=["active", "error"])


def _models(catalog: Any, voice: bool | None) -> tuple[Models, list[str]]:
    """Voice models where the offline speech engines run (unless `voice=False`), else text."""
    if voice is False:
        return text_models(catalog), []
    models = pick_models(catalog)
    if models.stt is None or models.tts is None:
        if voice:
            raise RuntimeError("voice unavailable: " + "; ".join(models.notes))
        return text_models(catalog), list(models.notes)
    return models, []


def _empty_cart() -> Any:
    from ..cart import Cart

    return Cart(user_id="-")


async def _start_room(
    handle: LiveHandle, path: PanelPath, user_id: str, *, fall_back: bool
) -> PanelPath:
    """The page joins the agent's room (see `concierge.live.room_mode`): on the configured server,
    or the local one started here. With `fall_back`, a server or worker that cannot start puts
    the panel on the in-kernel path instead, and the path returned says why."""
    from ..livekit_server import ServerUnavailable
    from .room_mode import RoomWidget, join_room, start_server_and_worker

    try:
        server = await start_server_and_worker(path.server, path.store_url)
    except (ServerUnavailable, RuntimeError, TimeoutError, OSError) as e:
        if not fall_back:
            raise
        handle.path = fallback(f"the LiveKit server or the agent's worker could not start ({e})")
        handle.mode = "offline"
        handle.status.reset("offline")
        return handle.path
    widget = RoomWidget()
    again = w.Button(description="Reconnect", button_style="warning", icon="refresh")
    again.on_click(lambda _b: in_loop(handle._loop, handle._start_reconnect))

    def follow(allowed: Controls) -> None:
        widget.enabled = allowed.talk
        again.layout.display = None if allowed.reconnect else "none"

    handle.status.govern(follow)
    handle.controls.children = [widget, *handle.controls.children, again]
    handle.link = await join_room(
        server, widget, handle.cart_view, handle.transcript, handle.status, user_id
    )
    handle.link.metrics = handle.metrics
    handle.user_id = user_id
    return path


def _say_path(handle: LiveHandle) -> None:
    """The path's sentence first in the note under the panel (what else it says stays below)."""
    if handle.path is None:
        return
    said = f"<div class='concierge-muted concierge-path'>{_esc(handle.path.sentence)}</div>"
    handle.note.value = said + handle.note.value


async def _start_cloud(handle: LiveHandle, room: w.Output) -> None:
    """Run the migrated AgentServer in this process and dispatch one job into a fresh room.

    See `concierge.live.cloud`: the worker runs on a thread of its own (started once per
    process), LiveKit's room widget is shown for the user, and the widgets bind to the job's
    session when the entrypoint starts it (injected as a session view), their updates delivered back
    to this kernel's event loop.
    """
    from livekit.rtc.jupyter import display_room

    from . import cloud as live_cloud

    creds = live_cloud.Credentials.from_env()
    room_name = live_cloud.new_room_name()
    user_token, agent_token = live_cloud.room_tokens(creds, room_name)
    ui_loop = asyncio.get_running_loop()

    def bound(cloud: Any) -> None:
        def on_ui_loop() -> None:
            handle._cloud, handle.session = cloud, cloud.session
            handle._joined.set()
            assert handle._observer is not None
            handle._observer.attach(
                cloud.session, cloud.session.userdata.cart, deliver=live_cloud.on_loop(ui_loop)
            )

        ui_loop.call_soon_threadsafe(on_ui_loop)

    live_cloud.ROOMS.expect(room_name, bound)
    handle._cloud_room = room_name
    with room:
        display_room(creds.url, user_token)
    worker = live_cloud.worker(live_cloud.this_process_server(), creds)
    await worker.wait_registered()
    await worker.dispatch(room_name, agent_token)
