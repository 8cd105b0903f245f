"""`doctor --fix`: each rewrite keeps comments, still parses and imports, makes its rule stop
firing, and configures livekit-agents 1.8.9 exactly as the deprecated spelling did (checked by
building both with the real library)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit.agents import AgentServer, WorkerOptions
from livekit.agents.types import NOT_GIVEN
from livekit.agents.voice.room_io import RoomOptions

from concierge.doctor import check_source, main
from concierge.doctor.fix import fix_source

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "doctor_fixtures" / "fix_legacy_agent.py"
LEGACY = ROOT / "concierge" / "lab" / "legacy" / "agent.py"


def load(path: Path, name: str, package: str | None = None) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    if package:
        module.__package__ = package
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, ModuleType, Any]:
    result = fix_source("agent.py", FIXTURE.read_text(), lab=True)
    path = tmp_path_factory.mktemp("fixed") / "fixed_agent.py"
    path.write_text(result.after)
    return load(FIXTURE, "_doctor_before"), load(path, "_doctor_after"), result


def comments(source: str) -> list[str]:
    return re.findall(r"#[^\n]*", source)


def test_fix_rewrites_every_mechanical_rule_and_keeps_comments(fixed) -> None:
    _, _, result = fixed
    assert result.fixed == ["LK001", "LK007", "LK008", "LK014", "LK022", "LK025"]
    assert set(comments(result.before)) <= set(comments(result.after))
    still = {f.rule for f in check_source("agent.py", result.after, lab=True)}
    assert still == {"LK012"}  # how to run the server is a person's choice
    assert [f.rule for f in result.left] == ["LK012"]
    assert "max_tool_steps=3,  # livekit's default, made explicit" in result.after
    assert fix_source("agent.py", result.after, lab=True).changed is False  # idempotent


async def test_the_fixed_session_is_configured_exactly_as_before(fixed) -> None:
    before, after, _ = fixed
    old, new = before.make_session(), after.make_session()
    assert new._opts.turn_handling == old._opts.turn_handling
    assert new._opts.max_tool_steps == old._opts.max_tool_steps == 3
    assert after.Concierge()._turn_handling == before.Concierge()._turn_handling


async def test_the_fixed_room_options_are_the_same(fixed) -> None:
    before, after, _ = fixed

    class Recorder:
        kwargs: dict[str, Any] = {}

        async def start(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    class Ctx:
        room = None

    resolved = []
    for module in (before, after):
        recorder = Recorder()
        await module.start(recorder, Ctx())
        kw = recorder.kwargs
        options = RoomOptions._ensure_options(
            kw.get("room_options", NOT_GIVEN),
            room_input_options=kw.get("room_input_options", NOT_GIVEN),
            room_output_options=kw.get("room_output_options", NOT_GIVEN),
        )
        resolved.append(
            (
                options.get_audio_input_options(),
                options.get_text_input_options() is None,
                options.get_video_input_options(),
                options.get_audio_output_options(),
                options.get_text_output_options(),
                options.close_on_disconnect,
                options.delete_room_on_close,
            )
        )
    assert resolved[0] == resolved[1]
    assert resolved[1][0].sample_rate == 16000 and resolved[1][4] is None


def test_the_fixed_server_is_what_worker_options_became(fixed) -> None:
    before, after, _ = fixed
    old = AgentServer.from_server_options(
        WorkerOptions(
            entrypoint_fnc=before.entrypoint, prewarm_fnc=before.prewarm, agent_name="concierge"
        )
    )
    new = after.server
    assert isinstance(new, AgentServer)
    assert new._entrypoint_fnc.__name__ == old._entrypoint_fnc.__name__ == "entrypoint"
    assert new._setup_fnc.__name__ == old._setup_fnc.__name__ == "prewarm"
    assert new._agent_name == old._agent_name == "concierge"


def test_diff_is_the_default_and_write_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = tmp_path / "agent.py"
    agent.write_text(FIXTURE.read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["--fix", "agent.py"]) == 0
    shown = capsys.readouterr()
    assert shown.out.startswith("--- a/agent.py\n+++ b/agent.py\n")  # stdout is the patch alone
    assert "+server = AgentServer(setup_fnc=prewarm)" in shown.out
    assert "What only a person can do:" in shown.err and "What only" not in shown.out
    assert agent.read_text() == FIXTURE.read_text()  # a diff only
    assert main(["--fix", "--write", "agent.py"]) == 0
    assert "fixed agent.py: LK001, LK008, LK014, LK022, LK025" in capsys.readouterr().err
    assert {f.rule for f in check_source("agent.py", agent.read_text())} == {"LK012"}
    assert main(["--write", "agent.py"]) == 2  # --write without --fix is a usage error


def test_unsafe_rewrites_are_left_for_a_person() -> None:
    """A value whose meaning depends on its run-time type is not rewritten; nor is an
    entrypoint whose prewarm function is defined after it."""
    source = (
        "from livekit.agents import AgentSession, WorkerOptions, cli\n"
        "def make(flag):\n"
        "    return AgentSession(allow_interruptions=flag, preemptive_generation=flag)\n"
        "async def entrypoint(ctx):\n"
        "    pass\n"
        "def prewarm(proc):\n"
        "    pass\n"
        "cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, prewarm_fnc=prewarm))\n"
        "class Detector(Base):  # not an Agent: its own turn_detection= is not livekit's\n"
        "    def __init__(self):\n"
        "        super().__init__(turn_detection='x', allow_interruptions=False)\n"
    )
    result = fix_source("agent.py", source)
    assert not result.changed
    assert sorted((f.line, f.rule) for f in result.left) == [
        (3, "LK008"),
        (8, "LK001"),
        (8, "LK012"),
    ]


def test_the_legacy_agent_fixed_still_imports_and_lists_the_rest(tmp_path: Path) -> None:
    result = fix_source(str(LEGACY), LEGACY.read_text(), lab=True)
    assert result.fixed == ["LK001", "LK007", "LK008"]
    path = tmp_path / "agent_fixed.py"
    path.write_text(result.after)
    module = load(path, "concierge.lab.legacy._agent_fixed", package="concierge.lab.legacy")
    assert isinstance(module.server, AgentServer)
    assert module.server._entrypoint_fnc is module.entrypoint
    left = {f.rule for f in result.left}
    assert {"LK001", "LK007", "LK008"}.isdisjoint(left)
    # typed userdata, enum ids, a confirmation, a typed list, "null": only a person can do those
    assert {"LK006", "LK005", "LK030", "LK004", "LK003", "LK010", "LK012"} <= left


def test_code_with_nothing_to_fix_comes_back_byte_for_byte() -> None:
    """libcst round-trips: on the package (bar the legacy agent) --fix changes nothing."""
    package = ROOT / "concierge"
    files = [p for p in package.rglob("*.py") if "legacy" not in p.parts]
    assert len(files) > 30
    for path in files:
        source = path.read_text()
        assert fix_source(str(path), source).after == source, path


_TURN_DETECTION = {"turn_detection": st.sampled_from(["vad", "manual", "stt", "realtime_llm"])}
_TURN_VALUES = {
    "min_endpointing_delay": st.floats(0.0, 3.0, allow_nan=False),
    "max_endpointing_delay": st.floats(3.0, 9.0, allow_nan=False),
    "allow_interruptions": st.booleans(),
    "min_interruption_duration": st.floats(0.0, 2.0, allow_nan=False),
    "min_interruption_words": st.integers(0, 5),
    "false_interruption_timeout": st.none() | st.floats(0.5, 4.0, allow_nan=False),
    "agent_false_interruption_timeout": st.none() | st.floats(0.5, 4.0, allow_nan=False),
    "resume_false_interruption": st.booleans(),
    "discard_audio_if_uninterruptible": st.booleans(),
    "preemptive_generation": st.booleans()
    | st.fixed_dictionaries(
        {"enabled": st.booleans()}, optional={"max_retries": st.integers(0, 5)}
    ),
}


# turn_detection is always given: without it each session builds its own default TurnDetector
# (slow, and two instances never compare equal)
@settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(kwargs=st.fixed_dictionaries(_TURN_DETECTION, optional=_TURN_VALUES))
async def test_any_deprecated_session_kwargs_fix_to_the_same_turn_handling(kwargs) -> None:
    """Whatever mix of deprecated keywords (and literal values) a session is built with, the
    rewritten `turn_handling=TurnHandlingOptions(...)` makes livekit 1.8.9 resolve the same options."""
    call = "AgentSession(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
    source = f"from livekit.agents import AgentSession\nsession = {call}\n"
    result = fix_source("agent.py", source)
    assert result.fixed == ["LK008"] and "turn_handling=TurnHandlingOptions(" in result.after
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    exec(compile(source, "before.py", "exec"), before)
    exec(compile(result.after, "after.py", "exec"), after)
    assert after["session"]._opts.turn_handling == before["session"]._opts.turn_handling
