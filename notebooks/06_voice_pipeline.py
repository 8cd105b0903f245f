# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 6 · The voice pipeline: VAD, turn detection, `max_tool_steps`, interruptions, metrics
#
# So far the agent has run on text. A voice agent adds a pipeline around it: voice activity
# detection (is someone speaking?), turn detection (have they finished?), speech-to-text, and
# text-to-speech — and every stage costs time the caller hears as silence. Here the whole
# pipeline runs **offline, on audio**, through the real `AgentSession`: the microphone is a
# stream of synthesized speech and the speaker is a recorder.
#
# ## What you will learn
# - what `build_session` gives the session: Silero VAD, the on-device turn detector through
#   `turn_handling=TurnHandlingOptions(...)`, and an explicit `max_tool_steps`;
# - a spoken turn, end to end, with livekit's own timestamps — every stage measured from one
#   origin, so the parts add up to the whole;
# - the `max_tool_steps` fix: the same long order under the default cap and under the agent's;
# - what happens when the caller talks over the agent (an interruption) — and the 3 s in which
#   livekit does not listen;
# - reading metrics the 1.8.9 way (`ChatMessage.metrics`, `session_usage_updated`; the old
#   `metrics_collected` event is deprecated);
# - where a turn's time goes, from a small benchmark, as a chart.
#
# ## Prerequisites
# Notebooks 1–5. No keys, no downloads: Silero's model, livekit's end-of-turn model, the
# pocketsphinx speech recogniser and the hibari voice all ship inside their pip packages (the
# `speech` extra, which the lab installs; on Python 3.12 pocketsphinx has no wheel, and the next
# cell says so instead of running on).

# %%
from concierge.lab import require_offline_speech, setup_notebook, show_source, table

print(setup_notebook())
print(require_offline_speech())  # stops here, saying why, where an engine is not installed

# %% [markdown]
# ## What the session is given
#
# In livekit-agents 1.8, turn handling is one option, `turn_handling=TurnHandlingOptions(...)`:
# the turn detector, the endpointing delays, and interruption settings. The old keyword arguments
# (`turn_detection=`, `min_endpointing_delay=`, `allow_interruptions=`) still work but are
# deprecated. `build_session` also sets `max_tool_steps` explicitly:

# %%
from concierge import session as sessions
from concierge.agent import MAX_TOOL_STEPS

show_source(sessions.build_session, start="    models = models or", stop='    speech: dict')

# %%
# NBVAL_CHECK_OUTPUT
from concierge.menu import default_catalog
from concierge.providers import pick_models

models = pick_models(default_catalog(), env={})
table(
    [("VAD", type(models.vad).__module__ + "." + type(models.vad).__name__),
     ("turn detection", f"{type(models.turn_detection).__name__}: {models.turn_detection.model}"),
     ("speech-to-text", models.stt.model), ("text-to-speech", models.tts.model),
     ("language model", models.llm.model), ("max_tool_steps", MAX_TOOL_STEPS)],
    ["stage", "offline engine"],
)

# %% [markdown]
# The speech-to-text is **constrained by a grammar generated from the menu** — the speech twin of
# enum-constrained tool ids: the recogniser can only hear sentences a food order can contain.
# (An open-vocabulary recogniser small enough for a wheel gets far fewer words right.)

# %%
from concierge.offline.stt import menu_grammar

print("\n".join(menu_grammar(default_catalog()).splitlines()[:8]))

# %% [markdown]
# ## One spoken turn, end to end
#
# `voice_session()` starts the migrated agent's session with audio in and out. We synthesize the
# caller's words with the offline voice, play them into the "microphone" in real time, and wait
# for the agent's spoken answer. (The recorder "plays" the answer 8× faster than real time so
# this notebook stays quick; when the answer *starts* is measured for real.)

# %%
import asyncio

from concierge.session import voice_session

async with voice_session(playback_speed=8) as rig:
    voice = rig.models.tts
    turns = [await rig.say(voice.pcm16(text), 24000) for text in ("two classic cheeseburgers and a large coke",)]
    await rig.wait_until_quiet()
    cart = rig.session.userdata.cart.summary()
    audio_seconds = sum(f.samples_per_channel for f in rig.speaker.frames) / 24000
turn = turns[0]
table([("heard", turn.heard), ("replied", turn.reply), ("agent audio recorded", f"{audio_seconds:.1f} s")], ["", ""])

