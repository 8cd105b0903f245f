"""`python -m concierge bench --capacity --livekit`: voice calls per machine, through LiveKit.

`bench --capacity` measures what one worker holds inside one process, with no server. A deployment
runs several workers behind LiveKit's dispatcher instead, and its callers arrive over WebRTC. This
measures that: it starts LiveKit's server on 127.0.0.1 (`concierge.livekit_server`) and
`python -m concierge start --workers W` (`concierge.workers`; the store a SQLite file, as a
deployment's), then for each N runs N `livekit.rtc` callers (`concierge.lab.room_caller`) in N
rooms, all in this process. Each is dispatched the agent by name and hears its greeting; then,
from a random moment in the first 4 s, it says four short orders in real time, each once the
previous answer has ended and a pause of 0.5–1.5 s has passed.

Per N it prints p50/p95 from the caller's last voiced frame to the first agent audio it received,
the share of orders recognised word for word (the caller's transcript on `lk.transcription`),
failed and undispatched calls, each worker's calls, CPU (100 = one core) and highest reported
load (`/worker` on its health port: what `load_fnc` told the server), the callers' CPU (this
process) apart from the server's, the same three as CPU milliseconds per call-second (what one
call costs each party, load-independent as a count), the workers' memory (PSS, so shared pages
count once) and the machine's. From the CPU per call it computes the CPU ceiling: how many calls
the cores could carry at all (`cpu_bound`). `voice_capacity_machine` is the largest N with
p95 < 1.5 s, recognition ≥ 95 % and no failed or undispatched call; it goes to
`bench/results.json` with the memory per call and the CPU ceiling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from .bench_capacity import (
    CALLER_ORDERS,
    P95_LIMIT_MS,
    RECOGNITION_FLOOR,
    START_SPREAD_S,
    THINK_S,
    CpuMeter,
    _memory_mb,
    _percentile,
    _same_words,
)
from .lab.room_caller import RoomCaller
from .livekit_server import LocalServer, Worker, local_server, start_worker
from .server import AGENT_NAME

__all__ = ["MachinePoint", "machine_sweep", "format_point", "HEADER"]

#: A call whose agent has not joined by then counts as undispatched (no worker took it).
DISPATCH_TIMEOUT_S = 60.0
#: Calls arrive this far apart, as callers do (not N in the same instant): a worker that is asked
#: for several jobs at once before any has started counts each pending one at
#: `load_threshold / num_idle_processes` and refuses the rest, and LiveKit does not retry a
#: dispatch no worker took.
ARRIVAL_S = 0.5
TTS_RATE = 24000
#: The callers' audio frame: 20 ms, one Opus packet (half the wake-ups of 10 ms frames, for
#: dozens of callers in this one process; end of speech and first audio are timed to ±20 ms).
CALLER_FRAME_MS = 20
#: Variables the workers inherit that change what is measured; recorded with the figures.
SETTINGS = (
    "CONCIERGE_SYNC_TRANSCRIPTION",
    "CONCIERGE_SESSIONS_PER_WORKER",
    "CONCIERGE_LAG_LIMIT_S",
    "CONCIERGE_RECOGNITION_PROCESSES",
    "CONCIERGE_IDLE_PROCESSES",
)


@dataclass
class MachinePoint:
    """N calls at once through the server, measured."""

    mode: str
    workers: int
    calls: int
    load_average: list[float] = field(default_factory=list)
    turns: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    recognised: float = 0.0
    failed: int = 0
    undispatched: int = 0
    worker_calls: list[int] = field(default_factory=list)
    worker_cpu: list[float] = field(default_factory=list)
    worker_load_max: list[float] = field(default_factory=list)
    callers_cpu: float = 0.0
    server_cpu: float = 0.0
    workers_mb: float = 0.0
    mb_per_call: float | None = None
    machine_used_mb: float = 0.0
    #: CPU milliseconds per call-second (1000 = one core per call), each party apart.
    callers_ms: float = 0.0
    workers_ms: float = 0.0
    server_ms: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def call_ms(self) -> float:
        """What one call costs the whole machine (callers, workers, server), ms per second."""
        return self.callers_ms + self.workers_ms + self.server_ms

    @property
    def holds(self) -> bool:
        return (
            self.p95_ms is not None
            and self.p95_ms < P95_LIMIT_MS
            and self.recognised >= RECOGNITION_FLOOR
            and self.failed == 0
            and self.undispatched == 0
        )


# --- one caller ----------------------------------------------------------------------------------


async def _dispatch(server: LocalServer, room: str, user_id: str) -> None:
    from livekit import api

    async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lkapi:
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(
                agent_name=AGENT_NAME, room=room, metadata=json.dumps({"user_id": user_id})
            )
        )


async def _orders(
    caller: RoomCaller, identity: str, clips: Sequence[tuple[str, bytes]], seed: str
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, START_SPREAD_S))
    turns = []
    for text, pcm in clips:
        before = len(caller.transcripts)
        end = await caller.say(pcm, TTS_RATE)
        answer = await caller.next_agent_speech(after=end, timeout=30)
        heard = [t for who, t in caller.transcripts[before:] if who == identity]
        turns.append(
            {"said": text, "heard": heard[-1] if heard else "", "ms": 1000 * (answer.start - end)}
        )
        await asyncio.sleep(rng.uniform(*THINK_S))
    return turns


async def _call(
    server: LocalServer,
    room: str,
    clips: Sequence[tuple[str, bytes]],
    greeted: asyncio.Future[bool],
    go: asyncio.Event,
    arrives: float = 0.0,
) -> dict[str, Any]:
    """One caller: arrive after `arrives` s, join, dispatch, hear the greeting, wait for `go`,
    say the orders."""
    identity = f"caller-{room}"
    out: dict[str, Any] = {"room": room, "status": "ok", "turns": []}
    try:
        await asyncio.sleep(arrives)
        token = server.token(identity, room)
        async with RoomCaller.joined(server.url, token, frame_ms=CALLER_FRAME_MS) as caller:
            dispatched = time.monotonic()
            await _dispatch(server, room, identity)
            try:
                await caller.wait_for_agent(timeout=DISPATCH_TIMEOUT_S)
            except TimeoutError:
                out["status"] = "undispatched"
                return out
            await caller.next_agent_speech(after=dispatched, timeout=90)
            greeted.set_result(True)
            await go.wait()
            out["turns"] = await _orders(caller, identity, clips, seed=room)
    except Exception as e:  # counted and shown in the table, never dropped
        out["status"] = "failed"
        out["error"] = f"{type(e).__name__}: {e}"[:200]
    finally:
        if not greeted.done():
            greeted.set_result(False)
    return out


# --- the workers, watched ---------------------------------------------------------------------------


@dataclass
class Watch:
    """CPU, memory and reported load of the server and each worker, sampled on a thread."""

    server: LocalServer
    supervisor: Worker
    meters: dict[int, CpuMeter] = field(default_factory=dict)  # worker pid → its tree's meter
    load_max: dict[int, float] = field(default_factory=dict)
    peak_mb: float = 0.0
    peak_used_mb: float = 0.0
    cpu_seconds: float = 0.0  # this watcher's own CPU (psutil reading /proc), not the callers'
    _stop: threading.Event = field(default_factory=threading.Event)

    def worker_procs(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return sorted(
                psutil.Process(self.supervisor.process.pid).children(), key=lambda p: p.pid
            )
        return []

    def workers_mb(self) -> float:
        procs = [q for p in self.worker_procs() for q in (p, *_children(p))]
        return _memory_mb(procs, "process")

    def run(self) -> None:
        started = time.thread_time()
        try:
            self._sample_until_stopped()
        finally:
            self.cpu_seconds = time.thread_time() - started

    def _sample_until_stopped(self) -> None:
        assert self.server.process is not None
        server_meter = CpuMeter(psutil.Process(self.server.process.pid))
        self.meters = {p.pid: CpuMeter(p) for p in self.worker_procs()}
        self.meters[-1] = server_meter
        ports = _health_ports(self.supervisor)
        while not self._stop.is_set():
            for meter in self.meters.values():
                meter.sample("thread")  # CPU only; memory below, every few seconds
            for pid, port in ports.items():
                self.load_max[pid] = max(self.load_max.get(pid, 0.0), _reported_load(port))
            if int(time.monotonic()) % 3 == 0:
                self.peak_mb = max(self.peak_mb, self.workers_mb())
                self.peak_used_mb = max(self.peak_used_mb, _used_mb())
            self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()


def _children(p: psutil.Process) -> list[psutil.Process]:
    try:
        return p.children(recursive=True)
    except psutil.Error:
        return []


def _used_mb() -> float:
    return float(psutil.virtual_memory().used) / 1e6


def _health_ports(supervisor: Worker) -> dict[int, int]:
    """Worker pid → the port of its health server (livekit logs where it listens)."""
    ports = {}
    for line in supervisor.log_lines():
        if "HTTP server listening on" in line:
            with contextlib.suppress(ValueError, KeyError):
                fields = json.loads(line)
                ports[int(fields["pid"])] = int(fields["message"].rsplit(":", 1)[1])
    return ports


def _worker_status(port: int) -> dict[str, float]:
    """What the worker last reported on livekit's health server (`/worker`): `worker_load`,
    `active_jobs`; empty when it cannot be read."""
    with (
        contextlib.suppress(OSError, ValueError),
        urllib.request.urlopen(f"http://127.0.0.1:{port}/worker", timeout=1) as answer,
    ):
        status = json.loads(answer.read())
        if isinstance(status, dict):
            return status
    return {}


def _reported_load(port: int) -> float:
    """The load the worker last computed."""
    return float(_worker_status(port).get("worker_load", 0.0))


def _busy(port: int, threshold: float) -> bool:
    """A worker still holding a call, or reporting a load at or over `threshold`."""
    status = _worker_status(port)
    return (
        int(status.get("active_jobs", 0)) != 0 or float(status.get("worker_load", 0.0)) >= threshold
    )


async def _wait_idle(supervisor: Worker, timeout: float = 180) -> None:
    """Until every worker reports no active job (the last point's calls have all ended) and a
    load under the threshold (its loops on time again)."""
    from .server import LOAD_THRESHOLD

    deadline = time.monotonic() + timeout
    ports = list(_health_ports(supervisor).values())

    def idle() -> bool:
        return not any(_busy(p, LOAD_THRESHOLD) for p in ports)

    while time.monotonic() < deadline and not await asyncio.to_thread(idle):
        await asyncio.sleep(1)


# --- one point ------------------------------------------------------------------------------------


async def measure_point(
    server: LocalServer,
    supervisor: Worker,
    mode: str,
    workers: int,
    calls: int,
    clips: Any,
    tag: str,
) -> MachinePoint:
    """Run `calls` callers at once against the running server and workers."""
    point = MachinePoint(mode=mode, workers=workers, calls=calls)
    await _wait_idle(supervisor)
    watch = Watch(server, supervisor)
    base_mb = await asyncio.to_thread(watch.workers_mb)
    me = psutil.Process()
    go = asyncio.Event()
    greeted = [asyncio.get_running_loop().create_future() for _ in range(calls)]
    rooms = [f"{tag}-{i}" for i in range(calls)]
    tasks = [
        asyncio.create_task(_call(server, room, clips, fut, go, arrives=i * ARRIVAL_S))
        for i, (room, fut) in enumerate(zip(rooms, greeted, strict=True))
    ]
    await asyncio.wait(greeted, timeout=calls * ARRIVAL_S + DISPATCH_TIMEOUT_S + 120)
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    mine = me.cpu_times()
    started = time.perf_counter()
    go.set()
    rows = await asyncio.gather(*tasks)
    seconds = time.perf_counter() - started
    after = me.cpu_times()
    watch.stop()
    await asyncio.to_thread(thread.join)
    point.load_average = [round(x, 2) for x in os.getloadavg()]
    used = after.user + after.system - mine.user - mine.system - watch.cpu_seconds
    point.callers_cpu = max(0.0, 100 * used / seconds)
    _fill(point, rows)
    # every turn of every call, beside the logs, for whoever wants to know why a row missed
    (supervisor.log_path.parent / f"calls-{tag}.json").write_text(json.dumps(rows, indent=1))
    _fill_workers(point, watch, supervisor, server, rooms, seconds)
    point.workers_mb = watch.peak_mb
    point.mb_per_call = (watch.peak_mb - base_mb) / calls if watch.peak_mb else None
    point.machine_used_mb = watch.peak_used_mb
    return point


def _fill(point: MachinePoint, rows: list[dict[str, Any]]) -> None:
    turns = [t for r in rows for t in r["turns"]]
    ms = [t["ms"] for t in turns]
    point.turns = len(turns)
    point.undispatched = sum(r["status"] == "undispatched" for r in rows)
    point.failed = sum(r["status"] == "failed" for r in rows)
    point.errors = sorted({r["error"] for r in rows if "error" in r})
    if ms:
        point.p50_ms = statistics.median(ms)
        point.p95_ms = _percentile(ms, 95)
    said = [r for r in rows if r["status"] != "undispatched"]
    expected = len(said) * len(CALLER_ORDERS)
    good = sum(_same_words(t["said"], t["heard"]) for t in turns)
    point.recognised = good / expected if expected else 0.0


def _fill_workers(
    point: MachinePoint,
    watch: Watch,
    supervisor: Worker,
    server: LocalServer,
    rooms: list[str],
    seconds: float,
) -> None:
    pid_of = supervisor.worker_pids()
    mine = set(rooms)
    got: dict[int, int] = {}
    for room, worker in server.assignments():
        if room in mine and worker in pid_of:
            got[pid_of[worker]] = got.get(pid_of[worker], 0) + 1
    pids = sorted(pid for pid in watch.meters if pid > 0)
    point.worker_calls = [got.get(pid, 0) for pid in pids]
    point.worker_cpu = [round(100 * watch.meters[pid].seconds() / seconds, 1) for pid in pids]
    point.worker_load_max = [round(watch.load_max.get(pid, 0.0), 2) for pid in pids]
    point.server_cpu = round(100 * watch.meters[-1].seconds() / seconds, 1)
    # % of a core → ms of CPU per second, per call
    point.callers_ms = round(10 * point.callers_cpu / point.calls, 1)
    point.workers_ms = round(10 * sum(point.worker_cpu) / point.calls, 1)
    point.server_ms = round(10 * point.server_cpu / point.calls, 1)


# --- the sweep ------------------------------------------------------------------------------------


def _clips() -> list[tuple[str, bytes]]:
    from .offline.tts import offline_tts

    voice = offline_tts()
    return [(text, voice.pcm16(text)) for text in CALLER_ORDERS]


def _workers_for(mode: str) -> int:
    """Thread executor: one worker per core (each one GIL). Process executor: one worker, whose
    job processes spread over the cores by themselves."""
    from .workers import default_workers

    return default_workers() if mode == "thread" else 1


async def sweep_mode(
    mode: str, counts: Sequence[int], clips: Any, work: Path, every: bool = False
) -> list[MachinePoint]:
    """Start the server and the workers for `mode`, measure each N; stop at the first miss
    unless `every` (the CPU per call is worth having past it)."""
    workers = _workers_for(mode)
    env = {
        "CONCIERGE_OFFLINE": "1",
        "CONCIERGE_EXECUTOR": mode,
        "CONCIERGE_STORE": f"sqlite:///{work / f'store-{mode}.db'}",
    }
    points = []
    with local_server(log_path=work / f"livekit-server-{mode}.log") as server:
        supervisor = start_worker(
            server, env=env, args=("--workers", str(workers)), log_path=work / f"workers-{mode}.log"
        )
        try:
            await asyncio.to_thread(_wait_workers, supervisor, workers)
            for n in counts:
                point = await measure_point(
                    server, supervisor, mode, workers, n, clips, f"{mode}{n}"
                )
                points.append(point)
                print(format_point(point), flush=True)
                if not point.holds and not every:
                    break
        finally:
            await asyncio.to_thread(supervisor.stop, timeout=30)
    return points


def _wait_workers(supervisor: Worker, workers: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while len(supervisor.worker_pids()) < workers or len(_health_ports(supervisor)) < workers:
        if supervisor.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the {workers} workers did not register within {timeout:.0f} s")
        time.sleep(0.2)
    supervisor.wait_ready(processes=workers, timeout=timeout)


async def machine_sweep(
    counts: Sequence[int], modes: Sequence[str], every: bool = False
) -> dict[str, Any]:
    """Every mode's sweep, and the summary that goes to bench/results.json."""
    clips = _clips()
    points: list[MachinePoint] = []
    work = Path(tempfile.mkdtemp(prefix="concierge-machine-"))  # kept: the logs explain a row
    for mode in modes:
        points += await sweep_mode(mode, counts, clips, work, every)
    print(f"server and worker logs: {work}", flush=True)
    return summarize(points)


def cpu_bound(points: Sequence[MachinePoint], cores: int) -> float | None:
    """The most calls `cores` could carry at all, from the measured CPU: the machine's CPU
    (ms per second, all parties) fitted as `fixed + per_call × N` over the points (least
    squares; with one point, all of it per call), solved for `cores` × 1000 ms/s. An upper bound:
    a machine run at 100 % has no headroom left for latency."""
    pts = [(p.calls, p.call_ms * p.calls) for p in points if p.calls and p.call_ms]
    if not pts:
        return None
    if len({n for n, _ in pts}) < 2:
        n, total = pts[0]
        return round(cores * 1000 / (total / n), 1)
    slope, fixed = _line(pts)
    return round((cores * 1000 - fixed) / slope, 1) if slope > 0 else None


def _line(pts: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through `pts`."""
    fit = statistics.linear_regression([x for x, _ in pts], [y for _, y in pts])
    return fit.slope, fit.intercept


def summarize(points: Sequence[MachinePoint]) -> dict[str, Any]:
    from .workers import default_workers

    held = [p for p in points if p.holds]
    best = max(held, key=lambda p: (p.calls, -(p.p95_ms or 0)), default=None)
    per_call = [p.mb_per_call for p in held if p.mb_per_call is not None]
    return {
        "voice_capacity_machine": best.calls if best else 0,
        "voice_capacity_machine_mode": best.mode if best else None,
        "voice_capacity_machine_workers": best.workers if best else None,
        "voice_capacity_machine_p95_ms": best.p95_ms if best else None,
        "voice_capacity_machine_mb_per_call": best.mb_per_call if best else None,
        "voice_capacity_machine_mb_per_call_max": max(per_call, default=None),
        "voice_capacity_machine_load_average": best.load_average if best else None,
        "voice_capacity_machine_points": [asdict(p) for p in points],
        # the CPU ceiling: the most calls these cores could carry at the measured CPU per call
        "voice_capacity_machine_cpu_bound": cpu_bound(points, default_workers()),
        # the deployment knobs the workers ran with (inherited from this environment)
        "voice_capacity_machine_settings": {v: os.environ.get(v, "") for v in SETTINGS},
    }


HEADER = (
    f"{'mode':6} {'W':>2} {'N':>3} {'p50 ms':>7} {'p95 ms':>7} {'heard':>6} {'fail':>4} "
    f"{'undisp':>6} {'calls/worker':>12} {'CPU%/worker':>12} {'load max':>10} {'callers%':>8} "
    f"{'server%':>7} {'ms/call-s c/w/s':>16} {'MB':>6} {'MB/call':>7} {'used GB':>7}  load avg"
)


def format_point(p: MachinePoint) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    def each(values: Sequence[float], fmt: str = "{:.0f}") -> str:
        return "/".join(fmt.format(v) for v in values) or "-"

    per_call = "-" if p.mb_per_call is None else f"{p.mb_per_call:.0f}"
    cpu = f"{p.callers_ms:.0f}/{p.workers_ms:.0f}/{p.server_ms:.0f}"
    return (
        f"{p.mode:6} {p.workers:>2} {p.calls:>3} {ms(p.p50_ms):>7} {ms(p.p95_ms):>7} "
        f"{p.recognised:>6.0%} {p.failed:>4} {p.undispatched:>6} {each(p.worker_calls):>12} "
        f"{each(p.worker_cpu):>12} {each(p.worker_load_max, '{:.2f}'):>10} {p.callers_cpu:>8.0f} "
        f"{p.server_cpu:>7.0f} {cpu:>16} {p.workers_mb:>6.0f} {per_call:>7} {p.machine_used_mb / 1000:>7.1f}  "
        f"{p.load_average}" + (f"  {p.errors[0]}" if p.errors else "")
    )
