"""`doctor --fix`: the mechanical half of a migration, done with libcst so comments and layout stay.

Each rewrite is one whose result behaves exactly as the original under livekit-agents 1.8.9 (the
mapping is read from the library's own conversion code), and is skipped when that cannot be
shown from the source alone (a value whose type is unknown, an entrypoint defined after its
use...):

- LK001 `cli.run_app(WorkerOptions(entrypoint_fnc=f, ...))` → `server = AgentServer(...)` before
  `f`, `@server.rtc_session(...)` on `f`, `cli.run_app(server)` (as `AgentServer.from_server_options`);
- LK008 deprecated turn keyword arguments of `AgentSession` / `Agent` →
  `turn_handling=TurnHandlingOptions(...)` (as `voice.turn._migrate_turn_handling`);
- LK014 `start(room_input_options=RoomInputOptions(...), room_output_options=...)` →
  `room_options=room_io.RoomOptions(...)` (as `RoomOptions._create_from_legacy`);
- LK022 `WarmTransferTask(target_phone_number=)` → `sip_call_to=`; LK025 `connect(e2ee=)` →
  `encryption=`;
- LK007 a session in a module with tools gets `max_tool_steps=3` — livekit's default, so nothing
  changes — with a comment to size it.

The 0.x -> 1.x rewrites are `fix_v0`'s (run first, in the same pass over the file). What is
left (typed userdata, enum ids, confirmations, how to run the server...) is listed as what only a
person can do. `fix_source` is pure; `fix_main` prints a patch (notes on stderr) or writes each
file atomically (`files.write_atomic`).
"""

from __future__ import annotations

import ast
import builtins
import difflib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst import matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from .checks import check_source, is_tool
from .checks_v0 import imports
from .files import MAX_BYTES, SKIP_DIRS, Skipped, candidate_files, read_source, write_atomic
from .fix_v0 import V0Fixer
from .rules import AGENT_TURN_KWARGS, RULES, SESSION_TURN_KWARGS, Finding
from .syntax import (
    keyword_arg,
    keywords_of,
    last_of,
    make_call,
    name_of,
    replace_args,
)

SERVER_ARGS = {  # WorkerOptions field -> where AgentServer.from_server_options puts it
    "prewarm_fnc": ("server", "setup_fnc"), "agent_name": ("session", "agent_name"),
    "worker_type": ("session", "type"), "request_fnc": ("session", "on_request"),
    **{k: ("server", k) for k in (
        "job_executor_type", "load_threshold", "job_memory_limit_mb", "job_memory_warn_mb",
        "drain_timeout", "num_idle_processes", "shutdown_process_timeout", "session_end_timeout",
        "initialize_process_timeout", "permissions", "max_retry", "ws_url", "api_key", "api_secret",
        "host", "port", "http_proxy", "multiprocessing_context", "prometheus_port",
        "prometheus_multiproc_dir", "load_fnc", "preload_modules", "log_level",
    )},
}  # fmt: skip
ENDPOINTING = {"min_endpointing_delay": "min_delay", "max_endpointing_delay": "max_delay"}
INTERRUPTION = {
    "discard_audio_if_uninterruptible": "discard_audio_if_uninterruptible",
    "min_interruption_duration": "min_duration",
    "min_interruption_words": "min_words",
    "false_interruption_timeout": "false_interruption_timeout",
    "agent_false_interruption_timeout": "false_interruption_timeout",
    "resume_false_interruption": "resume_false_interruption",
}
ROOM_INPUT = {  # RoomInputOptions field -> (RoomOptions field, sub-options class, its field)
    "audio_sample_rate": ("audio_input", "AudioInputOptions", "sample_rate"),
    "audio_num_channels": ("audio_input", "AudioInputOptions", "num_channels"),
    "audio_frame_size_ms": ("audio_input", "AudioInputOptions", "frame_size_ms"),
    "noise_cancellation": ("audio_input", "AudioInputOptions", "noise_cancellation"),
    "pre_connect_audio": ("audio_input", "AudioInputOptions", "pre_connect_audio"),
    "pre_connect_audio_timeout": ("audio_input", "AudioInputOptions", "pre_connect_audio_timeout"),
    "text_input_cb": ("text_input", "TextInputOptions", "text_input_cb"),
    "audio_enabled": ("audio_input", "", ""),
    "text_enabled": ("text_input", "", ""),
}
ROOM_OUTPUT = {
    "audio_sample_rate": ("audio_output", "AudioOutputOptions", "sample_rate"),
    "audio_num_channels": ("audio_output", "AudioOutputOptions", "num_channels"),
    "audio_publish_options": ("audio_output", "AudioOutputOptions", "track_publish_options"),
    "audio_track_name": ("audio_output", "AudioOutputOptions", "track_name"),
    "sync_transcription": ("text_output", "TextOutputOptions", "sync_transcription"),
    "transcription_speed_factor": (
        "text_output",
        "TextOutputOptions",
        "transcription_speed_factor",
    ),
    "audio_enabled": ("audio_output", "", ""),
    "transcription_enabled": ("text_output", "", ""),
}
ROOM_DIRECT = {
    "participant_kinds",
    "participant_identity",
    "close_on_disconnect",
    "delete_room_on_close",
    "video_enabled",
}
MAX_TOOL_STEPS_NOTE = "# livekit's default, made explicit: size it for your longest tool chain"
RENAMES = {
    ("WarmTransferTask", "target_phone_number"): "sip_call_to",
    ("connect", "e2ee"): "encryption",
}


