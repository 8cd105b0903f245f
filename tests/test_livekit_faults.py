"""Faults on the production path, with nothing lost: a caller who leaves mid-turn, a worker killed
mid-call, a LiveKit server that restarts. Typed turns (`lk.chat`) keep these quick; the spoken path
is `test_livekit_room.py`'s. One server and worker per module; the last tests replace them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .livekit_calls import Stack, running_stack, wait_for_report
from .patience import PATIENCE_S

pytestmark = pytest.mark.livekit


@pytest.fixture(scope="module")
def stack(livekit_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(livekit_binary, tmp_path_factory.mktemp("faults")) as running:
        yield running


async def until(predicate, timeout: float = PATIENCE_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def saved_lines(stack: Stack, user: str) -> list[tuple[str, int]]:
    async with stack.store() as store:
        cart = await store.load_cart(user)
    return [(ln.item_id, ln.quantity) for ln in cart.lines]


async def test_a_caller_who_leaves_mid_turn_loses_nothing(stack: Stack) -> None:
    async with stack.call("leaves-mid-turn", "caller-leaves") as (caller, dispatched):
        await caller.next_agent_speech(after=dispatched, timeout=PATIENCE_S)
        await caller.type("two churros")
        await until(lambda: _cart_has(caller, "churros"))
        await caller.type("a large horchata")  # and hang up while the agent answers it
        await asyncio.sleep(0.3)
    report = await wait_for_report(stack, "leaves-mid-turn")  # on_session_end ran
    assert report["close_reason"] == "CR_PARTICIPANT_DISCONNECTED"
    lines = await saved_lines(stack, "caller-leaves")
    assert ("churros", 2) in lines and set(lines) <= {("churros", 2), ("horchata", 1)}
    assert not any("Traceback" in line for line in stack.worker.log_lines())


async def _cart_has(caller, item: str) -> bool:  # type: ignore[no-untyped-def]
    cart = await caller.cart()
    return any(ln["item_id"] == item for ln in cart["cart"]["lines"])


async def test_a_worker_killed_mid_call_loses_no_line_and_a_new_one_serves(stack: Stack) -> None:
    async with stack.call("killed-mid-call", "caller-crash") as (caller, dispatched):
        await caller.next_agent_speech(after=dispatched, timeout=PATIENCE_S)
        await caller.type("three churros")
        await until(lambda: _cart_has(caller, "churros"))
        stack.worker.kill()  # SIGKILL, worker and job processes: nothing runs after this
    assert await saved_lines(stack, "caller-crash") == [("churros", 3)]
    stack.new_worker().wait_ready(timeout=PATIENCE_S)
    async with stack.call("after-the-crash", "caller-crash") as (caller, _):
        cart = await caller.cart()
    assert [(ln["item_id"], ln["quantity"]) for ln in cart["cart"]["lines"]] == [("churros", 3)]


async def test_the_worker_re_registers_after_the_server_restarts(stack: Stack) -> None:
    registered = stack.worker.registrations()
    stack.server.stop()
    stack.server.start(timeout=PATIENCE_S)
    stack.worker.wait_registered(registered + 1, timeout=PATIENCE_S)
    async with stack.call("after-restart", "caller-restart") as (caller, dispatched):
        await caller.next_agent_speech(after=dispatched, timeout=PATIENCE_S)
        await caller.type("a falafel bowl")
        await until(lambda: _cart_has(caller, "falafel_bowl"))
    assert await saved_lines(stack, "caller-restart") == [("falafel_bowl", 1)]
