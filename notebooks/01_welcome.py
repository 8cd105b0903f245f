# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 1 · Welcome to Concierge Lab
#
# In this lab you migrate a LiveKit **voice food-concierge agent** from the way it was first
# written (`cli.run_app(WorkerOptions(...))`, tools with defaults and `Optional` parameters,
# global state) to the way livekit-agents **1.8** wants it written. Every claim is shown by a cell
# that really runs against the pinned library — nothing is only asserted in prose.
#
# ## What you will learn
# - what runs offline in this lab, and what needs keys;
# - the menu the agent sells, and how the package `concierge` is laid out;
# - how to hold a first conversation with the migrated agent, in text, with no keys.
#
# ## Prerequisites
# - Python 3.11+, and the lab installed with `bash scripts/lab.sh` (it opened this notebook).
# - No API keys. No LiveKit server. Everything here runs on your laptop.

# %% [markdown]
# ## Setup check
#
# First, which versions are running, and which mode? The lab teaches the behaviour of exactly one
# line of livekit-agents (1.8.x), so the version matters: if this cell shows something else,
# re-run `bash scripts/lab.sh`.

# %%
from importlib.metadata import version

from concierge.lab import setup_notebook, table

status = setup_notebook()
print(status)
table(
    [(pkg, version(pkg)) for pkg in ("livekit-agents", "livekit-plugins-silero", "livekit-plugins-turn-detector")],
    ["package", "version"],
)

# %%
# NBVAL_CHECK_OUTPUT
assert version("livekit-agents").startswith("1.8."), "this lab teaches livekit-agents 1.8.x"
print("livekit-agents line:", ".".join(version("livekit-agents").split(".")[:2]))

# %% [markdown]
# ## What runs offline, and what needs keys
#
# The lab is **offline first**. Everything below runs with no keys; real providers switch on from
# environment variables (or a `.env` file — see `.env.example`), never by editing code.
#
# | part | offline (default) | with keys |
# |---|---|---|
# | language model | `StandInLLM`: a deterministic, menu-aware **stand-in** (not an AI model) | `OPENAI_API_KEY` → OpenAI |
# | speech | offline engines in `concierge.offline` | OpenAI / LiveKit Inference |
# | VAD, turn detection | Silero VAD and livekit's on-device end-of-turn model (they ship in their wheels) | same |
# | store | SQLite | `CONCIERGE_STORE=supabase` |
# | room | none: sessions run in-process | `LIVEKIT_URL` + keys |
#
# The stand-in is the one pretend part, and it is honest about it: it implements livekit's real
# `llm.LLM` interface and answers with **real tool calls**, which the real `AgentSession` parses,
# validates and executes. Everything around it — schemas, `RunContext`, `ToolError`,
# `max_tool_steps`, events — is the library's own.

# %%
from concierge.providers import detect_mode, text_models
from concierge.menu import default_catalog

catalog = default_catalog()
print("mode:", detect_mode())
print(text_models(catalog).describe())

# %% [markdown]
# ## The menu
#
# The agent sells from five restaurants. The menu lives in `concierge/data/menu.toml`, a file you
# can edit and review in a diff (it ships inside the package); `python -m concierge seed` loads it
# into the store.

# %%
# NBVAL_CHECK_OUTPUT
table(
    [(r.name, r.id, r.cuisine, len(catalog.items_at(r.id))) for r in catalog.restaurants.values()],
    ["restaurant", "id", "cuisine", "items"],
)

# %% [markdown]
# Items have **ids** (the tools use them), a price or a price per size, and dietary tags. Ids
# matter: later you will see that constraining a tool's `item_id` to this list is what stops a
# model from inventing a dish.

# %%
# NBVAL_CHECK_OUTPUT
table(
    [(i.name, i.id, i.price_label(), ", ".join(sorted(i.tags)) or "—") for i in catalog.items_at("burger_barn")],
    ["item", "id", "price", "tags"],
)

# %% [markdown]
# People do not say ids. The catalog's search forgives case, plurals, small typos and a
# restaurant named in the sentence — the agent's `find_food_item` tool uses it.

# %%
# NBVAL_CHECK_OUTPUT
queries = ["CHEESEBURGERS", "margarita pizza", "margherita from Luigi's", "sprit", "chips and guac"]
table([(q, catalog.search(q)[0].item.name) for q in queries], ["you say", "the catalog finds"])

# %% [markdown]
# ## The package
#
# Every notebook imports `concierge`; no product logic lives in a cell. The map:

# %%
import concierge.agent, concierge.cart, concierge.menu, concierge.providers, concierge.server, concierge.session, concierge.state, concierge.store, concierge.tools

modules = [concierge.menu, concierge.cart, concierge.store, concierge.state, concierge.tools, concierge.agent, concierge.providers, concierge.session, concierge.server]
table([(m.__name__, (m.__doc__ or "").strip().splitlines()[0]) for m in modules], ["module", "why it exists"])

# %% [markdown]
# ## A first conversation
#
# `offline_session()` starts a real `AgentSession[UserState]` running the migrated
# `FoodConciergeAgent`, text only, with a fresh in-memory store. `session.run(user_input=...)`
# is one user turn; its result holds every event of the turn: tool calls, tool outputs, replies.

# %%
from concierge.lab import cart_table, turn
from concierge.session import offline_session

async with offline_session() as session:
    shown = await turn(session, "I'd like two classic cheeseburgers and a large coke")
    cart = session.userdata.cart
shown

# %% [markdown]
# Two `add_to_cart` calls in one step, two outputs, one reply. The cart the tools filled:

# %%
# NBVAL_CHECK_OUTPUT
cart_table(cart)

# %% [markdown]
# ## Recap
#
# - Everything runs offline; keys switch real providers on, never code edits.
# - The offline model is a named **stand-in** driving the real livekit machinery.
# - The menu is data (`concierge/data/menu.toml`); tools will refer to it by id.
# - `offline_session()` is the one entry point you will use to talk to the agent in text.
#
# **Next:** [2 · The broken agent](02_broken_agent.ipynb) — run the agent as it was first
# written, and watch each of its failures happen.
