# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 2 · The broken agent
#
# Before fixing anything, run the agent as it was first written and watch it fail. The legacy
# module (`concierge/lab/legacy/agent.py`) is kept exactly for this: it imports and runs against
# livekit-agents 1.8, and each of its problems is one the original migration notes named.
# Some of those notes turn out to be wrong for 1.8 — you will see what really happens.
#
# ## What you will learn
# - the legacy agent's five failures (six causes: the first has two — the recap has a row for
#   each), each one happening in a cell;
# - what livekit-agents 1.8.9 *really* does in each case (no infinite loop; no warning for
#   `WorkerOptions`; a turn detector that cannot load offline);
# - where each one is fixed later in the lab.
#
# ## Prerequisites
# Notebook 1. No keys: the legacy agent runs on a stand-in model that speaks its tools.

# %%
from concierge.lab import setup_notebook, show_source, table

print(setup_notebook())

# %% [markdown]
# ## The legacy agent
#
# Its module docstring is a banner: broken on purpose, and how. Read it first.

# %%
import concierge.lab.legacy.agent as legacy

print(legacy.__doc__)

# %% [markdown]
# The tools, as they were written — note the defaults, the `Optional`s, the bare `list`, and
# `current_cart`, a module-level global:

# %%
show_source(legacy, start="@llm.function_tool(description=\"Quickly add", stop="@llm.function_tool(description=\"Get a restaurant")

# %% [markdown]
# ## Failure 1 · A tool schema OpenAI rejects
#
# livekit builds each tool's JSON schema from its signature. In strict mode (what OpenAI's
# function calling checks), every property needs a type — and so does every array's `items`.
# `additional_items: list | None` has no item type. We check the schema livekit would really send
# against OpenAI's documented rules (`concierge.doctor.strict_schema`, which cites them) and reproduce the
# 400 error OpenAI answers with. *Reproduced*, not received: we have no key here.

# %%
# NBVAL_CHECK_OUTPUT
from concierge.lab.legacy import demos

violations = demos.schema_violations()
table([(v.tool, v.rule, v.openai_error()) for v in violations], ["tool", "rule", "OpenAI's answer (reproduced)"])

# %% [markdown]
# One bad tool sinks the whole request: OpenAI refuses every turn, not just the turns that use it.
#
# What about the other tools, with `max_results: int = 5` and `profile_id: str | None = None`?
# The original notes said they fail too. **In 1.8.9 they do not**: livekit makes every field
# required and nullable (`"type": ["integer", "null"]`), which OpenAI accepts. The price is
# subtler — here is what a tool actually receives when a model fills those fields:

# %%
# NBVAL_CHECK_OUTPUT
table([(p.tool, p.arguments, p.received) for p in demos.argument_parsing()], ["tool", "model sends", "tool receives"])

# %% [markdown]
# The line on stderr above, `error parsing arguments for quick_add_to_cart_tool`, is livekit's
# own log of the last row: it refused the arguments before the tool ran.
#
# `null` gives the default — fine. But a model asked for an optional string often sends the
# **text** `"null"`, and the tool gets `'null'`, a string: `get_user_profile_tool` then looks up a
# profile called "null". And `"null"` for an `int` is refused. Notebook 3 fixes the schemas.
#
# ## Failure 2 · Two callers, one cart
#
# A worker process serves many rooms at once. Two customers order at the same time: user `demo`
# wants cheeseburgers, user `alex` a falafel bowl. The legacy tools write to the module's
# `current_cart`.

# %%
shared = await demos.shared_cart()
shared

# %% [markdown]
# Both customers' carts hold both orders: there is only one cart, so whoever checks out first
# orders the other's food too. The migrated agent (notebook 4) keeps one `UserState` per session:

# %%
# NBVAL_CHECK_OUTPUT
await demos.separate_carts()

# %% [markdown]
# ## Failure 3 · The tool-step cap (not an infinite loop)
#
# The old notes warned that a tool-calling model "could loop infinitely". **Not in 1.8.9**:
# `AgentSession` allows `max_tool_steps` rounds of tool calls per turn (default **3**), then asks
# the model once more with `tool_choice="none"` — "answer now, no tools". The real failures are
# quieter. A five-item order, with a model that adds one item per tool call:

# %%
runs = await demos.tool_step_cap()
demos.step_table(runs)

# %% [markdown]
# Read the rows:
# - **legacy, default cap**: four tools ran (the first call plus three more steps), then the
#   fifth call came with `tool_choice="none"`; one item never reached the cart.
# - **a model that ignores `tool_choice="none"`** (real models sometimes do): livekit drops its
#   tool call (the log line above: "received a tool call with tool_choice set to 'none',
#   ignoring") and the turn ends with **no reply at all** — the user hears silence.
#   Nothing hangs: the same five model calls.
# - **migrated**: an explicit `max_tool_steps` sized for the agent's flows completes the order.

