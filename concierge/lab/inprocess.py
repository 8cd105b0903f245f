"""Run one job of the real `AgentServer` in this process, offline: the server's own entrypoint
logic and its registered `on_session_end`, with no LiveKit server and no room.

A worker normally receives a job from LiveKit, builds a `JobContext`, runs the `rtc_session`
entrypoint, and after the room closes calls `on_session_end`. `run_job()` does the same steps
in-process with livekit's `fake_job_context()`, text-only, so the lab (and the tests) can watch a
whole job's life cycle — including the session report — on a laptop.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from livekit.agents.testing import fake_job_context
from livekit.agents.voice.run_result import RunResult

from ..cart import Cart
from ..providers import text_models
from ..server import serve_job, server
from ..store import Store


@dataclass
class JobRun:
    """What a finished in-process job leaves behind."""

    replies: list[str]
    cart: Cart
    saved_cart: Cart
    report: dict[str, Any]


async def run_job(store: Store, utterances: Sequence[str], *, user_id: str = "demo") -> JobRun:
    """Dispatch one job for `user_id`, say `utterances`, close the room, run `on_session_end`."""
    metadata = json.dumps({"user_id": user_id})
    with fake_job_context(job_metadata=metadata, job_id="inprocess-job") as ctx:
        catalog = await store.load_catalog()
        session = await serve_job(ctx, store, text_models(catalog), room=None)
        replies: list[str] = []
        for text in utterances:
            result: RunResult[None] = await session.run(user_input=text)
            replies += [e.item.text_content or "" for e in result.events if e.type == "message"]
        await session.aclose()
        session_end = server._session_end_fnc  # the hook @server.rtc_session registered
        assert session_end is not None, "the server registered no on_session_end"
        await session_end(ctx)
        report = ctx.make_session_report(session).to_dict()
    state = session.userdata
    return JobRun(replies, state.cart, await store.load_cart(state.user_id), report)
