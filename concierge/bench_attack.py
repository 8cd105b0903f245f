"""`python -m concierge bench --attack`: what hostile input costs, measured on this machine.

Issue #10.4: one long word used to cost quadratic memory (a 40 KB word took 2.7 s and 1.5 GB) and
one 100 KB message stalled every other session's turn for 3 s. The figures here are measured in
the run that prints them, through real offline sessions on one in-memory store:

- `attack_1mb_message_ms` / `_mb`: one turn whose user text is a 1 MB message (time; peak
  memory traced during that turn), worst of `repeats`;
- `attack_100kb_word_ms` / `_mb`: the same for a single 100 KB word;
- `victim_turn_ms_p95_quiet` / `_attacked`: other sessions' turn p95, first alone, then while
  one session sends those messages back to back; `victim_slowdown` is their ratio.

Targets (from the issue): under 50 ms and 50 MB per attack turn, slowdown within 2×.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import tracemalloc
from typing import Any

from .session import offline_session
from .store import Store, open_store

MESSAGE_1MB = "margherita pizza please " * 43_700  # ~1 MB of plausible words
WORD_100KB = "pepperoni" * 11_112  # ~100 KB, one word
VICTIM_TURNS = ["a kombucha", "two edamame", "what's in my cart", "remove the kombucha"]
TARGETS = {"attack_ms": 50.0, "attack_mb": 50.0, "victim_slowdown": 2.0}


async def _attack_turn(store: Store, text: str, repeats: int) -> tuple[float, float]:
    """Worst time (ms) and worst traced peak (MB) of one turn carrying `text`."""
    worst_ms = worst_mb = 0.0
    async with offline_session(store=store, user_id="attacker") as session:
        await session.run(user_input="hello")  # warm the session up first
        for _ in range(repeats):
            started = time.perf_counter()
            await session.run(user_input=text)
            worst_ms = max(worst_ms, (time.perf_counter() - started) * 1000)
            tracemalloc.start()
            await session.run(user_input=text)
            worst_mb = max(worst_mb, tracemalloc.get_traced_memory()[1] / 1e6)
            tracemalloc.stop()
    return worst_ms, worst_mb


async def _victims(store: Store, sessions: int, rounds: int) -> list[float]:
    """Turn times (ms) of `sessions` concurrent customers, each `rounds` × VICTIM_TURNS."""

    async def customer(i: int) -> list[float]:
        times = []
        async with offline_session(store=store, user_id=f"victim-{i}") as session:
            for _ in range(rounds):
                for text in VICTIM_TURNS:
                    started = time.perf_counter()
                    await session.run(user_input=text)
                    times.append((time.perf_counter() - started) * 1000)
        return times

    per_customer = await asyncio.gather(*(customer(i) for i in range(sessions)))
    return [t for times in per_customer for t in times]


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) > 1 else values[0]


async def attack_figures(quick: bool = False) -> dict[str, Any]:
    """Measure the attack figures (see the module docstring)."""
    store = await open_store("memory")
    repeats, sessions, rounds = (2, 4, 2) if quick else (5, 8, 5)
    try:
        msg_ms, msg_mb = await _attack_turn(store, MESSAGE_1MB, repeats)
        word_ms, word_mb = await _attack_turn(store, WORD_100KB, repeats)
        await _victims(store, sessions, 1)  # warm-up: first sessions in a process cost more
        quiet = _p95(await _victims(store, sessions, rounds))
        stop = asyncio.Event()

        async def attacker() -> int:
            sent = 0
            async with offline_session(store=store, user_id="attacker-2") as session:
                while not stop.is_set():
                    await session.run(user_input=MESSAGE_1MB if sent % 2 else WORD_100KB)
                    sent += 1
            return sent

        attacking = asyncio.create_task(attacker())
        attacked = _p95(await _victims(store, sessions, rounds))
        stop.set()
        attack_turns = await attacking
    finally:
        await store.close()
    return {
        "attack_1mb_message_ms": msg_ms,
        "attack_1mb_message_mb": msg_mb,
        "attack_100kb_word_ms": word_ms,
        "attack_100kb_word_mb": word_mb,
        "victim_turn_ms_p95_quiet": quiet,
        "victim_turn_ms_p95_attacked": attacked,
        "victim_slowdown": attacked / quiet,
        "attack_turns_during_victims": attack_turns,
    }


def attack_report(results: dict[str, Any]) -> str:
    """The figures as rows with their targets."""
    rows = []
    for key, value in results.items():
        if key.endswith("_ms"):
            target = TARGETS["attack_ms"] if key.startswith("attack_") else None
        elif key.endswith("_mb"):
            target = TARGETS["attack_mb"]
        else:
            target = TARGETS.get(key)
        mark = "" if target is None else ("ok" if value < target else "MISSED")
        bound = "" if target is None else f"< {target:g}"
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        rows.append(f"{key:32} {shown:>12}  {bound:8} {mark}")
    return "\n".join(rows)
