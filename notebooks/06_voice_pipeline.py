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
# - a spoken turn, end to end, with livekit's own per-stage timings;
# - the `max_tool_steps` fix: the same long order under the default cap and under the agent's;
# - what happens when the caller talks over the agent (an interruption);
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
# livekit measured each stage of that turn (the numbers vary run to run):

# %%
table(
    [("user speech", f"{turn.speech_seconds * 1000:.0f} ms"),
     ("end of speech → transcript (VAD silence wait + recognition)", f"{turn.transcription_ms:.0f} ms"),
     ("end of speech → end of turn decided", f"{turn.end_of_turn_ms:.0f} ms"),
     ("model: first token", f"{turn.llm_ms:.1f} ms"),
     ("text-to-speech: first audio", f"{turn.tts_ms:.0f} ms"),
     ("end of speech → first agent audio", f"{turn.voice_turn_ms:.0f} ms")],
    ["stage", "time"],
)

# %% [markdown]
# Most of the wait is **silence detection**: the VAD must hear enough silence to be sure the
# caller stopped. The on-device turn detector then decides in a few milliseconds whether the
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
# the agent speaks, livekit stops the agent's audio (`clear_buffer` on the output) and marks its
# message as interrupted. We ask for a long menu, and speak again 1.5 s into the answer (played
# in real time here):

# %%
async with voice_session() as rig:
    voice = rig.models.tts
    heard: list[str] = []
    rig.session.on("user_input_transcribed", lambda ev: heard.append(ev.transcript) if ev.is_final else None)
    first = asyncio.create_task(rig.say(voice.pcm16("whats on the menu at burger barn"), 24000, timeout=60))
    while rig.session.agent_state != "speaking":
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.5)
    rig.mic.say(voice.pcm16("three churros"), 24000)
    await asyncio.wait_for(first, 60)
    await asyncio.sleep(3)  # give the barge-in time to be transcribed and answered
    replies = [i for i in rig.session.history.items if i.type == "message" and i.role == "assistant"]
    interruptions = rig.speaker.interruptions
table([(r.interrupted, (r.text_content or "")[:70]) for r in replies], ["interrupted", "agent message (start)"])

# %%
print("audio output cleared:", interruptions, "time(s) | final transcripts heard:", heard)

# %% [markdown]
# The agent stopped talking and its message is marked `interrupted` — what it said is kept only
# up to where the caller cut in. Whether the barge-in itself was understood depends on how much
# of it the VAD caught before deciding it was speech; the transcripts above are what the offline
# recogniser really produced.
#
# ## Metrics events
#
# Every stage publishes metrics on the session's `metrics_collected` event (and per-turn
# figures on each `ChatMessage.metrics`). The live notebook's widgets read these; so does the
# benchmark below.
#
# ## Where a turn's time goes
#
# `python -m concierge bench` measures the agent on this machine. Its `--quick` version runs here
# in a few seconds; the chart stacks each stage of a text turn and of a spoken turn.

# %%
from concierge import bench

results = await bench.run(quick=True)
table([(k, f"{v:.2f}" if isinstance(v, float) else v) for k, v in results.items() if k != "voice_turns"], ["figure", "value"])

# %%
import matplotlib.pyplot as plt

stages = bench.stage_breakdown(results)
fig, ax = plt.subplots(figsize=(8, 2.8))
for row, (turn_kind, parts) in enumerate(stages.items()):
    left = 0.0
    for name, ms in parts.items():
        ax.barh(row, ms, left=left, label=f"{turn_kind}: {name}")
        left += ms
ax.set_yticks(range(len(stages)), list(stages))
ax.set_xscale("symlog", linthresh=10)
ax.set_xlabel("milliseconds (log scale above 10 ms)")
ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
fig.tight_layout()

# %% [markdown]
# The text bar has three layers. `floor_ms_p50` is livekit's own cost for a turn with no tools;
# `floor_tool_ms_p50` is its cost when the model calls one trivial tool — a second model call,
# plus livekit 1.8.9 building a pydantic model of the tool's parameters to validate every call.
# Only the top layer is the concierge's own (the stand-in model, the cart, the store), which is
# why the agent is compared with the tool floor, not the bare one.
#
# A text turn costs milliseconds; a spoken turn costs hundreds, almost all of it in deciding
# that the caller has finished. That is where voice agents are tuned: endpointing delays and the
# turn detector — not the model or the tools.
#
# ## Recap — what changed
#
# | legacy | migrated |
# |---|---|
# | no turn detection: turns end on silence alone | Silero VAD + on-device `inference.TurnDetector` |
# | deprecated `turn_detection=` / `min_endpointing_delay=` | `turn_handling=TurnHandlingOptions(...)` |
# | default `max_tool_steps` of 3 | `MAX_TOOL_STEPS` sized for multi-item orders |
# | speech only with cloud keys | an offline pipeline you can measure |
#
# **Next:** [7 · Supabase](07_supabase.ipynb)
