"""Measure the doctor on real agents from public repositories (a measurement, not a test).

    python scripts/doctor_realworld.py [--cache DIR] [--mirrors DIR] [--show]
    python scripts/doctor_realworld.py --samples DIR   # local 0.x files, measured the same way

The files are listed (repository, commit, path, sha256) in `doctor_realworld.json`; they are never
copied into this repository. Each is read from `--cache` (default: a folder in the temp dir), or
taken from a local git mirror (`--mirrors`, laid out `<owner>+<name>/repo`) with `git show`, or
downloaded from raw.githubusercontent.com at that commit, and checked against its sha256.

What it prints, for the 0.x files:
- recall: lines using an API livekit-agents 1.0 removed, found by this script's own grep list
  (written apart from the doctor's rules), that the doctor flags with LK031-LK041;
- precision: of the lines the doctor flags with those rules, how many the grep list also holds
  (the others are printed with `--show`, to be judged by hand);
- after `--fix`: how many results parse, keep every comment, contain no removed API (neither the
  doctor's rules nor the grep list find one), and use only names the installed livekit-agents
  1.8.9 has (every name imported from `livekit.*`, and every attribute read from one, resolved;
  plugins that are not installed are not judged);
and, for the 1.x files, how many removed-API findings there are (each would be a false positive).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import importlib.util
import io
import json
import re
import subprocess
import sys
import tempfile
import tokenize
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from concierge.doctor import check_source
from concierge.doctor.fix import fix_source

MANIFEST = Path(__file__).with_name("doctor_realworld.json")
REMOVED_RULES = {f"LK0{n}" for n in range(31, 42)}
EVENTS_0X = (
    "user_started_speaking|user_stopped_speaking|agent_started_speaking|agent_stopped_speaking|"
    "user_speech_committed|agent_speech_committed|agent_speech_interrupted|"
    "function_calls_collected|function_calls_finished"
)
AGENT_KWARGS_0X = (
    "fnc_ctx|chat_ctx|before_llm_cb|before_tts_cb|will_synthesize_assistant_reply|turn_detector|"
    "interrupt_speech_duration|interrupt_min_words|max_nested_fnc_calls|preemptive_synthesis|"
    "transcription|plotting|noise_cancellation|max_text_response_retries|fn_ctx"
)
#: The independent grep list: a line matching any of these uses an API 1.0 removed (read from
#: livekit-agents 0.12.20 and the v0 migration guide, not from the doctor's tables).
GREP = [
    re.compile(p)
    for p in (
        r"livekit\.agents\.(pipeline|multimodal|voice_assistant|transcription)\b",
        r"from\s+livekit\.agents\s+import\s+.*\b(pipeline|multimodal|voice_assistant)\b",
        r"^\s*(pipeline|multimodal|voice_assistant|transcription),?\s*$",
        r"\b(VoicePipelineAgent|MultimodalAgent)\b",
        r"\bVoiceAssistant\s*\(",
        r"\b(FunctionContext|ai_callable|TypeInfo|ai_functions|AgentCallContext|ChatManager)\b",
        r"\b(USE_DOCSTRING|ChatImage|ChatAudio)\b",
        r"ChatContext\(\s*\)\s*\.append\(|\.append\([^)]*\b(text|role)\s*=|ChatMessage\.create\(",
        r"ChatContext\(\s*messages\s*=",
        r"\.sessions\[|\._sessions\[|\.conversation\.item\.|\.response\.create\(",
        rf"""\.on\(\s*["']({EVENTS_0X})["']""",
        rf"^\s*({AGENT_KWARGS_0X})=(?!=)",
        r"\.start\(\s*ctx\.room\s*[,)]|\b(agent|assistant)\.say\(",
        r"\bWorker\(",
        r"\.(chat_ctx_copy|set_chat_ctx)\(",
    )
]


@dataclass
class Measured:
    entry: dict[str, str]
    truth: set[int]
    flagged: set[int]
    fixed: dict[str, bool] | None = None
    left: str = ""
    imports: str = ""
    v1_findings: int = 0


