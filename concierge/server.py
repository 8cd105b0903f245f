"""The worker: `AgentServer` + `@server.rtc_session`, the livekit-agents 1.8 way.

In the legacy agent a worker was `cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))`; in 1.8
`WorkerOptions` is only an alias that livekit converts to an `AgentServer` behind your back. Here
the server is explicit: one `rtc_session` entrypoint per job (one LiveKit room, one caller), and
`on_session_end`, which livekit runs after the room closes, saves the cart and logs the session
report. Run it with `python -m concierge start` (see the README for `lk agent` and
`python -m livekit.agents`).

Models are loaded once per process, not once per call: `AgentServer(setup_fnc=prewarm)` (the old
`WorkerOptions(prewarm_fnc=...)`) loads Silero, the turn detector and the offline speech engines
before a job arrives and keeps them in `JobProcess.userdata`; each session takes them from there.
The load reported to LiveKit (`load_fnc`) is live voice sessions against this worker's measured
capacity, or its event-loop lag (`concierge.worker_load`), not the machine's CPU.

Views are injected: `serve_job(ctx, views=...)` hands them to the session builder. The live
notebook's cloud mode builds its own server around `serve_job` with its widgets as views
(`concierge.live.cloud`); nothing here knows a UI exists.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from livekit import rtc
from livekit.agents import AgentServer, AgentSession, JobContext, JobExecutorType, JobProcess
from livekit.agents.worker import ServerEnvOption

from .menu import default_catalog
from .providers import (
    LIVEKIT_VARIABLES,
    Models,
    Prewarmed,
    pick_models,
    process_models,
    recognition_pool_size,
    register_plugins,
)
from .room import room_view
from .session import SessionView, start_session
from .state import UserState, new_userdata
from .store import Store, open_store
from .worker_load import WORKER_LOAD

# livekit registers a plugin when it is first imported, and only on the main thread; jobs run on
# other threads (the thread executor) or in processes forked from this one. Import them here.
register_plugins()

__all__ = [
    "AGENT_NAME",
    "EXECUTOR_VARIABLE",
    "LIVEKIT_VARIABLES",
    "REPORT_DIR_VARIABLE",
    "LOAD_THRESHOLD",
    "entrypoint",
    "job_executor",
    "on_session_end",
    "prewarm",
    "serve_job",
    "worker_load",
    "server",
    "user_id_from_job",
]

logger = logging.getLogger("concierge")

#: The name a dispatch asks for (explicit dispatch: LiveKit sends a room to this agent by name).
AGENT_NAME = "food-concierge"

#: The load (see `worker_load`) above which this worker tells LiveKit it is full: 75 % of the
#: sessions it was measured to hold, or an event loop running 0.19 s late. The rest is headroom for
#: calls already dispatched and for bursts. (LiveKit's production default is 0.7.)
LOAD_THRESHOLD = 0.75
#: In `dev` (one presenter) livekit's own default applies: never full, so the call is never turned
#: away however late a busy laptop runs the loop.
LOAD_THRESHOLD_BY_MODE = ServerEnvOption(dev_default=math.inf, prod_default=LOAD_THRESHOLD)

#: Which livekit job executor the worker runs (`job_executor`).
EXECUTOR_VARIABLE = "CONCIERGE_EXECUTOR"

#: A directory where `on_session_end` writes each job's session report as `<job id>.json`.
REPORT_DIR_VARIABLE = "CONCIERGE_REPORT_DIR"


def prewarm(proc: JobProcess) -> None:
    """`setup_fnc`: load the models every session on this process shares, before a job arrives.

    In the thread executor every call shares this process (and its GIL), so recognition runs in a
    small pool of processes of its own (`CONCIERGE_RECOGNITION_PROCESSES`); with one job per
    process it stays inline. The pool stops with the worker's process (or `close_process_models`).
    """
    threads = proc.executor_type == JobExecutorType.THREAD
    models = process_models(recognition_processes=recognition_pool_size() if threads else 0)
    proc.userdata["models"] = models
    # Pick one session's models now and drop them: what a session imports (the model's modules)
    # is then imported here, not on a job's event loop while its caller waits (0.2-0.5 s seen).
    pick_models(default_catalog(), prewarmed=models)


def worker_load(server: AgentServer) -> float:
    """`load_fnc`: live sessions against measured capacity, or event-loop lag (0 = idle, 1 = full)."""
    return WORKER_LOAD.load(active_jobs=len(server.active_jobs))


def prewarmed_models(ctx: JobContext) -> Prewarmed | None:
    """The models `prewarm` left in this job's process (None if the server has no `setup_fnc`)."""
    models = ctx.proc.userdata.get("models")
    return models if isinstance(models, Prewarmed) else None


def user_id_from_job(ctx: JobContext) -> str:
    """The user to serve: `{"user_id": ...}` in the job metadata (set by your dispatch), else the
    identity of the participant who joined, else a guest id of this job's own.

    Never a shared default: two anonymous callers must not share a cart or a delivery address.
    Metadata that is not a JSON object, or a `user_id` that is not a short printable string, is
    ignored with a warning.
    """
    user = _metadata_user(ctx.job.metadata)
    if user:
        return user
    participants = list(getattr(ctx.room, "remote_participants", {}).values())
    identity = participants[0].identity if participants else ""
    if not identity and ctx.job.HasField("participant"):
        identity = ctx.job.participant.identity
    return identity or f"guest-{ctx.job.id}"


def _metadata_user(raw: str) -> str:
    try:
        meta = json.loads(raw or "{}")
    except json.JSONDecodeError:
        logger.warning("job metadata is not JSON; serving the caller as a guest")
        return ""
    user = meta.get("user_id") if isinstance(meta, dict) else None
    if user is None:
        return ""
    if not isinstance(user, str) or not 0 < len(user.strip()) <= 128 or not user.isprintable():
        logger.warning("job metadata user_id %r is not a usable id; ignoring it", user)
        return ""
    return user.strip()


