# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 9 · Live: the agent with widgets that show the cart
#
# The finale. You launch the migrated agent — the same `FoodConciergeAgent`, tools, `UserState`
# and store as in every notebook before — inside this notebook, with a panel that shows what it
# does while it does it: the cart, the conversation with each tool call folded under its turn,
# per-turn timings, and the session's status.
#
# ## What you will learn
# - how `concierge.live.launch()` starts a session in the kernel's event loop and shows the panel;
# - how the widgets observe the session's events and the cart's change hook, while the agent
#   knows nothing about any UI;
# - how to drive the same panel from code (`await live.say(...)`), and what `stop()` saves;
# - what changes with LiveKit credentials: a real room with your microphone.
#
# ## Prerequisites
# Notebooks 1–8. Offline by default; set `LIVEKIT_URL`, `LIVEKIT_API_KEY` and
# `LIVEKIT_API_SECRET` for the room mode.

# %%
from concierge.lab import cart_table, setup_notebook, table

print(setup_notebook())

# %% [markdown]
# ## How the panel is wired
#
# The agent stays UI-agnostic. A `SessionObserver` subscribes to what livekit already publishes
# — `conversation_item_added`, `function_tools_executed`, `metrics_collected`,
# `agent_state_changed` — and to `Cart.subscribe`, the cart's change hook:

# %%
from concierge.lab import show_source
from concierge.live.widgets import SessionObserver

show_source(SessionObserver.attach)

# %% [markdown]
# ## Launch
#
# `launch()` picks the mode (offline here unless the three LiveKit variables are set), starts
# the session and shows the panel. Type into the box and press Enter — or run the cells below.
# We give it its own store so that this notebook always starts from an empty cart.

# %%
from concierge import live
from concierge.store import open_store

store = await open_store("memory")
handle = await live.launch(store=store, user_id="demo")
print(f"mode: {handle.mode}; panel ready in {handle.launch_seconds:.1f} s")

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
table(handle.cart_view.rows + [("Total", "", "", "", handle.cart_view.total_text)], ["item", "restaurant", "size", "qty", "line total"])

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
cart_table(handle.cart)

# %% [markdown]
# This last panel stays live: type into its chat box and watch the cart. Run
# `await handle.stop()` when you are done (or just close the notebook).
#
# ## With LiveKit credentials: a real room
#
# Set `LIVEKIT_URL`, `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET` (in `.env`) and `launch()` runs the
# migrated `AgentServer` in this process, creates a room, shows LiveKit's in-notebook room with
# your microphone next to the same widgets, and binds them to the session when the job starts.
# It takes the steps of `livekit.agents.jupyter.run_app`, with one difference: `run_app` runs the
# worker through livekit's CLI on the notebook's main thread, so its cell never finishes (and the
# CLI's signal handlers refuse any other thread). `concierge.live.cloud` runs `server.run()` on a
# thread of its own instead, and sends what you type to the session on the job's thread.
# Nothing else changes: same agent, same tools, same store.

# %%
print("LiveKit credentials set:", live.cloud_configured(), "→ mode", live.resolve_mode("auto"))

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
# | "it works on my machine" | tests with `result.expect`, notebooks under nbval, a browser test of this panel |
#
# You have the agent. Point `python -m concierge doctor` at your own, and migrate it.