@dataclass
class FixResult:
    path: str
    before: str
    after: str
    fixed: list[str] = field(default_factory=list)  # rule ids rewritten
    left: list[Finding] = field(default_factory=list)  # what only a person can do

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """A unified diff `patch -p1` and `git apply` take (with git's no-newline marker)."""
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            f"a/{self.path.lstrip('/')}",
            f"b/{self.path.lstrip('/')}",
        )
        return "".join(
            line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n"
            for line in lines
        )

    @property
    def removed_left(self) -> list[Finding]:
        """What still fails under 1.x: while any is left, the file is not migrated."""
        return [f for f in self.left if RULES[f.rule].severity == "error"]


def _dict(items: dict[str, cst.BaseExpression]) -> cst.Dict:
    return cst.Dict(
        [
            cst.DictElement(
                cst.SimpleString(f'"{k}"'),
                v,
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                if i < len(items) - 1
                else cst.MaybeSentinel.DEFAULT,
            )
            for i, (k, v) in enumerate(items.items())
        ]
    )


def _arg_indent(call: cst.Call) -> str | None:
    """The indentation of a multi-line call's arguments (relative to its block), else None."""
    ws = next((a.comma.whitespace_after for a in call.args if isinstance(a.comma, cst.Comma)), None)
    return ws.last_line.value if isinstance(ws, cst.ParenthesizedWhitespace) else None


def _spread(arg: cst.Arg, call: cst.Call) -> cst.Arg:
    """`arg`'s call value one argument per line when `call` itself is laid out that way."""
    indent, value = _arg_indent(call), arg.value
    if indent is None or not isinstance(value, cst.Call) or len(value.args) < 2:
        return arg
    code = cst.Module([]).code_for_node
    inner = [
        f"{indent}    {code(a.with_changes(comma=cst.MaybeSentinel.DEFAULT))}," for a in value.args
    ]
    text = f"{code(value.func)}(\n" + "\n".join(inner) + f"\n{indent})"
    return arg.with_changes(value=cst.parse_expression(text))


def _preemptive(value: cst.BaseExpression) -> cst.BaseExpression | None:
    """`preemptive_generation=` as TurnHandlingOptions takes it: a bool becomes {"enabled": b}."""
    if m.matches(value, m.Name("True") | m.Name("False")):
        return _dict({"enabled": value})
    return value if isinstance(value, cst.Dict) else None  # a variable: bool or dict, unknown


