"""`python -m concierge.bench_recovery`: how the recognition pool recovers from killed processes.

Issue #23.5: a hostile user killed recognition processes — twenty kills 20 ms apart left 0 of 2
processes, and speech recognition stayed dead. The figures here are measured in the run that
prints them, on a real pool of `--processes` pocketsphinx processes and real speech (the offline
voice saying menu phrases):

- `replace_ms`: from the SIGKILL of a process that had been up a while to its replacement being
  ready (spawn, import pocketsphinx, load the menu grammar), p50 / p95 / max of `--kills`;
- `burst_*`: `--processes` processes killed 20 times 20 ms apart (each kill hits whatever process
  is up, replacements included), then: how long from the last kill until the pool was whole
  again, how many restarts it took, and an utterance spoken right after the last kill — was it
  heard, and how long did its flush wait (it waits for a process, up to `RESULT_TIMEOUT_S`);
- `spaced_*`: the same with 10 kills 0.5 s apart;
- `inflight_*`: utterances being decoded when every process is killed (processes that had been up
  `RESTART_RESET_S`): how many were heard (sent again to the replacements) and the slowest flush.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import statistics
import time
from collections.abc import Sequence
from typing import Any

from .menu import default_catalog
from .offline import recognition_pool
from .offline.recognition_pool import RecognitionError, RecognitionPool
from .offline.stt import SAMPLE_RATE, load_recognizer, to_pcm16_mono
from .offline.tts import offline_tts

PHRASE = "two classic cheeseburgers"


def speech(text: str) -> bytes:
    """`text` in the offline voice, as the recogniser takes it (16 kHz mono 16-bit PCM)."""
    from livekit import rtc

    pcm = offline_tts().pcm16(text)
    return to_pcm16_mono(rtc.AudioFrame(pcm, 24000, 1, len(pcm) // 2), SAMPLE_RATE)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _noticed(pool: RecognitionPool, pid: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while pid in pool.pids and time.monotonic() < deadline:
        time.sleep(0.001)


def replace_ms(pool: RecognitionPool, kills: int) -> list[float]:
    """Kill → ready replacement, for processes that had been up long enough to restart at once."""
    times = []
    recognition_pool.RESTART_RESET_S = 0.0  # each death counts as a first one
    for i in range(kills):
        pool.wait_ready(60)
        victim = pool.pids[i % pool.size]
        killed = time.monotonic()
        _kill(victim)
        _noticed(pool, victim)
        if pool.wait_ready(60):
            times.append((time.monotonic() - killed) * 1000)
    return times


async def _burst(pool: RecognitionPool, clip: bytes, kills: int, gap: float) -> dict[str, Any]:
    """`kills` kills `gap` s apart, then an utterance at once; then wait for the pool to be whole."""
    restarts = pool.restarts
    for i in range(kills):
        pids = pool.pids
        if pids:
            _kill(pids[i % len(pids)])
        await asyncio.sleep(gap)
    last_kill = time.monotonic()
    utterance = pool.utterance()
    utterance.decode(clip)
    try:
        heard = await utterance.result()
    except RecognitionError as e:
        heard = f"error: {e}"
    flush_ms = (time.monotonic() - last_kill) * 1000
    whole = await asyncio.to_thread(pool.wait_ready, 60)
    return {
        "whole_again_ms": round((time.monotonic() - last_kill) * 1000) if whole else None,
        "restarts": pool.restarts - restarts,
        "next_utterance_heard": heard == PHRASE,
        "next_utterance_text": heard,
        "next_utterance_ms": round(flush_ms),
    }


async def _inflight(pool: RecognitionPool, clip: bytes, utterances: int) -> dict[str, Any]:
    """`utterances` being decoded when every process is killed: heard, and the slowest flush."""
    pool.wait_ready(60)
    pending = [pool.utterance() for _ in range(utterances)]
    for utterance in pending:
        utterance.decode(clip)
    killed = time.monotonic()
    for pid in pool.pids:
        _kill(pid)
    results = await asyncio.gather(*(u.result() for u in pending), return_exceptions=True)
    return {
        "heard": sum(r == PHRASE for r in results),
        "of": utterances,
        "slowest_flush_ms": round((time.monotonic() - killed) * 1000),
    }


def run(processes: int, kills: int) -> dict[str, Any]:
    clip = speech(PHRASE)
    recognizer = load_recognizer(default_catalog())
    pool = recognizer.pool(processes)
    reset = recognition_pool.RESTART_RESET_S
    try:
        times = replace_ms(pool, kills)
        recognition_pool.RESTART_RESET_S = reset
        out: dict[str, Any] = {
            "processes": processes,
            "replace_ms_p50": round(statistics.median(times)),
            "replace_ms_p95": round(statistics.quantiles(times, n=20, method="inclusive")[-1])
            if len(times) > 1
            else None,
            "replace_ms_max": round(max(times)),
        }
        for name, (n, gap) in {"burst": (20, 0.02), "spaced": (10, 0.5)}.items():
            pool.wait_ready(60)
            for key, value in asyncio.run(_burst(pool, clip, n, gap)).items():
                out[f"{name}_{key}"] = value
        time.sleep(recognition_pool.RESTART_RESET_S)  # up a while: back-off forgotten
        for key, value in asyncio.run(_inflight(pool, clip, 4 * processes)).items():
            out[f"inflight_{key}"] = value
        out["pool_whole_at_end"] = pool.wait_ready(60) and len(pool.pids) == processes
        return out
    finally:
        recognition_pool.RESTART_RESET_S = reset
        pool.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m concierge.bench_recovery", description=__doc__)
    parser.add_argument("--processes", type=int, default=2, help="recognition processes")
    parser.add_argument("--kills", type=int, default=10, help="kills timed one by one")
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    logging.getLogger("concierge").setLevel(logging.CRITICAL)  # the kills are expected
    figures = run(args.processes, args.kills)
    for key, value in figures.items():
        print(f"{key:32} {value}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
