"""Room mode against the server `LIVEKIT_URL` names (LiveKit Cloud, or your own) is the same code
path as against the local one: `launch()` chooses it from the three variables, the worker process
registers there, and the agent is dispatched into the panel's room there. Here the "configured"
server is a LiveKit server this test starts on 127.0.0.1 (no network), named only by the three
variables — the kernel starts no server of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from concierge.live import room_mode
from concierge.live.launch import choose_path
from concierge.live.room_mode import RoomWidget, join_room
from concierge.live.widgets import CartView, StatusBadge, TranscriptView
from concierge.livekit_server import find_server, local_server

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.skipif(
        find_server() is None, reason="livekit-server is not built (scripts/lab.sh)"
    ),
    pytest.mark.timeout(900),
]


async def test_room_mode_on_the_livekit_url_server(tmp_path) -> None:
    from livekit import api

    from concierge.cart import Cart

    with local_server(log_path=tmp_path / "server.log") as lk:
        path = choose_path("auto", env=lk.env(), can_serve=lambda: "never asked")
        assert path.path == "room" and path.server.url == lk.url and path.where == "room-url"
        try:
            server = await room_mode.start_server_and_worker(path.server, None)
            assert server is path.server and lk.running  # no server of the kernel's own
            assert room_mode.local_worker().registrations() == 1
            widget = RoomWidget()
            sent: list[dict[str, Any]] = []
            widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
            link = await join_room(
                server,
                widget,
                CartView(Cart(user_id="-")),
                TranscriptView(),
                StatusBadge("room-url"),
                "url-user",
            )
            assert sent[-1]["type"] == "join" and sent[-1]["url"] == lk.url
            async with api.LiveKitAPI(lk.http_url, lk.api_key, lk.api_secret) as lkapi:
                dispatches = await lkapi.agent_dispatch.list_dispatch(link.room)
            ours = [d for d in dispatches if d.agent_name == "food-concierge"]
            assert len(ours) == 1 and '"user_id": "url-user"' in ours[0].metadata
            # the same server and store asked again: the running worker is reused
            again = await room_mode.start_server_and_worker(path.server, None)
            assert again is server and room_mode.local_worker().registrations() == 1
        finally:
            await asyncio.to_thread(room_mode.shutdown)
