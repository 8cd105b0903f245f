"""The doctor's renderings: grouped by rule with a legend, why/fix said once per rule, counts per
file; markdown and HTML that render exactly what was found; SARIF 2.1.0 that code scanning reads."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from markdown_it import MarkdownIt

from concierge.doctor import RULES, examine, main
from concierge.doctor.rules import SEVERITY_MEANING

ROOT = Path(__file__).resolve().parent.parent
LEGACY = ROOT / "concierge" / "lab" / "legacy" / "agent.py"


@pytest.fixture(scope="module")
def report():
    return examine([LEGACY], lab=True)


def test_text_is_grouped_by_rule_with_a_legend_and_why_fix_once(report) -> None:
    text = report.to_text()
    assert text.startswith("Severity: error = ")
    for meaning in SEVERITY_MEANING.values():
        assert meaning in text
    for rule in report.rules_found():
        assert text.count(f"  why: {RULES[rule].why}") == 1
        assert text.count(f"  fix: {RULES[rule].fix}") == 1
    n_lk006 = sum(f.rule == "LK006" for f in report.findings)
    assert n_lk006 > 1 and f"LK006 global-session-state ({n_lk006})" in text
    # one line per finding, four per rule (title, why, fix, blank), legend, per-file counts, total
    assert len(text.splitlines()) == len(report.findings) + 4 * len(report.rules_found()) + 5
    assert f"Per file:\n  {LEGACY}: 2 errors" not in text  # LK011 needs --import
    assert f"  {LEGACY}: 1 error, " in text
    assert text.splitlines()[-1].startswith("1 file checked: 1 error, ")


def test_markdown_renders_exactly(report) -> None:
    md = report.to_markdown()
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "str / None" not in md and "str / None" not in html
    assert "<code>get_user_profile_tool(profile_id: str | None)</code>" in html
    cells = [f.message for f in report.findings if "|" in f.message]
    assert cells, "the legacy agent has `str | None` parameters"
    for rule in report.rules_found():
        assert md.count(f"**Why:** {RULES[rule].why}") == 1
    assert html.count("<table>") == 1 + len(report.rules_found()) + 1  # legend, rules, files


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.tags: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)
        if tag == "td":
            self._in, self.cells = True, [*self.cells, ""]

    def handle_endtag(self, tag: str) -> None:
        self._in = self._in and tag != "td"

    def handle_data(self, data: str) -> None:
        if self._in:
            self.cells[-1] += data


def test_html_escapes_and_keeps_every_finding(report) -> None:
    html = report._repr_html_()
    parser = _Cells()
    parser.feed(html)
    messages = [c for c in parser.cells if not c.startswith(LEGACY.name)]
    assert sorted(messages) == sorted(f.message for f in report.findings)
    assert parser.tags.count("h4") == len(report.rules_found())
    assert "<script" not in examine([], lab=True)._repr_html_()


def test_html_escapes_hostile_text(tmp_path: Path) -> None:
    agent = tmp_path / "agent.py"
    agent.write_text(
        "from livekit.agents import function_tool\n"
        "@function_tool\n"
        "async def f(x: 'list[<script>]' | list) -> str:\n"
        "    return ''\n"
    )
    html = examine([agent])._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


#: What GitHub code scanning needs from a SARIF 2.1.0 log (from the OASIS SARIF 2.1.0 schema:
#: sarifLog, run, tool.driver, reportingDescriptor, result, location, physicalLocation, region).
SARIF_ESSENTIALS = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string", "format": "uri"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "rules"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id", "shortDescription", "defaultConfiguration"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "shortDescription": {"type": "object", "required": ["text"]},
                                                "help": {"type": "object", "required": ["text"]},
                                                "defaultConfiguration": {
                                                    "type": "object",
                                                    "properties": {"level": {"enum": ["none", "note", "warning", "error"]}},
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["ruleId", "message", "locations", "level"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {"type": "object", "required": ["text"]},
                                "locations": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["physicalLocation"],
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation", "region"],
                                                "properties": {
                                                    "artifactLocation": {"type": "object", "required": ["uri"]},
                                                    "region": {
                                                        "type": "object",
                                                        "required": ["startLine"],
                                                        "properties": {
                                                            "startLine": {"type": "integer", "minimum": 1},
                                                            "startColumn": {"type": "integer", "minimum": 1},
                                                        },
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}  # fmt: skip


def test_sarif_is_valid_2_1_0(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["--lab", "--format", "sarif", str(LEGACY)]) == 1
    log = json.loads(capsys.readouterr().out)
    jsonschema.validate(log, SARIF_ESSENTIALS)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == "concierge/lab/legacy/agent.py"  # relative to the checkout, as GitHub wants
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["LK004"] == "error" and levels["LK006"] == "warning" and levels["LK030"] == "note"


def test_every_format_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    for fmt, start in (
        ("markdown", "| severity | means |"),
        ("html", "<p>1 file checked"),
        ("text", "Severity:"),
    ):
        assert main(["--format", fmt, str(LEGACY)]) == 1
        assert capsys.readouterr().out.startswith(start), fmt


def test_json_lists_findings_and_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", str(LEGACY)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {f["rule"] for f in data["findings"]} >= {"LK001", "LK004", "LK006"}
    assert all(f["why"] and f["fix"] and f["severity"] for f in data["findings"])
    assert data["skipped"] == []


def test_pre_commit_hook_definition() -> None:
    import yaml

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    ids = {h["id"]: h for h in hooks}
    assert ids["concierge-doctor"]["entry"] == "python -m concierge doctor"
    assert ids["concierge-doctor"]["language"] == "python"
    assert ids["concierge-doctor"]["types_or"] == ["python", "dockerfile", "shell", "yaml"]