# %%
# NBVAL_CHECK_OUTPUT
print(cart)

# %% [markdown]
# livekit timestamps each turn on the messages themselves (`ChatMessage.metrics`). The user's
# message carries `stopped_speaking_at` — when the VAD heard the caller stop — and, **from that
# instant**, `transcription_delay` (the final transcript arrived) and `end_of_turn_delay` (the turn
# was decided); the agent's reply carries `e2e_latency`, from that same instant to its first
# audio. Measured from one origin, the stages are the gaps between those instants, plus the tool
# calls' own timestamps (`VoiceTurn.stages()`, numbers vary run to run). It is the very cut the live
# panel's metrics strip shows in notebook 9 — one function, `concierge.timeline.turn_timing` — so a
# turn reads the same in both places:

# %%
stages = turn.stages()
rows = [(name, f"{ms:.0f} ms") for name, ms in stages.items()]
rows += [("= user stopped speaking → first agent audio", f"{sum(stages.values()):.0f} ms"),
         ("livekit's own e2e_latency for the same turn", f"{turn.e2e_latency_ms:.0f} ms")]
table(rows, ["stage", "time"])

# %%
# NBVAL_CHECK_OUTPUT
from concierge.offline.voice import STAGE_TOLERANCE_MS

print("no stage negative:", all(ms >= 0 for ms in stages.values()))
print("turn decided before the first audio:", turn.end_of_turn_ms < turn.voice_turn_ms)
print(f"stages add up to e2e_latency within {STAGE_TOLERANCE_MS:.0f} ms:",
      abs(sum(stages.values()) - turn.e2e_latency_ms) <= STAGE_TOLERANCE_MS)

# %% [markdown]
# Two figures are *not* stages. The model's time to first token (`llm_node_ttft`, in the table
# below) overlaps the end-of-turn decision: with preemptive generation, on by default in 1.8.9,
# the model starts on the transcript while the turn is still being decided. And the end of the
# *audio clip* is not the origin: a synthesized clip ends in a few hundred ms of silence the VAD
# has already recognised as not-speech, so timing from the clip's end makes the transcript look
# later than the reply.

# %%
table([("model: first token (overlaps the stages)", f"{turn.llm_ms:.1f} ms"),
       ("text-to-speech: first audio (the last stage)", f"{turn.tts_ms:.0f} ms")], ["figure", "time"])

# %% [markdown]
# Most of the wait is **speech-to-text**, which counts from the end of speech: the VAD must hear
# enough silence to be sure the caller stopped, and this recogniser finishes the utterance only then. The
# on-device turn detector then decides in a few milliseconds whether the
# sentence is finished — which is what lets `endpointing={"min_delay": 0.4}` stay short without
# cutting people off mid-sentence.
#
# ## `max_tool_steps`: the fix
#
# Notebook 2 showed the default cap of 3 cutting a five-item order short. Same order, same
# one-tool-per-step model, default cap versus the agent's `MAX_TOOL_STEPS`:

# %%
from concierge.lab.legacy.demos import FIVE_ITEM_ORDER
from concierge.offline.llm import StandInLLM
from concierge.session import offline_session

rows = []
for cap in (3, MAX_TOOL_STEPS):
    model = StandInLLM(default_catalog(), one_tool_per_step=True)
    async with offline_session(model=model, max_tool_steps=cap) as session:
        result = await session.run(user_input=FIVE_ITEM_ORDER)
        rows.append((cap, model.calls, " ".join(model.tool_choices), len(session.userdata.cart.lines),
                     [e.item.text_content for e in result.events if e.type == "message"][-1][-60:]))
table(rows, ["max_tool_steps", "model calls", "tool_choice per call", "cart lines", "end of the reply"])

# %%
# NBVAL_CHECK_OUTPUT
print("default cap, lines in cart:", rows[0][3], "| agent's cap, lines in cart:", rows[1][3])

# %% [markdown]
# ## Talking over the agent
#
# Callers interrupt. With `interruption={"enabled": True}`, when the VAD hears the caller while
# the agent speaks, livekit stops the agent's audio (`clear_buffer` on the output), marks its
# message as interrupted, and the caller's words become the next turn. But not from the first
# word the agent says: for its first `aec_warmup_duration` seconds of speech (3 s by default)
# livekit assumes the caller's microphone may still be echoing the agent, so it ignores barge-in
# **and feeds the speech-to-text silence instead of the caller's audio** (read it in
# `AgentActivity.push_audio`). `VoiceRig.talk_over` asks for a long menu and says "three churros"
# into the answer — once 1 s in, once after the warm-up (real time, ~25 s):