def fetch(entry: dict[str, str], cache: Path, mirrors: Path | None) -> bytes:
    """The file's bytes at the manifest's commit, verified by sha256."""
    local = cache / entry["repo"].replace("/", "+") / entry["commit"] / entry["path"]
    if not local.exists():
        data = None
        if mirrors is not None:
            git_dir = mirrors / entry["repo"].replace("/", "+") / "repo"
            shown = subprocess.run(
                ["git", "-C", str(git_dir), "show", f"{entry['commit']}:{entry['path']}"],
                capture_output=True,
            )
            data = shown.stdout if shown.returncode == 0 else None
        if data is None:
            url = f"https://raw.githubusercontent.com/{entry['repo']}/{entry['commit']}/{entry['path']}"
            with urllib.request.urlopen(url.replace(" ", "%20"), timeout=30) as r:
                data = r.read()
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
    data = local.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise SystemExit(f"{entry['repo']}:{entry['path']}: sha256 differs from the manifest")
    return data


EVENT = GREP[10]
APPEND_OPEN = re.compile(r"\.append\(\s*$")
MESSAGES = re.compile(r"^\s*messages\s*=\s*\[")
APPEND_KW = re.compile(r"^\s*(text|role)\s*=")


def code_only(source: str) -> list[str]:
    """The source's lines with comments and string literals blanked (tokenize), so a word in a
    log message or a comment is not an API use."""
    lines = [list(line) for line in source.splitlines()]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source.splitlines()
    for tok in tokens:
        if tok.type in (tokenize.COMMENT, tokenize.STRING):  # 3.11: an f-string is one STRING
            (r1, c1), (r2, c2) = tok.start, tok.end
            for r in range(r1, r2 + 1):
                row = lines[r - 1]
                lo = c1 if r == r1 else 0
                hi = c2 if r == r2 else len(row)
                row[lo:hi] = [" "] * (hi - lo)
    return ["".join(row) for row in lines]


KWARGS = GREP[11]
AGENT_0X = re.compile(r"\b(VoicePipelineAgent|MultimodalAgent|VoiceAssistant)\b")


def truth_lines(source: str) -> set[int]:
    raw, code = source.splitlines(), code_only(source)
    # `chat_ctx=` on a line of its own is a 0.x agent's keyword only where a 0.x agent is built
    # (`Agent(chat_ctx=...)` is 1.x); one in a comment or a string builds nothing
    built = any(AGENT_0X.search(line) for line in code)
    patterns = [p for p in GREP if p is not EVENT and (p is not KWARGS or built)]
    found = set()
    for n, line in enumerate(code, 1):
        if any(p.search(line) for p in patterns) or EVENT.search(raw[n - 1]):
            found.add(n)
        elif APPEND_OPEN.search(line) and any(APPEND_KW.search(x) for x in code[n : n + 3]):
            found.add(n)  # `ctx.append(` with `text=` / `role=` on the next lines
        elif MESSAGES.search(line) and n > 1 and code[n - 2].rstrip().endswith("ChatContext("):
            found.add(n)  # `ChatContext(` then `messages=[` on the next line
    return found


def comments(source: str) -> set[str]:
    return {c.strip() for c in re.findall(r"#[^\n]*", source)}


def unknown_names(source: str) -> list[str]:
    """Names read from `livekit.*` that the installed packages do not have."""
    tree = ast.parse(source)
    bound: dict[str, object] = {}
    missing: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("livekit"):
            module = _module(node.module or "", missing)
            for a in node.names:
                value = _member(module, node.module or "", a.name, missing)
                if value is not None:
                    bound[a.asname or a.name] = value
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("livekit"):
                    _module(a.name, missing)
                    bound[a.asname or a.name.split(".")[0]] = importlib.import_module("livekit")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = bound.get(node.value.id)
            if owner is not None and isinstance(owner, type(sys)) and not _has(owner, node.attr):
                missing.append(f"{node.value.id}.{node.attr}")
    return missing


class _Absent:  # a module that is not installed: nothing is judged
    pass


