"""The doctor's report, rendered for a person (text, markdown, HTML) or a tool (JSON, SARIF).

Every human rendering has the same shape: a legend of the severities, then one section per rule
(why it matters and the fix said once, then every place it was found), then counts per file.
Markdown escapes what would break a table cell (`|` as `\\|`, which GitHub renders as `|`), so
`str | None` stays `str | None`. SARIF 2.1.0 is what GitHub code scanning reads.
"""

from __future__ import annotations

import html
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .rules import RULES, SEVERITIES, SEVERITY_MEANING, Finding, Severity

if TYPE_CHECKING:
    from .audit import Report

COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m", "dim": "\033[2m"}
RESET = "\033[0m"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def by_rule(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    groups: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.rule, f.path, f.line)):
        groups.setdefault(f.rule, []).append(f)
    return groups


def per_file(report: Report) -> list[tuple[str, Counter[Severity]]]:
    counts: dict[str, Counter[Severity]] = {}
    for f in report.findings:
        counts.setdefault(f.path, Counter())[f.severity] += 1
    return sorted(counts.items())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 or word == "info" else "s")


def counts_text(c: Counter[Severity]) -> str:
    return ", ".join(_plural(c[s], s) for s in SEVERITIES)


def summary(report: Report) -> str:
    c = Counter(f.severity for f in report.findings)
    failed = len(report.failed)
    skipped = f", {len(report.skipped)} not checked" if report.skipped else ""
    if failed:
        skipped += f" ({failed} could not be parsed or imported)"
    tail = (
        ""
        if report.findings or failed
        else " — nothing to migrate."
        if report.checked
        else " — nothing was checked."
    )
    return f"{_plural(len(report.checked), 'file')} checked{skipped}: {counts_text(c)}{tail}"


def to_text(report: Report, *, colour: bool = False) -> str:
    def paint(text: str, key: str) -> str:
        return f"{COLOURS[key]}{text}{RESET}" if colour else text

    out = []
    if report.findings:
        out.append(
            "Severity: " + "; ".join(f"{paint(s, s)} = {SEVERITY_MEANING[s]}" for s in SEVERITIES)
        )
        out.append("")
    for rule_id, found in by_rule(report.findings).items():
        rule = RULES[rule_id]
        out.append(
            f"{paint(rule.severity.upper(), rule.severity)} {rule_id} {rule.name} ({len(found)})"
        )
        out.append(paint(f"  why: {rule.why}", "dim"))
        out.append(
            paint(f"  fix: {rule.fix}", "dim")
            + ("  [--fix rewrites the usual shapes]" if rule.fixable else "")
        )
        out += [f"  {f.path}:{f.line}: {f.message}" for f in found]
        out.append("")
    if report.findings:
        out.append("Per file:")
        out += [f"  {path}: {counts_text(c)}" for path, c in per_file(report)]
    out += [f"{s.path}: not checked: {s.reason}" for s in report.skipped]
    out.append(summary(report))
    return "\n".join(out)


def _cell(text: str) -> str:
    """Text made safe for a GitHub markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    out = ["| severity | means |", "|---|---|"]
    out += [f"| {s} | {SEVERITY_MEANING[s]} |" for s in SEVERITIES]
    for rule_id, found in by_rule(report.findings).items():
        rule = RULES[rule_id]
        out += ["", f"### {rule_id} {rule.name} · {rule.severity} · {len(found)}", ""]
        out += [f"**Why:** {rule.why}", "", f"**Fix:** {rule.fix}", ""]
        out += ["| where | what |", "|---|---|"]
        out += [f"| `{_cell(f'{f.path}:{f.line}')}` | {_cell(f.message)} |" for f in found]
    if report.findings:
        out += ["", "| file | " + " | ".join(SEVERITIES) + " |", "|---|---:|---:|---:|"]
        out += [
            f"| `{_cell(path)}` | " + " | ".join(str(c[s]) for s in SEVERITIES) + " |"
            for path, c in per_file(report)
        ]
    if report.skipped:
        out += ["", "| not checked | why |", "|---|---|"]
        out += [f"| `{_cell(s.path)}` | {_cell(s.reason)} |" for s in report.skipped]
    out += ["", summary(report)]
    return "\n".join(out)


def to_html(report: Report) -> str:
    e = html.escape
    colour = {
        "error": "var(--jp-error-color1, #d32f2f)",
        "warning": "var(--jp-warn-color1, #f57c00)",
        "info": "var(--jp-info-color1, #0288d1)",
    }
    left = "style='text-align:left'"
    parts = [f"<p>{e(summary(report))}</p>"]
    if report.findings:
        parts.append(
            "<p>"
            + " · ".join(
                f"<b style='color:{colour[s]}'>{s}</b>: {e(SEVERITY_MEANING[s])}"
                for s in SEVERITIES
            )
            + "</p>"
        )
    for rule_id, found in by_rule(report.findings).items():
        rule = RULES[rule_id]
        rows = "".join(
            f"<tr><td {left}><code>{e(Path(f.path).name)}:{f.line}</code></td><td {left}>{e(f.message)}</td></tr>"
            for f in found
        )
        parts.append(
            f"<h4 style='color:{colour[rule.severity]}'>{rule_id} {e(rule.name)} · {rule.severity} · {len(found)}</h4>"
            f"<p><b>Why:</b> {e(rule.why)}<br><b>Fix:</b> {e(rule.fix)}</p>"
            f"<table><thead><tr><th {left}>where</th><th {left}>what</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if report.skipped:
        rows = "".join(
            f"<tr><td {left}>{e(s.path)}</td><td {left}>{e(s.reason)}</td></tr>"
            for s in report.skipped
        )
        parts.append(
            f"<table><thead><tr><th {left}>not checked</th><th {left}>why</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return "".join(parts)


def to_json(report: Report) -> str:
    return json.dumps(
        {
            "checked": report.checked,
            "findings": [
                {
                    **asdict(f),
                    "severity": f.severity,
                    "name": RULES[f.rule].name,
                    "why": f.why,
                    "fix": f.fix,
                }
                for f in report.findings
            ],
            "skipped": [asdict(s) for s in report.skipped],
        },
        indent=2,
    )


def _uri(path: str) -> str:
    p = Path(path)
    try:
        p = p.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return p.resolve().as_uri()
    return p.as_posix()


def to_sarif(report: Report) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run, every rule described, one result per finding."""
    ids = sorted(RULES)
    rules = [
        {
            "id": r.id,
            "name": r.name,
            "shortDescription": {"text": r.why},
            "fullDescription": {
                "text": f"{r.why} {('Source: ' + r.source) if r.source else ''}".strip()
            },
            "help": {"text": f"Fix: {r.fix}", "markdown": f"**Fix:** {r.fix}"},
            "defaultConfiguration": {"level": SARIF_LEVEL[r.severity]},
            "properties": {"tags": ["livekit", "lab-opinion" if r.lab else "migration"]},
        }
        for r in (RULES[i] for i in ids)
    ]
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": ids.index(f.rule),
            "level": SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message}. {f.fix}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.path)},
                        "region": {"startLine": max(f.line, 1), "startColumn": max(f.column, 1)},
                    }
                }
            ],
        }
        for f in report.findings
    ]
    notifications = [
        {"level": "note", "message": {"text": f"{s.path}: not checked: {s.reason}"}}
        for s in report.skipped
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "concierge-doctor", "rules": rules}},
                "invocations": [
                    {"executionSuccessful": True, "toolExecutionNotifications": notifications,
                     "workingDirectory": {"uri": Path(os.getcwd()).as_uri()}}
                ],
                "results": results,
            }
        ],
    }  # fmt: skip
