"""The migration doctor: point it at any LiveKit agent module and it lists what to migrate.

    python -m concierge doctor my_agent.py src/agents/      # AST only: imports nothing
    python -m concierge doctor --import my_agent.py         # also audit each tool's real schema
    python -m concierge doctor --json my_agent.py           # for tools

Each finding says where (file:line), which rule, what is wrong, why it bites, and the fix (rules
in `concierge.doctor.rules`). By default nothing is imported: the doctor reads syntax trees, so
it is safe on code you do not trust and fast on big trees. `--import` loads each module and
builds every function tool's strict schema with the pinned livekit-agents, then checks it
against OpenAI's strict-mode rules (`concierge.doctor.strict_schema`). Exit code 1 when any finding is
an error, 0 otherwise.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import inspect
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

from .rules import RULES, Finding, check_source

SKIP_DIRS = {".venv", "venv", ".git", "__pycache__", "node_modules", ".tox", "build", "dist"}
COLOURS = {"error": "\033[31m", "warning": "\033[33m", "dim": "\033[2m", "reset": "\033[0m"}


@dataclass
class Report:
    """Everything the doctor found, renderable as text, colour, JSON, markdown or HTML."""

    findings: list[Finding] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, what went wrong)
    checked: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings) + len(self.problems)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def rules_found(self) -> set[str]:
        return {f.rule for f in self.findings}

    def to_json(self) -> str:
        return json.dumps(
            {
                "checked": self.checked,
                "findings": [
                    {
                        **asdict(f),
                        "severity": f.severity,
                        "name": RULES[f.rule].name,
                        "why": f.why,
                        "fix": f.fix,
                    }
                    for f in self.findings
                ],
                "problems": [{"path": p, "problem": m} for p, m in self.problems],
            },
            indent=2,
        )

    def to_text(self, colour: bool = False) -> str:
        def paint(text: str, key: str) -> str:
            return f"{COLOURS[key]}{text}{COLOURS['reset']}" if colour else text

        out = []
        for f in self.findings:
            rule = RULES[f.rule]
            out.append(
                f"{f.path}:{f.line}: {paint(rule.severity.upper(), rule.severity)} {f.rule} {rule.name}: {f.message}"
            )
            out.append(paint(f"    why: {rule.why}", "dim"))
            out.append(paint(f"    fix: {rule.fix}", "dim"))
        for path, problem in self.problems:
            out.append(f"{path}: {paint('NOT CHECKED', 'error')}: {problem}")
        warnings = len(self.findings) - sum(f.severity == "error" for f in self.findings)
        out.append(
            f"{len(self.checked)} file(s) checked: {self.errors} error(s), {warnings} warning(s)"
            + ("" if self.findings or self.problems else " — nothing to migrate.")
        )
        return "\n".join(out)

    def to_markdown(self) -> str:
        rows = ["| where | rule | severity | what | fix |", "|---|---|---|---|---|"]
        for f in self.findings:
            rows.append(
                f"| {f.path}:{f.line} | {f.rule} {RULES[f.rule].name} | {f.severity} | {f.message.replace('|', '/')} | {f.fix.replace('|', '/')} |"
            )
        rows += [f"| {p} | — | not checked | {m} | |" for p, m in self.problems]
        return "\n".join(rows)

    def _repr_html_(self) -> str:
        colour = {
            "error": "var(--jp-error-color1, #d32f2f)",
            "warning": "var(--jp-warn-color1, #f57c00)",
        }
        head = "".join(
            f"<th style='text-align:left'>{h}</th>"
            for h in ("where", "rule", "what", "why it bites", "fix")
        )
        body = "".join(
            "<tr>"
            f"<td style='text-align:left'>{html.escape(Path(f.path).name)}:{f.line}</td>"
            f"<td style='text-align:left;color:{colour[f.severity]}'>{f.rule} {RULES[f.rule].name}</td>"
            f"<td style='text-align:left'>{html.escape(f.message)}</td>"
            f"<td style='text-align:left'>{html.escape(f.why)}</td>"
            f"<td style='text-align:left'>{html.escape(f.fix)}</td></tr>"
            for f in self.findings
        )
        body += "".join(
            f"<tr><td style='text-align:left'>{html.escape(p)}</td><td colspan=4 style='text-align:left'>not checked: {html.escape(m)}</td></tr>"
            for p, m in self.problems
        )
        summary = html.escape(self.to_text().splitlines()[-1])
        return f"<p>{summary}</p><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        return self.to_text()


def python_files(paths: Iterable[str | Path]) -> Iterable[Path]:
    for p in map(Path, paths):
        if p.is_dir():
            for child in sorted(p.rglob("*.py")):
                if not SKIP_DIRS & set(child.parts):
                    yield child
        else:
            yield p


def examine(paths: Sequence[str | Path], *, import_modules: bool = False) -> Report:
    """Check every Python file under `paths`; never raises for a bad file."""
    report = Report()
    for path in python_files(paths):
        name = str(path)
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            report.problems.append((name, f"cannot read it ({type(e).__name__}: {e})"))
            continue
        try:
            report.findings += check_source(name, source)
        except SyntaxError as e:
            report.problems.append((name, f"syntax error at line {e.lineno}: {e.msg}"))
            continue
        report.checked.append(name)
        if import_modules:
            _audit_imported(path, report)
    return report


def _audit_imported(path: Path, report: Report) -> None:
    """Import `path` and check each function tool's strict schema as the pinned library builds it."""
    from livekit.agents import llm

    from .strict_schema import check_tool

    try:
        module = _import_path(path)
    except Exception as e:  # the user's module may fail to import for any reason
        report.problems.append((str(path), f"--import failed: {type(e).__name__}: {e}"))
        return
    tools = [v for v in vars(module).values() if isinstance(v, llm.FunctionTool)]
    for value in vars(module).values():
        if inspect.isclass(value) and value.__module__ == module.__name__:
            tools += [v for v in vars(value).values() if isinstance(v, llm.FunctionTool)]
    for tool in tools:
        try:
            line = inspect.getsourcelines(tool._func)[1]
        except (OSError, TypeError, AttributeError):
            line = 0
        for v in check_tool(tool):
            report.findings.append(Finding(str(path), line, "LK011", v.openai_error()))


def _import_path(path: Path) -> ModuleType:
    """Import a file as the module it is inside its package (so relative imports work)."""
    path = path.resolve()
    parts = [path.stem] if path.stem != "__init__" else []
    root = path.parent
    while (root / "__init__.py").exists():
        parts.insert(0, root.name)
        root = root.parent
    if parts and (path.parent / "__init__.py").exists():
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        return importlib.import_module(".".join(parts))
    spec = importlib.util.spec_from_file_location(f"_doctor_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError("not a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m concierge doctor", description=__doc__.splitlines()[0]
    )
    parser.add_argument("paths", nargs="+", help="agent files or directories")
    parser.add_argument(
        "--import",
        dest="import_modules",
        action="store_true",
        help="import modules and audit real tool schemas",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--markdown", action="store_true", help="a markdown table")
    args = parser.parse_args(argv)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"doctor: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    report = examine(args.paths, import_modules=args.import_modules)
    if args.json:
        print(report.to_json())
    elif args.markdown:
        print(report.to_markdown())
    else:
        print(report.to_text(colour=sys.stdout.isatty()))
    return report.exit_code
