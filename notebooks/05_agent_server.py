# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 5 · AgentServer: `@server.rtc_session`, `on_session_end`, and a job run in-process
#
# An agent does not run alone: a **worker** process registers with a LiveKit server, which hands
# it a *job* each time a room needs an agent. The legacy code described that worker with
# `cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))`. In livekit-agents 1.8 the worker is an
# `AgentServer` object, and the function that serves one room is registered on it with
# `@server.rtc_session` — along with what to do after the room closes.
#
# ## What you will learn
# - how the migrated agent declares its server, its entrypoint and its `on_session_end` hook;
# - the life of one job: dispatch → entrypoint → turns → room closes → `on_session_end`;
# - how to run that whole life cycle in this notebook, with no LiveKit server, and read the
#   session report it produces;
# - the same job for real: the worker registers with LiveKit's server on 127.0.0.1, is dispatched
#   into a room, and a caller orders through it;
# - which command starts the server, when, and why;
# - how `setup_fnc` (the old `prewarm_fnc`) loads the models once per process, and what it saves;
# - why the server's load threshold is set on purpose.
#
# ## Prerequisites
# Notebooks 1–4. No keys: the job runs in-process with livekit's own `fake_job_context()`, then
# through LiveKit's own server on 127.0.0.1 where it is installed (`scripts/lab.sh` builds it with
# Go; without it the notebook says so and the in-process job stands).

# %%
from concierge.lab import cart_table, setup_notebook, show_source, table

print(setup_notebook())

# %% [markdown]
# ## Before and after
#
# Notebook 2 ran the legacy worker and showed that `WorkerOptions` is now only an alias that
# `cli.run_app` quietly converts into an `AgentServer`. Here is what the migrated module declares
# instead: one server object, and the session entrypoint registered on it.

# %%
import concierge.server as worker
from concierge.agent import MAX_TOOL_STEPS

show_source(worker, start="server = AgentServer(")

# %%
show_source(worker.entrypoint)

# %% [markdown]
# The decorator did the registering: the server now holds both hooks and calls them for every
# job. livekit 1.8.9 gives `AgentServer` no public getter for what `rtc_session` registered (its
# `_entrypoint_fnc`, `_session_end_fnc`, `_agent_name` are private and may change), so we do not
# read them here: these are the values the module *passed in*, and the job below shows the
# registered hooks at work.

# %%
# NBVAL_CHECK_OUTPUT
table(
    [
        ("entrypoint", worker.entrypoint.__qualname__),
        ("on_session_end", worker.on_session_end.__qualname__),
        ("agent_name", worker.AGENT_NAME),
        ("load_threshold", worker.LOAD_THRESHOLD),
        ("max_tool_steps (per session)", MAX_TOOL_STEPS),
    ],
    ["setting", "value"],
)

# %% [markdown]
# ## Prewarm: load the models once per process, not once per call
#
# A voice session needs models: Silero VAD, the end-of-turn model, and offline the menu
# recogniser and the voice. Loaded inside the entrypoint, every caller's session start pays for
# them — and while a worker process loads, every other call on it waits. The old way to load them
# once was `WorkerOptions(prewarm_fnc=...)`:
#
# ```python
# def prewarm(proc: JobProcess):
#     proc.userdata["vad"] = silero.VAD.load()
#
# cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, prewarm_fnc=prewarm))
# ```
#
# In 1.8 it is `AgentServer(setup_fnc=...)`: livekit calls it in each job process *before* a job
# arrives, and what it puts in `JobProcess.userdata` is there for every session that process runs
# (`ctx.proc.userdata` in the entrypoint). The migrated server:

# %%
show_source(worker.prewarm)

# %%
show_source(worker.serve_job)

# %% [markdown]
# `WorkerOptions(prewarm_fnc=...)` still works: livekit converts it to `setup_fnc` without a word.
# Both servers end up holding the same function (read through the public `setup_fnc` property):

# %%
# NBVAL_CHECK_OUTPUT
from livekit.agents import AgentServer, JobProcess, WorkerOptions
from livekit.agents.job import JobExecutorType