def _module(name: str, missing: list[str]) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as e:
            if name.startswith("livekit.plugins.") and e.name and e.name.count(".") <= 2:
                return _Absent()  # a plugin this environment does not install
            missing.append(name)
            return _Absent()


def _member(module: object, module_name: str, name: str, missing: list[str]) -> object | None:
    if isinstance(module, _Absent):
        return None
    if (
        module_name == "livekit.plugins"
        and importlib.util.find_spec(f"{module_name}.{name}") is None
    ):
        return None  # a plugin this environment does not install: not judged
    if _has(module, name):
        return getattr(module, name, None) or _module(f"{module_name}.{name}", missing)
    missing.append(f"{module_name}.{name}")
    return None


def _has(module: object, name: str) -> bool:
    if hasattr(module, name):
        return True
    try:
        importlib.import_module(f"{module.__name__}.{name}")  # type: ignore[attr-defined]
    except ImportError:
        return False
    return True


def import_result(after: str, where: Path) -> str:
    """ "yes" if the fixed module imports under the installed 1.8.9 (in a subprocess, without
    running `__main__`), "n/a: ..." if a package it imports is not installed here, else "no"."""
    where.write_text(after)
    done = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(where)!r}, run_name='fixed')"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=where.parent,
    )
    if done.returncode == 0:
        return "yes"
    last = (done.stderr.strip().splitlines() or ["?"])[-1]
    plugin = re.search(r"cannot import name '(\w+)' from 'livekit.plugins'", last)
    if plugin and importlib.util.find_spec(f"livekit.plugins.{plugin.group(1)}") is None:
        return f"n/a: plugin {plugin.group(1)} not installed here"
    if "attempted relative import" in last or (
        last.startswith("ModuleNotFoundError") and "livekit" not in last
    ):
        return "n/a: needs the rest of its repository (" + last.split(": ", 1)[-1][:40] + ")"
    return "no: " + last[:80]


def measure_fix(path: str, source: str, source_path: Path) -> tuple[dict[str, bool], str]:
    try:
        result = fix_source(path, source)
    except SyntaxError:
        return {"parses": False, "comments": False, "no_removed": False, "names": False}, "no parse"
    after = result.after
    parses = True
    try:
        compile(after, path, "exec")
    except SyntaxError:
        parses = False
    left_rules = sorted(
        {f.rule for f in check_source(path, after) if f.rule in REMOVED_RULES} if parses else set()
    )
    left_grep = sorted(truth_lines(after))
    missing = unknown_names(after) if parses else []
    lost = comments(source) - comments(after)
    imported = import_result(after, source_path) if parses and not missing else "no"
    checks = {
        "parses": parses,
        "comments": not lost,
        "no_removed": parses and not left_rules and not left_grep,
        "names": parses and not missing,
    }
    notes = [f"imports: {imported}"] if imported != "yes" else []
    if left_rules or left_grep:
        notes.append(f"left {','.join(left_rules)} lines {left_grep[:6]}")
    if missing:
        notes.append(f"unknown {sorted(set(missing))[:4]}")
    if lost:
        notes.append(f"{len(lost)} comment(s) lost")
    return checks, "; ".join(notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "doctor-realworld"
    )
    parser.add_argument("--mirrors", type=Path, default=None)
    parser.add_argument("--show", action="store_true", help="print every disagreement")
    parser.add_argument(
        "--samples", type=Path, default=None, help="measure the 0.x *.py files of this folder"
    )
    args = parser.parse_args()
    rows: list[Measured] = []
    unparsable: list[dict[str, str]] = []
    entries = (
        [
            {"repo": "local", "commit": "-", "path": str(p), "kind": "0.x"}
            for p in sorted(args.samples.glob("*.py"))
        ]
        if args.samples
        else json.loads(MANIFEST.read_text())
    )
    for entry in entries:
        source = (
            Path(entry["path"]).read_text()
            if entry["repo"] == "local"
            else fetch(entry, args.cache, args.mirrors).decode("utf-8")
        )
        name = f"{entry['repo']}/{entry['path']}"
        try:
            findings = check_source(name, source)
        except SyntaxError as e:  # the doctor reports it as a failure (exit 1), not as findings
            print(f"does not parse: {name} (line {e.lineno}); not in recall, not clean after --fix")
            unparsable.append(entry)
            continue
        flagged = {f.line for f in findings if f.rule in REMOVED_RULES}
        row = Measured(entry, truth_lines(source) if entry["kind"] == "0.x" else set(), flagged)
        if entry["kind"] == "0.x":
            scratch = (
                args.cache / "fixed" / entry["repo"].replace("/", "+") / Path(entry["path"]).name
            )
            scratch.parent.mkdir(parents=True, exist_ok=True)
            row.fixed, row.left = measure_fix(name, source, scratch)
            row.imports = (
                row.left.split("imports: ", 1)[-1].split(";")[0]
                if "imports: " in row.left
                else "yes"
            )
        else:
            row.v1_findings = len(findings)
        rows.append(row)
        if args.show:
            lines = source.splitlines()
            for n in sorted(row.truth - row.flagged):
                print(f"  missed   {name}:{n}: {lines[n - 1].strip()[:90]}")
            for n in sorted(row.flagged - row.truth):
                print(f"  not grep {name}:{n}: {lines[n - 1].strip()[:90]}")
    report(rows, unparsable)
    return 0


