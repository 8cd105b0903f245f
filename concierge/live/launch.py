"""`launch()`: the migrated agent, live in a notebook, with widgets showing the cart as tools run.

    handle = await launch()                       # offline: a session in this kernel's event loop
    await handle.say("two classic cheeseburgers")  # same path as typing in the chat box
    await handle.stop()                            # closes the session and saves the cart

Offline (the default, no keys) it starts the same `AgentSession[UserState]` as
`offline_session()` in the kernel's event loop and shows the panel: status, cart, conversation,
turn metrics and a chat box (Enter sends). Typed turns go through `session.run(user_input=...)`,
exactly where speech lands after speech-to-text.

With `LIVEKIT_URL`, `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET` set, `launch(mode="cloud")` (or
"auto") runs the migrated `AgentServer` in this process — `livekit.agents.jupyter.run_app`'s
steps, on a thread of its own so the cell does not block (`concierge.live.cloud`) — and shows
LiveKit's in-notebook room (microphone) beside the same widgets, bound to the session when the
job starts; typed turns are sent to that session on its own thread.

Launching again replaces the previous panel's session cleanly.
"""

from __future__ import annotations

import asyncio
import os
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

import ipywidgets as w

from ..providers import missing_speech_engines
from .cloud import CLOUD_VARIABLES, Credentials
from .widgets import (
    STYLE,
    CartView,
    MetricsStrip,
    SessionObserver,
    StatusBadge,
    TranscriptView,
    Turn,
)

Mode = Literal["auto", "offline", "cloud"]
#: How long a typed turn waits for the cloud agent to join its room.
JOIN_TIMEOUT_S = 30.0


def cloud_configured(env: Any = None) -> bool:
    env = os.environ if env is None else env
    return all(env.get(v) for v in CLOUD_VARIABLES)


def resolve_mode(mode: Mode, env: Any = None) -> Literal["offline", "cloud"]:
    """ "auto" means cloud when the three LiveKit variables are set, offline otherwise."""
    if mode == "auto":
        return "cloud" if cloud_configured(env) else "offline"
    if mode == "cloud":
        Credentials.from_env(env)  # says which variables are missing
    return mode


def speech_status() -> str:
    """Whether the offline speech engines can run here, in a sentence for the panel."""
    missing = missing_speech_engines()  # the engines import lazily: ask for their packages
    if missing:
        return "Voice offline: " + " ".join(missing.values()) + " Type your order below."
    return (
        "Offline speech is available: switch on “Speak it” and what you type is said by the "
        "offline voice and sent as the offline recogniser hears it (no microphone in this panel; "
        "notebook 6 runs the full audio pipeline)."
    )


