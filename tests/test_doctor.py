"""The migration doctor's rules: each one fires exactly where its fixture says, and nowhere else;
every rule has a fixture and names a replacement; the legacy agent shows every rule it should and
the migrated agent none; test files are judged as tests; severities gate the exit code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from concierge.doctor import RULES, check_source, examine, main
from concierge.doctor.checks import check_script

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "doctor_fixtures"
LEGACY = ROOT / "concierge" / "lab" / "legacy" / "agent.py"
MIGRATED = [
    ROOT / "concierge" / name
    for name in ("agent.py", "server.py", "tools.py", "state.py", "session.py", "providers.py")
]
EXPECT = re.compile(r"# expect: ((?:LK\d{3}\s*)+)")


def expected(text: str) -> set[tuple[int, str]]:
    return {
        (number, rule)
        for number, line in enumerate(text.splitlines(), 1)
        if (m := EXPECT.search(line))
        for rule in m.group(1).split()
    }


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if p.name.startswith("lk"))


@pytest.mark.parametrize("fixture", fixture_files(), ids=lambda p: p.stem)
def test_each_rule_fires_exactly_where_its_fixture_says(fixture: Path) -> None:
    text = fixture.read_text()
    # read as an agent module (fixtures live under tests/, which the doctor judges as tests)
    name = f"agent/{fixture.name}"
    found = (
        check_script(name, text) if fixture.suffix != ".py" else check_source(name, text, lab=True)
    )
    assert {(f.line, f.rule) for f in found} == expected(text)


def test_every_rule_has_a_fixture_and_names_a_replacement() -> None:
    covered = {rule for p in fixture_files() for _, rule in expected(p.read_text())}
    assert set(RULES) - covered == {"LK011"}  # strict-schema needs --import: tested below
    for rule in RULES.values():
        assert rule.why.endswith(".") and "`" in rule.fix, rule.id
        if "deprecated" in rule.why:
            assert rule.source, f"{rule.id} must say where 1.8.9 deprecates it"


def test_the_lab_rules_are_info_level_and_opt_in() -> None:
    lab = {r.id for r in RULES.values() if r.lab}
    assert lab == {"LK002", "LK005", "LK007", "LK009", "LK010", "LK030"}
    assert all(RULES[r].severity == "info" for r in lab)
    source = (FIXTURES / "lk002_tool_param_default.py").read_text()
    assert check_source("agent/x.py", source) == []  # not without --lab


@pytest.fixture(scope="module")
def legacy_report():
    return examine([LEGACY], import_modules=True, lab=True)


def test_the_legacy_agent_shows_every_rule_it_should(legacy_report) -> None:
    assert legacy_report.rules_found() == {
        "LK001", "LK002", "LK003", "LK004", "LK005", "LK006", "LK007", "LK008", "LK010",
        "LK011", "LK012", "LK030",
    }  # fmt: skip
    assert legacy_report.exit_code == 1  # the bare list: OpenAI rejects it


def line_of(text: str, path: Path = LEGACY) -> int:
    """The last line holding `text` (the module docstring quotes some of the code)."""
    lines = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert lines, f"{text!r} not in {path}"
    return lines[-1]


@pytest.mark.parametrize(
    ("rule", "marker"),
    [
        ("LK001", "cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))"),
        ("LK002", "async def find_food_item_tool(query: str, max_results: int = 5)"),
        ("LK003", "async def get_user_profile_tool(profile_id: str | None = None)"),
        ("LK004", "additional_items: list | None = None"),
        ("LK005", "item_name: str,"),
        ("LK006", "global current_user_id"),
        ("LK006", "orders.append(order)"),
        ("LK008", "session = AgentSession(**legacy_models(), min_endpointing_delay=0.5)"),
        ("LK011", '@llm.function_tool(description="Quickly add an item'),
        ("LK012", "cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))"),
    ],
)
def test_findings_point_at_the_right_line(legacy_report, rule: str, marker: str) -> None:
    lines = {f.line for f in legacy_report.findings if f.rule == rule}
    assert line_of(marker) in lines, f"{rule} not reported at {marker!r}: {sorted(lines)}"


def test_the_migrated_agent_reports_nothing() -> None:
    report = examine(MIGRATED, import_modules=True, lab=True)
    assert report.findings == [] and report.skipped == []
    assert report.exit_code == 0


def test_test_files_are_judged_as_tests(tmp_path: Path) -> None:
    """A test may define a throwaway tool with a default or a module-level list: not an agent's
    bug. Deprecations still count: the test would log them too."""
    source = (
        "from livekit.agents import AgentSession, function_tool\n"
        "calls = []\n"
        "@function_tool\n"
        "async def fake(items: list, note: str | None = None) -> str:\n"
        "    calls.append(items)\n"
        "    return ''\n"
        "def make():\n"
        "    return AgentSession(min_endpointing_delay=0.1)\n"
    )
    for name in ("tests/test_agent.py", "agent_test.py", "pkg/test/helpers.py", "conftest.py"):
        assert [f.rule for f in check_source(name, source, lab=True)] == ["LK008"], name
    rules = {f.rule for f in check_source("agent.py", source, lab=True)}
    assert {"LK002", "LK003", "LK004", "LK006", "LK007", "LK008"} <= rules


def test_min_severity_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    agent = tmp_path / "agent.py"
    agent.write_text((FIXTURES / "lk004_untyped_parameter.py").read_text())
    assert main([str(agent)]) == 1  # an error-level finding
    capsys.readouterr()
    deprecated = tmp_path / "old.py"
    deprecated.write_text((FIXTURES / "lk012_builtin_cli.py").read_text())
    assert main([str(deprecated)]) == 0  # warnings do not fail
    assert "LK012" in capsys.readouterr().out
    assert main(["--fail-on", "warning", str(deprecated)]) == 1  # unless asked to
    capsys.readouterr()
    assert main(["--min-severity", "error", str(deprecated)]) == 0
    out = capsys.readouterr().out
    assert "LK012" not in out and "nothing to migrate" in out
    lab = tmp_path / "lab.py"
    lab.write_text((FIXTURES / "lk030_unconfirmed_irreversible_tool.py").read_text())
    assert main(["--lab", "--min-severity", "warning", str(lab)]) == 0
    assert "LK030" not in capsys.readouterr().out
    assert main(["--lab", str(lab)]) == 0
    assert "LK030" in capsys.readouterr().out


def test_no_false_alarms_on_livekit_example_patterns() -> None:
    """Patterns from LiveKit's own examples that are right: enum ids built in Field(), a
    "null" Literal with a default, a tool mapping "null" itself, a session with userdata, a
    shutdown callback, read-only module tables, names a person says."""
    source = (
        "import logging\n"
        "from typing import Annotated, Literal\n"
        "from pydantic import Field\n"
        "from livekit.agents import AgentServer, AgentSession, JobContext, RunContext, function_tool\n"
        "logger = logging.getLogger('x')\n"
        "ids = {'a', 'b'}\n"
        "MENU = {'a': 1}\n"
        "server = AgentServer()\n"
        "@function_tool\n"
        "async def order(ctx: RunContext, item_id: Annotated[str, Field(json_schema_extra={'enum': list(ids)})],\n"
        "                first_name: str, size: Literal['S', 'L', 'null'] | None = 'null') -> str:\n"
        "    logger.info('ordered %s', MENU.get(item_id))\n"
        "    return 'ok'\n"
        "@function_tool\n"
        "async def note(text: str | None) -> str:\n"
        "    if text and text.lower() in ('null', 'none'):\n"
        "        text = None\n"
        "    return text or ''\n"
        "@server.rtc_session()\n"
        "async def entry(ctx: JobContext) -> None:\n"
        "    session = AgentSession(userdata={'cart': []}, max_tool_steps=3)\n"
        "    ctx.add_shutdown_callback(lambda: None)\n"
        "    await session.start(agent=None, room=ctx.room)\n"
    )
    assert check_source("agent.py", source, lab=True) == []


def test_code_handed_the_job_context_is_not_an_entrypoint() -> None:
    """frontdesk's ui_view.py: a view whose __init__ takes the JobContext keeps no session."""
    source = (
        "from livekit.agents import JobContext\n"
        "state = {}\n"
        "class UIView:\n"
        "    def __init__(self, ctx: JobContext) -> None:\n"
        "        state['ctx'] = ctx\n"
        "async def on_simulation_end(ctx: JobContext) -> None:\n"
        "    state.clear()\n"
    )
    assert check_source("ui_view.py", source, lab=True) == []


def test_plain_text_when_piped() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "concierge", "doctor", str(LEGACY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "\033[" not in proc.stdout and "LK004 untyped-parameter" in proc.stdout


def test_missing_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["/no/such/agent.py"]) == 2
    assert "no such file" in capsys.readouterr().err
