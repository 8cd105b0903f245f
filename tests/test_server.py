"""The AgentServer: its registered entrypoint and on_session_end, a job run in-process, the CLI."""

from __future__ import annotations

import subprocess
import sys

from concierge.lab.inprocess import run_job
from concierge.server import entrypoint, on_session_end, server
from concierge.store import Store


def test_server_registers_the_session_hooks() -> None:
    # What `@server.rtc_session(on_session_end=...)` does is the lesson (notebook 5): livekit keeps
    # no public accessor for it. (MAX_TOOL_STEPS is proven by behaviour in test_legacy.)
    assert server._entrypoint_fnc is entrypoint
    assert server._session_end_fnc is on_session_end


async def test_a_job_in_process_saves_the_cart_and_reports(store: Store) -> None:
    run = await run_job(store, ["two churros", "a kombucha"], user_id="alex")
    assert [(ln.item_id, ln.quantity) for ln in run.saved_cart.lines] == [
        ("churros", 2),
        ("kombucha", 1),
    ]
    assert run.saved_cart.cart_id == run.cart.cart_id
    assert run.report["job_id"] == "inprocess-job"
    roles = [
        i.get("role") for i in run.report["chat_history"]["items"] if i.get("type") == "message"
    ]
    assert roles.count("user") == 2 and roles.count("assistant") == 2


def test_start_without_livekit_credentials_says_what_is_missing() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "CONCIERGE_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "concierge", "start"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "LIVEKIT_URL" in proc.stderr and "offline_session" in proc.stderr


def test_unknown_command_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "concierge", "bogus"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "unknown command" in proc.stderr


def test_the_server_prewarms_and_reports_its_own_load() -> None:
    from concierge.server import prewarm, worker_load

    assert server.setup_fnc is prewarm  # AgentServer(setup_fnc=...), the old prewarm_fnc
    assert server.load_fnc is worker_load


def test_prewarm_puts_the_process_models_in_userdata() -> None:
    from livekit.agents import JobProcess
    from livekit.agents.job import JobExecutorType

    from concierge.offline.recognition_pool import RecognitionPool
    from concierge.providers import Prewarmed, close_process_models, process_models
    from concierge.server import prewarm

    procs = [
        JobProcess(executor_type=JobExecutorType.THREAD, user_arguments=None, http_proxy=None)
        for _ in range(2)
    ]
    try:
        for proc in procs:  # the thread executor calls setup_fnc once per job thread
            prewarm(proc)
        first, second = (p.userdata["models"] for p in procs)
        assert isinstance(first, Prewarmed) and first is second is process_models()
        # all the threads' calls share one process: recognition runs in processes of its own
        assert isinstance(first.pool, RecognitionPool) and len(first.pool.pids) >= 1
    finally:
        close_process_models()
    assert first.pool is None


def test_prewarm_keeps_recognition_inline_with_one_job_per_process() -> None:
    from livekit.agents import JobProcess
    from livekit.agents.job import JobExecutorType

    from concierge.server import prewarm

    proc = JobProcess(executor_type=JobExecutorType.PROCESS, user_arguments=None, http_proxy=None)
    prewarm(proc)
    assert proc.userdata["models"].pool is None


async def test_load_counts_sessions_against_capacity_and_loop_lag() -> None:
    import asyncio
    import time

    from concierge.worker_load import LAG_LIMIT_S, WorkerLoad

    load = WorkerLoad(capacity=4)
    assert load.load() == 0.0
    load.session_started()
    load.session_started()
    assert load.load() == 0.5
    assert load.load(active_jobs=3) == 0.75  # the worker process sees jobs run elsewhere
    time.sleep(2 * LAG_LIMIT_S)  # block this loop: the heartbeat comes late
    await asyncio.sleep(0.05)
    assert load.load() == 1.0
    load.session_ended()
    load.session_ended()
    assert load.sessions == 0