async def serve_job(
    ctx: JobContext,
    store: Store,
    models: Models | None = None,
    *,
    room: rtc.Room | None,
    views: Sequence[SessionView] = (),
) -> AgentSession[UserState]:
    """What the entrypoint does for one job, minus the greeting: the user's state, then the session.

    `room=None` starts it text-only, which is how `concierge.lab.inprocess` runs a job offline.
    """
    userdata = await new_userdata(store, user_id_from_job(ctx))
    if models is None:
        models = pick_models(userdata.catalog, prewarmed=prewarmed_models(ctx))
    session = await start_session(userdata, models, room=room, views=views)
    WORKER_LOAD.session_started()
    session.on("close", lambda _ev: WORKER_LOAD.session_ended())
    return session


async def on_session_end(ctx: JobContext) -> None:
    """After the session closes: save the cart (in case the last write failed) and log the report."""
    try:
        session: AgentSession[UserState] = ctx.primary_session
    except RuntimeError:
        logger.info("session ended before an AgentSession started; nothing to save")
        return
    state = session.userdata
    await state.save_cart()
    report = ctx.make_session_report(session).to_dict()
    save_report(ctx.job.id, report)
    logger.info(
        "session for %s ended: %d cart line(s), %d order(s), %d history item(s)",
        state.user_id,
        len(state.cart.lines),
        len(state.orders),
        len(report.get("chat_history", {}).get("items", [])),
    )


def save_report(job_id: str, report: dict[str, Any]) -> Path | None:
    """Write the session report to `CONCIERGE_REPORT_DIR` (if set); where to ship it in production
    (logs, analytics) is yours to choose. A write that fails is logged, never raised."""
    folder = os.environ.get(REPORT_DIR_VARIABLE, "").strip()
    if not folder:
        return None
    path = Path(folder) / f"{job_id}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, default=str), encoding="utf-8")
    except OSError:
        logger.exception("could not write the session report to %s", path)
        return None
    return path


async def greet_and_serve(ctx: JobContext, *, views: Sequence[SessionView] = ()) -> None:
    """One LiveKit room = one session: open the store, start the agent in the room (serving the
    cart to frontends, `concierge.room`), greet."""
    store = await open_store()
    ctx.add_shutdown_callback(store.close)  # after on_session_end has saved with it
    session = await serve_job(ctx, store, room=ctx.room, views=[room_view(ctx.room), *views])
    await session.generate_reply(instructions="Greet the user and ask what they'd like to eat.")


def worker_options(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Deployment knobs from the environment, livekit's defaults where unset:
    `CONCIERGE_WORKER_HOST` / `CONCIERGE_WORKER_PORT`, where the worker's health endpoint listens
    (default every interface, port 8081; 0 in dev), and `CONCIERGE_IDLE_PROCESSES`, how many
    prewarmed job processes wait for a job (default one per core)."""
    env = os.environ if env is None else env
    options: dict[str, Any] = {}
    if env.get("CONCIERGE_WORKER_HOST", "").strip():
        options["host"] = env["CONCIERGE_WORKER_HOST"].strip()
    if env.get("CONCIERGE_WORKER_PORT", "").strip():
        options["port"] = int(env["CONCIERGE_WORKER_PORT"])
    if env.get("CONCIERGE_IDLE_PROCESSES", "").strip():
        options["num_idle_processes"] = int(env["CONCIERGE_IDLE_PROCESSES"])
    return options


#: How long `prewarm` may take before livekit gives the process up ("error initializing process").
#: livekit's 10 s default is a few loads of the speech engines on a machine that is busy with
#: other calls (or a CI box running tests beside it); a job that waits is better than one refused.
PREWARM_TIMEOUT_S = 120.0


#: Imported once in livekit's forkserver (process executor), so every job process shares these
#: modules' pages copy-on-write instead of importing them itself — the agent, and what its first
#: session would import lazily (the stand-in model, the offline voices: a 0.5 s stall in a job's
#: loop otherwise). The models themselves load in `prewarm`, in each process.
PRELOAD_MODULES = [
    "concierge.server",
    "concierge.offline.llm",
    "concierge.offline.stt",
    "concierge.offline.tts",
]


def job_executor(env: Mapping[str, str] | None = None) -> JobExecutorType:
    """`CONCIERGE_EXECUTOR`: "process" (livekit's default, one process per call) or "thread"
    (every call on a thread of this worker, sharing its models; what `start --workers` runs)."""
    raw = (os.environ if env is None else env).get(EXECUTOR_VARIABLE, "").strip().lower()
    if raw in ("", "process"):
        return JobExecutorType.PROCESS
    if raw == "thread":
        return JobExecutorType.THREAD
    logger.warning("%s=%r is neither thread nor process; using process", EXECUTOR_VARIABLE, raw)
    return JobExecutorType.PROCESS


server = AgentServer(
    setup_fnc=prewarm,
    load_fnc=worker_load,
    load_threshold=LOAD_THRESHOLD_BY_MODE,
    job_executor_type=job_executor(),
    initialize_process_timeout=PREWARM_TIMEOUT_S,
    preload_modules=PRELOAD_MODULES,
    **worker_options(),
)
# the worker's own loop counts in its load (`WorkerLoad.watch_loop`)
server.on("worker_started", WORKER_LOAD.watch_loop)


@server.rtc_session(agent_name=AGENT_NAME, on_session_end=on_session_end)
async def entrypoint(ctx: JobContext) -> None:
    """The job entrypoint LiveKit calls for each room dispatched to this worker."""
    await greet_and_serve(ctx)
