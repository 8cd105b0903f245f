# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 4 · Typed userdata: `UserState` and `RunContext[UserState]`
#
# The legacy agent kept "the current user" and "the cart" in module-level globals. One process
# serves many rooms at once, so two callers shared one cart (notebook 2 showed the collision).
# livekit-agents gives every session a slot for its own state — `userdata` — and hands it to
# each tool through `RunContext`. Typing it (`AgentSession[UserState]`, `RunContext[UserState]`)
# lets your editor and type checker follow it too.
#
# ## What you will learn
# - what the migrated agent keeps per session, and how an async factory builds it;
# - how a tool reaches that state through `ctx.userdata`, and why `ctx` is not in the schema;
# - that concurrent sessions in one process stay apart, and that a cart outlives its session;
# - what happens to the cart when the store is down.
#
# ## Prerequisites
# Notebooks 1–3. Nothing to install, no keys.

# %%
from concierge.lab import cart_table, setup_notebook, show_source, table, turn

print(setup_notebook())

# %% [markdown]
# ## One session's state
#
# `UserState` is a plain dataclass: the store, the menu, who is ordering, their profile and
# their cart. Nothing about it is global.

# %%
# NBVAL_CHECK_OUTPUT
import dataclasses

from concierge.state import UserState, new_userdata

table([(f.name, str(f.type)) for f in dataclasses.fields(UserState)], ["field", "type"])

# %% [markdown]
# It is built by an **async factory**, `new_userdata`, because building it means reading the
# store (the menu, the profile, a saved cart) — I/O that belongs before the session starts, not
# inside the first tool call. This is the drive_thru example's pattern.

# %%
show_source(new_userdata)

# %% [markdown]
# ## How a tool reaches it
#
# Every tool takes `ctx: RunContext[UserState]` as its first parameter. livekit fills it in; the
# model never sees it. Here is `add_to_cart` — look for `ctx.userdata`:

# %%
from concierge import tools

show_source(tools.add_to_cart_tool, start="async def add_to_cart", stop="return add_to_cart")

# %% [markdown]
# The proof that `ctx` stays out of what the model sees: the schema livekit builds for the tool.

# %%
# NBVAL_CHECK_OUTPUT
from livekit.agents.llm.utils import build_strict_openai_schema

from concierge.menu import default_catalog

add_to_cart = next(t for t in tools.build_tools(default_catalog()) if t.info.name == "add_to_cart")
print(sorted(build_strict_openai_schema(add_to_cart)["function"]["parameters"]["properties"]))

# %% [markdown]
# ## Two users, one process, at the same time
#
# A worker runs many sessions in one event loop. Here two customers order concurrently,
# their turns interleaved by `asyncio.gather`, against one shared store. Each session has its
# own `UserState`, so each cart holds exactly what its owner asked for.

# %%
import asyncio

from concierge.session import offline_session
from concierge.store import open_store

store = await open_store("memory")


async def customer(user: str, orders: list[str]):
    async with offline_session(store=store, user_id=user) as session:
        for text in orders:
            await session.run(user_input=text)
            await asyncio.sleep(0)  # let the other customer's turn run in between
        return session.userdata.cart


dana, alex = await asyncio.gather(
    customer("demo", ["two classic cheeseburgers", "a large coke"]),
    customer("alex", ["a falafel bowl", "four edamame"]),
)

# %%
# NBVAL_CHECK_OUTPUT
cart_table(dana)

# %%
# NBVAL_CHECK_OUTPUT
cart_table(alex)

# %%
assert [ln.item_id for ln in dana.lines] == ["classic_cheeseburger", "coke"]
assert [ln.item_id for ln in alex.lines] == ["falafel_bowl", "edamame"]
print("no crosstalk: each cart holds only its owner's items")

# %% [markdown]
# ## The cart outlives the session
#
# State that must survive a session — or a worker — lives in the store, not in the process.
# When a session ends its cart is saved; a new session for the same user finds it as it was.

# %%
# NBVAL_CHECK_OUTPUT
async with offline_session(store=store, user_id="alex") as session:
    print("Alex's new session starts with:", session.userdata.cart.summary())

# %% [markdown]
# ## When the store is down
#
# Bad luck happens mid-order: the database goes away. The agent must not lose the cart, and the
# user must hear a plain sentence, not a stack trace. Here we really close the store under a
# running session, then keep ordering.

# %%
outage_store = await open_store("memory")
async with offline_session(store=outage_store, user_id="demo") as session:
    await session.run(user_input="two churros")
    await outage_store.close()  # the database goes away
    shown = await turn(session, "and a horchata, large")
    kept = session.userdata.cart
shown

# %%
# NBVAL_CHECK_OUTPUT
print("unsaved:", session.userdata.cart_unsaved)
cart_table(kept)

# %% [markdown]
# The reply says what happened; both lines are still in the session's cart, flagged unsaved so
# the next write (or the end of the session) tries again. Checkout is the one step that must not
# be repeated blindly — the store makes it idempotent per cart contents, which notebook 7 proves on a real
# Postgres.
#
# ## Recap — what changed
#
# | legacy | migrated |
# |---|---|
# | `current_user`, `cart` as module globals | `UserState` per session, built by `async new_userdata()` |
# | tools read globals | tools take `ctx: RunContext[UserState]` and use `ctx.userdata` |
# | two calls share one cart | concurrent sessions stay apart |
# | cart lost when the process ends | cart saved in the store, found again next session |
#
# **Next:** [5 · AgentServer](05_agent_server.ipynb) — the server that runs these sessions.