def turn_handling_arg(kw: dict[str, cst.Arg], names: frozenset[str]) -> cst.Arg | None:
    """`turn_handling=TurnHandlingOptions(...)` equivalent to the deprecated keywords, or None
    when a value's meaning depends on its run-time type."""
    endpointing: dict[str, cst.BaseExpression] = {}
    interruption: dict[str, cst.BaseExpression] = {}
    options: list[cst.Arg] = []
    for name in sorted((n for n in kw if n in names), key=lambda n: n != "turn_detection"):
        value = kw[name].value
        if name == "turn_detection":
            options.append(keyword_arg("turn_detection", value))
        elif name in ENDPOINTING:
            endpointing[ENDPOINTING[name]] = value
        elif name in INTERRUPTION:
            if name != "false_interruption_timeout" or "agent_false_interruption_timeout" not in kw:
                interruption[INTERRUPTION[name]] = value  # the agent_ spelling wins, as in 1.8.9
        elif name == "allow_interruptions" and m.matches(value, m.Name("False")):
            interruption["enabled"] = value  # only `is False` disables
        elif name == "allow_interruptions" and not m.matches(value, m.Name("True")):
            return None  # a variable could be anything
        elif name == "preemptive_generation":
            preemptive = _preemptive(value)
            if preemptive is None:
                return None
            options.append(keyword_arg("preemptive_generation", preemptive))
    if endpointing:
        options.append(keyword_arg("endpointing", _dict(endpointing)))
    if interruption:
        options.append(keyword_arg("interruption", _dict(interruption)))
    return keyword_arg("turn_handling", make_call("TurnHandlingOptions", options))


def room_options_arg(kw: dict[str, cst.Arg], prefix: str) -> tuple[cst.Arg, set[str]] | None:
    """`room_options=RoomOptions(...)` from literal `RoomInputOptions(...)`/`RoomOutputOptions(...)`."""
    fields: dict[str, cst.BaseExpression] = {}
    grouped: dict[str, tuple[str, list[cst.Arg]]] = {}
    used: set[str] = set()
    for key, table in (("room_input_options", ROOM_INPUT), ("room_output_options", ROOM_OUTPUT)):
        if key not in kw:
            continue
        value = kw[key].value
        if not (
            isinstance(value, cst.Call)
            and last_of(value.func) in ("RoomInputOptions", "RoomOutputOptions")
        ):
            return None
        used.add(key)
        for a in value.args:
            if a.keyword is None:
                return None
            name = a.keyword.value
            if name in ROOM_DIRECT and key == "room_input_options":
                fields["video_input" if name == "video_enabled" else name] = a.value
            elif name in table and table[name][1]:
                target, cls, sub = table[name]
                grouped.setdefault(target, (cls, []))[1].append(keyword_arg(sub, a.value))
            elif name in table and m.matches(a.value, m.Name("False")):
                fields[table[name][0]] = a.value
            elif not (name in table and m.matches(a.value, m.Name("True"))):
                return None  # unknown field, or an enabled flag whose value is not a literal
    for target, (cls, args) in grouped.items():
        if target in fields:
            return None  # disabled and configured at once: not a clean mapping
        fields[target] = make_call(f"{prefix}{cls}", args)
    return keyword_arg(
        "room_options",
        make_call(f"{prefix}RoomOptions", [keyword_arg(k, v) for k, v in fields.items()]),
    ), used


