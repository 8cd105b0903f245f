"""SQLite under contention (issue #10.6 and the two-process requirement): store I/O runs off the
event loop, a lock held elsewhere is a short, transient outage, and two worker processes on one
file never lose or duplicate an item."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from concierge.cart import Cart
from concierge.menu import default_catalog
from concierge.store import SQLiteStore, StoreUnavailableError, open_store
from concierge.store.sqlite import BUSY_TIMEOUT


async def test_a_lock_held_by_another_process_never_freezes_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = await open_store(f"sqlite:///{path}")
    assert isinstance(store, SQLiteStore)
    cart = Cart("alex")
    cart.add(default_catalog(), "churros", 1)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another worker holds the write lock
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    try:
        try:
            await store.save_cart(cart)
            raise AssertionError("the save should have found the database locked")
        except StoreUnavailableError as e:
            assert "lock" in e.reason
        waited = time.perf_counter() - started
    finally:
        ticking.cancel()
        other.execute("ROLLBACK")
        other.close()
    assert waited < BUSY_TIMEOUT + 1.0
    assert max(gaps) < 0.2, f"the loop stalled for {max(gaps):.3f} s"
    await store.save_cart(cart)  # the lock is gone: the same save goes through
    assert (await store.load_cart("alex")).lines == cart.lines
    await store.close()


WORKER = r"""
import asyncio, json, sys
from concierge.session import offline_session
from concierge.state import CartChangedError
from concierge.store import open_store

async def main(path, items):
    store = await open_store(f"sqlite:///{path}")
    placed = []
    async with offline_session(store=store, user_id="alex") as session:
        state = session.userdata
        cat = state.catalog
        for item in items:
            await state.apply(lambda cart, item=item: cart.add(cat, item, 1))
        for _ in range(10):
            try:
                placed.append((await state.checkout()).order.order_id)
                break
            except CartChangedError:
                continue
            except Exception as e:  # a busy file: try again, as the user would
                await asyncio.sleep(0.05)
    await store.close()
    print(json.dumps(placed))

asyncio.run(main(sys.argv[1], sys.argv[2].split(",")))
"""


async def test_two_processes_on_one_file_keep_every_item_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    store = await open_store(f"sqlite:///{path}")
    root = Path(__file__).resolve().parent.parent
    env = {"PYTHONPATH": str(root), "CONCIERGE_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    batches = ["churros,edamame,kombucha", "miso_soup,green_tea,acai_bowl"]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER, str(path), batch, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for batch in batches
    ]  # fmt: skip
    outs = [await p.communicate() for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()[-2000:]
    profile = await store.get_profile("alex")
    assert profile is not None
    counted: dict[str, int] = {}
    for order in await store.list_orders(profile.id):
        for line in order.lines:
            counted[line.item_id] = counted.get(line.item_id, 0) + line.quantity
    for line in (await store.load_cart(profile.id)).lines:
        counted[line.item_id] = counted.get(line.item_id, 0) + line.quantity
    expected = {item: 1 for batch in batches for item in batch.split(",")}
    assert counted == expected, (counted, [json.loads(o or b"[]") for o, _ in outs])
    await store.close()
