"""One session builder for every caller; views are passed in and can never break a session."""

from __future__ import annotations

import json

from livekit.agents.testing import fake_job_context

from concierge.providers import text_models
from concierge.server import serve_job
from concierge.session import offline_session
from concierge.store import open_store


async def test_a_view_sees_the_started_session_and_the_turns_that_follow() -> None:
    seen: list[str] = []

    def recorder(session) -> None:
        seen.append(session.agent_state)
        session.on("conversation_item_added", lambda ev: seen.append(ev.item.role))

    async with offline_session(views=[recorder]) as session:
        await session.run(user_input="two classic cheeseburgers")
        assert session.userdata.cart.lines[0].quantity == 2
    assert seen[0] != "initializing"  # called once the session had started
    assert "user" in seen and "assistant" in seen


async def test_a_failing_view_is_logged_and_the_conversation_goes_on(caplog) -> None:
    def broken(_session) -> None:
        raise RuntimeError("widget exploded")

    async with offline_session(views=[broken]) as session:
        await session.run(user_input="a large coke")
        assert [(line.item_id, line.size) for line in session.userdata.cart.lines] == [
            ("coke", "large")
        ]
    assert "widget exploded" in caplog.text


async def test_the_worker_entrypoint_and_offline_sessions_share_the_builder() -> None:
    """A job served by the server's own `serve_job` gets the same agent, tools and views."""
    store = await open_store("memory")
    seen = []
    with fake_job_context(job_metadata=json.dumps({"user_id": "alex"})) as ctx:
        session = await serve_job(
            ctx, store, text_models(await store.load_catalog()), room=None, views=[seen.append]
        )
        await session.run(user_input="one margherita pizza large")
        await session.aclose()
    assert seen == [session]
    async with offline_session(store=store, user_id="alex") as again:
        assert {t.id for t in again.current_agent.tools} == {
            t.id for t in session.current_agent.tools
        }
    await store.close()
