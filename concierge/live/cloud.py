"""The live notebook's cloud mode: the migrated `AgentServer` on a thread, one room per launch.

`livekit.agents.jupyter.run_app` runs the worker through livekit's CLI on the notebook's main
thread, which blocks the cell (and the CLI installs signal handlers, which Python allows only on
the main thread). The live panel must keep the kernel free for its widgets, so this module runs
the concierge's `AgentServer` (`panel_server()`, the same entrypoint logic as
`concierge.server`, with the panel's widgets injected as session views) with `server.run()` on a thread of its own — once per process,
since an `AgentServer` runs once — and, for each `launch()`, creates a fresh room, shows
LiveKit's in-notebook room widget for the user, and dispatches one job into it, as `run_app`
does. The job's session runs on the job's own thread (`JobExecutorType.THREAD`); `CloudSession`
is how the notebook reaches it: typed turns, stop, and the event loop the widgets' updates come
from.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import threading
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from livekit import api
from livekit.agents import AgentServer, AgentSession, JobContext, RunResult, get_job_context
from livekit.agents.job import JobExecutorType

from ..server import (
    AGENT_NAME,
    LIVEKIT_VARIABLES,
    LOAD_THRESHOLD,
    greet_and_serve,
    on_session_end,
    prewarm,
    worker_load,
)
from ..session import SessionView

CLOUD_VARIABLES = LIVEKIT_VARIABLES
#: How long `stop()` waits for the job to close its session (and `on_session_end` to save).
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Credentials:
    """Where the LiveKit server is and the key pair that signs tokens for it."""

    url: str
    api_key: str
    api_secret: str = field(repr=False)  # never printed: a notebook cell or a log would leak it

    @classmethod
    def from_env(cls, env: Any = None) -> Credentials:
        env = os.environ if env is None else env
        missing = [v for v in CLOUD_VARIABLES if not env.get(v)]
        if missing:
            raise RuntimeError(f"cloud mode needs {', '.join(missing)} (see .env.example)")
        return cls(*(env[v] for v in CLOUD_VARIABLES))


def room_tokens(creds: Credentials, room: str) -> tuple[str, str]:
    """(user token, agent token) for one room, short-lived, as `run_app` makes them."""
    ttl = datetime.timedelta(minutes=10)
    user = (
        api.AccessToken(creds.api_key, creds.api_secret)
        .with_identity(f"notebook-user-{room[-8:]}")
        .with_grants(
            api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True)
        )
        .with_ttl(ttl)
        .to_jwt()
    )
    agent = (
        api.AccessToken(creds.api_key, creds.api_secret)
        .with_identity(f"concierge-agent-{room[-8:]}")
        .with_kind("agent")
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=room,
                agent=True,
                can_publish=True,
                can_subscribe=True,
                can_update_own_metadata=True,
            )
        )
        .with_ttl(ttl)
        .to_jwt()
    )
    return user, agent


class WorkerThread:
    """An `AgentServer` running on a daemon thread with its own event loop."""

    def __init__(self, server: AgentServer, creds: Credentials) -> None:
        self.server, self.creds = server, creds
        self.loop = asyncio.new_event_loop()
        self.registered = threading.Event()
        self.error: BaseException | None = None
        server.update_options(
            ws_url=creds.url,
            api_key=creds.api_key,
            api_secret=creds.api_secret,
            job_executor_type=JobExecutorType.THREAD,
        )
        server.on("worker_registered", lambda *_: self.registered.set())
        self.thread = threading.Thread(target=self._run, daemon=True, name="concierge-worker")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.run(devmode=True, unregistered=False))
        except BaseException as e:  # surfaced to the notebook by `wait_registered`
            self.error = e
        finally:
            self.registered.set()

    def start(self) -> WorkerThread:
        self.thread.start()
        return self

    async def wait_registered(self, timeout: float = 30.0) -> None:
        """Wait until the worker has registered with the server (or failed to)."""
        if not await asyncio.to_thread(self.registered.wait, timeout):
            raise TimeoutError(
                f"the agent worker did not register with {self.creds.url} in {timeout:g} s"
            )
        if self.error is not None or not self.thread.is_alive():
            raise RuntimeError(f"the agent worker stopped: {self.error!r}")

    async def submit(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run `coro` on the worker's loop and await it from the notebook's."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def dispatch(self, room: str, agent_token: str) -> None:
        """Create `room` and start one job of the concierge in it."""

        async def create_and_join() -> None:
            async with api.LiveKitAPI(
                self.creds.url, self.creds.api_key, self.creds.api_secret
            ) as lk:
                info = await lk.room.create_room(api.CreateRoomRequest(name=room))
            await self.server.simulate_job(room, fake_job=False, room_info=info, token=agent_token)

        await self.submit(create_and_join())


_worker: WorkerThread | None = None


def worker(server: AgentServer, creds: Credentials) -> WorkerThread:
    """This process's worker thread, started on first use (an `AgentServer` runs only once)."""
    global _worker
    if _worker is None or not _worker.thread.is_alive():
        _worker = WorkerThread(server, creds).start()
    return _worker