legacy_style = AgentServer.from_server_options(
    WorkerOptions(entrypoint_fnc=worker.entrypoint, prewarm_fnc=worker.prewarm)
)
print("WorkerOptions(prewarm_fnc=prewarm) →", legacy_style.setup_fnc.__qualname__)
print("AgentServer(setup_fnc=prewarm)     →", worker.server.setup_fnc.__qualname__)

# %% [markdown]
# ### The difference, measured
#
# Here is what a session start costs both ways, in this kernel. *Per call* loads fresh models,
# as the entrypoint did before. *Prewarmed* runs the server's real `setup_fnc` once on a
# `JobProcess` (as livekit does when it starts a job process), then starts each session's models
# from `proc.userdata` — the thin per-session wrappers around the shared models.

# %%
import time

from concierge.menu import default_catalog
from concierge.providers import pick_models, prewarm_models

catalog = default_catalog()


def seconds(fn, runs=3):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


per_call = seconds(
    lambda: pick_models(catalog, env={}, prewarmed=prewarm_models(catalog, env={}, shared=False)),
    runs=1,
)

proc = JobProcess(executor_type=JobExecutorType.PROCESS, user_arguments=None, http_proxy=None)
setup = seconds(lambda: worker.prewarm(proc), runs=1)
prewarmed = seconds(lambda: pick_models(catalog, env={}, prewarmed=proc.userdata["models"]))
table(
    [
        ("models loaded per call (before)", f"{per_call * 1000:.0f} ms per session start"),
        ("setup_fnc, once per process", f"{setup * 1000:.0f} ms before any job"),
        ("prewarmed (after)", f"{prewarmed * 1000:.1f} ms per session start"),
    ],
    ["how", "cost"],
)

# %%
assert prewarmed * 10 < per_call, (prewarmed, per_call)
print(f"a prewarmed session start is {per_call / prewarmed:.0f}× cheaper")

# %% [markdown]
# Under livekit's **process** executor (the default on Linux) each job process runs `setup_fnc`
# once while it idles, before a call arrives. Under the **thread** executor (the live notebook's
# cloud mode) livekit runs `setup_fnc` once per job *thread* — all in one process — so `prewarm`
# takes the models from a per-process cache (`providers.process_models`): still one load per
# process. Sharing is safe because every part keeps its per-call state in its own stream: Silero
# and the turn detector open one stream per session, and the recogniser lends each utterance a
# decoder from a pool.
#
# Measured with `python -m concierge bench --capacity` (README, "Deploy"), this — with one VAD per
# call (the recogniser streams, so no second VAD runs inside a stream adapter) and recognition in
# small increments — is what lets one worker hold more calls.

# %% [markdown]
# ## `on_session_end`: after the room closes
#
# When the last participant leaves, the session closes and the server calls `on_session_end`
# with the job's context. The migrated agent uses it for the two things that must not be lost:
# the cart (saved to the store, if it was not already) and the **session report** — the
# conversation, timings and usage livekit collected — summed up in one log line. Both are shown
# below, after a job.

# %%
show_source(worker.on_session_end)

# %% [markdown]
# ## A whole job, in this notebook
#
# `concierge.lab.inprocess.run_job` does what a worker does for one job, with livekit's own
# `fake_job_context()` standing in for the LiveKit server: it builds a real `JobContext` (job
# metadata `{"user_id": "alex"}`), runs the same `serve_job` the entrypoint runs (text only,
# no room), says a few things, closes the session, and then calls **the `on_session_end` the
# server registered** — not a copy of it. (That is the one place the lab reads a private
# attribute, `server._session_end_fnc`: livekit calls the hook only from its own job process and
# offers no public way to run it in-process.) We keep the `concierge` log lines it writes.

# %%
show_source(__import__("concierge.lab.inprocess", fromlist=["run_job"]).run_job)

# %%
from concierge.lab.inprocess import run_job
from concierge.store import open_store

import logging

class LogLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")

