"""`start --workers` (concierge.workers) and the machine bench's bookkeeping (concierge.bench_machine),
without a server: the flag, each worker's environment, the back-off, and what counts as holding.

The workers against a real LiveKit server are tests/test_livekit_workers.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from concierge.bench_capacity import CALLER_ORDERS
from concierge.bench_machine import MachinePoint, _fill, summarize
from concierge.workers import (
    BACKOFF_S,
    HEALTHY_RUN_S,
    Supervised,
    default_workers,
    split_workers_flag,
    worker_env,
)


@pytest.mark.parametrize(
    ("args", "count", "rest"),
    [
        ([], None, []),
        (["--workers"], default_workers(), []),
        (["--workers", "3"], 3, []),
        (["--workers=2", "--log-level", "INFO"], 2, ["--log-level", "INFO"]),
        (["--log-level", "INFO", "--workers"], default_workers(), ["--log-level", "INFO"]),
        (["--workers", "0"], default_workers(), []),
    ],
)
def test_the_workers_flag(args: list[str], count: int | None, rest: list[str]) -> None:
    assert split_workers_flag(args) == (count, rest)


def test_a_workers_count_that_is_not_a_number_is_refused_in_one_sentence() -> None:
    with pytest.raises(ValueError, match=r"^--workers takes a whole number of workers, not 'x'\.$"):
        split_workers_flag(["--workers=x"])


def test_the_command_refuses_a_bad_count_before_starting_anything() -> None:
    env = {"LIVEKIT_URL": "ws://127.0.0.1:1", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"}
    done = subprocess.run(
        [sys.executable, "-m", "concierge", "start", "--workers=many"],
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "whole number" in done.stderr


@given(st.integers(min_value=0, max_value=40), st.sampled_from(["", "0", "9000"]))
def test_each_worker_gets_its_own_health_port_and_the_thread_executor(
    index: int, port: str
) -> None:
    env = worker_env(index, {"CONCIERGE_WORKER_PORT": port} if port else {})
    assert env["CONCIERGE_EXECUTOR"] == "thread"
    expected = {"": 8081 + index, "0": 0, "9000": 9000 + index}[port]
    assert env["CONCIERGE_WORKER_PORT"] == str(expected)
    # the executor the deployer chose wins
    assert worker_env(index, {"CONCIERGE_EXECUTOR": "process"})["CONCIERGE_EXECUTOR"] == "process"


def test_a_dead_worker_is_started_again_after_a_growing_back_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts: list[float] = []
    worker = Supervised(0, [])
    monkeypatch.setattr(worker, "start", lambda: starts.append(1.0))

    def died(ran: float, now: float) -> None:
        worker.process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        worker.process.wait()
        worker.started = now - ran
        worker.check(now)

    died(ran=5, now=100.0)
    assert worker.process is None and worker.due == 100.0 + BACKOFF_S[0]
    worker.check(100.5)
    assert starts == []  # still backing off
    worker.check(101.0)
    assert starts == [1.0] and worker.restarts == 1
    died(ran=5, now=200.0)  # died again soon after: waits longer
    assert worker.due == 200.0 + 2 * BACKOFF_S[0]
    for _ in range(10):
        died(ran=1, now=300.0)
    assert worker.due == 300.0 + BACKOFF_S[1]  # capped
    died(ran=HEALTHY_RUN_S + 1, now=400.0)  # it had run well: back to the shortest wait
    assert worker.due == 400.0 + BACKOFF_S[0]


def rows(ok: int, undispatched: int = 0, failed: int = 0, misheard: int = 0) -> list[dict]:
    out = []
    for i in range(ok):
        turns = [{"said": t, "heard": t, "ms": 500.0 + i} for t in CALLER_ORDERS]
        if i < misheard:
            turns[0]["heard"] = "something else"
        out.append({"room": f"r{i}", "status": "ok", "turns": turns})
    out += [{"room": "u", "status": "undispatched", "turns": []}] * undispatched
    out += [{"room": "f", "status": "failed", "turns": [], "error": "TimeoutError: x"}] * failed
    return out


def point(calls: int, **kw: int) -> MachinePoint:
    p = MachinePoint(mode="thread", workers=2, calls=calls)
    _fill(p, rows(**kw))
    return p


def test_a_point_holds_only_with_every_call_dispatched_answered_and_heard() -> None:
    assert point(4, ok=4).holds
    assert not point(4, ok=3, undispatched=1).holds
    assert not point(4, ok=3, failed=1).holds
    # a call that failed mid-way counts its missing orders as not recognised
    assert point(4, ok=3, failed=1).recognised == 0.75
    assert not point(4, ok=4, misheard=1).holds  # 15 of 16 heard: under 95 %
    slow = point(4, ok=4)
    slow.p95_ms = 1600.0
    assert not slow.holds


def test_the_machine_capacity_is_the_largest_n_that_held() -> None:
    points = [point(8, ok=8), point(16, ok=16), point(24, ok=23, undispatched=1)]
    points[1].mb_per_call = 12.0
    summary = summarize(points)
    assert summary["voice_capacity_machine"] == 16
    assert summary["voice_capacity_machine_mb_per_call"] == 12.0
    assert len(summary["voice_capacity_machine_points"]) == 3
    assert summarize([point(8, ok=7, failed=1)])["voice_capacity_machine"] == 0


@pytest.mark.parametrize(
    ("value", "synced"), [("", True), ("1", True), ("0", False), ("off", False), (" False ", False)]
)
def test_transcript_sync_is_livekits_default_unless_switched_off(value: str, synced: bool) -> None:
    from concierge.session import transcript_synced

    assert transcript_synced({"CONCIERGE_SYNC_TRANSCRIPTION": value} if value else {}) is synced


def costed(calls: int, callers: float, workers: float, server: float) -> MachinePoint:
    p = point(calls, ok=calls)
    p.callers_ms, p.workers_ms, p.server_ms = callers, workers, server
    return p


@given(
    fixed=st.floats(0, 500),
    per_call=st.floats(10, 300),
    counts=st.lists(st.integers(1, 40), min_size=2, max_size=5, unique=True),
    cores=st.integers(1, 8),
)
def test_the_cpu_ceiling_solves_the_measured_line_for_the_cores(
    fixed: float, per_call: float, counts: list[int], cores: int
) -> None:
    from concierge.bench_machine import cpu_bound

    # the machine's CPU at N calls is fixed + per_call × N (ms/s), split among the parties
    points = [
        costed(n, *(((fixed + per_call * n) / n) * s for s in (0.3, 0.6, 0.1))) for n in counts
    ]
    bound = cpu_bound(points, cores)
    assert bound is not None
    assert abs(bound - (cores * 1000 - fixed) / per_call) < 0.06 + 1e-6 * bound


def test_the_cpu_ceiling_of_one_point_counts_all_its_cpu_per_call() -> None:
    from concierge.bench_machine import cpu_bound

    assert cpu_bound([costed(8, 70, 90, 10)], cores=2) == round(2000 / 170, 1)
    assert cpu_bound([], cores=2) is None
    assert "voice_capacity_machine_cpu_bound" in summarize([costed(4, 50, 80, 5)])


def test_a_presenters_worker_never_turns_the_call_away() -> None:
    """`dev` (one presenter) is never full however late the loop runs; a deployed worker is full
    at LOAD_THRESHOLD; the lab panel's worker counts calls only."""
    from livekit.agents.worker import ServerEnvOption

    from concierge.server import LOAD_THRESHOLD, server
    from concierge.worker_load import COUNT_CALLS_ONLY, WorkerLoad

    threshold = server._load_threshold
    assert ServerEnvOption.getvalue(threshold, devmode=True) == float("inf")
    assert ServerEnvOption.getvalue(threshold, devmode=False) == LOAD_THRESHOLD
    with pytest.MonkeyPatch.context() as env:
        for name, value in COUNT_CALLS_ONLY.items():
            env.setenv(name, value)
        assert WorkerLoad(capacity=16).lag_limit >= 3600
