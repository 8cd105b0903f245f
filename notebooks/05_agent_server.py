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
# - which command starts the server, when, and why;
# - why the server's load threshold is set on purpose.
#
# ## Prerequisites
# Notebooks 1–4. No keys: the job runs in-process with livekit's own `fake_job_context()`.

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
# | `python -m concierge dev` | your laptop, against LiveKit Cloud | the same with `--dev`: debug logs, no load limit |
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
# rooms. Each voice session runs Silero VAD and the end-of-turn model **on the worker's CPU**;
# past roughly 75 % those inferences queue and every caller on the worker hears slower turns.
# So the migrated server says `AgentServer(load_threshold=0.75)` instead of relying on a default
# (0.7 in production, no limit at all in dev mode). Notebook 6 measures what a turn costs.
#
# ## Recap — what changed
#
# | legacy | migrated |
# |---|---|
# | `cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))` | `server = AgentServer(...)` + `@server.rtc_session(...)` |
# | nothing runs after the room closes | `on_session_end` saves the cart and logs the session report |
# | the only way to try a job is a LiveKit server | `fake_job_context()` runs a whole job in-process |
# | load limit left to defaults | `load_threshold` chosen for the agent's CPU cost |
# | `python agent.py start` through the built-in CLI | `python -m concierge start` → `python -m livekit.agents start`, or `lk agent dev` |
#
# **Next:** [6 · The voice pipeline](06_voice_pipeline.ipynb) — VAD, turn detection,
# `max_tool_steps`, interruptions, and where a turn's time goes.
