"""`doctor --fix` on livekit-agents 0.x code: the result has no removed API left, keeps every
comment, is stable (fixing twice changes nothing), imports under 1.8.9, and its tools and
session behave as the 0.x code meant (checked by running them with the real library); what is not
mechanical is left whole, still reported, and the run says the file is not migrated."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit.agents import Agent, AgentSession
from livekit.agents.llm import find_function_tools
from livekit.agents.llm.utils import build_strict_openai_schema

from concierge.doctor import check_source, main
from concierge.doctor.fix import fix_source
from concierge.doctor.strict_schema import check_tool
from concierge.menu import default_catalog
from concierge.offline.llm import PlannedCall, ScriptedLLM

ROOT = Path(__file__).resolve().parent.parent
LAB_0X = ROOT / "concierge" / "lab" / "legacy" / "agent_0x.py"
REALTIME = ROOT / "tests" / "doctor_fixtures" / "fix_v0_realtime.py"
REMOVED = {f"LK0{n}" for n in range(31, 42)}


def comments(source: str) -> set[str]:
    return {c.strip() for c in re.findall(r"#[^\n]*", source)}


def load(source: str, tmp_path: Path, name: str) -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lab_fixed():
    return fix_source("agent_0x.py", LAB_0X.read_text())


def test_the_lab_0x_agent_is_fully_migrated(lab_fixed) -> None:
    before = {f.rule for f in check_source("agent_0x.py", LAB_0X.read_text())}
    assert before >= {"LK031", "LK032", "LK033", "LK034", "LK035", "LK036", "LK038"}
    assert lab_fixed.fixed == [
        "LK001",
        "LK031",
        "LK032",
        "LK033",
        "LK034",
        "LK035",
        "LK036",
        "LK038",
    ]
    assert not {f.rule for f in lab_fixed.left} & REMOVED and lab_fixed.removed_left == []
    assert comments(LAB_0X.read_text()) <= comments(lab_fixed.after)
    assert fix_source("agent_0x.py", lab_fixed.after).changed is False  # stable


async def test_the_migrated_tools_run_in_a_real_session(lab_fixed, tmp_path) -> None:
    fixed = load(lab_fixed.after, tmp_path, "_pizza_counter_fixed")
    tools = find_function_tools(fixed.PizzaTools())
    assert sorted(t.info.name for t in tools) == ["add_to_order", "search_menu"]
    assert all(check_tool(t) == [] for t in tools)  # strict-schema clean
    schema = build_strict_openai_schema(next(t for t in tools if t.info.name == "add_to_order"))
    pizza = schema["function"]["parameters"]["properties"]["pizza"]
    assert pizza["enum"] == list(fixed.MENU) and pizza["description"] == "The pizza to add"
    model = ScriptedLLM(default_catalog(), [PlannedCall("add_to_order", {"pizza": "diavola"})])
    async with AgentSession(llm=model) as session:
        await session.start(Agent(instructions=fixed.PROMPT, tools=tools))
        result = await session.run(user_input="a diavola please")
        result.expect.next_event().is_function_call(name="add_to_order")
        result.expect.next_event().is_function_call_output(
            output="Added a diavola; the order has 1 pizza(s)."
        )


def test_a_realtime_agent_is_migrated_with_its_greeting_and_nested_tools(tmp_path) -> None:
    result = fix_source("agent.py", REALTIME.read_text())
    after = result.after
    assert not {f.rule for f in check_source("agent.py", after)} & REMOVED
    assert comments(REALTIME.read_text()) <= comments(after)
    assert "instructions=" not in after.split("AgentSession(")[0].split("RealtimeModel(")[-1]
    assert "async def run_agent(" in after and "await run_agent(ctx, participant)" in after
    assert "@function_tool()\n    async def opening_hours" in after
    assert "session = AgentSession(llm=model)" in after
    assert (
        'instructions="You answer questions about the shop.",\n            tools=[opening_hours],'
        in after
    )
    assert 'await session.generate_reply(user_input="Say hello.")' in after
    assert (
        '@session.on("agent_state_changed")' in after and 'if ev.new_state != "speaking"' in after
    )
    load(after, tmp_path, "_realtime_fixed")  # imports under 1.8.9


def test_what_is_not_mechanical_is_left_whole_and_the_run_says_so(tmp_path, capsys) -> None:
    source = LAB_0X.read_text().replace(
        "        max_nested_fnc_calls=3,\n",
        "        max_nested_fnc_calls=3,\n        before_llm_cb=lambda agent, chat_ctx: None,\n",
    )
    agent = tmp_path / "agent.py"
    agent.write_text(source)
    assert main(["--fix", "--write", str(agent)]) == 1
    err = capsys.readouterr().err
    assert f"partly fixed {agent}" in err and "LK032 removed-agent-class" in err
    text = agent.read_text()
    assert "VoicePipelineAgent(" in text and "before_llm_cb=" in text  # untouched
    assert "@function_tool(" in text  # the tools, which are mechanical, are migrated
    assert {f.rule for f in check_source("agent.py", text)} & {"LK031", "LK032", "LK033"}


TURN_VALUES = {
    "min_endpointing_delay": st.floats(0.1, 2.0, allow_nan=False),
    "max_endpointing_delay": st.floats(2.5, 6.0, allow_nan=False),
    "allow_interruptions": st.booleans(),
    "interrupt_speech_duration": st.floats(0.1, 2.0, allow_nan=False),
    "interrupt_min_words": st.integers(0, 5),
    "max_nested_fnc_calls": st.integers(1, 6),
    "preemptive_synthesis": st.booleans(),
}
#: The 1.x keyword for each 0.x one (LiveKit's v0 migration guide), which 1.8.9 still accepts
#: deprecated and converts itself: the oracle the rewrite is compared with.
ORACLE = {
    "interrupt_speech_duration": "min_interruption_duration",
    "interrupt_min_words": "min_interruption_words",
    "max_nested_fnc_calls": "max_tool_steps",
    "preemptive_synthesis": "preemptive_generation",
    "turn_detector": "turn_detection",
}


# turn_detector is always given: without it each session builds its own default detector (slow,
# and two never compare equal)
@settings(max_examples=25, deadline=None, database=None)
@given(st.fixed_dictionaries({"turn_detector": st.just("vad")}, optional=TURN_VALUES))
async def test_the_rewritten_session_is_configured_as_livekit_converts_the_0x_values(
    values,
) -> None:
    kwargs = "".join(f"        {k}={v!r},\n" for k, v in values.items())
    source = (
        "from livekit.agents import JobContext\n"
        "from livekit.agents.pipeline import VoicePipelineAgent\n\n\n"
        "async def entrypoint(ctx: JobContext) -> None:\n"
        f"    agent = VoicePipelineAgent(\n        vad=None,\n{kwargs}    )\n"
        "    agent.start(ctx.room)\n"
    )
    after = fix_source("agent.py", source).after
    assert not {f.rule for f in check_source("agent.py", after)} & REMOVED
    call = after[after.index("AgentSession(") : after.index("\n    )\n") + 6]
    import livekit.agents as agents

    rewritten = eval(call, vars(agents))  # noqa: S307 - our own rewrite of our own input
    expected = AgentSession(vad=None, **{ORACLE.get(k, k): v for k, v in values.items()})
    assert rewritten._opts.turn_handling == expected._opts.turn_handling
    assert rewritten._opts.max_tool_steps == expected._opts.max_tool_steps
