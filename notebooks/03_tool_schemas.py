# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 3 · Tool schemas: no defaults, `Literal[..., "null"]`, enums, `ToolError`
#
# A function tool is a contract with the model, and the contract is the JSON schema livekit
# builds from your Python signature. Notebook 2 showed the legacy contract failing: a bare `list`
# that OpenAI rejects, `Optional`s that deliver the text `"null"`, free-text names the model can
# invent. Here you write the contract so the model can only say things your code understands.
#
# ## What you will learn
# - how each legacy parameter becomes a migrated one, schema next to schema;
# - `Literal[..., "null"]` for optional choices, and why the `"null"` is spelled out;
# - ids constrained by an enum built from the catalog — and why the tool still checks them;
# - `ToolError`: refusing bad input with a sentence the model can act on;
# - why a voice agent reads the order back and waits for a yes, and how the tools enforce it;
# - a correction ("make that one") as one safe tool call instead of a second order;
# - the doctor confirming the migrated tools are clean.
#
# ## Prerequisites
# Notebooks 1–2.

# %%
from concierge.lab import setup_notebook, show_source, side_by_side, table, transcript

print(setup_notebook())

# %% [markdown]
# ## The contract, before and after
#
# The legacy `quick_add_to_cart_tool` next to the migrated `add_to_cart`, exactly as livekit's
# `build_strict_openai_schema` sends them (the migrated `item_id` enum is cut to five ids here;
# the real one lists all 34).

# %%
# NBVAL_CHECK_OUTPUT
from concierge.lab.legacy import agent as legacy
from concierge.menu import default_catalog
from concierge.doctor.strict_schema import strict_parameters
from concierge.agent import FoodConciergeAgent

catalog = default_catalog()
tools = {t.info.name: t for t in FoodConciergeAgent(catalog).tools}
before = strict_parameters(legacy.quick_add_to_cart_tool)
after = strict_parameters(tools["add_to_cart"])
shown = {**after, "properties": {**after["properties"], "item_id": {**after["properties"]["item_id"], "enum": after["properties"]["item_id"]["enum"][:5] + ["…"]}}}
side_by_side("legacy: quick_add_to_cart_tool", before, "migrated: add_to_cart", shown)

# %% [markdown]
# Parameter by parameter:
#
# | legacy | migrated | why |
# |---|---|---|
# | `item_name: str` (free text) | `item_id` with an **enum** of catalog ids | the model can only name things that exist |
# | `quantity: int = 1` | `quantity: int`, required, 1–20 checked in the tool | no hidden default the model never sees |
# | `restaurant_name: str \| None = None` | gone: the item id implies it | less to get wrong |
# | `additional_items: list \| None` | gone: one call per item | no untyped array |
# | (no size) | `size: Literal["small", "medium", "large", "null"]` | sizes are a closed set; `"null"` means none |
# | | `notes: str` (empty string for none) | a plain required string |
#
# The migrated signature — read the annotations. Tools that take a menu id are built by a small
# factory each (the ids are data, from the store); the others are plain methods of the agent:

# %%
from concierge import tools as tools_module

show_source(tools_module.add_to_cart_tool)

# %% [markdown]
# ## Why `"null"` is in the `Literal`
#
# Asked for an optional value, models often send the *string* `"null"`. With `str | None`
# livekit passes that through as text (notebook 2 showed `profile_id='null'`). Putting `"null"` in
# the `Literal` makes it a legal, named choice, and the tool maps it to `None` itself. livekit's
# own parser shows the difference:

# %%
# NBVAL_CHECK_OUTPUT
import pydantic
from livekit.agents.llm.utils import validated_arguments


def parse(arguments: dict) -> str:
    try:
        return repr(validated_arguments(tools["add_to_cart"], arguments))
    except pydantic.ValidationError as e:
        return "refused: " + e.errors()[0]["msg"]


sent = [
    {"item_id": "coke", "quantity": 1, "size": "null", "notes": ""},
    {"item_id": "coke", "quantity": 1, "size": "huge", "notes": ""},
    {"item_id": "cheeseburger_deluxe", "quantity": 3, "size": "null", "notes": ""},
    {"item_id": "coke", "quantity": True, "size": "null", "notes": ""},
]
table([(repr(a), parse(a)) for a in sent], ["model sends", "livekit's validation gives the tool"])

# %% [markdown]
# Four lessons in four rows. `"null"` arrives as the *named choice* `"null"`, which the tool
# maps to `None` — no ambiguity. A `Literal` is enforced: `"huge"` is refused before the tool
# runs, with the allowed values in the message, which livekit sends back to the model as a tool
# error so it can correct itself. The third row passes validation although
# `cheeseburger_deluxe` is not in the enum: see below. And `quantity` is a `StrictInt`: with a
# plain `int`, pydantic would turn `true` into 1 and order a coke nobody asked for.
#
# ## Enums from the catalog — and why the tool checks ids anyway
#
# The `item_id` enum is built from the catalog when the tools are built, so it always matches
# the menu (add an item to `concierge/data/menu.toml` and it appears in the schema):

# %%
# NBVAL_CHECK_OUTPUT
enum = after["properties"]["item_id"]["enum"]
print(len(enum), "ids in the enum;", len(catalog.items), "items in the catalog; equal:", enum == catalog.item_ids)

# %% [markdown]
# But, as the third row above showed, an enum given through `json_schema_extra` is **schema
# only**: pydantic does not enforce it. A model that ignores the schema (or one without strict
# mode) can still send an id that does not exist. `ScriptedLLM` is a stand-in that sends exactly the calls we script — even invalid
# ones — so we can watch the tool defend itself with `ToolError`:

# %%
from concierge.offline.llm import PlannedCall, ScriptedLLM
from concierge.session import offline_session

bad_calls = [
    PlannedCall("add_to_cart", {"item_id": "cheeseburger_deluxe", "quantity": 1, "size": "null", "notes": ""}),
    PlannedCall("add_to_cart", {"item_id": "coke", "quantity": 500, "size": "large", "notes": ""}),
    PlannedCall("add_to_cart", {"item_id": "coke", "quantity": 2, "size": "null", "notes": ""}),
]
async with offline_session(model=ScriptedLLM(catalog, bad_calls)) as session:
    result = await session.run(user_input="(scripted)")
    cart_after = session.userdata.cart.summary()
transcript(result.events)

# %% [markdown]
# Three refusals, each a `ToolError` whose message says what to do next ("Did you mean
# classic_cheeseburger?", "at most 20", "which size?"). The model sees them as tool outputs marked
# as errors and can recover; the user hears a plain sentence; and the cart is untouched. Each
# output ends with a `(result: …)` line — a code from `concierge.replies` that a program (a test,
# the offline stand-in) reads instead of guessing from the wording:

# %%
# NBVAL_CHECK_OUTPUT
print(cart_after)
print([e.item.is_error for e in result.events if e.type == "function_call_output"])

# %% [markdown]
# A `ToolError` is the *only* exception whose message reaches the model. Any other exception
# becomes livekit's generic "An internal error occurred" — useless for recovery — which is why
# every refusal in `concierge.tools` is a `ToolError`.
#
# ## Confirm before placing the order; correct it in one call
#
# On a phone or at a drive-thru the customer cannot see the cart. Speech recognition mishears,
# people change their minds mid-order, and "great, thanks, that's it" is a closing remark, not a
# request to pay. So counters read the order back and wait for a yes. The migrated agent does it
# in two tools: `review_order` reads back the items and total; `place_order` works only after the
# customer heard that read-back, the cart has not changed since, and their latest words are an
# explicit yes. The *tools* check this, so no model — the stand-in or GPT — can skip it:

# %%
show_source(tools_module.OrderTools._check_confirmed)

# %% [markdown]
# And a change of mind is one call to a tool made for it — `set_quantity`, `change_size`,
# `remove_quantity` — not a second `add_to_cart` that orders the dish twice. A whole order, with a
# correction, a read-back, a closing remark and a yes:

# %%
turns = [
    "two margherita pizzas large",
    "actually, make that one margherita pizza",
    "that's it",
    "great, thanks",
    "yes please",
]
steps = []
async with offline_session() as session:
    for text in turns:
        result = await session.run(user_input=text)
        calls = [e.item.name for e in result.events if e.type == "function_call"]
        steps.append((text, ", ".join(calls) or "(none)", session.userdata.cart.summary(), len(session.userdata.orders)))
        if text.startswith("actually"):
            correction = result
transcript(correction.events, user_input=turns[1])

# %%
# NBVAL_CHECK_OUTPUT
table(steps, ["customer says", "tool calls", "cart after", "orders placed"])

# %% [markdown]
# The correction was one `set_quantity` call; "that's it" only read the order back; "great,
# thanks" placed nothing; only the yes did. A model that tries to place the order in the same
# turn as the read-back — before the customer could answer — is refused by the tool:

# %%
# NBVAL_CHECK_OUTPUT
hasty = ScriptedLLM(catalog, [PlannedCall("review_order", {}), PlannedCall("place_order", {})])
hasty.one_tool_per_step = True
async with offline_session(model=hasty) as session:
    session.userdata.cart.add(catalog, "churros", 2)  # a cart from earlier turns
    result = await session.run(user_input="that's it, place it")
    outputs = [e.item.output.splitlines()[0] for e in result.events if e.type == "function_call_output"]
    print(*outputs, sep="\n")
    print("orders placed:", len(session.userdata.orders))

# %% [markdown]
# ## Every migrated tool passes the strict check; the doctor agrees

# %%
# NBVAL_CHECK_OUTPUT
from concierge.doctor.strict_schema import check_tool

table([(name, len(strict_parameters(t)["properties"]), check_tool(t) or "ok") for name, t in tools.items()], ["tool", "parameters", "strict check"])

# %%
# NBVAL_CHECK_OUTPUT
import concierge.agent
import concierge.server
from concierge.doctor import examine

# --import: the real schemas too; --lab: this lab's opinions as well (typed context, enum ids...)
migrated = [concierge.agent.__file__, concierge.server.__file__, tools_module.__file__]
report = examine(migrated, import_modules=True, lab=True)
print(report.to_text())

# %% [markdown]
# ## Recap — what changed
#
# | legacy | migrated |
# |---|---|
# | defaults leak into the schema as nullable fields | no defaults: every parameter required |
# | `str \| None` → the text `"null"` reaches the tool | `Literal[..., "null"]`, mapped to `None` in the tool |
# | free-text `item_name` | `item_id` enum built from the catalog, re-checked in the tool |
# | bare `list` → OpenAI 400 | one typed call per item |
# | errors returned as strings | `ToolError` with a sentence the model can act on |
# | `checkout` places the order at once | `review_order`, then `place_order` only on the customer's yes |
# | a change of mind = remove + add (or a second add) | `set_quantity`, `change_size`, `remove_quantity`: one call |
#
# **Next:** [4 · Typed userdata](04_typed_userdata.ipynb)