# %%
async with voice_session() as rig:
    voice = rig.models.tts
    warmup = rig.session.options.aec_warmup_duration
    menu, churros = voice.pcm16("whats on the menu at burger barn"), voice.pcm16("three churros")
    barge_ins = []
    for after in (1.0, warmup + 0.6):
        barge_ins.append(await rig.talk_over(menu, churros, 24000, after=after))
        await rig.wait_until_quiet()
    cart = rig.session.userdata.cart.summary()
stopped = lambda b: "kept talking" if b.stopped_after_ms is None else f"{b.stopped_after_ms:.0f} ms"
table([(f"{b.after_seconds:.1f} s", b.interrupted, stopped(b), b.heard[-1], b.answer or "(nothing)") for b in barge_ins],
      ["caller spoke after", "agent interrupted", "agent stopped after", "last words heard", "agent answered"])

# %%
# NBVAL_CHECK_OUTPUT
early, late = barge_ins
inside = early.stopped_after_ms is not None and early.stopped_after_ms < 1000 * (warmup - early.after_seconds) - 100
print("inside the warm-up, the agent stopped before it ended:", inside)
print("inside the warm-up, 'three churros' heard:", "three churros" in early.heard)
print("after the warm-up, 'three churros' heard:", "three churros" in late.heard)
print(cart)

# %% [markdown]
# Inside the warm-up livekit neither stops the agent nor hears the words: the recogniser was fed
# silence, so "three churros" was never transcribed and nothing was ordered. (If the caller is
# still talking when the 3 s are up, the agent stops then; a short "three churros" said 1 s in is
# usually over by then, and the agent simply talks on — until the rig stops it with
# `session.interrupt()` to go on.) After the warm-up, barge-in
# works as it should: the agent stops within a second, the words are transcribed, answered, and
# the churros are in the cart. On a real call with echo cancellation that warm-up protects you;
# where the audio cannot echo (this rig, a simulation — livekit itself skips it for `lk simulate`)
# `AgentSession(aec_warmup_duration=None)` turns it off.
#
# ## Metrics the 1.8.9 way
#
# livekit 1.8.9 deprecates the session's `metrics_collected` event (subscribing logs
# "metrics_collected is deprecated. Use session_usage_updated for usage tracking and
# ChatMessage.metrics for per-turn latency"). Per-turn latency is on each message, as above;
# usage arrives on `session_usage_updated`; the models keep their own `metrics_collected`
# events (the VAD's per-inference time, say), which are not deprecated. The benchmark below reads
# exactly these (`bench.voice_figures`: `rig.session.on("session_usage_updated", ...)`,
# `rig.models.vad.on("metrics_collected", ...)`) — and `tests/test_no_deprecated_api.py` fails
# if the lab's code makes livekit warn or log a deprecation.
#
# ## Where a turn's time goes
#
# `python -m concierge bench` measures the agent on this machine. Its `--quick` version runs here
# in a few seconds; the chart stacks each stage of a text turn and of a spoken turn, each on its
# own linear axis (a text turn is milliseconds, a spoken one hundreds). Each bar's parts add up to
# its total.

# %%
from concierge import bench

results = await bench.run(quick=True)
table([(k, f"{v:.2f}" if isinstance(v, float) else v) for k, v in results.items() if k not in ("voice_turns", "usage")], ["figure", "value"])

# %% [markdown]
# And the session's usage, as `session_usage_updated` last reported it during the spoken turns —
# what you would bill against with cloud models (here: characters spoken, seconds of audio heard):

# %%
table([(u.split("(")[0], u) for u in results["usage"]], ["model", "usage"])

# %%
fig = bench.stage_chart(bench.stage_breakdown(results))  # dark=True: light text for dark pages

