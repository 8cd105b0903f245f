"""A machine's worth of workers behind LiveKit's dispatcher: `python -m concierge start --workers 2`
(`concierge.workers`) against the local server, and one of the two killed mid-call.

Each worker reports its load (`concierge.worker_load`); here each holds 2 calls
(CONCIERGE_SESSIONS_PER_WORKER=2, load 1.0 > the 0.75 threshold) and the loop-lag part is lifted
(CONCIERGE_LAG_LIMIT_S), so where a call goes depends on the calls alone, not on how busy the
machine is. Which worker got which room is read from the server's own log ("assigned job to
worker"), and which process registered which worker id from the workers' log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from concierge.lab.room_caller import RoomCaller
from concierge.livekit_server import local_server, start_worker
from concierge.worker_load import COUNT_CALLS_ONLY

from .livekit_calls import Stack
from .patience import PATIENCE_S

pytestmark = pytest.mark.livekit

PER_WORKER = 2
ORDERS = {"two churros": [("churros", 2)], "a falafel bowl": [("falafel_bowl", 1)]}


def wait_until(predicate, what: str, timeout: float = PATIENCE_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def workers(livekit_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The local server and `start --workers 2`, both registered and prewarmed."""
    tmp = tmp_path_factory.mktemp("workers")
    store_url = f"sqlite:///{tmp / 'store.db'}"
    env = {
        "CONCIERGE_STORE": store_url,
        "CONCIERGE_REPORT_DIR": str(tmp / "reports"),
        "CONCIERGE_SESSIONS_PER_WORKER": str(PER_WORKER),
        **COUNT_CALLS_ONLY,
    }
    with local_server(
        binary=livekit_binary, log_path=tmp / "livekit-server.log", timeout=PATIENCE_S
    ) as server:
        supervisor = start_worker(
            server, env=env, args=("--workers", "2"), log_path=tmp / "workers.log"
        )
        try:
            wait_until(lambda: len(supervisor.worker_pids()) >= 2, "two workers registered")
            supervisor.wait_ready(processes=2, timeout=PATIENCE_S)
            yield Stack(server, supervisor, store_url, tmp / "reports")
        finally:
            # The test is over and nothing checks the drain (it took 40 s): the supervisor first,
            # so it restarts nothing, then its workers, which have process groups of their own.
            tree = psutil.Process(supervisor.process.pid).children(recursive=True)
            supervisor.kill()
            for leftover in tree:
                with contextlib.suppress(psutil.Error):
                    leftover.kill()


def agent_lines(caller: RoomCaller) -> list[str]:
    return [text for who, text in caller.transcripts if who.startswith("agent-")]


async def settle(predicate, what: str, timeout: float = PATIENCE_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        await asyncio.sleep(0.1)


async def answered_call(
    stack: Stack, calls: contextlib.AsyncExitStack, room: str
) -> tuple[RoomCaller, str]:
    """A call in `room`, greeted; returns the caller and the worker id the server assigned."""
    caller, dispatched = await calls.enter_async_context(stack.call(room, f"user-{room}"))
    await caller.next_agent_speech(after=dispatched, timeout=PATIENCE_S)
    worker = dict(stack.server.assignments())[room]
    return caller, worker


def reborn_id(stack: Stack, original: set[int]) -> str | None:
    """The id of a worker registered by a process that is not one of the `original` ones."""
    return next((w for w, pid in stack.worker.worker_pids().items() if pid not in original), None)


async def test_a_killed_worker_loses_no_cart_and_gets_no_more_calls(workers: Stack) -> None:
    async with contextlib.AsyncExitStack() as calls:
        first: dict[str, tuple[RoomCaller, str]] = {}
        for room, order in zip(("k-0", "k-1"), ORDERS, strict=True):
            first[room] = await answered_call(workers, calls, room)
            await first[room][0].type(order)
        for room, (caller, _) in first.items():
            await settle(lambda c=caller: len(agent_lines(c)) >= 2, f"the order in {room}")

        victim = first["k-0"][1]
        pids = workers.worker.worker_pids()
        original = set(pids.values())
        doomed = [room for room, (_, w) in first.items() if w == victim]
        os.killpg(pids[victim], signal.SIGKILL)  # the worker and its job/recognition processes
        # calls dispatched right after go to a live worker, never to the dead one (the survivor,
        # until it is full)
        live = {room: w for room, (_, w) in first.items() if w != victim}
        for i in range(PER_WORKER - len(live)):
            _, worker = await answered_call(workers, calls, f"n-{i}")
            assert worker != victim
            live[f"n-{i}"] = worker
        for room in doomed:  # the dead worker's calls end: the agent leaves their rooms ...
            caller = first[room][0]
            await settle(lambda c=caller: c.agent is None, f"the agent leaving {room}")
        # ... with their carts saved, line for line (and the survivor's too)
        async with workers.store() as store:
            for room, order in zip(first, ORDERS, strict=True):
                cart = await store.load_cart(f"user-{room}")
                assert [(ln.item_id, ln.quantity) for ln in cart.lines] == ORDERS[order], room

        # the supervisor starts the dead worker again; it registers under a new id and, the
        # others being full, takes the next call (unless it was up in time to take one above)
        await settle(lambda: reborn_id(workers, original) is not None, "the worker started again")
        reborn = reborn_id(workers, original)
        if reborn not in live.values():
            for i in range(PER_WORKER + 1):
                caller, worker = await answered_call(workers, calls, f"r-{i}")
                assert worker != victim
                if worker == reborn:
                    break
            else:
                raise AssertionError("the restarted worker took no call")
            await caller.type("a large horchata")
            await settle(lambda c=caller: len(agent_lines(c)) >= 2, "the reborn worker's answer")
            cart = await caller.cart()
            assert [ln["item_id"] for ln in cart["cart"]["lines"]] == ["horchata"]
    # none of the rooms was ever given to the dead worker after it died
    assigned = workers.server.assignments()
    assert [w for room, w in assigned if room.startswith(("n-", "r-"))].count(victim) == 0
