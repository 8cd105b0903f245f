"""The migration doctor: point it at any LiveKit agent and it lists what to migrate.

    python -m concierge doctor my_agent.py src/           # read syntax trees: imports nothing
    python -m concierge doctor --import my_agent.py       # also check each tool's real schema
    python -m concierge doctor --lab my_agent.py          # add this lab's opinions (info level)
    python -m concierge doctor --fix my_agent.py          # show the mechanical migration as a diff
    python -m concierge doctor --fix --write my_agent.py  # ...and apply it
    python -m concierge doctor --format sarif src/ > doctor.sarif

By default nothing is imported, so it is safe on code you do not trust and fast on big trees;
`--import` loads each module and checks every function tool's strict schema as the pinned
livekit-agents builds it (`strict_schema`). Exit code: 1 when an error-level finding is shown
(`--fail-on warning` to fail on deprecations too) or a file could not be checked (it does not
parse, or `--import` failed: such a file is never "nothing to migrate"), 2 on a usage error or
when nothing could be checked, else 0. Files skipped by policy (not regular, too big, not
decodable) are listed but do not fail the run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from . import render
from .checks import check_script, check_source
from .files import MAX_BYTES, SKIP_DIRS, Skipped, candidate_files, read_source
from .rules import RULES, SEVERITIES, Finding, Severity, at_least


@dataclass
class Report:
    """Everything the doctor found; renders as text, markdown, HTML, JSON or SARIF."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def exit_code(self) -> int:
        return self.exit_code_for("error")

    def exit_code_for(self, fail_on: Severity) -> int:
        """1 when a finding at `fail_on` or above was found or a file failed to check, else 0."""
        found = any(at_least(f.severity, fail_on) for f in self.findings)
        return 1 if found or self.failed else 0

    @property
    def failed(self) -> list[Skipped]:
        """Files that should have been checked and could not be (no parse, failed import)."""
        return [s for s in self.skipped if s.failed]

    @property
    def problems(self) -> list[tuple[str, str]]:
        return [(s.path, s.reason) for s in self.skipped]

    def rules_found(self) -> set[str]:
        return {f.rule for f in self.findings}

    def at_least(self, minimum: Severity) -> Report:
        kept = [f for f in self.findings if at_least(f.severity, minimum)]
        return Report(kept, list(self.skipped), list(self.checked))

    def to_text(self, colour: bool = False) -> str:
        return render.to_text(self, colour=colour)

    def to_markdown(self) -> str:
        return render.to_markdown(self)

    def to_json(self) -> str:
        return render.to_json(self)

    def to_sarif(self) -> str:
        return json.dumps(render.to_sarif(self), indent=2)

    def _repr_html_(self) -> str:
        return render.to_html(self)

    def __repr__(self) -> str:
        return self.to_text()


def examine(
    paths: Sequence[str | Path],
    *,
    import_modules: bool = False,
    lab: bool = False,
    max_bytes: int = MAX_BYTES,
    skip_dirs: frozenset[str] = SKIP_DIRS,
) -> Report:
    """Check every Python file and launch script under `paths`; never raises for a bad file."""
    report = Report()
    for path in candidate_files(paths, skip_dirs=skip_dirs):
        source = read_source(path, max_bytes=max_bytes)
        if isinstance(source, Skipped):
            report.skipped.append(source)
            continue
        name = str(path)
        if path.suffix != ".py":
            report.findings += check_script(name, source)
            report.checked.append(name)
            continue
        try:
            report.findings += check_source(name, source, lab=lab)
        except (SyntaxError, ValueError) as e:  # ValueError: NUL bytes in the source
            line = getattr(e, "lineno", None)
            where = f" at line {line}" if line else ""
            reason = f"syntax error{where}: {getattr(e, 'msg', e)}"
            report.skipped.append(Skipped(name, reason, failed=True))
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
    except BaseException as e:  # the user's module may fail (or exit) on import for any reason
        if isinstance(e, KeyboardInterrupt):
            raise
        reason = f"--import failed: {type(e).__name__}: {e}"
        report.checked.remove(str(path))  # counted once: as a file that could not be checked
        report.skipped.append(Skipped(str(path), reason, failed=True))
        return
    tools = [v for v in vars(module).values() if isinstance(v, llm.FunctionTool)]
    for value in vars(module).values():
        if inspect.isclass(value) and value.__module__ == module.__name__:
            # a method tool is checked as livekit builds it for an agent: bound, without `self`
            tools += [
                v.__get__(object(), value)
                for v in vars(value).values()
                if isinstance(v, llm.FunctionTool)
            ]
    for tool in tools:
        try:
            line = inspect.getsourcelines(tool._func)[1]
        except (OSError, TypeError, AttributeError):
            line = 1
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m concierge doctor",
        description="Find (and fix) legacy livekit-agents patterns; judged against livekit-agents 1.8.9.",
    )
    parser.add_argument("paths", nargs="+", help="agent files or directories")
    parser.add_argument(
        "--import",
        dest="import_modules",
        action="store_true",
        help="import modules and check real tool schemas",
    )
    parser.add_argument(
        "--lab", action="store_true", help="also apply this lab's opinions (info level)"
    )
    parser.add_argument(
        "--min-severity", choices=SEVERITIES, default="info", help="hide findings below this level"
    )
    parser.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        default="error",
        help="exit 1 when a finding at this level or above is shown (default: error)",
    )
    parser.add_argument(
        "--format", choices=("text", "json", "markdown", "html", "sarif"), default="text"
    )
    parser.add_argument(
        "--json", dest="format", action="store_const", const="json", help="same as --format json"
    )
    parser.add_argument(
        "--markdown",
        dest="format",
        action="store_const",
        const="markdown",
        help="same as --format markdown",
    )
    parser.add_argument(
        "--fix", action="store_true", help="rewrite what is mechanical (libcst); shows a diff"
    )
    parser.add_argument(
        "--write", action="store_true", help="with --fix: apply the rewrite to the files"
    )
    parser.add_argument(
        "--diff", action="store_true", help="with --fix: show a unified diff (the default)"
    )
    parser.add_argument(
        "--max-bytes", type=int, default=MAX_BYTES, help="skip files larger than this"
    )
    parser.add_argument(
        "--all-dirs", action="store_true", help="do not skip .venv, node_modules, build, ..."
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"doctor: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.write and not args.fix:
        print("doctor: --write applies --fix; pass both", file=sys.stderr)
        return 2
    skip_dirs = frozenset() if args.all_dirs else SKIP_DIRS
    if args.fix:
        from .fix import fix_main

        return fix_main(
            args.paths,
            write=args.write,
            lab=args.lab,
            max_bytes=args.max_bytes,
            skip_dirs=skip_dirs,
        )
    report = examine(
        args.paths,
        import_modules=args.import_modules,
        lab=args.lab,
        max_bytes=args.max_bytes,
        skip_dirs=skip_dirs,
    ).at_least(args.min_severity)
    rendered = {
        "json": report.to_json,
        "markdown": report.to_markdown,
        "html": report._repr_html_,
        "sarif": report.to_sarif,
    }
    print(
        rendered[args.format]()
        if args.format in rendered
        else report.to_text(colour=sys.stdout.isatty())
    )
    if report.skipped and not report.checked:  # a pass would tell CI that code was audited
        print("doctor: none of the given files could be checked (see above)", file=sys.stderr)
        return 2
    return report.exit_code_for(args.fail_on)


__all__ = ["RULES", "Report", "examine", "main"]