class _Fixer(cst.CSTTransformer):
    def __init__(
        self, context: CodemodContext, module: cst.Module, *, has_tools: bool, lab: bool
    ) -> None:
        self.context, self.has_tools, self.lab = context, has_tools, lab
        self.fixed: set[str] = set()
        self.defined = {
            s.name.value: i for i, s in enumerate(module.body) if isinstance(s, cst.FunctionDef)
        }
        self.first_bound = _first_bindings(module)
        #: the entrypoint's name, `AgentServer(...)`, and the arguments of `rtc_session(...)`
        self.server: tuple[str, cst.Call, list[cst.Arg]] | None = None
        self.note_session = False
        self.classes: list[cst.ClassDef] = []
        self.worker_options: cst.Call | None = None
        self._plan_server(module)

    # --- LK001: plan before transforming, so the entrypoint (above the call) can be decorated ---

    def _plan_server(self, module: cst.Module) -> None:
        calls = m.findall(module, m.Call(func=m.Attribute(attr=m.Name("run_app"))))
        for call in calls:
            assert isinstance(call, cst.Call)
            if name_of(call.func) != "cli.run_app" and not name_of(call.func).endswith(
                ".cli.run_app"
            ):
                continue  # `cli.run_app` and `agents.cli.run_app` alike
            opts = call.args[0].value if len(call.args) == 1 else None
            if not (
                isinstance(opts, cst.Call)
                and last_of(opts.func) in ("WorkerOptions", "ServerOptions")
            ):
                continue
            kw = keywords_of(opts)
            entry = kw.get("entrypoint_fnc")
            if (
                entry is None
                or not isinstance(entry.value, cst.Name)
                or "server" in self.first_bound
            ):
                continue
            fn = entry.value.value
            if fn not in self.defined or any(a.keyword is None for a in opts.args):
                continue
            server_args: list[cst.Arg] = []
            session_args: list[cst.Arg] = []
            for name, a in kw.items():
                if name == "entrypoint_fnc":
                    continue
                if name not in SERVER_ARGS:
                    return
                where, new = SERVER_ARGS[name]
                if not self._known_before(a.value, self.defined[fn]):
                    return  # `server = AgentServer(...)` goes above the entrypoint: it must not
                    # use a name bound only further down
                (server_args if where == "server" else session_args).append(
                    keyword_arg(new, a.value)
                )
            head = name_of(opts.func).rpartition(".")[0]  # `agents.WorkerOptions` -> `agents.`
            server_class = f"{head}.AgentServer" if head else "AgentServer"
            self.server = (fn, make_call(server_class, server_args), session_args)
            self.worker_options = opts
            return

    def _known_before(self, value: cst.BaseExpression, index: int) -> bool:
        names = {n.value for n in m.findall(value, m.Name()) if isinstance(n, cst.Name)}
        return all(
            self.first_bound.get(n, -1) < index if n in self.first_bound else hasattr(builtins, n)
            for n in names
        )

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        if self.server is None or "LK001" not in self.fixed:
            return updated
        fn, server_call, _ = self.server
        body = list(updated.body)
        index = next(
            i for i, s in enumerate(body) if isinstance(s, cst.FunctionDef) and s.name.value == fn
        )
        assign = cst.SimpleStatementLine(
            [cst.Assign([cst.AssignTarget(cst.Name("server"))], server_call)],
            leading_lines=body[index].leading_lines,
        )
        body.insert(index, assign)
        if (
            name_of(server_call.func) == "AgentServer"
        ):  # a qualified `agents.AgentServer` needs none
            AddImportsVisitor.add_needed_import(self.context, "livekit.agents", "AgentServer")
        RemoveImportsVisitor.remove_unused_import(self.context, "livekit.agents", "WorkerOptions")
        return updated.with_changes(body=body)

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        if self.server is None or original.name.value != self.server[0]:
            return updated
        decorator = cst.Decorator(make_call("server.rtc_session", self.server[2]))
        self.fixed.add("LK001")
        return updated.with_changes(decorators=[*updated.decorators, decorator])

    # --- calls ---------------------------------------------------------------------------------

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if self.worker_options is not None and original is self.worker_options:
            return cst.Name("server")
        last, kw = last_of(updated.func), keywords_of(updated)
        for (callee, old), new in RENAMES.items():
            if last == callee and old in kw and new not in kw:
                updated = updated.with_changes(
                    args=[
                        a.with_changes(keyword=cst.Name(new)) if a is kw[old] else a
                        for a in updated.args
                    ]
                )
                self.fixed.add("LK022" if callee == "WarmTransferTask" else "LK025")
        if last == "AgentSession":
            updated = self._session(updated)
        elif last in ("Agent", "AgentTask") or (last == "__init__" and self._in_agent_class()):
            updated = self._turn_kwargs(updated, AGENT_TURN_KWARGS)
        if (
            last == "start"
            and {"room_input_options", "room_output_options"} & keywords_of(updated).keys()
        ):
            updated = self._room_options(updated)
        return updated

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self.classes.pop()
        return updated

    def _in_agent_class(self) -> bool:
        """`super().__init__(...)` inside a class deriving from Agent or AgentTask."""
        return bool(self.classes) and any(
            last_of(b.value) in ("Agent", "AgentTask") for b in self.classes[-1].bases
        )

    def _turn_kwargs(self, call: cst.Call, names: frozenset[str]) -> cst.Call:
        kw = keywords_of(call)
        if not names & kw.keys() or "turn_handling" in kw:
            return call
        new = turn_handling_arg(kw, names)
        if new is None:
            return call
        AddImportsVisitor.add_needed_import(self.context, "livekit.agents", "TurnHandlingOptions")
        self.fixed.add("LK008")
        return replace_args(call, set(names & kw.keys()), [_spread(new, call)])

    def _session(self, call: cst.Call) -> cst.Call:
        call = self._turn_kwargs(call, SESSION_TURN_KWARGS)
        if self.lab and self.has_tools and "max_tool_steps" not in keywords_of(call):
            call = replace_args(call, set(), [keyword_arg("max_tool_steps", cst.Integer("3"))])
            self.fixed.add("LK007")
            end = call.args[-1]
            if isinstance(end.comma, cst.Comma) and isinstance(
                end.comma.whitespace_after, cst.ParenthesizedWhitespace
            ):
                trailing = cst.TrailingWhitespace(
                    cst.SimpleWhitespace("  "), cst.Comment(MAX_TOOL_STEPS_NOTE)
                )
                ws = end.comma.whitespace_after.with_changes(first_line=trailing)
                call = call.with_changes(
                    args=[
                        *call.args[:-1],
                        end.with_changes(comma=end.comma.with_changes(whitespace_after=ws)),
                    ]
                )
            else:
                self.note_session = True  # one line: the note goes on a line of its own above
        return call

    def _room_options(self, call: cst.Call) -> cst.Call:
        kw = keywords_of(call)
        if "room_options" in kw:
            return call
        legacy = next(kw[k].value for k in ("room_input_options", "room_output_options") if k in kw)
        head = name_of(legacy.func) if isinstance(legacy, cst.Call) else ""
        prefix = head.rsplit(".", 1)[0] + "." if "." in head else "room_io."
        made = room_options_arg(kw, prefix)
        if made is None:
            return call
        if prefix == "room_io.":
            AddImportsVisitor.add_needed_import(self.context, "livekit.agents", "room_io")
        for old in ("RoomInputOptions", "RoomOutputOptions"):
            RemoveImportsVisitor.remove_unused_import(self.context, "livekit.agents", old)
            RemoveImportsVisitor.remove_unused_import(self.context, "livekit.agents.voice", old)
        self.fixed.add("LK014")
        return replace_args(call, made[1], [_spread(made[0], call)])

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        if not self.note_session:
            return updated
        self.note_session = False
        indent_note = cst.EmptyLine(comment=cst.Comment(MAX_TOOL_STEPS_NOTE))
        return updated.with_changes(leading_lines=[*updated.leading_lines, indent_note])


