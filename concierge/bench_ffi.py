"""`python -m concierge.bench_ffi`: what N WebRTC calls cost livekit.rtc itself, with no agent.

The calls-per-machine bench (`concierge.bench_machine`) charges every call a caller and an agent,
each a livekit.rtc participant. This measures that floor alone: N rooms on the local LiveKit
server, each with one `RoomCaller` in this process and one in a peer process, both sending 20 ms
frames of silence in real time and receiving the other's — what a call costs before any speech
is recognised or said. For each N it prints the CPU milliseconds each process spent per
call-second (1000 = a core per call), and this process's share by thread (`PARTS`: the Python
event loop, libwebrtc's Opus encoder, livekit's Rust runtime, the 10 ms audio clock), from
`/proc` over `--seconds` of steady audio: counts, not timings, so they hold on a busy machine.
`--dtx` publishes every microphone with Opus DTX (livekit-client's default in a browser).

    python -m concierge.bench_ffi --calls 2,8,16,24 [--dtx] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import psutil

from .lab.room_caller import RoomCaller
from .livekit_server import LocalServer, local_server

FRAME_MS = 20


@contextlib.asynccontextmanager
async def _callers(url: str, tokens: Sequence[str], dtx: bool) -> AsyncIterator[list[RoomCaller]]:
    async with contextlib.AsyncExitStack() as stack:
        callers = [
            await stack.enter_async_context(RoomCaller.joined(url, t, frame_ms=FRAME_MS, dtx=dtx))
            for t in tokens
        ]
        yield callers


async def _peer(url: str, tokens: Sequence[str], dtx: bool) -> None:
    """The other side of every call: join, send silence, receive, until stdin closes."""
    async with _callers(url, tokens, dtx):
        print("joined", flush=True)
        await asyncio.to_thread(sys.stdin.read)


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


#: The threads of a livekit.rtc process, by the name the native runtime gives them (`comm`).
PARTS = {
    "python": ("MAIN",),  # this process's event loop: every caller's Python
    "opus-enc": ("AudioEncoderQue",),  # libwebrtc's audio encoder queue: Opus, 100 frames/s
    "ffi": ("tokio-rt-worker", "livekit-audio"),  # livekit's Rust runtime, its FFI callbacks
    "device": ("SyntheticAudioD", "AudioSourceCapt"),  # the 10 ms audio clock, decode/mix
}


def thread_seconds(pid: int) -> dict[str, float]:
    """CPU seconds so far of each part of process `pid` (`PARTS`; the rest is "other")."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = dict.fromkeys((*PARTS, "other"), 0.0)
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            comm = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            name = "MAIN" if tid == str(pid) else comm
            part = next((k for k, names in PARTS.items() if name in names), "other")
            out[part] += (int(stat[11]) + int(stat[12])) / tick
    return out


async def _heard(callers: Sequence[RoomCaller], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    # subscribed to the other side's audio (with DTX, silence sends next to nothing to hear)
    while not all(c._agent_audio.is_set() for c in callers):
        if time.monotonic() > deadline:
            raise TimeoutError("not every caller subscribed to the other side's audio")
        await asyncio.sleep(0.2)


async def measure(server: LocalServer, calls: int, seconds: float, dtx: bool) -> str:
    rooms = [f"ffi{calls}-{i}" for i in range(calls)]
    peer_tokens = [server.token(f"peer-{r}", r) for r in rooms]
    command = [sys.executable, "-m", "concierge.bench_ffi", *(["--dtx"] if dtx else []), "--peer"]
    peer = subprocess.Popen(
        [*command, server.url, *peer_tokens],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert peer.stdout is not None and peer.stdin is not None
        tokens = [server.token(f"caller-{r}", r) for r in rooms]
        async with _callers(server.url, tokens, dtx) as callers:
            await asyncio.to_thread(peer.stdout.readline)  # "joined"
            await _heard(callers)
            assert server.process is not None
            procs = [psutil.Process(), psutil.Process(peer.pid), psutil.Process(server.process.pid)]
            before, parts = [_cpu(p) for p in procs], thread_seconds(os.getpid())
            started = time.perf_counter()
            await asyncio.sleep(seconds)
            wall = time.perf_counter() - started
            used = [_cpu(p) - b for p, b in zip(procs, before, strict=True)]
            parts = {k: v - parts[k] for k, v in thread_seconds(os.getpid()).items()}
        peer.stdin.close()
        peer.wait(timeout=60)
    finally:
        if peer.poll() is None:
            peer.kill()
    per_call = [1000 * u / wall / calls for u in used]
    split = [1000 * parts[k] / wall / calls for k in (*PARTS, "other")]
    return (
        f"{'dtx' if dtx else 'default':8} {calls:>4} "
        + " ".join(f"{v:>8.1f}" for v in per_call)
        + "  "
        + " ".join(f"{v:>8.1f}" for v in split)
    )


HEADER = f"{'opus':8} {'N':>4} {'callers':>8} {'peers':>8} {'server':>8}  " + " ".join(
    f"{k:>8}" for k in (*PARTS, "other")
)


async def sweep(counts: Sequence[int], seconds: float, dtx: bool) -> None:
    print("CPU ms per call-second (1000 = one core per call); the callers' split by thread")
    print(HEADER, flush=True)
    with local_server() as server:
        for n in counts:
            print(await measure(server, n, seconds, dtx), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m concierge.bench_ffi", description=__doc__)
    parser.add_argument("--calls", default="2,4,8,16", help="the N to measure, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--dtx", action="store_true", help="Opus DTX on every microphone")
    parser.add_argument("--peer", nargs="+", metavar=("URL", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer:
        asyncio.run(_peer(args.peer[0], args.peer[1:], args.dtx))
        return 0
    counts = [int(n) for n in args.calls.split(",")]
    asyncio.run(sweep(counts, args.seconds, args.dtx))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