# %%
# NBVAL_CHECK_OUTPUT
legacy_default, looping, migrated = runs
print("legacy cart lines:", legacy_default.cart_lines, "| model calls:", legacy_default.model_calls)
print("looping model reply:", looping.reply)
print("migrated cart lines:", migrated.cart_lines, "| max_tool_steps:", migrated.max_tool_steps)

# %% [markdown]
# ## Failure 4 · The old server pattern
#
# `cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))` still works in 1.8 — which is the
# problem: it hides what changed. `WorkerOptions` is now an alias of `ServerOptions`, and
# `cli.run_app` converts it into an `AgentServer` **without a warning**. The built-in CLI that runs
# it *does* warn, but only when deprecation warnings are shown (`-W default`); we run the legacy
# module's CLI in a subprocess to see it.

# %%
pattern = demos.worker_options()
table(
    [
        ("WorkerOptions is ServerOptions", pattern.alias),
        ("cli.run_app turns it into", pattern.converted_type),
        ("…keeping your entrypoint", pattern.entrypoint_kept),
        ("warnings during the conversion", len(pattern.warnings_on_conversion)),
        ("the CLI under -W default", pattern.cli_warning.split("DeprecationWarning: ")[-1]),
    ],
    ["what we checked", "what 1.8.9 does"],
)

# %% [markdown]
# The fix (notebook 5) is to say what you mean: `server = AgentServer()` and
# `@server.rtc_session(...)` in `concierge/server.py`, started with `python -m concierge start`
# (which runs livekit's own `python -m livekit.agents start concierge/server.py`; with the LiveKit
# CLI installed, `lk agent dev` while developing). Notebook 5 tells the whole story.
#
# ## Failure 5 · Turn detection: the recommended fix is itself deprecated
#
# The legacy session has no turn detection: a turn ends on silence alone, so a caller who pauses
# mid-order gets interrupted. The original notes recommended `MultilingualModel` from
# `livekit-plugins-turn-detector`. Try it, offline:

# %%
tries = await demos.multilingual_model()
table([(t.attempt, t.outcome) for t in tries], ["attempt", "what happened"])

# %% [markdown]
# Deprecated on import; refused outside a job; and inside a job, offline, it cannot find its
# weights (they come from a model hub at run time). The stderr line above is livekit's own log of
# that failure: `Could not find file "languages.json". Make sure you have downloaded the model`.
# Its advice, `python -m livekit.agents download-files`, fetches the weights from that hub — it
# needs the network this lab runs without, which is why the fix is a different detector. The 1.8 way, `inference.TurnDetector()`, runs
# an on-device model whose weights ship in a wheel, configured through
# `turn_handling=TurnHandlingOptions(turn_detection=...)` — notebook 6 runs it.
#
# ## The legacy agent under the doctor
#
# Everything above, found without running anything: `python -m concierge doctor` reads the
# module's syntax tree (with `--import`, the real schemas too; with `--lab`, this lab's own
# opinions, at info level). Severities mean one thing each: **error** fails at run time or is
# rejected by a provider, **warning** runs but behaves badly (1.8.9 deprecations included),
# **info** is a recommendation. You will use it on your own agents.

# %%
# NBVAL_CHECK_OUTPUT
from concierge.doctor import examine

report = examine([legacy.__file__], import_modules=True, lab=True)
print(sorted(report.rules_found()))
print(report.to_text().splitlines()[-1])

# %% [markdown]
# The report groups findings by rule and says why and how to fix once per rule (this is the
# notebook rendering; the terminal prints the same, and `--format sarif` feeds GitHub code
# scanning):

# %%
from IPython.display import HTML

HTML(report._repr_html_())

# %% [markdown]
# ## The mechanical half, done for you: `doctor --fix`
#
# `python -m concierge doctor --fix --lab agent.py` rewrites, with libcst (comments and layout
# kept), only what provably behaves the same under 1.8.9: `WorkerOptions` becomes an
# `AgentServer` with `@server.rtc_session()` on the entrypoint, the deprecated endpointing keyword
# becomes `turn_handling=TurnHandlingOptions(...)`, and the session gets an explicit
# `max_tool_steps` (livekit's default, with a comment to size it). It prints the diff; `--write`
# applies it. The legacy file itself stays as it is — here is the diff it would apply:

# %%
# NBVAL_CHECK_OUTPUT
from pathlib import Path

from concierge.doctor.fix import fix_source, manual_steps

fixed = fix_source("concierge/lab/legacy/agent.py", Path(legacy.__file__).read_text(), lab=True)
print("fixed:", ", ".join(fixed.fixed))
print(fixed.diff())

# %% [markdown]
# The rewritten module still imports, and its server has the entrypoint registered:

# %%
# NBVAL_CHECK_OUTPUT
import types

rewritten = types.ModuleType("concierge.lab.legacy.agent_fixed")
rewritten.__package__ = "concierge.lab.legacy"
exec(compile(fixed.after, "agent_fixed.py", "exec"), rewritten.__dict__)
print(type(rewritten.server).__name__, "serving", rewritten.server._entrypoint_fnc.__name__)

# %% [markdown]
# What is left is what only a person can decide — typed userdata instead of globals, enum ids,
# a confirmation before checkout, a typed list, what "null" means, how to run the server. The
# rest of the lab does exactly that:

# %%
# NBVAL_CHECK_OUTPUT
print(manual_steps([fixed]))

# %% [markdown]
# ## Older still: an agent written for livekit-agents 0.x
#
# Most agents in the wild predate 1.0: a `VoicePipelineAgent`, tools on an `llm.FunctionContext`,
# the system prompt in a `ChatContext`. 1.0 removed all of it, so such a file does not even
# import. The lab ships a small one, `concierge/lab/legacy/agent_0x.py`:

# %%
# NBVAL_CHECK_OUTPUT
try:
    import concierge.lab.legacy.agent_0x  # noqa: F401
except ModuleNotFoundError as e:
    print("import fails under 1.8.9:", e)

# %% [markdown]
# The doctor reads it without importing it. Each removed API is an **error**, reported on every
# line that uses it, with the 1.x way in the message:

# %%
# NBVAL_CHECK_OUTPUT
from concierge.doctor import RULES

file_0x = Path(legacy.__file__).with_name("agent_0x.py")  # the lab's copy, wherever it is installed
report_0x = examine([file_0x])
for f in report_0x.findings:
    print(f"{f.line:3} {f.rule} {RULES[f.rule].name:22} {f.message[:60]}")

# %% [markdown]
# `doctor --fix` does the mechanical half: the tool class loses `FunctionContext`, each
# `@llm.ai_callable` becomes `@function_tool`, each `llm.TypeInfo` a pydantic `Field`; the
# `VoicePipelineAgent` becomes an `AgentSession` started with an `Agent(instructions=...,
# tools=...)` (the system prompt *is* the instructions); the event handler gets the 1.x event;
# the imports follow.

# %%
# NBVAL_CHECK_OUTPUT
fixed_0x = fix_source("concierge/lab/legacy/agent_0x.py", file_0x.read_text())
print("fixed:", ", ".join(fixed_0x.fixed))
print("still failing under 1.x:", fixed_0x.removed_left or "nothing")
print(fixed_0x.diff())

# %% [markdown]
# Now run the result against livekit-agents 1.8.9: it imports, its tools have strict schemas
# (the `choices` became an enum), and a real `AgentSession` calls them — here driven by the lab's
# scripted stand-in model (not an AI: it sends exactly the tool call we give it).

# %%
# NBVAL_CHECK_OUTPUT
from livekit.agents import Agent, AgentSession
from livekit.agents.llm import find_function_tools

from concierge.doctor.strict_schema import check_tool
from concierge.menu import default_catalog
from concierge.offline.llm import PlannedCall, ScriptedLLM

migrated = types.ModuleType("pizza_counter_migrated")
exec(compile(fixed_0x.after, "agent_0x_fixed.py", "exec"), migrated.__dict__)
tools = find_function_tools(migrated.PizzaTools())
for tool in tools:
    print(tool.info.name, "strict-schema problems:", check_tool(tool) or "none")

model = ScriptedLLM(default_catalog(), [PlannedCall("add_to_order", {"pizza": "diavola"})])
async with AgentSession(llm=model) as session:
    await session.start(Agent(instructions=migrated.PROMPT, tools=tools))
    result = await session.run(user_input="a diavola please")
for event in result.events:
    print(type(event).__name__, getattr(getattr(event, "item", None), "output", "") or "")

# %% [markdown]
# ## Recap — what broke, and where it is fixed
#
# | failure | what 1.8.9 really does | fixed in |
# |---|---|---|
# | bare `list` tool parameter | strict schema rejected by OpenAI (400) | 3 · Tool schemas |
# | defaults / `Optional` | accepted, but `"null"` arrives as text | 3 · Tool schemas |
# | global cart | two callers share one cart | 4 · Typed userdata |
# | no `max_tool_steps` | capped at 3; orders cut short, or silence | 6 · Voice pipeline |
# | `WorkerOptions` | converted silently; CLI deprecated | 5 · AgentServer |
# | no / deprecated turn detection | `MultilingualModel` cannot load offline | 6 · Voice pipeline |
# | a 0.x agent (`VoicePipelineAgent`, `FunctionContext`) | does not import | here: `doctor --fix` |
#
# **Next:** [3 · Tool schemas](03_tool_schemas.ipynb)