def _first_bindings(module: cst.Module) -> dict[str, int]:
    """Each module-level name and the index of the first top-level statement that binds it."""
    first: dict[str, int] = {}
    for i, stmt in enumerate(module.body):
        names: list[str] = []
        if isinstance(stmt, cst.FunctionDef | cst.ClassDef):
            names = [stmt.name.value]
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign):
                    names += [
                        t.target.value for t in small.targets if isinstance(t.target, cst.Name)
                    ]
                elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    names.append(small.target.value)
                elif isinstance(small, cst.Import | cst.ImportFrom) and not isinstance(
                    small.names, cst.ImportStar
                ):
                    names += [
                        name_of(a.asname.name if a.asname else a.name).split(".")[0]  # type: ignore[arg-type]
                        for a in small.names
                    ]
        for n in names:
            first.setdefault(n, i)
    return first


def _insert_alias(node: cst.ImportFrom, name: str) -> cst.ImportFrom:
    """`node` importing `name` too, in sorted place, in the statement's own layout."""
    assert not isinstance(node.names, cst.ImportStar)
    names = list(node.names)
    i = next((i for i, a in enumerate(names) if name_of(a.name) > name), len(names))
    if i < len(names):
        new = cst.ImportAlias(
            cst.Name(name), comma=names[i].comma if i < len(names) - 1 else _alias_sep(names)
        )
        names.insert(i, new)
    else:
        last = names[-1]
        names[-1] = last.with_changes(comma=_alias_sep(names))
        names.append(cst.ImportAlias(cst.Name(name), comma=last.comma))
    return node.with_changes(names=names)


