"""The migration doctor's rules: what a legacy LiveKit agent looks like in its syntax tree.

Each rule has an id, a severity, why it bites (one sentence) and the fix. `check_source` walks a
module's AST — nothing is imported or executed — and returns findings with line numbers.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    why: str
    fix: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in [
        Rule("LK001", "worker-options", "error",
             "In livekit-agents 1.8 WorkerOptions is only an alias that cli.run_app converts to an AgentServer, and the built-in CLI is deprecated.",
             "Create `server = AgentServer()` and register the entrypoint with `@server.rtc_session(...)`; run it with `python -m livekit.agents start`."),
        Rule("LK002", "tool-param-default", "warning",
             "A default becomes a required, nullable field in the strict schema: the model must send null and never sees the default.",
             "Remove the default; make the choice explicit with `Literal[..., \"null\"]` or a required value."),
        Rule("LK003", "optional-without-null", "error",
             "Models send the string \"null\" for an optional value: livekit hands a `str | None` tool the text 'null', and refuses it for other types.",
             "Use `Literal[\"a\", \"b\", \"null\"]` (or an enum with \"null\") and map \"null\" to None in the tool."),
        Rule("LK004", "untyped-parameter", "error",
             "A bare list/dict or Any gives a schema without item or value types (`items: {}`), which OpenAI's strict mode rejects.",
             "Type it fully: `list[ItemRequest]`, a pydantic model, or split it into separate tool calls."),
        Rule("LK005", "free-text-id", "warning",
             "A free-text id or name lets the model invent values that do not exist; the set of valid values is known.",
             "Constrain it: `Annotated[str, Field(json_schema_extra={\"enum\": ids})]` built from your data, and re-check it in the tool."),
        Rule("LK006", "global-state", "error",
             "Module-level state is shared by every session the worker runs: two callers read and write one cart.",
             "Keep per-session state in a userdata dataclass: `AgentSession[UserState](userdata=...)` and `ctx: RunContext[UserState]`."),
        Rule("LK007", "no-max-tool-steps", "warning",
             "The default cap of 3 tool steps per turn cuts multi-item orders short; the model is then forced to answer.",
             "Pass `max_tool_steps=` sized for your longest legitimate flow."),
        Rule("LK008", "deprecated-session-kwargs", "warning",
             "turn_detection=, min_endpointing_delay=, allow_interruptions= and friends are deprecated in 1.8.",
             "Pass `turn_handling=TurnHandlingOptions(turn_detection=..., endpointing={...}, interruption={...})`."),
        Rule("LK009", "untyped-session", "warning",
             "An untyped AgentSession hides what `userdata` holds from your editor and type checker.",
             "Write `AgentSession[UserState](..., userdata=...)` and `RunContext[UserState]` in tools."),
        Rule("LK010", "no-on-session-end", "warning",
             "Nothing runs after the room closes: carts are not saved and no session report is kept.",
             "Register `@server.rtc_session(..., on_session_end=on_session_end)` and save state there."),
        Rule("LK011", "strict-schema", "error",
             "OpenAI rejects the whole request (HTTP 400) when one tool schema breaks its strict-mode rules.",
             "Give every property and every array `items` a type; no defaults or unsupported keywords."),
    ]
}  # fmt: skip

DEPRECATED_SESSION_KWARGS = {
    "turn_detection", "min_endpointing_delay", "max_endpointing_delay", "allow_interruptions",
    "min_interruption_duration", "min_interruption_words", "false_interruption_timeout",
    "resume_false_interruption", "discard_audio_if_uninterruptible", "agent_false_interruption_timeout",
    "preemptive_generation",
}  # fmt: skip
CONTEXT_PARAMS = {"self", "cls", "ctx", "context", "run_ctx"}
#: Module-level calls whose result is not per-session state (a logger, a compiled pattern, …).
IMMUTABLE_FACTORIES = {
    "getLogger", "compile", "TypeVar", "NewType", "namedtuple", "ParamSpec", "frozenset",
    "tuple", "Path", "Field", "field", "load_dotenv", "getenv",
}  # fmt: skip
ID_SUFFIXES = ("_id", "_name")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    message: str

    @property
    def severity(self) -> Severity:
        return RULES[self.rule].severity

    @property
    def why(self) -> str:
        return RULES[self.rule].why

    @property
    def fix(self) -> str:
        return RULES[self.rule].fix


def _name(node: ast.AST) -> str:
    """ "llm.function_tool" for an attribute chain, "function_tool" for a name."""
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _is_tool(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(_name(d).split(".")[-1] == "function_tool" for d in fn.decorator_list)


def _annotation_text(node: ast.expr | None) -> str:
    return ast.unparse(node) if node is not None else ""


class _Checker(ast.NodeVisitor):
    def __init__(self, path: str, tree: ast.Module) -> None:
        self.path = path
        self.findings: list[Finding] = []
        self.mutable_globals = self._module_state(tree)
        self.has_entrypoint = False
        self.entrypoint_line = 1
        self.has_session_end = False
        self.module_functions = {id(n) for n in tree.body}

    def add(self, node: ast.AST, rule: str, message: str) -> None:
        self.findings.append(Finding(self.path, getattr(node, "lineno", 0), rule, message))

    @staticmethod
    def _module_state(tree: ast.Module) -> dict[str, int]:
        """Module-level names bound to something mutable (a literal list/dict/set or a call)."""
        names: dict[str, int] = {}
        for stmt in tree.body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            mutable = isinstance(
                value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp
            ) or (
                isinstance(value, ast.Call)
                and _name(value).split(".")[-1] not in IMMUTABLE_FACTORIES
            )
            for t in targets:
                if (
                    isinstance(t, ast.Name)
                    and mutable
                    and not t.id.isupper()
                    and not t.id.startswith("_")
                ):
                    names[t.id] = stmt.lineno
        return names

    # --- functions ----------------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def _function(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # An entrypoint is a module-level coroutine taking the JobContext; a method or helper that
        # is handed the context (a UI view's __init__, say) is not one.
        takes_job = any("JobContext" in _annotation_text(a.annotation) for a in fn.args.args)
        job_coroutine = (
            takes_job
            and isinstance(fn, ast.AsyncFunctionDef)
            and id(fn) in self.module_functions
            and not fn.name.startswith("on_")
            and not any(w in fn.name for w in ("session_end", "prewarm", "request"))
        )
        is_entrypoint = (
            any(_name(d).endswith("rtc_session") for d in fn.decorator_list)
            or fn.name == "entrypoint"
            or job_coroutine
        )
        if is_entrypoint and not self.has_entrypoint:
            self.entrypoint_line = fn.lineno
        self.has_entrypoint |= is_entrypoint
        for d in fn.decorator_list:
            if isinstance(d, ast.Call) and any(k.arg == "on_session_end" for k in d.keywords):
                self.has_session_end = True
        if is_entrypoint or _is_tool(fn):  # a `global` in a cache helper is not session state
            for stmt in ast.walk(fn):
                if isinstance(stmt, ast.Global):
                    self.add(
                        stmt,
                        "LK006",
                        f"`{fn.name}` rebinds module state: `global {', '.join(stmt.names)}`",
                    )
        if _is_tool(fn):
            self._tool(fn)
        self.generic_visit(fn)

    def _tool(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
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
        for arg in [*positional, *args.kwonlyargs]:
            ann = _annotation_text(arg.annotation)
            if arg.arg in CONTEXT_PARAMS or "RunContext" in ann:
                continue
            where = f"`{fn.name}({arg.arg}: {ann or '?'})`"
            if arg.arg in defaults:
                self.add(arg, "LK002", f"{where} has the default {ast.unparse(defaults[arg.arg])}")
            if ("None" in ann or "Optional" in ann) and '"null"' not in ann and "'null'" not in ann:
                self.add(arg, "LK003", f'{where} is optional without a "null" choice')
            if _untyped(arg.annotation):
                self.add(arg, "LK004", f"{where} has no item/value type")
            if arg.arg.endswith(ID_SUFFIXES) and _plain_str(arg.annotation):
                self.add(arg, "LK005", f"{where} is free text; the valid values are known")
        used = {
            n.id for stmt in fn.body for n in ast.walk(stmt) if isinstance(n, ast.Name)
        }  # not annotations
        for name in sorted(used & self.mutable_globals.keys()):
            if name not in {a.arg for a in positional}:
                self.add(
                    fn,
                    "LK006",
                    f"tool `{fn.name}` uses module-level `{name}` (line {self.mutable_globals[name]})",
                )

    # --- calls --------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        name = _name(node.func)
        short = name.split(".")[-1]
        if short in ("WorkerOptions", "ServerOptions") and any(
            k.arg == "entrypoint_fnc" for k in node.keywords
        ):
            self.add(node, "LK001", f"`{ast.unparse(node)[:80]}`")
            self.has_entrypoint = True
        if short == "AgentSession":
            keywords = {k.arg for k in node.keywords if k.arg is not None}
            if "max_tool_steps" not in keywords:
                self.add(node, "LK007", "AgentSession(...) without max_tool_steps=")
            for kw in sorted(keywords & DEPRECATED_SESSION_KWARGS):
                self.add(node, "LK008", f"AgentSession({kw}=...)")
            if not isinstance(node.func, ast.Subscript):
                self.add(node, "LK009", "AgentSession(...) without a userdata type")
        if any(k.arg == "on_session_end" for k in node.keywords):
            self.has_session_end = True
        self.generic_visit(node)


def _type_nodes(node: ast.AST) -> list[ast.AST]:
    """The nodes of an annotation that name types: Annotated metadata and calls (Field(...))
    are skipped, so `Field(json_schema_extra={"enum": list(ids)})` is not mistaken for a type."""
    if isinstance(node, ast.Call):
        return []
    if isinstance(node, ast.Subscript) and _name(node.value).split(".")[-1] == "Annotated":
        first = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
        return _type_nodes(first)
    out: list[ast.AST] = [node]
    for child in ast.iter_child_nodes(node):
        out += _type_nodes(child)
    return out


def _untyped(ann: ast.expr | None) -> bool:
    """A bare list/dict/set/tuple or Any anywhere in the type (not `list[str]`)."""
    if ann is None:
        return False
    nodes = _type_nodes(ann)
    subscripted = {id(n.value) for n in nodes if isinstance(n, ast.Subscript)}
    return any(
        isinstance(n, ast.Name)
        and n.id in ("list", "dict", "List", "Dict", "Any", "set", "tuple")
        and id(n) not in subscripted
        for n in nodes
    )


def _plain_str(ann: ast.expr | None) -> bool:
    text = _annotation_text(ann)
    return text.replace(" ", "") in ("str", "str|None", "Optional[str]", "None|str")


def check_source(path: str, source: str) -> list[Finding]:
    """Findings for one module's source. Raises SyntaxError if it does not parse."""
    tree = ast.parse(source, filename=path)
    checker = _Checker(path, tree)
    checker.visit(tree)
    if checker.has_entrypoint and not checker.has_session_end:
        line = next(
            (f.line for f in checker.findings if f.rule == "LK001"), checker.entrypoint_line
        )
        checker.add(ast.Pass(lineno=line), "LK010", "an agent entrypoint with no on_session_end")
    return sorted(checker.findings, key=lambda f: (f.line, f.rule))