class OfflineSpeechPath:
    """Text → offline voice → offline recogniser: what the agent would hear if you said it."""

    def __init__(self, catalog: Any) -> None:
        from ..offline.stt import offline_stt
        from ..offline.tts import offline_tts

        self.tts, self.stt = offline_tts(), offline_stt(catalog)

    def hear(self, text: str) -> str:
        from livekit import rtc

        from ..offline.stt import SAMPLE_RATE, to_pcm16_mono
        from ..offline.tts import SAMPLE_RATE as TTS_RATE

        pcm = self.tts.pcm16(text)
        frame = rtc.AudioFrame(pcm, TTS_RATE, 1, len(pcm) // 2)
        return self.stt.transcribe(to_pcm16_mono(frame, SAMPLE_RATE))


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
    launch_seconds: float = 0.0
    _stack: AsyncExitStack | None = None
    _observer: SessionObserver | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _pending: set[asyncio.Task[Any]] = field(default_factory=set)
    _speech: OfflineSpeechPath | None = None
    _cloud: Any = None  # live_cloud.CloudSession once the cloud job's session has started
    _cloud_room: str | None = None  # the room whose job's session this panel waits for
    _joined: asyncio.Event = field(default_factory=asyncio.Event)
    voice_toggle: w.ToggleButton | None = None

    @property
    def cart(self) -> Any:
        return self.session.userdata.cart if self.session is not None else None

    async def say(self, text: str) -> str:
        """One user turn, as if spoken; returns the agent's reply. Errors show in red."""
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
                message = f"{type(e).__name__}: {e}"
                if turn is not None:
                    turn.error = message
                self.transcript.render()
                return message
        return " ".join(e.item.text_content or "" for e in result.events if e.type == "message")

    async def speak(self, text: str) -> str:
        """Say `text` through the offline speech path; the agent gets what the recogniser heard."""
        if self._speech is None:
            self._speech = OfflineSpeechPath(self.session.userdata.catalog)
        heard = await asyncio.to_thread(self._speech.hear, text)
        if not heard:
            self.transcript.turns.append(
                Turn(
                    user=f"(spoken) {text}",
                    error="The recogniser heard nothing it could parse; try again or type it.",
                )
            )
            self.transcript.render()
            return ""
        return await self.say(heard)

    def _on_chat(self, change: dict[str, Any]) -> None:
        text = str(change["new"]).strip()
        if not text or self._loop is None:
            return
        self.chat.value = ""
        spoken = self.voice_toggle is not None and self.voice_toggle.value
        task = self._loop.create_task(self.speak(text) if spoken else self.say(text))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settle(self) -> None:
        """Wait for turns sent from the chat box to finish."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def stop(self) -> None:
        """Close the session and save the cart (what `on_session_end` does for a room)."""
        await self.settle()
        if self._observer is not None:
            self._observer.detach()
        if self._stack is not None:
            await self._stack.aclose()  # offline_session closes the session and saves the cart
            self._stack = None
        if self._cloud_room is not None:  # stopped before the agent joined: stop waiting for it
            from . import cloud as live_cloud

            live_cloud.ROOMS.forget(self._cloud_room)
            self._cloud_room = None
        if self._cloud is not None:
            await self._cloud.stop()  # ends the job: its on_session_end saves the cart
            self._cloud = None
        self.session = None
        self.chat.disabled = True
        self.status.agent_state = "stopped"
        self.status.render()


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
) -> LiveHandle:
    """Start the agent live and show the panel. Replaces a previous launch in this kernel.

    `store` defaults to the configured store (`CONCIERGE_STORE`, else a SQLite file in your user
    data directory), so a cart survives `stop()` and a later `launch()` for the same user.
    """
    global _current
    started = time.perf_counter()
    if _current is not None:
        await _current.stop()
        _current = None
    resolved = resolve_mode(mode)
    cart_view_placeholder = _empty_cart()
    status = StatusBadge(resolved)
    handle = LiveHandle(
        mode=resolved,
        panel=w.VBox(),
        cart_view=CartView(cart_view_placeholder),
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
    observer = SessionObserver(handle.cart_view, handle.transcript, handle.metrics, status)
    handle._observer = observer
    send = w.Button(description="Send", button_style="primary")
    send.on_click(lambda _b: handle._on_chat({"new": handle.chat.value}))
    handle.chat.observe(handle._on_chat, names="value")
    status_line = speech_status()
    speak = w.ToggleButton(
        description="Speak it",
        icon="microphone",
        tooltip="Send what you type through the offline voice and recogniser",
        disabled=status_line.startswith("Voice offline"),
    )
    handle.voice_toggle = speak
    note = w.HTML(f"<div class='concierge-muted'>{status_line}</div>")
    room = w.Output()
    handle.panel.children = [
        w.HTML(STYLE),
        status.widget,
        w.HBox(
            [
                w.Box([handle.cart_view.widget], layout=w.Layout(flex="1")),
                w.Box([handle.transcript.widget], layout=w.Layout(flex="1")),
            ]
        ),
        handle.metrics.widget,
        w.HBox([handle.chat, send, speak]),
        note,
        room,
    ]
    handle.panel.add_class("concierge-panel")
    if display:
        from IPython.display import display as show

        show(handle.panel)
    if resolved == "offline":
        from ..session import offline_session
        from ..store import open_store

        store = store or await open_store()  # CONCIERGE_STORE, or the SQLite file in your data dir
        handle._stack = AsyncExitStack()
        handle.session = await handle._stack.enter_async_context(
            offline_session(
                store=store,
                user_id=user_id,
                views=[lambda session: observer.attach(session, session.userdata.cart)],
            )
        )
    else:
        await _start_cloud(handle, room)
    handle.launch_seconds = time.perf_counter() - started
    _current = handle
    return handle


def _empty_cart() -> Any:
    from ..cart import Cart

    return Cart(user_id="-")


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