def _alias_sep(names: Sequence[cst.ImportAlias]) -> cst.Comma:
    sep = next((a.comma for a in names[:-1] if isinstance(a.comma, cst.Comma)), None)
    return sep or cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


class _AddNames(cst.CSTTransformer):
    """Add names to the module's first `from <module> import ...` that can take them."""

    def __init__(self, module: str, names: set[str]) -> None:
        self.module, self.names, self.done = module, set(names), False

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        if self.done or updated.module is None or name_of(updated.module) != self.module:
            return updated
        if isinstance(updated.names, cst.ImportStar) or updated.relative:
            return updated
        have = {name_of(a.name) for a in updated.names}
        for name in sorted(self.names - have):
            updated = _insert_alias(updated, name)
        self.done = True
        if updated.lpar is None and len(cst.Module([]).code_for_node(updated)) > 99:
            return _one_per_line(updated)  # as ruff format would lay it out
        return updated


def _one_per_line(node: cst.ImportFrom) -> cst.ImportFrom:
    """`from m import (\n    a,\n    b,\n)`."""
    assert not isinstance(node.names, cst.ImportStar)

    def line(indent: str) -> cst.ParenthesizedWhitespace:
        return cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(), indent=True, last_line=cst.SimpleWhitespace(indent)
        )

    names = list(node.names)
    aliases = [
        a.with_changes(
            comma=cst.Comma(whitespace_after=line("" if i == len(names) - 1 else "    "))
        )
        for i, a in enumerate(names)
    ]
    return node.with_changes(
        names=aliases,
        lpar=cst.LeftParen(whitespace_after=line("    ")),
        rpar=cst.RightParen(),
    )


def _add_imports(module: cst.Module, context: CodemodContext) -> cst.Module:
    """Names the fixes need: into an existing `from livekit.agents import` (sorted, same layout),
    else through libcst's AddImportsVisitor."""
    wanted = {
        item.obj_name
        for item in AddImportsVisitor._get_imports_from_context(context)
        if item.module_name == "livekit.agents" and item.obj_name and not item.relative
    }
    adder = _AddNames("livekit.agents", wanted)
    module = module.visit(adder)
    if adder.done:
        others = [
            i
            for i in AddImportsVisitor._get_imports_from_context(context)
            if i.module_name != "livekit.agents" or not i.obj_name or i.relative
        ]
        context.scratch.pop(AddImportsVisitor.CONTEXT_KEY, None)
        for item in others:
            AddImportsVisitor.add_needed_import(context, item.module_name, item.obj_name)
    return AddImportsVisitor(context).transform_module(module)


