"""Two LiveKit server nodes sharing one Redis act as one: the path a deployment takes when it
outgrows one server. The worker registers through node A; the caller connects, and the agent is
dispatched, through node B; the call reaches the agent and an order goes through.

Redis is Debian's `redis-server`, started by the test on 127.0.0.1 (no persistence); without it
the test is skipped, saying so (scripts/test.sh installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from concierge.livekit_server import LocalServer, free_port, local_server, start_worker
from concierge.worker_load import COUNT_CALLS_ONLY

from .livekit_calls import Stack, loopback_only, process_tree, sockets_of
from .patience import PATIENCE_S

pytestmark = pytest.mark.livekit


def redis_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64).startswith(b"+PONG")
    return False


@contextlib.contextmanager
def running_redis(tmp: Path) -> Iterator[str]:
    """A throwaway Redis on 127.0.0.1 (no snapshots, no append-only file); yields "host:port"."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not redis_answers(port):
            assert process.poll() is None, "redis-server exited while starting"
            assert time.monotonic() < deadline, "redis-server did not answer within 30 s"
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def two_nodes(
    livekit_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalServer, Stack]]:
    """Node A, with the worker registered through it, and a `Stack` whose server is node B."""
    tmp = tmp_path_factory.mktemp("nodes")
    with contextlib.ExitStack() as running:
        redis = running.enter_context(running_redis(tmp))
        a = running.enter_context(
            local_server(
                binary=livekit_binary, log_path=tmp / "a.log", redis=redis, timeout=PATIENCE_S
            )
        )
        b = running.enter_context(
            local_server(
                binary=livekit_binary,
                log_path=tmp / "b.log",
                redis=redis,
                api_secret=a.api_secret,
                timeout=PATIENCE_S,
            )
        )
        store_url = f"sqlite:///{tmp / 'store.db'}"
        worker = start_worker(
            a,
            env={
                "CONCIERGE_STORE": store_url,
                "CONCIERGE_REPORT_DIR": str(tmp / "reports"),
                **COUNT_CALLS_ONLY,
            },
            log_path=tmp / "worker.log",
        )
        running.callback(worker.kill)  # the test is over and nothing checks a drain (24 s)
        worker.wait_ready(timeout=PATIENCE_S)
        yield a, Stack(b, worker, store_url, tmp / "reports")


def node_id(log: list[str]) -> str:
    """The node id a server announced when it started."""
    line = next(x for x in log if "starting LiveKit server" in x)
    return json.loads(line[line.index("{") :])["nodeID"]


def agent_lines(transcripts: list[tuple[str, str]]) -> list[str]:
    return [text for who, text in transcripts if who.startswith("agent-")]


async def say_and_wait(caller, text: str, answers: int, timeout: float = PATIENCE_S) -> str:  # type: ignore[no-untyped-def]
    await caller.type(text)
    deadline = time.monotonic() + timeout
    while len(agent_lines(caller.transcripts)) < answers:
        assert time.monotonic() < deadline, f"no answer to {text!r} within {timeout:.0f} s"
        await asyncio.sleep(0.05)
    return agent_lines(caller.transcripts)[answers - 1]


async def test_a_caller_on_node_b_orders_from_the_agent_registered_on_node_a(
    two_nodes: tuple[LocalServer, Stack],
) -> None:
    a, via_b = two_nodes
    b = via_b.server
    assert a.http_port != b.http_port and a.udp_port != b.udp_port
    # the worker knows only node A: it registered there, and B never saw a worker connect
    assert any(f'"url": "{a.url}"' in line for line in via_b.worker.log_lines())
    assert not any("worker registered" in line.lower() for line in b.log_lines())

    user = "caller-across-nodes"
    async with via_b.call("across-nodes", user) as (caller, dispatched):
        greeting = await caller.next_agent_speech(after=dispatched, timeout=PATIENCE_S)
        assert greeting.end > greeting.start  # the agent's voice reached the caller on node B
        await say_and_wait(caller, "two churros", 2)
        await say_and_wait(caller, "checkout", 3)
        placed = await say_and_wait(caller, "yes", 4)
        final = await caller.cart()
        pids = process_tree(via_b.worker.process.pid)
        connected = [(lo, peer) for lo, peer in sockets_of(pids) if not peer.endswith(":*")]

    assert "placed" in placed, placed
    assert final["user_id"] == user and final["cart"]["lines"] == []
    async with via_b.store() as store:
        orders = await store.list_orders(user)
    assert [[(ln.item_id, ln.quantity) for ln in o.lines] for o in orders] == [[("churros", 2)]]
    assert orders[0].order_id == final["orders"][0]["order_id"]
    # B took the dispatch, and the room went to a node chosen through Redis: wherever it landed,
    # the caller's signal (B), the agent's (A) or both were routed from one node to the other
    nodes = {node_id(a.log_lines()), node_id(b.log_lines())}
    assert len(nodes) == 2
    assert any("CreateDispatch" in x and "across-nodes" in x for x in b.log_lines())
    chosen = [x for x in a.log_lines() + b.log_lines() if "selected node for room" in x]
    assert chosen and all(json.loads(x[x.index("{") :])["selectedNodeID"] in nodes for x in chosen)
    # nothing talks to anything but loopback
    assert connected and all(loopback_only(*s) for s in connected), connected
    for node in (a, b):
        assert node.process is not None
        sockets = sockets_of({node.process.pid})
        assert sockets and all(loopback_only(*s) for s in sockets), sockets
