"""One job through a real LiveKit server, for notebook 5: the production path, end to end, small.

`run_room_job()` starts LiveKit's server on 127.0.0.1 (`concierge.livekit_server`), starts the
worker exactly as a deployer does (`python -m concierge start`), waits for it to register,
dispatches the agent into a room by name, joins that room as a caller (`RoomCaller`), types an
order on `lk.chat`, reads the cart back over the room (`get_cart`), hangs up, and stops both. It
returns what happened, with the server's and the worker's own log lines that tell the story.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..livekit_server import LocalServer, Worker, local_server, server_binary, start_worker
from ..server import AGENT_NAME
from .room_caller import RoomCaller

__all__ = ["RoomJob", "run_room_job", "server_story"]

#: The server's log messages that show a job's life (everything else is transport detail).
STORY = (
    "starting LiveKit server",
    "worker registered",
    "AgentDispatchService.CreateDispatch",
    "assigned job to worker",
    "participant active",
    "job ended",
    "room closed",
)
#: The worker's (livekit-agents') log messages that show the same life from its side.
WORKER_STORY = ("registered worker", "received job request", "session for")


@dataclass
class RoomJob:
    """What one call through the server left behind."""

    room: str
    dispatch_id: str
    agent_identity: str
    replies: list[str]
    cart: dict[str, Any]
    server_log: list[str] = field(default_factory=list)
    worker_log: list[str] = field(default_factory=list)
    seconds: float = 0.0


def server_story(lines: list[str]) -> list[str]:
    """The server log lines in `STORY`, as `time message {a few fields}`."""
    story = []
    for line in lines:
        parts = line.split("\t")  # time, level, logger, source, message, JSON fields
        if len(parts) < 5 or not any(key in parts[4] for key in STORY):
            continue
        fields = json.loads(parts[5]) if len(parts) > 5 and parts[5].startswith("{") else {}
        keep = {
            k: v
            for k, v in fields.items()
            if k in ("room", "agentName", "jobID", "participant", "workerID", "nodeIP")
        }
        story.append(f"{parts[0][11:23]} {parts[4]} {json.dumps(keep) if keep else ''}".rstrip())
    return story


def worker_story(worker: Worker) -> list[str]:
    """The worker's log lines in `WORKER_STORY`, as `message {job id}`."""
    story = []
    for line in worker.log_lines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = str(record.get("message", ""))
        if any(message.startswith(key) for key in WORKER_STORY):
            extra = {k: record[k] for k in ("id", "job_id", "room") if k in record}
            story.append(f"{message} {json.dumps(extra)}")
    return story


def _wait_for_log(worker: Worker, message: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(message in line for line in worker.log_lines()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker did not log {message!r} within {timeout:.0f} s")
        time.sleep(0.1)


async def _call(
    server: LocalServer, room: str, order: str
) -> tuple[str, str, list[str], dict[str, Any]]:
    from livekit import api

    async with RoomCaller.joined(server.url, server.token("caller", room)) as caller:
        async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lkapi:
            dispatch = await lkapi.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(
                    agent_name=AGENT_NAME, room=room, metadata=json.dumps({"user_id": "alex"})
                )
            )
        agent = await caller.wait_for_agent(timeout=120)
        await caller.type(order)
        cart: dict[str, Any] = {}
        for _ in range(600):  # the answer comes in well under a second; allow a busy machine
            cart = await caller.cart()
            replies = [text for who, text in caller.transcripts if who == agent.identity]
            if cart["cart"]["lines"] and any(r.startswith("Added") for r in replies):
                break
            await asyncio.sleep(0.1)
    # the call is over: close the room now, as a backend does, instead of waiting for the server
    # to close it when it has stood empty for a while
    async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lkapi:
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
    return dispatch.id, agent.identity, replies, cart


async def run_room_job(order: str = "two churros", *, room: str = "notebook-5") -> RoomJob:
    """Server, worker, dispatch, a typed order, the cart over the room; everything stopped after.

    Raises `ServerUnavailable` (one sentence) where LiveKit's server is not installed.
    """
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="notebook-5-"))
    binary = server_binary(build=False)  # never a 3-minute build inside a notebook cell
    with local_server(binary=binary, log_path=folder / "livekit-server.log") as server:
        # one prewarmed job process is all one call needs (a deployment keeps one per core)
        worker = start_worker(
            server, env={"CONCIERGE_STORE": "memory", "CONCIERGE_IDLE_PROCESSES": "1"}
        )
        try:
            await asyncio.to_thread(worker.wait_registered)
            dispatch_id, agent, replies, cart = await _call(server, room, order)
            # the caller hung up: the session closes, on_session_end runs, the job ends
            await asyncio.to_thread(_wait_for_log, worker, "session for", 60)
        finally:
            await asyncio.to_thread(worker.stop, timeout=15)
        return RoomJob(
            room,
            dispatch_id,
            agent,
            replies,
            cart,
            server_story(server.log_lines()),
            worker_story(worker),
            time.monotonic() - started,
        )
