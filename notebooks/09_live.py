# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 9 · Live: talk to the agent, and watch the cart fill
#
# The finale. You launch the migrated agent — the same `FoodConciergeAgent`, tools, `UserState`
# and store as in every notebook before — inside this notebook, with a panel that shows what it
# does while it does it: the cart, the conversation with each tool call as a chip under its turn,
# per-turn timings, and the session's status. Offline, with no keys and no server, you can
# **talk to it**: your browser's microphone in, its voice out.
#
# ## What you will learn
# - how `concierge.live.launch()` starts a session in the kernel's event loop and shows the panel;
# - how the widgets observe the session's events and the cart's change hook, while the agent
#   knows nothing about any UI;
# - how to drive the same panel from code (`await live.say(...)`), and what `stop()` saves;
# - how a spoken turn travels browser → kernel → agent → browser, and how barge-in stops playback;
# - how to read per-turn latency the 1.8.9 way (`ChatMessage.metrics`, not `metrics_collected`);
# - how the same panel joins a real LiveKit room (local server, or LiveKit Cloud) by default.
#
# ## Prerequisites
# Notebooks 1–8. No keys: room mode uses LiveKit's server on this machine where it can run;
# `LIVEKIT_URL`, `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET` point it at another server.

# %%
from concierge.lab import SNAPSHOT, cart_table, setup_notebook, table

print(setup_notebook())

# %% [markdown]
# ## How the panel is wired
#
# The agent stays UI-agnostic. A `SessionObserver` subscribes to what livekit already publishes
# — `conversation_item_added`, `function_tools_executed`, `user_input_transcribed`,
# `agent_state_changed`, `session_usage_updated` — and to `Cart.subscribe`, the cart's change hook.
# `launch()` hands it to the one session builder as a *view* (`start_session(..., views=[...])`):
# nothing is registered globally.
#
# Not on the list: `metrics_collected`. livekit-agents 1.8.9 deprecates it ("Use
# session_usage_updated for usage tracking and ChatMessage.metrics for per-turn latency"), and
# subscribing logs a warning. Per-turn latency now lives on the messages themselves.

# %%
from concierge.lab import show_source
from concierge.live.widgets import SessionObserver

show_source(SessionObserver.attach)

# %% [markdown]
# ## Launch
#
# `launch()` takes **room mode** by default wherever a LiveKit server is available — the one
# `LIVEKIT_URL` names, else LiveKit's own server on this machine (found, or built once with Go) —
# and the in-kernel session otherwise; the note under the panel says, in one sentence, which path
# it is on and why it fell back. Here we give it a store of its own, in this kernel's memory, so
# the notebook always starts from an empty cart. A worker process cannot open that store, so this
# panel runs the session in the kernel — which is also what lets CI run this notebook under nbval,
# where no browser page exists to join a room. Room mode is the last section.

# %%
from concierge import live
from concierge.store import open_store

store = await open_store("memory")
handle = await live.launch(store=store, user_id="demo")
print(f"mode: {handle.mode}; panel ready in {handle.launch_seconds:.1f} s")
print(handle.path.sentence)

# %% [markdown]
# ## A scripted order
#
# `handle.say()` sends a turn through the same path as the chat box — and as speech would after
# speech-to-text. Watch the cart above update as each `add_to_cart` runs.

# %%
print(await handle.say("two classic cheeseburgers and a large coke"))

# %%
print(await handle.say("and a tiramisu from Luigi's"))

# %% [markdown]
# A mistake, on purpose: the tool refuses, the transcript shows the error in red, the cart is
# untouched.

# %%
print(await handle.say("make that 500 large sprites"))

# %% [markdown]
# ## What the cart widget shows
#
# The widget's state, read back from Python (what a test checks without a browser), next to the
# cart itself:

# %%
# NBVAL_CHECK_OUTPUT
table(handle.cart_view.rows + [("Total", "", "", "", handle.cart_view.total_text)], ["item", "restaurant", "size", "qty", "line total"], caption="The cart widget's rows when this cell ran (a snapshot; the panel above stays current).")

