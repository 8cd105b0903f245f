"""The real `rtc_session` entrypoint, run as cloud mode runs it: livekit's thread executor.

The live panel's cloud mode (and `lk agent dev` on some setups) runs each job on a thread of the
worker process. livekit refuses to register a plugin off the main thread, so a plugin imported
lazily inside the job crashed it ("Plugins must be registered on the main thread"). Tests that
inject models never import the plugin and cannot see this; this one injects nothing.

A fresh interpreter (so no earlier test has imported a plugin on the main thread already) imports
`concierge.server` the way `python -m concierge start` does, switches the real server to
`JobExecutorType.THREAD`, runs it unregistered (no LiveKit server) and dispatches one job with
livekit's own `simulate_job(fake_job=True)`, which hands the entrypoint livekit's mock room instead
of connecting. The entrypoint runs unchanged: `setup_fnc` prewarms, the real `pick_models` picks,
the session starts in the (mock) room and greets, and `on_session_end` runs when the job ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from concierge import providers

ROOT = Path(__file__).resolve().parent.parent

JOB_SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, json, logging, threading, time

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(
                {"thread": record.threadName, "logger": record.name,
                 "level": record.levelname, "message": record.getMessage()[:500],
                 "exc": logging.Formatter().formatException(record.exc_info)[-1500:]
                 if record.exc_info else ""}
            )

    logging.getLogger().addHandler(Keep(level=logging.INFO))
    logging.getLogger().setLevel(logging.INFO)

    import concierge.server as worker
    from livekit.agents import AgentSession
    from livekit.agents.job import JobExecutorType

    async def main():
        server = worker.server
        server.update_options(job_executor_type=JobExecutorType.THREAD)
        running = asyncio.create_task(server.run(devmode=True, unregistered=True))
        deadline = time.monotonic() + 60
        while getattr(server, "_proc_pool", None) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await server.simulate_job("thread-executor-room", fake_job=True)
        while worker.WORKER_LOAD.sessions < 1 and time.monotonic() < deadline:
            if running.done():
                break
            await asyncio.sleep(0.05)
        sessions = [o for o in gc.get_objects() if isinstance(o, AgentSession)]
        seen = [
            {"stt": type(s.stt).__name__, "vad": type(s.vad).__module__,
             "tts": type(s.tts).__name__, "llm": type(s.llm).__name__}
            for s in sessions
        ]
        started = worker.WORKER_LOAD.sessions
        greeted = False
        while sessions and time.monotonic() < deadline:  # the greeting, said and played out
            s = sessions[0]
            greeted = any(
                i.type == "message" and i.role == "assistant" for i in s.history.items
            )
            if greeted and s.agent_state == "listening":
                break
            await asyncio.sleep(0.05)
        await server.aclose()
        running.cancel()
        print(json.dumps(
            {"started": started, "greeted": greeted, "sessions": seen, "records": records}
        ))

    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def job_run() -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CONCIERGE_STORE": "memory",
        "CONCIERGE_OFFLINE": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-c", JOB_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_entrypoint_starts_a_session_on_a_job_thread(job_run: dict) -> None:
    errors = [r for r in job_run["records"] if r["level"] in ("ERROR", "CRITICAL")]
    assert errors == [], errors
    assert job_run["started"] == 1 and job_run["greeted"]
    ended = [r for r in job_run["records"] if r["message"].startswith("session for ")]
    assert ended and all(r["thread"] != "MainThread" for r in ended)


def test_the_job_used_the_real_offline_voice_models(job_run: dict) -> None:
    assert job_run["sessions"] == [
        {
            "stt": "GrammarSTT",  # streaming: no StreamAdapter (and no second VAD) around it
            "vad": "livekit.agents.inference.vad",
            "tts": "HibariTTS",
            "llm": "StandInLLM",
        }
    ]


def test_a_plugin_not_imported_off_the_main_thread_fails_with_a_sentence() -> None:
    errors: list[BaseException] = []

    def job() -> None:
        try:
            providers.plugin("surely_not_a_plugin")
        except RuntimeError as e:
            errors.append(e)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert "import livekit.plugins.surely_not_a_plugin at the top" in str(errors[0])


def test_a_missing_plugin_says_how_to_install_it() -> None:
    with pytest.raises(RuntimeError, match="not installed: pip install"):
        providers.plugin("surely_not_a_plugin")


def test_plugins_the_mode_needs_are_registered_on_import() -> None:
    assert providers.register_plugins({"CONCIERGE_OFFLINE": "1"}) == []  # all inside livekit
    assert providers.register_plugins({"OPENAI_API_KEY": "sk-test-not-real"}) == ["openai"]
    assert "livekit.plugins.openai" in sys.modules