def fix_source(path: str, source: str, *, lab: bool = False) -> FixResult:
    """The rewritten source, what was fixed, and what is left for a person. With `lab`, the lab's
    rules are judged too (and a session in a module with tools gets an explicit max_tool_steps).
    Raises SyntaxError if `source` does not parse."""
    before = check_source(path, source, lab=lab)
    has_tools = any(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and is_tool(n)
        for n in ast.walk(ast.parse(source))
    )
    context = CodemodContext()
    v0 = V0Fixer(context, cst.parse_module(source), imports(ast.parse(source)))
    module = cst.parse_module(source).visit(v0)
    fixer = _Fixer(context, module, has_tools=has_tools, lab=lab)
    fixed = module.visit(fixer)
    if fixer.fixed or v0.fixed:
        fixed = _add_imports(fixed, context)
        fixed = RemoveImportsVisitor(context).transform_module(fixed)
    after = fixed.code
    compile(after, path, "exec")  # the rewrite must parse; a bug here must never be written
    done = sorted((fixer.fixed | v0.fixed) & {f.rule for f in before})
    return FixResult(path, source, after, done, check_source(path, after, lab=lab))


def manual_steps(results: Sequence[FixResult]) -> str:
    """What `--fix` cannot do, grouped by rule, with the fix to apply by hand."""
    groups: dict[str, list[Finding]] = {}
    for r in results:
        for f in r.left:
            groups.setdefault(f.rule, []).append(f)
    if not groups:
        return "Nothing is left for a person to do."
    out = ["What only a person can do:"]
    for rule_id in sorted(
        groups, key=lambda r: ("error", "warning", "info").index(RULES[r].severity)
    ):
        rule, found = RULES[rule_id], groups[rule_id]
        where = ", ".join(f"{f.path}:{f.line}" for f in found[:4]) + (
            " …" if len(found) > 4 else ""
        )
        out.append(f"  {rule_id} {rule.name} ({rule.severity}; {where})")
        out.append(f"      {rule.fix}")
    return "\n".join(out)


def fix_main(
    paths: Sequence[str | Path],
    *,
    write: bool,
    lab: bool = False,
    max_bytes: int = MAX_BYTES,
    skip_dirs: frozenset[str] = SKIP_DIRS,
) -> int:
    """Print the diff (stdout) or write the files; every note goes to stderr, so the output is a
    patch. Exit 1 when a file could not be read, parsed or written, or still fails under 1.x."""
    results: list[FixResult] = []
    failed = 0
    for given in map(Path, paths):
        root = given if given.is_dir() else given.parent
        for path in candidate_files([given], skip_dirs=skip_dirs):
            if path.suffix == ".py":
                result = _fix_one(path, root, write=write, lab=lab, max_bytes=max_bytes)
                failed += result is None
                results += [result] if result is not None else []
    print(manual_steps(results), file=sys.stderr)
    still = [r for r in results if r.removed_left]
    return 1 if failed or still else 0


def _fix_one(path: Path, root: Path, *, write: bool, lab: bool, max_bytes: int) -> FixResult | None:
    """Fix one file; None (after saying why on stderr) when it could not be read, parsed or written."""
    source = read_source(path, max_bytes=max_bytes)
    if isinstance(source, Skipped):
        print(f"{source.path}: not fixed: {source.reason}", file=sys.stderr)
        return None
    try:
        result = fix_source(str(path), source, lab=lab)
    except (SyntaxError, ValueError, cst.ParserSyntaxError) as e:
        print(f"{path}: not fixed: it does not parse ({e})", file=sys.stderr)
        return None
    if not result.changed:
        return result
    if not write:
        print(result.diff(), end="")
        return result
    problem = write_atomic(path, result.after.encode(_encoding(path)), root=root)
    if problem:
        print(f"{path}: {problem}", file=sys.stderr)
        return None
    if result.removed_left:  # never reported as migrated while it still fails under 1.x
        rules = sorted({f.rule for f in result.removed_left})
        print(
            f"partly fixed {path}: {', '.join(result.fixed)}; "
            f"still fails under 1.x: {', '.join(rules)} (see below)",
            file=sys.stderr,
        )
    else:
        print(f"fixed {path}: {', '.join(result.fixed)}", file=sys.stderr)
    return result


def _encoding(path: Path) -> str:
    """The encoding the file declares (PEP 263 or a BOM), which `read_source` decoded it with."""
    import tokenize

    with open(path, "rb") as f:
        return tokenize.detect_encoding(f.readline)[0]