# %% [markdown]
# The text bar has four layers, each measured by a bare `AgentSession` with a trivial model.
# `floor_ms_p50` is livekit's own cost for a turn with no tools; `floor_tool_ms_p50` its cost
# when the model calls one trivial tool — a second model call, plus livekit 1.8.9 building a
# pydantic model of the tool's parameters to validate every call. `floor_calls_ms_p50` replays
# the concierge's very calls against stubs of its twelve tools (same schemas, empty bodies):
# richer schemas and a second call on some turns cost livekit more again. Only the top layer is
# the concierge's own — the stand-in model, the cart, the store — and `turn_ms_p50 /
# floor_calls_ms_p50` in the table says how much that adds.
#
# A text turn costs milliseconds; a spoken turn costs hundreds, almost all of it before the
# transcript exists — the silence the VAD waits for, then recognition. That is where voice agents are tuned: endpointing delays and the
# turn detector — not the model or the tools.
#
# ## More calls: more workers, each prewarmed once, each saying how full it is
#
# One worker process holds as many calls as its one core of Python lets it: livekit 1.8.9's
# per-call audio path (the VAD, the turn detector's buffers, each call's event loop) holds the
# GIL. More calls per machine come from more worker processes behind LiveKit's dispatcher, not a
# bigger one. Two things make that work:
#
# - **`setup_fnc` runs once per process.** `prewarm` (notebook 5) loads the models before a job
#   arrives. With livekit's *thread* executor — what `python -m concierge start --workers` runs,
#   one worker per core — every call on a worker shares that one copy; with the *process*
#   executor each job process loads its own (livekit's forkserver shares the imported code,
#   `preload_modules`, but not the loaded models).
# - **`load_fnc` says how full the worker is.** LiveKit sends a new call only to a worker whose
#   reported load is under `load_threshold`. Ours (`concierge.worker_load`) is the larger of live
#   calls against the number one worker was measured to hold, and how late its event loops run —
#   so a worker whose turns are getting late stops taking calls *before* its callers hear it.
#
# Here is that load function, live, for a worker measured to hold four calls:

# %%
import asyncio
import time

from concierge.server import LOAD_THRESHOLD
from concierge.worker_load import WorkerLoad

meter = WorkerLoad(capacity=4)
rows = []
for calls in range(1, 5):
    meter.session_started()  # what each session does when it starts (serve_job)
    rows.append((f"{calls} call(s), loop on time", f"{meter.load():.2f}"))
for _ in range(3):
    meter.session_ended()
await asyncio.sleep(0.2)  # the loop's heartbeat ticks on time
time.sleep(0.4)  # now something blocks this loop for 400 ms ...
await asyncio.sleep(0.2)  # ... and the heartbeat sees it late
blocked = meter.load()
rows.append(("1 call, loop blocked 400 ms", f"{blocked:.2f}"))
meter.stop()
assert [float(load) for _, load in rows[:4]] == [0.25, 0.5, 0.75, 1.0] and blocked == 1.0
table(
    [(who, load, "full: LiveKit sends the next call elsewhere" if float(load) >= LOAD_THRESHOLD else "takes calls")
     for who, load in rows],
    ["this worker", "load it reports", f"against load_threshold={LOAD_THRESHOLD}"],
)

# %% [markdown]
# What that buys, measured (README, "Calls per machine"; one run each on this 2-core machine,
# callers on the same machine): through LiveKit's server and WebRTC, two thread-executor workers
# held **4 calls** at p95 1.19 s with every order heard, at **50 MB per call**; one
# process-executor worker held the same 4 at p95 1.20 s but **249 MB per call** — each job
# process loads its own models, where a thread worker's calls share one copy. In-process (no
# server, no WebRTC) one thread worker held 16. At 8 calls over WebRTC the workers used under
# 60 % of a core each, yet their loops ran late: the load they reported reached 1.0, which is
# exactly when LiveKit stops sending them calls — the load report working, the machine full.

# %% [markdown]
# ## Recap — what changed
#
# | legacy | migrated |
# |---|---|
# | no turn detection: turns end on silence alone | Silero VAD + on-device `inference.TurnDetector` |
# | deprecated `turn_detection=` / `min_endpointing_delay=` | `turn_handling=TurnHandlingOptions(...)` |
# | default `max_tool_steps` of 3 | `MAX_TOOL_STEPS` sized for multi-item orders |
# | speech only with cloud keys | an offline pipeline you can measure |
# | `session.on("metrics_collected", ...)` | `ChatMessage.metrics`, `session_usage_updated` |
# | one worker process, default load (machine CPU) | `start --workers`: one prewarmed worker per core, `load_fnc` from calls and loop lag |
#
# **Next:** [7 · Supabase](07_supabase.ipynb)