# %%
# NBVAL_CHECK_OUTPUT
assert handle.cart_view.rows == [line.row for line in handle.cart.lines]  # this session's cart, row for row
print("widget total:", handle.cart_view.total_text, "| cart total:", f"${handle.cart.total:.2f}")
print("turns in the transcript:", len(handle.transcript.turns), "| tool errors shown:", sum(t.is_error for turn in handle.transcript.turns for t in turn.tools))

# %% [markdown]
# ## Stop, and come back
#
# `stop()` closes the session and saves the cart to the store — what `on_session_end` does for a
# room. Launching again (here, for the same user and store) finds the cart as it was, and
# replaces the first panel's session cleanly.

# %%
await handle.stop()
handle = await live.launch(store=store, user_id="demo")

# %%
# NBVAL_CHECK_OUTPUT
cart_table(handle.cart, caption=SNAPSHOT)

# %% [markdown]
# This last panel stays live: type into its chat box and watch the cart. Run
# `await handle.stop()` when you are done (or just close the notebook).
#
# ## Talk to it: your microphone, its voice
#
# Click **Talk** in the panel above (allow the microphone when the browser asks) and order out
# loud — "two classic cheeseburgers and a large coke". What runs where:
#
# | where | what |
# |---|---|
# | browser | `MicWidget` (an anywidget): microphone → 16 kHz → 100 ms int16 chunks, sent to the kernel; plays the agent's audio it receives |
# | between | a WebSocket from the page straight to the kernel's event loop on 127.0.0.1 (`concierge/live/audio_socket.py`); where the page cannot reach it, widget (comm) messages |
# | kernel | `BrowserMicInput`, a livekit `AudioInput` → Silero VAD → on-device end-of-turn model → menu-grammar recogniser → the agent and its tools → hibari voice → `BrowserSpeaker`, a livekit `AudioOutput` that streams to the browser |
#
# No LiveKit server, no network. Why a socket of its own, when widget messages already carry
# binary buffers? Each widget message crosses the Jupyter server, and the kernel answers each with
# "busy" and "idle" status messages that cross it again, ten times a second. On two cores
# `scripts/bench_live.py --voice` measured what the browser adds to a spoken turn (end of speech →
# first agent audio, p50): 48–75 ms over the socket, 75–106 ms over widget messages (set
# `CONCIERGE_VOICE_TRANSPORT=comm` to measure those yourself). The socket needs the page and the
# kernel on one machine; on JupyterHub or a hosted notebook the page falls back to widget
# messages by itself. Speak while the agent talks and livekit clears its audio output;
# `BrowserSpeaker.clear_buffer` tells the browser to stop playing — barge-in, as on a phone call.
#
# **Honest limits.** The offline recogniser only hears what a food order can contain (the menu's
# items, sizes, quantities, "remove …", "checkout", menu questions); the conversation shows what
# it heard, and the chat box is always there. The session runs on the kernel's event loop: while
# a cell blocks it (a long computation that never awaits), your audio queues (none is lost) and is
# heard when the cell finishes.
#
# Under test there is no browser and no microphone, so the next cell takes the same path from
# Python: the offline voice says an order, and the audio is fed, in real time, into the method the
# browser's microphone messages call (`MicWidget.receive_audio`).

# %%
turn = await handle.speak("three churros")
print("heard:", turn.user, "| spoken turn:", turn.spoken)
print("agent:", turn.reply)

# %%
# NBVAL_CHECK_OUTPUT
print("cart lines:", [(name, qty) for name, _r, _s, qty, _t in handle.cart_view.rows])

# %% [markdown]
# ## Where the time of a turn goes
#
# The metrics strip in the panel cuts each turn into stages from livekit's own timestamps, all on
# one clock and from one origin — the end of your speech (`stopped_speaking_at` on the user's
# `ChatMessage.metrics`) for a spoken turn, the moment you sent it for a typed one — up to the
# agent's first audio (`started_speaking_at` on the reply's metrics). Tool calls are bounded by the
# `created_at` of the call and of its output; TTS by `tts_node_ttfb`. The stages therefore add up
# to the whole, and the whole equals livekit's own `e2e_latency`:

