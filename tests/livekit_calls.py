"""Shared by the LiveKit tests: one server + one `python -m concierge start` worker per module,
callers dispatched to the agent by name, and checks on what they receive.

The worker is started exactly as a deployer starts it (livekit's process executor, `setup_fnc`
prewarm); it and the tests share one SQLite file store (CONCIERGE_STORE) and a report directory
(CONCIERGE_REPORT_DIR), so what a call leaves behind is read back from the store, not the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from livekit import api, rtc

from concierge.lab.room_caller import RATE, RoomCaller
from concierge.livekit_server import LocalServer, Worker, local_server, start_worker
from concierge.server import AGENT_NAME
from concierge.store import Store, open_store
from concierge.worker_load import COUNT_CALLS_ONLY

from .patience import PATIENCE_S

#: Every test worker counts calls only: a worker's load (`concierge.worker_load`) includes how late
#: its event loop runs, and on a loaded machine that alone reached 1.0, so LiveKit's server
#: dropped the dispatch ("not dispatching agent job since no worker is available") and the test
#: waited for an agent that never came. The lag part has tests of its own (test_server.py).


@dataclass
class Stack:
    """A LiveKit server, a worker registered with it, and what they share with the tests."""

    server: LocalServer
    worker: Worker
    store_url: str
    reports: Path

    def new_worker(self) -> Worker:
        self.worker = start_worker(
            self.server,
            env={
                "CONCIERGE_STORE": self.store_url,
                "CONCIERGE_REPORT_DIR": str(self.reports),
                **COUNT_CALLS_ONLY,
            },
            log_path=self.reports.parent / f"worker-{time.monotonic_ns()}.log",
        )
        return self.worker

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[Store]:
        opened = await open_store(self.store_url)
        try:
            yield opened
        finally:
            await opened.close()

    @contextlib.asynccontextmanager
    async def call(self, room: str, user_id: str) -> AsyncIterator[tuple[RoomCaller, float]]:
        """Join `room` as a caller, dispatch the agent to it by name; yields the caller once the
        agent's audio track has reached it, and the monotonic time of the dispatch."""
        async with RoomCaller.joined(self.server.url, self.server.token(user_id, room)) as caller:
            dispatched = time.monotonic()
            await dispatch(self.server, room, user_id)
            await caller.wait_for_agent(timeout=PATIENCE_S)
            yield caller, dispatched


async def dispatch(server: LocalServer, room: str, user_id: str) -> None:
    """Explicit dispatch by agent name, as a backend does (the user id in the job metadata)."""
    async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lkapi:
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(
                agent_name=AGENT_NAME, room=room, metadata=json.dumps({"user_id": user_id})
            )
        )


@contextlib.contextmanager
def running_stack(binary: Path, tmp: Path) -> Iterator[Stack]:
    """A server and a prewarmed worker for one test module; both stopped at the end."""
    reports = tmp / "reports"
    with local_server(
        binary=binary, log_path=tmp / "livekit-server.log", timeout=PATIENCE_S
    ) as server:
        stack = Stack(server, None, f"sqlite:///{tmp / 'store.db'}", reports)  # type: ignore[arg-type]
        stack.new_worker()
        try:
            stack.worker.wait_ready(timeout=PATIENCE_S)
            yield stack
        finally:
            # The test is over and nothing checks a drain (livekit's drain timeout is an hour; a
            # job still leaving its room kept it up for the whole grace period): kill at once.
            stack.worker.kill()


@dataclass(frozen=True)
class Socket:
    """One TCP or UDP socket of a process (psutil): where it is bound and whom it talks to."""

    pid: int
    kind: str  # "tcp" | "udp"
    host: str
    port: int
    peer: str | None  # None: not connected (a listening TCP socket, an unconnected UDP one)
    peer_port: int
    status: str  # TCP state ("LISTEN", "ESTABLISHED", ...); "NONE" for UDP


def inet_sockets(pids: set[int]) -> list[Socket]:
    """Every IPv4/IPv6 TCP and UDP socket these processes hold right now (`psutil`, from /proc)."""
    import psutil

    found = []
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="inet")
        except psutil.NoSuchProcess:  # a job process that ended meanwhile
            continue
        for c in connections:
            found.append(
                Socket(
                    pid,
                    "tcp" if c.type == socket.SOCK_STREAM else "udp",
                    c.laddr.ip.split("%")[0],
                    c.laddr.port,
                    c.raddr.ip.split("%")[0] if c.raddr else None,
                    c.raddr.port if c.raddr else 0,
                    c.status,
                )
            )
    return found


def sockets_of(pids: set[int]) -> list[tuple[str, str]]:
    """(local, peer) as "host:port" of every TCP/UDP socket these processes hold; the peer of a
    socket that is not connected is "*:*"."""

    def at(host: str, port: int) -> str:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    out = []
    for s in inet_sockets(pids):
        out.append((at(s.host, s.port), "*:*" if s.peer is None else at(s.peer, s.peer_port)))
    return out


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback or address == "::ffff:127.0.0.1"


def delivered_over_loopback(address: str) -> bool:
    """The kernel delivers packets for `address` through the loopback device (`ip route get`):
    127.0.0.0/8 and ::1, and this machine's own addresses (the `local` routing table)."""
    route = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True)
    return route.returncode == 0 and " dev lo " in route.stdout.splitlines()[0] + " "


def process_tree(pid: int) -> set[int]:
    """`pid` and all its descendants (the worker's forkserver and job processes)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    tree, todo = set(), [pid]
    while todo:
        p = todo.pop()
        tree.add(p)
        todo += children.get(p, [])
    return tree


async def wait_for_report(stack: Stack, room: str, timeout: float = PATIENCE_S) -> dict[str, Any]:
    """The session report `on_session_end` saved for the job in `room` (CONCIERGE_REPORT_DIR)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in stack.reports.glob("*.json") if stack.reports.exists() else ():
            with contextlib.suppress(ValueError):  # a report still being written
                report: dict[str, Any] = json.loads(path.read_text())
                if report.get("room") == room:
                    return report
        await asyncio.sleep(0.2)
    raise AssertionError(f"no session report for room {room!r} within {timeout:.0f} s")


def own_addresses() -> set[str]:
    """Every IP address of this machine's interfaces (loopback and the others)."""
    import psutil

    return {
        a.address.split("%")[0]
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family in (socket.AF_INET, socket.AF_INET6)
    } | {"0.0.0.0", "::"}


def _host_port(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    return host.strip("[]").split("%")[0], port


def loopback_only(local: str, peer: str) -> bool:
    """The socket is bound to a loopback address and talks to nothing else (unconnected: `*`)."""
    (lhost, _), (phost, pport) = _host_port(local), _host_port(peer)
    return is_loopback(lhost) and (pport == "*" or is_loopback(phost))


def voiced_seconds(pcm16: bytes, hop: int = RATE // 50) -> float:
    """How much of `pcm16` (mono, `RATE`) is speech: 20 ms windows louder than quiet, summed.
    Pauses a busy machine inserts into played-out audio do not count."""
    s = np.frombuffer(pcm16, np.int16).astype(float)
    n = len(s) // hop
    loudness = np.sqrt((s[: n * hop].reshape(n, hop) ** 2).mean(1))
    return float((loudness > 300).sum()) * hop / RATE


def pcm_at_rate(pcm16: bytes, rate: int) -> bytes:
    from concierge.offline.stt import to_pcm16_mono

    return to_pcm16_mono(rtc.AudioFrame(pcm16, rate, 1, len(pcm16) // 2), RATE)