def report(rows: list[Measured], unparsable: list[dict[str, str]]) -> None:
    old = [r for r in rows if r.entry["kind"] == "0.x"]
    new = [r for r in rows if r.entry["kind"] == "1.x"]
    print("| repository | path | commit | removed-API lines | flagged | after --fix |")
    print("|---|---|---|---:|---:|---|")
    for r in old:
        fixed = r.fixed or {}
        verdict = (
            ("clean, imports" if r.imports == "yes" else f"clean ({r.imports})")
            if all(fixed.values())
            else "not clean: " + r.left
        )
        e = r.entry
        print(
            f"| {e['repo']} | `{e['path']}` | {e['commit'][:7]} | {len(r.truth)} | "
            f"{len(r.truth & r.flagged)} | {verdict} |"
        )
    truth = sum(len(r.truth) for r in old)
    hit = sum(len(r.truth & r.flagged) for r in old)
    flagged = sum(len(r.flagged) for r in old)
    for e in unparsable:
        print(f"| {e['repo']} | `{e['path']}` | {e['commit'][:7]} | – | – | does not parse |")
    n = len(old) + len(unparsable)
    print(f"\n0.x files: {n} ({len(unparsable)} do not parse: the doctor exits 1 and says so)")
    print(f"recall: {hit}/{truth} removed-API lines flagged = {hit / max(truth, 1):.1%}")
    print(
        f"agreement: {hit}/{flagged} flagged lines on the grep list = {hit / max(flagged, 1):.1%}"
    )
    for key in ("parses", "comments", "no_removed", "names"):
        k = sum(bool(r.fixed and r.fixed[key]) for r in old)
        print(f"after --fix, {key}: {k}/{n}")
    clean = sum(bool(r.fixed and all(r.fixed.values())) for r in old)
    print(f"after --fix, clean (all four): {clean}/{n} = {clean / max(n, 1):.1%}")
    judged = [
        r for r in old if r.fixed and all(r.fixed.values()) and not r.imports.startswith("n/a")
    ]
    ok = sum(r.imports == "yes" for r in judged)
    print(
        f"clean files whose every import is installed here: {len(judged)}; "
        f"of those, the fixed module really imports under 1.8.9: {ok}"
    )
    fp = sum(len(r.flagged) for r in new)
    total = sum(r.v1_findings for r in new)
    print(f"\n1.x files: {len(new)}; removed-API findings there (false positives): {fp}")
    print(
        f"all findings on 1.x files: {total}; precision on 1.x: {(total - fp) / max(total, 1):.1%}"
    )
    for r in new:
        e = r.entry
        print(f"  {e['repo']} `{e['path']}` {e['commit'][:7]}: {r.v1_findings} findings")


if __name__ == "__main__":
    sys.exit(main())
