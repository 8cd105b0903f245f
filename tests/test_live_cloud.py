"""The live panel's cloud mode, as far as it runs without a LiveKit server.

What needs a server (registering the worker, a room, a microphone) cannot run here; everything
around it does: the tokens, the worker running off the main thread, and a job's session on its
own thread driven from the notebook's loop, with the widgets updated on the notebook's loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from livekit import api
from livekit.agents import AgentServer, JobContext
from livekit.agents.testing import fake_job_context

from concierge.live import cloud as live_cloud
from concierge.live.widgets import (
    CartView,
    MetricsStrip,
    SessionObserver,
    StatusBadge,
    TranscriptView,
)
from concierge.providers import text_models
from concierge.server import serve_job
from concierge.store import open_store

CREDS = live_cloud.Credentials("ws://127.0.0.1:9", "APIkeyfortests", "secret-for-tests-" * 3)


def test_tokens_let_the_user_and_the_agent_into_one_room() -> None:
    user, agent_token = live_cloud.room_tokens(CREDS, "concierge-abc12345")
    verify = api.TokenVerifier(CREDS.api_key, CREDS.api_secret).verify
    u, a = verify(user), verify(agent_token)
    assert u.video.room == a.video.room == "concierge-abc12345"
    assert u.video.room_join and u.video.can_publish and not u.video.agent
    assert a.video.agent and a.kind == "agent" and a.identity != u.identity


def test_credentials_name_what_is_missing() -> None:
    with pytest.raises(RuntimeError, match="LIVEKIT_API_KEY, LIVEKIT_API_SECRET"):
        live_cloud.Credentials.from_env({"LIVEKIT_URL": "wss://x"})


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """A running AgentServer writes LIVEKIT_URL & co. into os.environ (for its jobs to read):
    undo that, or every later notebook would believe cloud credentials are set."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


async def test_the_worker_runs_off_the_main_thread_without_the_cli(restored_environ: None) -> None:
    """livekit's CLI installs signal handlers, which only the main thread may do; ours does not."""
    server = AgentServer()

    @server.rtc_session(agent_name="t")
    async def entry(ctx: JobContext) -> None:  # never dispatched here
        pass

    worker = live_cloud.WorkerThread(server, CREDS).start()
    await asyncio.sleep(1.0)  # it is trying to reach the (absent) server by now
    assert worker.thread.is_alive() and worker.error is None
    with pytest.raises(TimeoutError, match="did not register with ws://127.0.0.1:9"):
        await worker.wait_registered(timeout=0.2)  # no server there: a plain message, no hang
    await worker.submit(server.aclose())
    await asyncio.to_thread(worker.thread.join, 10)
    assert not worker.thread.is_alive()


async def test_a_job_session_on_its_own_thread_is_driven_from_the_notebook() -> None:
    ui_loop = asyncio.get_running_loop()
    bound: asyncio.Future[live_cloud.CloudSession] = ui_loop.create_future()
    job_done = threading.Event()

    def job_thread() -> None:  # what the worker's THREAD executor does for one job
        async def job() -> None:
            store = await open_store("memory")
            with fake_job_context(job_metadata='{"user_id": "cloud-user"}') as ctx:
                session = await serve_job(
                    ctx,
                    store,
                    text_models(await store.load_catalog()),
                    room=None,
                    views=rooms.views_for(ctx),
                )
                closed = asyncio.Event()
                session.on("close", lambda _ev: closed.set())
                await closed.wait()

        asyncio.run(job())
        job_done.set()

    rooms = live_cloud.PanelRooms()
    rooms.expect("fake-room", lambda c: ui_loop.call_soon_threadsafe(bound.set_result, c))
    threading.Thread(target=job_thread, daemon=True).start()
    cloud = await asyncio.wait_for(bound, 10)
    assert cloud.loop is not ui_loop and not rooms.views_for(cloud.job)  # bound once, then gone

    cart_view = CartView(cloud.session.userdata.cart)
    observer = SessionObserver(cart_view, TranscriptView(), MetricsStrip(), StatusBadge("cloud"))
    updated_on: list[Any] = []
    original = cart_view.on_change
    cart_view.on_change = lambda change: (
        updated_on.append(threading.current_thread()),
        original(change),
    )  # type: ignore[method-assign]
    observer.attach(cloud.session, cloud.session.userdata.cart, deliver=live_cloud.on_loop(ui_loop))

    result = await cloud.run("two classic cheeseburgers")
    result.expect.next_event().is_function_call(name="add_to_cart")
    await asyncio.sleep(0.05)  # let the delivered updates run
    assert [(line.item_id, line.quantity) for line in cloud.session.userdata.cart.lines] == [
        ("classic_cheeseburger", 2)
    ]
    assert updated_on and all(t is threading.main_thread() for t in updated_on)
    assert "$19.98" in cart_view.widget.value

    assert await cloud.stop()
    await asyncio.to_thread(job_done.wait, 10)
    assert job_done.is_set()
