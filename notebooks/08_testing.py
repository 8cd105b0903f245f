# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 8 · Testing the agent: `session.run`, `result.expect`, `mock_tools`
#
# A voice agent's bugs are rarely in one function: they are in *behaviour* — the wrong tool, the
# wrong arguments, an error swallowed, a reply that never comes. livekit-agents 1.8 ships a
# testing API that drives a real `AgentSession` turn by turn and lets you assert on every event.
# This notebook writes such tests, makes one fail on purpose, replaces a tool with a mock, and
# then runs the project's own test file — the same one CI runs.
#
# ## What you will learn
# - `await session.run(user_input=...)` and the events of a `RunResult`;
# - `result.expect.next_event().is_function_call(name=..., arguments={...})` and friends;
# - what a failing expectation looks like;
# - `mock_tools` to simulate a failure (the ordering system down at checkout);
# - where the LLM judge fits, and why it needs a real model.
#
# ## Prerequisites
# Notebooks 1–5. No keys: tests run on the offline stand-in model, which is deterministic —
# exactly what a test wants.

# %%
from concierge.lab import cart_table, setup_notebook, transcript

print(setup_notebook())

# %% [markdown]
# ## One turn, every event
#
# `session.run()` returns once the turn is over (tools run, reply produced). Its `events` are
# the turn in order. This is the order a test walks through.

# %%
from concierge.session import offline_session

async with offline_session() as session:
    result = await session.run(user_input="I'd like two classic cheeseburgers and a large coke")
transcript(result.events)

# %% [markdown]
# ## Asserting on the turn
#
# `result.expect` is a cursor over those events. `next_event()` moves it; `is_function_call`
# checks the tool name and a *subset* of the arguments; `no_more_events()` makes sure nothing
# unexpected followed. This is how `tests/test_agent_conversation.py` is written:

# %%
result.expect.next_event().is_function_call(
    name="add_to_cart", arguments={"item_id": "classic_cheeseburger", "quantity": 2}
)
result.expect.next_event().is_function_call(
    name="add_to_cart", arguments={"item_id": "coke", "size": "large"}
)
result.expect.next_event().is_function_call_output(is_error=False)
result.expect.next_event().is_function_call_output(is_error=False)
result.expect.next_event().is_message(role="assistant")
result.expect.no_more_events()
print("all expectations met")

# %% [markdown]
# ## A failing expectation
#
# A test is only worth something if it can fail. Expect the wrong size, and the testing API
# raises an `AssertionError` that says what it found instead. (This cell is tagged
# `raises-exception`: the error is the lesson.)

# %% tags=["raises-exception"]
result.expect[1].is_function_call(name="add_to_cart", arguments={"item_id": "coke", "size": "small"})

# %%
import sys

assert isinstance(sys.last_value, AssertionError), "the wrong expectation must fail"
print("failed as it should:", str(sys.last_value).splitlines()[0])

# %% [markdown]
# ## Bad input, asserted
#
# The lab promises that bad input gets a clear reply and loses nothing. As a test: a quantity
# of 500 must produce a tool **error** output (our `ToolError`), a reply, and an unchanged cart.

# %%
async with offline_session() as session:
    await session.run(user_input="two edamame")
    before = session.userdata.cart.to_dict()
    result = await session.run(user_input="500 large sprites")
    result.expect.next_event().is_function_call(name="add_to_cart", arguments={"quantity": 500})
    result.expect.next_event().is_function_call_output(is_error=True)
    reply = result.expect.next_event().is_message(role="assistant").event().item.text_content
    assert session.userdata.cart.to_dict() == before
print(reply)

# %% [markdown]
# ## `mock_tools`: the ordering system is down
#
# Some failures are hard to cause for real in a test. `mock_tools(Agent, {"tool": fn})`
# replaces a tool's *execution* for the duration of a `with` block; the model still sees the real
# schema. Here placing the order fails the way it would if the store timed out. (In 1.8.9 the
# mock receives its arguments by position, `ctx` first.)

# %%
from livekit.agents import ToolError, mock_tools

from concierge.agent import FoodConciergeAgent


def ordering_system_down(ctx):
    raise ToolError("The ordering system is not answering right now, so no order was placed.")


async with offline_session() as session:
    await session.run(user_input="two churros")
    await session.run(user_input="that's it")  # the agent reads the order back first
    with mock_tools(FoodConciergeAgent, {"place_order": ordering_system_down}):
        failed = await session.run(user_input="yes")
    failed.expect.next_event().is_function_call(name="place_order")
    failed.expect.next_event().is_function_call_output(is_error=True)
    cart_after_failure = session.userdata.cart.summary()
    retried = await session.run(user_input="yes please")  # the mock is gone: the real tool runs
    orders = session.userdata.orders
transcript(failed.events, user_input="yes")

# %%
# NBVAL_CHECK_OUTPUT
print("after the failure:", cart_after_failure)
print("orders after the retry:", len(orders), "of", orders[0].item_count, "items")

# %% [markdown]
# ## The judge needs a real model
#
# `result.expect[-1].is_message().judge(llm, intent="...")` asks an LLM whether a reply meets an
# intent — useful for free-form replies a real model writes differently each time. It sends a
# `check_intent` tool call with `tool_choice="required"`, so it needs a model that can judge;
# the stand-in cannot, and the lab does not pretend otherwise.

# %%
from concierge.providers import detect_mode, text_models
from concierge.menu import default_catalog

if detect_mode() == "offline":
    print("offline: the judge is skipped (set OPENAI_API_KEY to run it)")
else:
    async with offline_session(model=None) as session:
        result = await session.run(user_input="two classic cheeseburgers")
        judge_llm = text_models(default_catalog()).llm
        await result.expect[-1].is_message(role="assistant").judge(
            judge_llm, intent="confirms two classic cheeseburgers were added"
        )
        print("the judge agreed")

# %% [markdown]
# ## The same tests CI runs
#
# The project's conversation tests live in `tests/test_agent_conversation.py`. CI runs them
# (and every notebook, including this one) with `bash scripts/test.sh`. Running that file here:

# %%
import subprocess
from pathlib import Path

tests = Path("..") / "tests" / "test_agent_conversation.py"
proc = subprocess.run(
    [sys.executable, "-m", "pytest", str(tests), "-q", "-p", "no:cacheprovider", "--no-header", "--color=no"],
    capture_output=True, text=True, timeout=300,
)
summary = proc.stdout.strip().splitlines()[-1]
print(summary)
assert proc.returncode == 0, proc.stdout[-2000:]

# %% [markdown]
# ## Recap — what changed
#
# | before | after |
# |---|---|
# | try the agent by talking to it | `session.run()` drives real turns in a test |
# | "it seemed to work" | `result.expect` asserts each tool call, argument and output |
# | failures you wait for | `mock_tools` makes them happen on demand |
# | notebooks that drift | nbval runs every notebook in CI |
#
# **Next:** [9 · Live](09_live.ipynb) — launch the agent with widgets that show the cart.
