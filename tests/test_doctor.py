"""The migration doctor: every rule on the legacy agent at the right line, nothing on the
migrated one, and no crash on files that are not agents or not Python."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from concierge.doctor import examine, main
from concierge.doctor.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
LEGACY = ROOT / "concierge" / "lab" / "legacy" / "agent.py"
MIGRATED = [
    ROOT / "concierge" / name for name in ("agent.py", "tools.py", "state.py", "session.py")
]


def line_of(text: str, path: Path = LEGACY) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip() == text or (len(text) > 30 and text in line):
            return number
    raise AssertionError(f"{text!r} not in {path}")


@pytest.fixture(scope="module")
def legacy_report():
    return examine([LEGACY], import_modules=True)


def test_every_rule_fires_on_the_legacy_agent(legacy_report) -> None:
    assert legacy_report.rules_found() == set(RULES)
    assert legacy_report.exit_code == 1


@pytest.mark.parametrize(
    ("rule", "marker"),
    [
        ("LK001", "cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))  # bug 4"),
        ("LK002", "async def find_food_item_tool(query: str, max_results: int = 5)"),
        ("LK003", "async def get_user_profile_tool(profile_id: str | None = None)"),
        ("LK004", "additional_items: list | None = None"),
        ("LK005", "async def get_restaurant_menu_tool(restaurant_name: str)"),
        ("LK006", "global current_user_id"),
        ("LK007", "session = AgentSession(**legacy_models(), min_endpointing_delay=0.5)"),
        ("LK008", "session = AgentSession(**legacy_models(), min_endpointing_delay=0.5)"),
        ("LK009", "session = AgentSession(**legacy_models(), min_endpointing_delay=0.5)"),
        ("LK011", '@llm.function_tool(description="Quickly add an item'),
    ],
)
def test_findings_point_at_the_right_line(legacy_report, rule: str, marker: str) -> None:
    lines = {f.line for f in legacy_report.findings if f.rule == rule}
    assert line_of(marker) in lines, f"{rule} not reported at {marker!r}: {sorted(lines)}"


def test_the_migrated_agent_is_clean() -> None:
    report = examine(MIGRATED, import_modules=True)
    assert report.findings == [] and report.problems == []
    assert report.exit_code == 0


def test_bad_files_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "syntax.py").write_text("def broken(:\n")
    (tmp_path / "binary.py").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "imports_missing.py").write_text("import does_not_exist_anywhere\n")
    report = examine([tmp_path], import_modules=True)
    problems = dict(report.problems)
    assert "syntax error at line 1" in problems[str(tmp_path / "syntax.py")]
    assert "cannot read it" in problems[str(tmp_path / "binary.py")]
    assert "--import failed: ModuleNotFoundError" in problems[str(tmp_path / "imports_missing.py")]
    assert str(tmp_path / "plain.py") in report.checked and report.findings == []


def test_output_formats(legacy_report, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", str(LEGACY)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {f["rule"] for f in data["findings"]} >= {"LK001", "LK004", "LK006"}
    assert all(f["why"] and f["fix"] for f in data["findings"])
    assert main([str(ROOT / "concierge" / "agent.py")]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
    html = legacy_report._repr_html_()
    assert "<table>" in html and "LK004" in html
    assert legacy_report.to_markdown().startswith("| where | rule |")


def test_plain_text_when_piped() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "concierge", "doctor", str(LEGACY)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "\033[" not in proc.stdout and "LK001 worker-options" in proc.stdout


def test_missing_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["/no/such/agent.py"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_no_false_alarms_on_the_drive_thru_patterns(tmp_path: Path) -> None:
    """Patterns from LiveKit's own examples that are right: enum lists built in Field(), a logger."""
    agent = tmp_path / "agent.py"
    agent.write_text(
        "import logging\n"
        "from typing import Annotated, Literal\n"
        "from pydantic import Field\n"
        "from livekit.agents import function_tool, RunContext\n"
        "logger = logging.getLogger('x')\n"
        "ids = {'a', 'b'}\n"
        "@function_tool\n"
        "async def order(ctx: RunContext, item_id: Annotated[str, Field(json_schema_extra={'enum': list(ids)})],\n"
        "                size: Literal['S', 'L', 'null'] | None) -> str:\n"
        "    logger.info('ordered')\n"
        "    return 'ok'\n"
    )
    assert examine([agent]).findings == []


def test_code_handed_the_job_context_is_not_an_entrypoint(tmp_path: Path) -> None:
    """frontdesk's ui_view.py: a view whose __init__ takes the JobContext needs no on_session_end."""
    view = tmp_path / "ui_view.py"
    view.write_text(
        "from livekit.agents import JobContext\n"
        "class UIView:\n"
        "    def __init__(self, ctx: JobContext) -> None:\n"
        "        self._ctx = ctx\n"
        "    async def push(self, ctx: JobContext) -> None:\n"
        "        pass\n"
        "async def on_simulation_end(ctx: JobContext) -> None:\n"
        "    pass\n"
    )
    assert examine([view]).findings == []
    entry = tmp_path / "agent.py"
    entry.write_text(
        "from livekit.agents import JobContext\n"
        "async def my_agent(ctx: JobContext) -> None:\n"
        "    await ctx.connect()\n"
    )
    assert [f.rule for f in examine([entry]).findings] == ["LK010"]
