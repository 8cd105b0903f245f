"""The doctor's checks: what each rule looks like in a module's syntax tree.

`check_source` parses a module (nothing is imported or run) and returns findings with lines.
Calls are matched by the last part of their dotted name (`AgentSession`, `cli.run_app`), names
by the import that introduced them, so a deprecated name is reported once where it enters the
module, not at every use. Test files are judged as tests: only the deprecation and launch rules
apply to them (a test may define a throwaway tool or share a fixture at module level).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import PurePath

from .rules import (
    AGENT_TURN_KWARGS,
    DEPRECATED_REALTIME_MODELS,
    EXTRA_INSTRUCTIONS_TASKS,
    SESSION_TURN_KWARGS,
    Finding,
)

AnyFunction = ast.FunctionDef | ast.AsyncFunctionDef
CONTEXT_PARAMS = {"self", "cls", "ctx", "context", "run_ctx"}
#: Calls whose result is not state a session could change (a logger, a pattern, a path...).
IMMUTABLE_FACTORIES = {
    "getLogger", "compile", "TypeVar", "NewType", "namedtuple", "ParamSpec", "frozenset",
    "tuple", "Path", "Field", "field", "load_dotenv", "getenv", "AgentServer", "Environment",
}  # fmt: skip
MUTATORS = {
    "append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "add",
    "discard", "setdefault", "sort", "reverse", "add_line", "add_item",
}  # fmt: skip
#: A comment saying the default tool-step cap is kept on purpose ("the default max_tool_steps ...").
KEPT_DEFAULT = re.compile(r"#.*(max_tool_steps.*default|default.*max_tool_steps)")
IRREVERSIBLE = re.compile(
    r"(^|_)(checkout|place_order|pay|purchase|submit_order|cancel_order)(_|$)"
)
#: (imported module prefix, name) -> rule: names whose import itself is the deprecation.
DEPRECATED_IMPORTS: dict[tuple[str, str], str] = {
    ("livekit.agents.metrics", "UsageCollector"): "LK015",
    ("livekit.agents.metrics", "UsageSummary"): "LK015",
    ("livekit.agents.llm", "AsyncRunContext"): "LK017",
    ("livekit.agents.stt", "SpeechStream"): "LK027",
    ("livekit.agents.utils", "merge_frames"): "LK027",
    ("livekit.agents.utils", "combine_frames"): "LK027",
}
#: attribute chains (suffix) whose use is the deprecation: `metrics.UsageCollector()`.
DEPRECATED_ATTRIBUTES = {
    "metrics.UsageCollector": "LK015",
    "metrics.UsageSummary": "LK015",
    "stt.SpeechStream": "LK027",
    "utils.merge_frames": "LK027",
    "utils.combine_frames": "LK027",
    "llm.AsyncRunContext": "LK017",
}
#: (callee, keyword) -> rule: keyword arguments 1.8.9 marks deprecated.
DEPRECATED_KEYWORDS = {
    ("update_options", "min_endpointing_delay"): "LK021",
    ("update_options", "max_endpointing_delay"): "LK021",
    ("WarmTransferTask", "target_phone_number"): "LK022",
    ("connect", "e2ee"): "LK025",
    ("AsyncToolset", "on_duplicate_call"): "LK018",
}
#: Calls that still take the deprecated RoomInputOptions / RoomOutputOptions by keyword.
LEGACY_ROOM_IO = {
    "start": ("room_input_options", "room_output_options"),
    "RoomIO": ("input_options", "output_options"),
}
REPLACEMENT = {
    "UsageCollector": "metrics.ModelUsageCollector",
    "UsageSummary": "LLMModelUsage / TTSModelUsage / STTModelUsage",
    "AsyncRunContext": "RunContext",
    "SpeechStream": "stt.RecognizeStream",
    "merge_frames": "rtc.combine_audio_frames",
    "combine_frames": "rtc.combine_audio_frames",
}


def dotted(node: ast.AST) -> str:
    """`llm.function_tool` for an attribute chain; calls and subscripts are looked through."""
    if isinstance(node, ast.Call):
        return dotted(node.func)
    if isinstance(node, ast.Subscript):
        return dotted(node.value)
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def short(node: ast.AST) -> str:
    return dotted(node).rsplit(".", 1)[-1]


def is_test_file(path: str) -> bool:
    p = PurePath(path)
    return (
        p.name.startswith("test_")
        or p.name.endswith("_test.py")
        or p.name == "conftest.py"
        or bool({"tests", "test"} & set(p.parts[:-1]))
    )


def is_tool(fn: AnyFunction) -> bool:
    return any(short(d) == "function_tool" for d in fn.decorator_list)


def keywords(call: ast.Call) -> dict[str, ast.keyword]:
    return {k.arg: k for k in call.keywords if k.arg is not None}


SESSION_NAME = re.compile(r"_?(agent_|primary_)?session")


def _is_session(call: ast.Call) -> bool:
    """`session.on(...)`, `ctx.session.on(...)`, `self._session.on(...)`: an AgentSession, whose
    `metrics_collected` is deprecated (a model's or a realtime session's own event is not)."""
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else call.func
    return bool(SESSION_NAME.fullmatch(short(receiver)))


def _on_event(node: ast.AST, event: str) -> bool:
    """`x.on("event")` or `x.on("event", handler)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "on"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == event
    )


class Checker(ast.NodeVisitor):
    def __init__(self, path: str, tree: ast.Module, *, lab: bool, lines: list[str]) -> None:
        self.path, self.lab, self.lines = path, lab, lines
        self.test = is_test_file(path)
        self.findings: list[Finding] = []
        self.module_state = _module_state(tree)
        self.top_level = {id(n) for n in tree.body}
        self.has_tools = any(isinstance(n, AnyFunction) and is_tool(n) for n in ast.walk(tree))
        self.classes: list[ast.ClassDef] = []
        self.entrypoint: ast.AST | None = None
        self.session_end = False
        self.keeps_state = False

    def add(self, node: ast.AST, rule: str, message: str) -> None:
        self.findings.append(
            Finding(
                self.path,
                getattr(node, "lineno", 1),
                rule,
                message,
                getattr(node, "col_offset", 0) + 1,
            )
        )

    # --- imports: a deprecated name is reported where it enters the module ------------------

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.startswith("livekit.plugins.turn_detector") or (
            module == "livekit.plugins" and any(a.name == "turn_detector" for a in node.names)
        ):
            self.add(node, "LK024", f"`from {module} import ...` (deprecated plugin)")
            return
        for alias in node.names:
            rule = next(
                (
                    r
                    for (prefix, name), r in DEPRECATED_IMPORTS.items()
                    if alias.name == name and module.startswith(prefix)
                ),
                None,
            )
            if rule:
                self.add(node, rule, f"imports `{alias.name}`; use `{REPLACEMENT[alias.name]}`")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith("livekit.plugins.turn_detector"):
                self.add(node, "LK024", f"`import {alias.name}` (deprecated plugin)")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = dotted(node)
        for suffix, rule in DEPRECATED_ATTRIBUTES.items():
            if chain == suffix or chain.endswith("." + suffix):
                self.add(node, rule, f"`{chain}`; use `{REPLACEMENT[node.attr]}`")
        self.generic_visit(node)

    # --- classes and functions ---------------------------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node)
        self.generic_visit(node)
        self.classes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def _function(self, fn: AnyFunction) -> None:
        entry = self._is_entrypoint(fn)
        if entry and self.entrypoint is None:
            self.entrypoint = fn
        for d in fn.decorator_list:
            if isinstance(d, ast.Call) and "on_session_end" in keywords(d):
                self.session_end = True
            if _on_event(d, "agent_false_interruption"):
                self._false_interruption_handler(fn)
        if not self.test and (entry or is_tool(fn)):
            self._shared_state(fn)
        if not self.test and is_tool(fn):
            self._tool(fn)
        self.generic_visit(fn)

    def _is_entrypoint(self, fn: AnyFunction) -> bool:
        if any(short(d) == "rtc_session" for d in fn.decorator_list):
            return True
        takes_job = any(
            "JobContext" in ast.unparse(a.annotation or ast.Pass()) for a in fn.args.args
        )
        return (
            takes_job
            and isinstance(fn, ast.AsyncFunctionDef)
            and id(fn) in self.top_level
            and (
                fn.name == "entrypoint"
                or not re.search(r"^on_|session_end|prewarm|request|setup", fn.name)
            )
        )

    def _false_interruption_handler(self, fn: AnyFunction) -> None:
        params = [a.arg for a in fn.args.args if a.arg not in ("self", "cls")]
        if not params:
            return
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == params[0]
                and node.attr in ("message", "extra_instructions")
            ):
                self.add(node, "LK026", f"`{params[0]}.{node.attr}` on a false-interruption event")

    def _shared_state(self, fn: AnyFunction) -> None:
        """A tool or entrypoint that rebinds or mutates module-level state."""
        local = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)}
        local |= {
            t.id
            for node in ast.walk(fn)
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)
        }
        declared_global = {
            n for node in ast.walk(fn) if isinstance(node, ast.Global) for n in node.names
        }
        for node in ast.walk(fn):
            if isinstance(node, ast.Global):
                self.add(
                    node,
                    "LK006",
                    f"`{fn.name}` rebinds module state: `global {', '.join(node.names)}`",
                )
                self.keeps_state = True
            name = _mutated_name(node)
            if name in self.module_state and (name not in local or name in declared_global):
                self.add(
                    node,
                    "LK006",
                    f"`{fn.name}` changes module-level `{name}` (line {self.module_state[name]})",
                )
                self.keeps_state = True

    def _tool(self, fn: AnyFunction) -> None:
        args = fn.args
        positional = [*args.posonlyargs, *args.args]
        defaults = dict(
            zip(
                [a.arg for a in positional[len(positional) - len(args.defaults) :]],
                args.defaults,
                strict=True,
            )
        )
        defaults |= {
            a.arg: d
            for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
            if d is not None
        }
        handles_null = any(
            isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and n.value.strip().lower() in ("null", "none")
            for stmt in fn.body
            for n in ast.walk(stmt)
        )
        for arg in [*positional, *args.kwonlyargs]:
            ann = ast.unparse(arg.annotation) if arg.annotation is not None else ""
            if arg.arg in CONTEXT_PARAMS or "RunContext" in ann:
                if (
                    self.lab
                    and ann.replace(" ", "") in ("RunContext", "llm.RunContext")
                    and _uses_userdata(fn)
                ):
                    self.add(
                        arg, "LK009", f"`{fn.name}({arg.arg}: {ann})` reads `userdata` untyped"
                    )
                continue
            self._parameter(fn, arg, ann, defaults.get(arg.arg), handles_null)
        confirms = "confirm" in (ast.get_docstring(fn) or "").lower() or any(
            "confirm" in a.arg for a in positional + args.kwonlyargs
        )
        if self.lab and IRREVERSIBLE.search(fn.name) and not confirms:
            self.add(fn, "LK030", f"tool `{fn.name}` acts without a confirmation")

    def _parameter(
        self, fn: AnyFunction, arg: ast.arg, ann: str, default: ast.expr | None, handles_null: bool
    ) -> None:
        where = f"`{fn.name}({arg.arg}: {ann or '?'})`"
        has_null_choice = '"null"' in ann or "'null'" in ann
        if self.lab and default is not None and not has_null_choice:
            self.add(arg, "LK002", f"{where} has the default {ast.unparse(default)}")
        optional_str = ("None" in ann or "Optional" in ann) and "str" in _type_text(arg.annotation)
        if optional_str and not has_null_choice and not handles_null:
            self.add(arg, "LK003", f'{where}: the text "null" would reach the tool as a string')
        if _untyped(arg.annotation):
            self.add(arg, "LK004", f"{where} has no item/value type")
        if self.lab and _catalog_key(arg.arg) and ann.replace(" ", "") in (
            "str", "str|None", "Optional[str]", "None|str"
        ):  # fmt: skip
            self.add(arg, "LK005", f"{where} is free text; the valid ids are known")

    # --- calls ----------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        name, kw = dotted(node.func), keywords(node)
        last = name.rsplit(".", 1)[-1]
        if last in ("WorkerOptions", "ServerOptions") and "entrypoint_fnc" in kw:
            self.add(node, "LK001", f"`{ast.unparse(node)[:70]}`")
            self.entrypoint = self.entrypoint or node
        if name == "cli.run_app" or name.endswith(".cli.run_app"):
            self.add(node, "LK012", f"`{ast.unparse(node)[:70]}`")
        if last == "AgentSession":
            self._session(node, kw)
        elif last in ("Agent", "AgentTask") or (last == "__init__" and self._in_agent_class()):
            self._turn_kwargs(node, kw, AGENT_TURN_KWARGS, last)
            if "mcp_servers" in kw:
                self.add(kw["mcp_servers"], "LK016", f"{last}(mcp_servers=...)")
        if "on_session_end" in kw or name.endswith("add_shutdown_callback"):
            self.session_end = True
        self._deprecated_call(node, name, last, kw)
        self.generic_visit(node)

    def _deprecated_call(
        self, node: ast.Call, name: str, last: str, kw: dict[str, ast.keyword]
    ) -> None:
        if _on_event(node, "metrics_collected") and _is_session(node):
            self.add(node, "LK013", f'`{name}("metrics_collected")`')
        if last in ("RoomInputOptions", "RoomOutputOptions"):
            self.add(node, "LK014", f"`{last}(...)`; use `room_io.RoomOptions`")
        for k in sorted(kw):
            rule = DEPRECATED_KEYWORDS.get((last, k)) or (
                "LK023" if last in EXTRA_INSTRUCTIONS_TASKS and k == "extra_instructions" else None
            )
            if rule:
                self.add(kw[k], rule, f"{last}({k}=...)")
            if k in ("inference_class", "api_version") and "RealtimeModel" in name:
                self.add(kw[k], "LK028", f"{name}({k}=...)")  # not openai.LLM.with_azure's
        for k in LEGACY_ROOM_IO.get(last, ()):
            value = kw[k].value if k in kw else None
            if value is not None and short(value) not in ("RoomInputOptions", "RoomOutputOptions"):
                self.add(kw[k], "LK014", f"{last}({k}=...); use `room_options=RoomOptions(...)`")
        for value in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(value, ast.Constant) and value.value in DEPRECATED_REALTIME_MODELS:
                new = DEPRECATED_REALTIME_MODELS[value.value]
                self.add(value, "LK028", f"model {value.value!r}; use {new!r}")

    def _session(self, node: ast.Call, kw: dict[str, ast.keyword]) -> None:
        self._turn_kwargs(node, kw, SESSION_TURN_KWARGS, "AgentSession")
        if "keyterms_options" in kw:
            self.add(kw["keyterms_options"], "LK019", "AgentSession(keyterms_options=...)")
        if "mcp_servers" in kw:
            self.add(kw["mcp_servers"], "LK016", "AgentSession(mcp_servers=...)")
        if "userdata" in kw:
            self.keeps_state = True
        if self.lab and not self.test and self.has_tools and "max_tool_steps" not in kw:
            around = self.lines[max(node.lineno - 2, 0) : node.end_lineno or node.lineno]
            if not any(KEPT_DEFAULT.search(line) for line in around):
                self.add(node, "LK007", "AgentSession(...) with tools, without max_tool_steps=")

    def _turn_kwargs(
        self, node: ast.Call, kw: dict[str, ast.keyword], names: frozenset[str], callee: str
    ) -> None:
        used = sorted(names & kw.keys())
        if not used:
            return
        if "turn_handling" in kw:
            self.add(
                node,
                "LK020",
                f"{callee}({', '.join(f'{k}=' for k in used)}) beside turn_handling= is ignored",
            )
        else:
            self.add(node, "LK008", f"{callee}({', '.join(f'{k}=' for k in used)})")

    def _in_agent_class(self) -> bool:
        return bool(self.classes) and any(
            short(b) in ("Agent", "AgentTask") for b in self.classes[-1].bases
        )


def _module_state(tree: ast.Module) -> dict[str, int]:
    """Public module-level names bound to something mutable (a literal container or a call)."""
    names: dict[str, int] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        mutable = isinstance(
            value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp
        ) or (isinstance(value, ast.Call) and short(value) not in IMMUTABLE_FACTORIES)
        for t in targets:
            # CONSTANTS and _private caches are shared on purpose; a public mutable is state
            if (
                isinstance(t, ast.Name)
                and mutable
                and not t.id.isupper()
                and not t.id.startswith("_")
            ):
                names[t.id] = stmt.lineno
    return names


def _mutated_name(node: ast.AST) -> str | None:
    """The module-level name a statement changes: `x.append(...)`, `x[k] = v`, `x.a = v`, `x += 1`."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in MUTATORS
    ):
        target: ast.AST = node.func.value
    elif isinstance(node, ast.Assign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        target = next(
            (t for t in targets if isinstance(t, ast.Subscript | ast.Attribute)), ast.Pass()
        )
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            target = node.target
        elif isinstance(target, ast.Subscript | ast.Attribute):
            target = target.value
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


PERSONAL = re.compile(
    r"^(guest|first|last|middle|full|user|customer|caller|contact|nick|given|family|your|display)_name$"
)


def _catalog_key(param: str) -> bool:
    """An id, or the name of a catalog thing (`item_name`), not a name a person says (`guest_name`)."""
    return param.endswith("_id") or (param.endswith("_name") and not PERSONAL.match(param))


def _uses_userdata(fn: AnyFunction) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "userdata" for n in ast.walk(fn))


def _type_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of an annotation that name types (Annotated metadata and calls are skipped)."""
    if isinstance(node, ast.Call):
        return
    if isinstance(node, ast.Subscript) and short(node.value) == "Annotated":
        first = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
        yield from _type_nodes(first)
        return
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _type_nodes(child)


def _type_text(ann: ast.expr | None) -> str:
    if ann is None:
        return ""
    if isinstance(ann, ast.Subscript) and short(ann.value) == "Annotated":
        first = ann.slice.elts[0] if isinstance(ann.slice, ast.Tuple) else ann.slice
        return ast.unparse(first)
    return ast.unparse(ann)


def _untyped(ann: ast.expr | None) -> bool:
    """A bare list/dict/set/tuple or Any anywhere in the type (not `list[str]`)."""
    if ann is None:
        return False
    nodes = list(_type_nodes(ann))
    subscripted = {id(n.value) for n in nodes if isinstance(n, ast.Subscript)}
    return any(
        isinstance(n, ast.Name)
        and n.id in ("list", "dict", "List", "Dict", "Any", "set", "tuple")
        and id(n) not in subscripted
        for n in nodes
    )


SCRIPT_COMMAND = (
    re.compile(  # shell form and exec form: python agent.py dev / ["python", "agent.py", "dev"]
        r"\bpython[0-9.]*(?:[\s\"',]+-[\w-]+)*[\s\"',]+(?P<script>[\w./-]+\.py)[\s\"',]+"
        r"(?P<cmd>dev|console|start|download-files)\b"
    )
)


def check_script(path: str, text: str) -> list[Finding]:
    """LK029 in a launch script: `python agent.py download-files` and friends."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        for m in SCRIPT_COMMAND.finditer(line):
            found.append(Finding(path, number, "LK029", f"`{m.group(0)}`", m.start() + 1))
    return found


def check_source(path: str, source: str, *, lab: bool = False) -> list[Finding]:
    """Findings for one module's source. Raises SyntaxError if it does not parse."""
    from .checks_v0 import check_v0  # it builds on this module's `dotted`

    tree = ast.parse(source, filename=path)
    checker = Checker(path, tree, lab=lab, lines=source.splitlines())
    checker.visit(tree)
    checker.findings += check_v0(path, tree)
    if (
        lab
        and not checker.test
        and checker.entrypoint is not None
        and not checker.session_end
        and checker.keeps_state
    ):
        checker.add(
            checker.entrypoint,
            "LK010",
            "an agent entrypoint that keeps state, with no on_session_end",
        )
    unique = {(f.line, f.rule, f.message): f for f in checker.findings}
    return sorted(unique.values(), key=lambda f: (f.line, f.column, f.rule))