log, concierge_log = LogLines(), logging.getLogger("concierge")
concierge_log.addHandler(log)
concierge_log.setLevel(logging.INFO)
try:
    store = await open_store("memory")
    job = await run_job(store, ["two churros", "a large horchata", "what's in my cart"], user_id="alex")
finally:
    concierge_log.removeHandler(log)
    concierge_log.setLevel(logging.ERROR)
table([(i + 1, r) for i, r in enumerate(job.replies)], ["turn", "agent replied"])

# %% [markdown]
# What `on_session_end` wrote to the log, after the session closed:

# %%
# NBVAL_CHECK_OUTPUT
print("\n".join(log.lines))

# %% [markdown]
# After the job, the cart is in the store — saved by `on_session_end` — ready for Alex's next
# session, on this worker or any other.

# %%
# NBVAL_CHECK_OUTPUT
cart_table(job.saved_cart)

# %% [markdown]
# ## The same job through a real LiveKit server
#
# Everything above ran in this kernel. In production the worker is its own process: it
# **registers** with a LiveKit server, the server **dispatches** a job to it when a room needs
# the agent (here by name: `agent_name="food-concierge"` means explicit dispatch only), the job
# joins the room as a participant and talks to the caller over WebRTC. The lab runs that for real
# on this machine with LiveKit's own open-source server, bound to 127.0.0.1
# (`concierge.livekit_server`; `scripts/lab.sh` builds it with Go once).
#
# `run_room_job()` starts the server, starts the worker exactly as a deployer does
# (`python -m concierge start`: livekit's process executor, `setup_fnc` prewarm), dispatches the
# agent into a room, joins that room as a Python caller (`livekit.rtc`), types an order on
# `lk.chat` (LiveKit's text input; a spoken order works the same way, see the tests), reads the
# cart back **through the room** with the agent's `get_cart` RPC, hangs up and stops everything.

# %%
show_source(__import__("concierge.lab.room_job", fromlist=["run_room_job"]).run_room_job)

# %%
from concierge.lab.room_job import run_room_job
from concierge.livekit_server import ServerUnavailable

try:
    room_job = await run_room_job("two churros")
except ServerUnavailable as e:
    room_job = None
    print(f"No LiveKit server on this machine, so no real job here: {e}")
    print("The in-process job above ran the same entrypoint and on_session_end without one.")

# %% [markdown]
# What happened, in order: the worker registered, the dispatch created a job, the agent joined
# the room, and the order reached the cart — read back over the room, as a frontend would.

# %%
if room_job is not None:
    lines = room_job.cart["cart"]["lines"]
    table(
        [
            ("worker registered", room_job.worker_log[0]),
            ("dispatch", f"{room_job.dispatch_id} → room {room_job.room!r}"),
            ("job (the agent participant)", room_job.agent_identity),
            ("the agent said", " / ".join(room_job.replies)),
            ("cart, via get_cart", ", ".join(f"{ln['quantity']} × {ln['name']}" for ln in lines)),
            ("whole run", f"{room_job.seconds:.0f} s (most of it the worker process starting)"),
        ],
        ["step", "what we saw"],
    )

# %% [markdown]
# The server's own log, trimmed to the lines that tell the job's story (the rest is transport
# detail: ICE, data channels, statistics), then the worker's side of it. Note the last worker
# line: `on_session_end` ran in the job process when the room closed.

# %%
if room_job is not None:
    print("\n".join(room_job.server_log))
    print()
    print("\n".join(room_job.worker_log))

# %%
if room_job is not None:
    assert [(ln["item_id"], ln["quantity"]) for ln in room_job.cart["cart"]["lines"]] == [("churros", 2)]
    assert any("worker registered" in line for line in room_job.server_log)
    assert any("assigned job to worker" in line for line in room_job.server_log)
    assert any(line.startswith("session for") for line in room_job.worker_log)

# %% [markdown]
# ## The session report
#
# `ctx.make_session_report()` gathers what livekit recorded about the session. In production you
# would ship it to your logs or analytics from `on_session_end`. Its top-level fields:

# %%
report = job.report
table(
    [(key, type(value).__name__) for key, value in report.items()],
    ["field", "type"],
)

# %%
history = report["chat_history"]["items"]
table(
    [
        (item["type"], item.get("role", ""), (item.get("content") or [item.get("name") or item.get("output", "")])[0])
        for item in history
    ],
    ["type", "role", "content"],
)

# %%
# NBVAL_CHECK_OUTPUT
print("job:", report["job_id"])
print("user messages:", sum(1 for i in history if i.get("role") == "user"))
print("tool calls:", sum(1 for i in history if i["type"] == "function_call"))

# %% [markdown]
# ## Starting the server: which command, when, why
#
# One story, the same in the README and notebook 2. The worker module is `concierge/server.py`.
#
# | command | when | what it runs |
# |---|---|---|
# | `python -m concierge start` | production: a server or the `Dockerfile` | checks `LIVEKIT_URL` / `LIVEKIT_API_KEY` / `LIVEKIT_API_SECRET`, then livekit's own `python -m livekit.agents start concierge/server.py` |
# | `python -m concierge dev` | your laptop | with no LiveKit variables: starts LiveKit's server on 127.0.0.1, prints a token to join, runs the worker; with them (LiveKit Cloud): the same with `--dev` |
# | `lk agent dev`, `lk agent console` | with the LiveKit CLI installed: code reload, your microphone | the LiveKit CLI drives `python -m livekit.agents` itself — what livekit 1.8.9 recommends |
# | `python -m concierge console` | no keys: type to the agent in a terminal | the same session builder, offline, text (`--audio` wraps livekit's deprecated built-in console) |
#
# Why not `cli.run_app(server)` at the bottom of the module, as the legacy agent did? livekit
# 1.8.9 deprecates that built-in CLI (notebook 2 showed its warning); `python -m livekit.agents`
# is the entry point that replaces it, and `lk agent …` wraps it. Without keys, `start` says what
# is missing in a sentence, and `--help` works anywhere:

# %%
import subprocess
import sys

run = subprocess.run([sys.executable, "-m", "concierge", "start"], capture_output=True, text=True,
                     env={"PATH": "/usr/bin:/bin", "CONCIERGE_OFFLINE": "1", "PYTHONPATH": ":".join(sys.path)})
print("exit code", run.returncode, "|", run.stderr.strip())

# %% [markdown]
# ## Why the load threshold is set on purpose
#
# A worker tells LiveKit how busy it is; above `load_threshold` LiveKit stops sending it new
# rooms. livekit's default load is the machine's CPU — but a voice worker's turns collapse well
# before the CPU looks full (Python runs one core per process). So the migrated server reports
# its own load, `AgentServer(load_fnc=worker_load)`: live voice sessions against the number this
# worker was measured to hold, or its event loops' lag, whichever is worse; and it sets
# `load_threshold=0.75` instead of relying on a default (0.7 in production, no limit in dev mode).
#
# ## Recap — what changed
#
# | legacy | migrated |
# |---|---|
# | `cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))` | `server = AgentServer(...)` + `@server.rtc_session(...)` |
# | nothing runs after the room closes | `on_session_end` saves the cart and logs the session report |
# | the only way to try a job is a LiveKit server | `fake_job_context()` runs a whole job in-process; LiveKit's own server on 127.0.0.1 runs it for real |
# | `WorkerOptions(prewarm_fnc=...)`, or models loaded in every call | `AgentServer(setup_fnc=...)`: models once per process, in `JobProcess.userdata` |
# | load limit left to defaults (machine CPU) | `load_fnc` from sessions vs. measured capacity and loop lag; `load_threshold` chosen |
# | `python agent.py start` through the built-in CLI | `python -m concierge start` → `python -m livekit.agents start`, or `lk agent dev` |
#
# **Next:** [6 · The voice pipeline](06_voice_pipeline.ipynb) — VAD, turn detection,
# `max_tool_steps`, interruptions, and where a turn's time goes.