@dataclass
class CloudSession:
    """The session a cloud job started, reached from the notebook's thread."""

    session: AgentSession[Any]
    loop: asyncio.AbstractEventLoop
    job: JobContext
    closed: threading.Event

    async def run(self, text: str) -> RunResult[Any]:
        """One typed user turn, run on the session's own loop."""
        future = asyncio.run_coroutine_threadsafe(self._run(text), self.loop)
        return await asyncio.wrap_future(future)

    async def _run(self, text: str) -> RunResult[Any]:
        return await self.session.run(user_input=text)

    async def stop(self) -> bool:
        """Close the session and end the job (whose `on_session_end` saves the cart again).

        True once the session has closed within `STOP_TIMEOUT_S`."""
        if not self.closed.is_set() and not self.loop.is_closed():
            closing = asyncio.run_coroutine_threadsafe(self.session.aclose(), self.loop)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.wrap_future(closing), STOP_TIMEOUT_S)
            if not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self.job.shutdown, "stopped from the notebook")
        return await asyncio.to_thread(self.closed.wait, STOP_TIMEOUT_S)


def on_loop(loop: asyncio.AbstractEventLoop) -> Callable[[Callable[[], None]], None]:
    """A `SessionObserver` delivery function: run each widget update on `loop` (the notebook's)."""

    def deliver(update: Callable[[], None]) -> None:
        loop.call_soon_threadsafe(update)

    return deliver


def session_binder(room: str, bound: Callable[[CloudSession], None]) -> SessionView:
    """A session view that hands the job's session to the notebook, as a `CloudSession`, for `room`."""

    def view(session: AgentSession[Any]) -> None:
        job = get_job_context()
        if job.job.room.name != room:  # the dispatched room, known before the room connects
            return
        closed = threading.Event()
        session.on("close", lambda _ev: closed.set())
        bound(CloudSession(session, asyncio.get_running_loop(), job, closed))

    return view


class PanelRooms:
    """The rooms this kernel's panels dispatched, each waiting for its job's session.

    Jobs run on the worker's thread, panels are launched from the kernel's: a lock guards the map.
    """

    def __init__(self) -> None:
        self._views: dict[str, SessionView] = {}
        self._lock = threading.Lock()

    def expect(self, room: str, bound: Callable[[CloudSession], None]) -> None:
        with self._lock:
            self._views[room] = session_binder(room, bound)

    def forget(self, room: str) -> None:
        with self._lock:
            self._views.pop(room, None)

    def views_for(self, ctx: JobContext) -> list[SessionView]:
        with self._lock:
            view = self._views.pop(ctx.job.room.name, None)
        return [view] if view is not None else []


def panel_server(rooms: PanelRooms) -> AgentServer:
    """The concierge's `AgentServer`, with each job's session handed to the panel that asked for it.

    Same entrypoint logic, prewarm, load and `on_session_end` as `concierge.server.server`; only
    the views differ.
    """
    panel = AgentServer(setup_fnc=prewarm, load_fnc=worker_load, load_threshold=LOAD_THRESHOLD)

    @panel.rtc_session(agent_name=AGENT_NAME, on_session_end=on_session_end)
    async def panel_entrypoint(ctx: JobContext) -> None:
        await greet_and_serve(ctx, views=rooms.views_for(ctx))

    return panel


ROOMS = PanelRooms()
_panel_server: AgentServer | None = None


def this_process_server() -> AgentServer:
    """The panel's server, built once per process (an `AgentServer` runs only once)."""
    global _panel_server
    if _panel_server is None:
        _panel_server = panel_server(ROOMS)
    return _panel_server


def new_room_name() -> str:
    return f"concierge-{uuid.uuid4().hex[:8]}"
