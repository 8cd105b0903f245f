"""`python -m concierge bench --capacity`: how many voice calls one worker holds, measured.

A deployer sizes LiveKit workers from one number: concurrent voice sessions per worker. This
sweeps it. For each N it runs a real `AgentServer` (unregistered: no LiveKit server) with the
concierge's own `setup_fnc` (`concierge.server.prewarm`), in livekit's thread executor (every job
on a thread of one process) or its process executor (one process per job), and dispatches N jobs
with livekit's `simulate_job(fake_job=True)`. Each job is a caller: the whole offline voice
pipeline (Silero VAD, the on-device turn detector, the streaming menu recogniser, the stand-in
model, tools, the offline voice) through the one session builder, with a paced microphone
(`SpeechInput`) saying four short orders in real time, from a random offset, and a speaker
(`RecordingOutput`) playing each reply out in real time before the caller speaks again.

Per N it prints p50/p95 of the voice turn measured **from the last voiced frame** of the
caller's speech (the clip's trailing silence excluded) to the agent's first audio frame, the
share of turns recognised word for word, the worker's CPU (100 = one core), the worst event-loop
lag seen by any session while the calls talked (and while they started), and memory per extra
session. `voice_capacity` is the largest N with p95 < 1.5 s and recognition ≥ 95 %.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from livekit.agents import AgentServer, AgentSession, JobContext
from livekit.agents.job import JobExecutorType

from .offline.audio_io import INPUT_RATE, RecordingOutput, SpeechInput
from .providers import close_process_models, pick_models
from .server import prewarm, prewarmed_models
from .session import start_session
from .state import UserState, new_userdata
from .store import open_store
from .worker_load import WORKER_LOAD, LoopLag

CALLER_ORDERS = ["three churros", "a falafel bowl", "two classic cheeseburgers", "a large coke"]
P95_LIMIT_MS = 1500.0
RECOGNITION_FLOOR = 0.95
#: Callers start speaking at a random moment in this window, then take 0.5–1.5 s after each reply.
START_SPREAD_S = 4.0
THINK_S = (0.5, 1.5)
VOICED_LEVEL = 300  # peak amplitude of a 10 ms block that counts as voiced (about -41 dBFS)
WORK_DIR_VAR = "CONCIERGE_CAPACITY_DIR"
AGENT_NAME = "concierge-capacity"


@dataclass
class Point:
    """One N of the sweep, measured."""

    mode: str
    sessions: int
    turns: int = 0
    voice_turn_ms_p50: float | None = None
    voice_turn_ms_p95: float | None = None
    recognised: float = 0.0
    cpu_percent: float = 0.0
    loop_lag_ms_max: float = 0.0
    loop_lag_ms_p99: float = 0.0
    start_lag_ms_max: float = 0.0
    mb_per_session: float | None = None
    failed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return (
            self.voice_turn_ms_p95 is not None
            and self.voice_turn_ms_p95 < P95_LIMIT_MS
            and self.recognised >= RECOGNITION_FLOOR
            and self.failed == 0
        )


# --- the caller: one job ------------------------------------------------------------------------


def _voiced_end(pcm16: bytes, rate: int) -> float:
    """Seconds from the end of the last voiced 10 ms block to the end of the clip."""
    samples = np.abs(np.frombuffer(pcm16, dtype=np.int16).astype(np.int32))
    block = rate // 100
    peaks = [samples[i : i + block].max() for i in range(0, len(samples), block)]
    voiced = [i for i, p in enumerate(peaks) if p >= VOICED_LEVEL]
    last = (voiced[-1] + 1) * block if voiced else len(samples)
    return max(0.0, (len(samples) - last) / rate)


def _same_words(said: str, heard: str) -> bool:
    from .menu import words

    drop = {"a", "an", "the"}
    return [w for w in words(said) if w not in drop] == [w for w in words(heard) if w not in drop]


async def _wait_for_file(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _speak_orders(
    session: AgentSession[UserState], mic: SpeechInput, speaker: RecordingOutput, clips: list[Any]
) -> list[dict[str, Any]]:
    replies: asyncio.Queue[Any] = asyncio.Queue()
    heard: list[str] = []

    def on_item(ev: Any) -> None:
        item = ev.item
        if getattr(item, "type", "") == "message":
            if item.role == "assistant":
                replies.put_nowait(item)
            elif item.role == "user":
                heard.append(item.text_content or "")

    session.on("conversation_item_added", on_item)
    turns = []
    rng = random.Random()
    for text, pcm, trailing in clips:
        segments = len(speaker.segment_first_frames)
        before = len(heard)
        mic.say(pcm, INPUT_RATE)
        try:
            await asyncio.wait_for(replies.get(), 30)
            while len(speaker.segment_first_frames) <= segments:
                await asyncio.sleep(0.005)
        except TimeoutError:
            turns.append({"said": text, "heard": "", "ms": None})
            continue
        assert mic.speech_ended_at is not None
        voiced_end = mic.speech_ended_at - trailing
        first_audio = speaker.segment_first_frames[segments]
        said = heard[before] if len(heard) > before else ""
        turns.append({"said": text, "heard": said, "ms": (first_audio - voiced_end) * 1000})
        while session.agent_state == "speaking":
            await asyncio.sleep(0.02)
        await asyncio.sleep(rng.uniform(*THINK_S))
    return turns


async def caller_job(ctx: JobContext) -> None:
    """The bench's `rtc_session` entrypoint: one caller, speaking orders through the real pipeline.

    The room name says which sweep point and caller this is; the clips, the start barrier and the
    result file live in the directory `CONCIERGE_CAPACITY_DIR` names (shared with the bench).
    """
    work = Path(os.environ[WORK_DIR_VAR])
    _, point, index = ctx.job.room.name.rsplit("-", 2)
    loop_lag = LoopLag(asyncio.get_running_loop(), tick=0.02).start()
    clips = [
        (text, (work / f"clip{i}.pcm").read_bytes(), float((work / f"clip{i}.tail").read_text()))
        for i, text in enumerate(json.loads((work / "orders.json").read_text()))
    ]
    store = await open_store("memory")
    userdata = await new_userdata(store, f"caller-{index}")
    models = pick_models(userdata.catalog, env={}, prewarmed=prewarmed_models(ctx))
    mic, speaker = SpeechInput(), RecordingOutput()
    result: dict[str, Any] = {"point": point, "index": int(index)}
    try:
        session = await start_session(userdata, models, audio_input=mic, audio_output=speaker)
        WORKER_LOAD.session_started()
        (work / f"ready-{point}-{index}").touch()
        start_lags = list(loop_lag.all_lags)
        if await _wait_for_file(work / f"go-{point}", 300):
            loop_lag.all_lags.clear()
            await asyncio.sleep(random.Random(int(index)).uniform(0, START_SPREAD_S))
            result["turns"] = await _speak_orders(session, mic, speaker, clips)
        result["lags"] = [round(x * 1000, 2) for x in loop_lag.all_lags]
        result["start_lag_ms_max"] = max(start_lags, default=0.0) * 1000
        mic.close()
        await session.aclose()
        WORKER_LOAD.session_ended()
    except Exception as e:  # reported in the sweep's table, never silently dropped
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        loop_lag.stop()
        await store.close()
        with open(work / f"result-{point}.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(result) + "\n")
        ctx.shutdown("caller done")


# --- the sweep ---------------------------------------------------------------------------------


def _write_clips(work: Path, orders: Sequence[str]) -> None:
    from livekit import rtc

    from .offline.stt import to_pcm16_mono
    from .offline.tts import SAMPLE_RATE as TTS_RATE
    from .offline.tts import offline_tts

    voice = offline_tts()
    (work / "orders.json").write_text(json.dumps(list(orders)))
    for i, text in enumerate(orders):
        pcm = voice.pcm16(text)
        mono = to_pcm16_mono(rtc.AudioFrame(pcm, TTS_RATE, 1, len(pcm) // 2), INPUT_RATE)
        (work / f"clip{i}.pcm").write_bytes(mono)
        (work / f"clip{i}.tail").write_text(str(_voiced_end(mono, INPUT_RATE)))


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root]


class CpuMeter:
    """CPU seconds used by this process and its descendants (job processes come and go)."""

    def __init__(self, root: psutil.Process) -> None:
        self._root = root
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self.peak_mb = 0.0
        self._samples = 0

    def sample(self, mode: str) -> None:
        procs = _tree(self._root)
        for p in procs:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            used = t.user + t.system
            self._first.setdefault(p.pid, used)
            self._last[p.pid] = used
        self._samples += 1
        if mode == "thread" or self._samples % 10 == 1:  # reading PSS is slow: now and then
            self.peak_mb = max(self.peak_mb, _memory_mb(procs, mode))

    def seconds(self) -> float:
        return sum(self._last[pid] - self._first[pid] for pid in self._last)


def _memory_mb(procs: Sequence[psutil.Process], mode: str) -> float:
    total = 0
    for p in procs:
        # proportional set size for processes that share pages (forked from one server)
        with contextlib.suppress(psutil.Error):
            total += p.memory_full_info().pss if mode == "process" else p.memory_info().rss
    return total / 1e6


def _executor(mode: str) -> JobExecutorType:
    return JobExecutorType.THREAD if mode == "thread" else JobExecutorType.PROCESS


def _capacity_server(mode: str, sessions: int) -> AgentServer:
    server = AgentServer(
        setup_fnc=prewarm,
        job_executor_type=_executor(mode),
        num_idle_processes=sessions if mode == "process" else 0,
        initialize_process_timeout=300.0,
        job_memory_warn_mb=2000,
    )
    server.rtc_session(agent_name=AGENT_NAME)(caller_job)
    return server


async def _wait_lines(
    path: Path, count: int, timeout: float, meter: CpuMeter, mode: str
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meter.sample(mode)
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            break
        await asyncio.sleep(0.5)
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


async def _count_files(work: Path, pattern: str, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while (found := len(list(work.glob(pattern)))) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return found


async def measure_point(mode: str, sessions: int, work: Path, point: str) -> Point:
    """Run `sessions` callers at once in one worker (`mode`: "thread" or "process")."""
    from .providers import process_models, recognition_pool_size

    me = psutil.Process()
    if mode == "thread":  # what `setup_fnc` loads, so memory per session excludes it
        process_models(recognition_processes=recognition_pool_size())
    server = _capacity_server(mode, sessions)
    up = asyncio.Event()
    server.on("worker_started", lambda *_: up.set())
    running = asyncio.create_task(server.run(devmode=True, unregistered=True))
    started = time.perf_counter()
    result = Point(mode=mode, sessions=sessions)
    try:
        await asyncio.wait(
            {running, asyncio.ensure_future(up.wait())},
            timeout=300,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if running.done():
            running.result()  # the server failed to start: say why
        base_mb = _memory_mb(_tree(me), mode) if mode == "thread" else 0.0
        for i in range(sessions):
            await server.simulate_job(f"cap-{point}-{i}", fake_job=True)
        ready = await _count_files(work, f"ready-{point}-*", sessions, 120 + 10 * sessions)
        meter = CpuMeter(me)
        meter.sample(mode)
        t0 = time.perf_counter()
        (work / f"go-{point}").touch()
        rows = await _wait_lines(
            work / f"result-{point}.jsonl", sessions, 120 + 5 * sessions, meter, mode
        )
        result.cpu_percent = 100 * meter.seconds() / (time.perf_counter() - t0)
        result.mb_per_session = (meter.peak_mb - base_mb) / sessions
        _fill(result, rows, sessions - ready)
    finally:
        await server.aclose()
        running.cancel()
    result.seconds = time.perf_counter() - started
    return result


def _fill(result: Point, rows: list[dict[str, Any]], not_ready: int) -> None:
    turns = [t for r in rows for t in r.get("turns", [])]
    ms = [t["ms"] for t in turns if t["ms"] is not None]
    lags = [x for r in rows for x in r.get("lags", [])]
    result.turns = len(turns)
    result.errors = [r["error"] for r in rows if "error" in r]
    result.failed = (
        not_ready + len(result.errors) + (result.sessions - len(rows)) + (len(turns) - len(ms))
    )
    if ms:
        result.voice_turn_ms_p50 = statistics.median(ms)
        result.voice_turn_ms_p95 = _percentile(ms, 95)
    result.recognised = (
        sum(_same_words(t["said"], t["heard"]) for t in turns) / len(turns) if turns else 0.0
    )
    result.loop_lag_ms_max = max(lags, default=0.0)
    result.loop_lag_ms_p99 = _percentile(lags, 99) if lags else 0.0
    result.start_lag_ms_max = max((r.get("start_lag_ms_max", 0.0) for r in rows), default=0.0)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def sweep(
    counts: Sequence[int],
    modes: Sequence[str] = ("thread", "process"),
    *,
    orders: Sequence[str] = CALLER_ORDERS,
    stop_after_miss: bool = True,
) -> dict[str, Any]:
    """Measure each N in `counts` for each executor mode; stop a mode at its first miss."""
    os.environ["CONCIERGE_OFFLINE"] = "1"  # the offline pipeline, whatever keys are set
    points: list[Point] = []
    with tempfile.TemporaryDirectory(prefix="concierge-capacity-") as tmp:
        work = Path(tmp)
        os.environ[WORK_DIR_VAR] = str(work)
        _write_clips(work, orders)
        try:
            for mode in modes:
                for n in counts:
                    point = await measure_point(mode, n, work, f"{mode[0]}{n}")
                    points.append(point)
                    print(format_point(point), flush=True)
                    if stop_after_miss and not point.holds:
                        break
        finally:
            close_process_models()  # the recognition processes the thread-mode workers used
    return summarize(points)


def summarize(points: Sequence[Point]) -> dict[str, Any]:
    out: dict[str, Any] = {"voice_capacity_points": [asdict(p) for p in points]}
    for mode in sorted({p.mode for p in points}):
        held = [p for p in points if p.mode == mode and p.holds]
        best = max(held, key=lambda p: p.sessions, default=None)
        out[f"voice_capacity_{mode}"] = best.sessions if best else 0
        out[f"voice_capacity_{mode}_p95_ms"] = best.voice_turn_ms_p95 if best else None
    best_mode = max(
        (m for m in ("thread", "process") if f"voice_capacity_{m}" in out),
        key=lambda m: out[f"voice_capacity_{m}"],
        default=None,
    )
    out["voice_capacity"] = out.get(f"voice_capacity_{best_mode}", 0)
    out["voice_capacity_mode"] = best_mode
    out["voice_capacity_p95_ms"] = out.get(f"voice_capacity_{best_mode}_p95_ms")
    out["load_average"] = os.getloadavg()
    return out


HEADER = (
    f"{'mode':8} {'N':>3} {'p50 ms':>7} {'p95 ms':>7} {'heard':>6} {'CPU %':>6} "
    f"{'lag max':>8} {'lag p99':>8} {'start lag':>9} {'MB/sess':>8} {'failed':>6}"
)


def format_point(p: Point) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    mb = "-" if p.mb_per_session is None else f"{p.mb_per_session:.0f}"
    return (
        f"{p.mode:8} {p.sessions:>3} {ms(p.voice_turn_ms_p50):>7} {ms(p.voice_turn_ms_p95):>7} "
        f"{p.recognised:>6.0%} {p.cpu_percent:>6.0f} {p.loop_lag_ms_max:>8.0f} "
        f"{p.loop_lag_ms_p99:>8.0f} {p.start_lag_ms_max:>9.0f} {mb:>8} {p.failed:>6}"
        + (f"  {p.errors[0]}" if p.errors else "")
    )