# %%
from concierge import timeline

t = turn.timing
table(
    [(stage, f"{ms:,.0f} ms") for stage, ms in t.stages.items()]
    + [("whole turn (sum of stages)", f"{t.parts_ms:,.0f} ms"), ("livekit e2e_latency", f"{t.livekit_e2e_ms:,.0f} ms")],
    ["stage", "time"],
)

# %%
# NBVAL_CHECK_OUTPUT
for tr in handle.transcript.turns:
    if tr.timing is not None:
        assert min(tr.timing.stages.values()) >= 0
        assert abs(tr.timing.parts_ms - tr.timing.whole_ms) <= timeline.TOLERANCE_MS
print("every turn's stages add up to its whole, within", timeline.TOLERANCE_MS, "ms")

# %% [markdown]
# "speech-to-text" runs from the end of speech to the final transcript (the VAD's wait for
# silence included); "end of turn" is the rest of the end-of-turn decision; "model" is the stand-in
# LLM deciding on tools and writing the reply; "tools" the calls themselves; "TTS first audio" the
# voice's time to its first chunk. Notebook 6's `VoiceTurn.stages()` is this same cut
# (`concierge.timeline.turn_timing`). Usage (tokens, characters, seconds of audio) comes from
# `session_usage_updated`, shown under the strip.
#
# ## Room mode: the page joins the agent's LiveKit room
#
# Launched with no store of its own (the configured one, which a worker process opens too),
# `launch()` starts LiveKit's server on 127.0.0.1 and `python -m concierge start` beside it (once
# per kernel), dispatches the agent into a fresh room, and the panel's page joins that room as a
# participant with `livekit-client` (bundled into the widget, nothing from a CDN): your microphone
# goes up and the agent's voice comes down over WebRTC, and speaking over the agent stops it.
# Everything the panel shows then comes through the room — the cart (the agent's `concierge.cart`
# attribute), its state (`lk.agent.state`), transcripts (`lk.transcription`), tool calls
# (`concierge.tools`), each turn's stages (`concierge.turn`) — and typed turns go to the agent on
# `lk.chat`. With `LIVEKIT_URL`, `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET` set (in `.env`) the
# same path runs against that server, LiveKit Cloud for instance; nothing else changes. (The
# older `launch(mode="cloud")` runs the `AgentServer` inside this kernel with LiveKit's own room
# widget.) The README's "Room protocol" lists every channel.
#
#     handle = await live.launch(user_id="demo")   # room mode where a server is available
#
# Which path a launch without a store would take on this machine:

# %%
print("Without a store of its own, launch() here takes:", live.choose_path("auto").sentence)

# %% [markdown]
# ## Recap — the whole migration
#
# | legacy | migrated |
# |---|---|
# | `cli.run_app(WorkerOptions(...))` | `AgentServer` + `@server.rtc_session` |
# | tools with defaults, `Optional`, bare `list` | required parameters, `Literal[..., "null"]`, enums, `ToolError` |
# | global user and cart | `UserState` through `RunContext[UserState]` |
# | default cap of 3 tool steps | explicit `max_tool_steps` |
# | no turn detection | VAD + on-device turn detector via `turn_handling` |
# | nothing after the room closes | `on_session_end` saves the cart and reports |
# | `metrics_collected` (deprecated in 1.8.9) | `ChatMessage.metrics` per turn, `session_usage_updated` for usage |
# | voice only through a LiveKit server | offline voice in the notebook: a mic widget as `AudioInput`, the browser as `AudioOutput` |
# | "it works on my machine" | tests with `result.expect`, notebooks under nbval, a browser test of this panel |
#
# You have the agent. Point `python -m concierge doctor` at your own, and migrate it.
