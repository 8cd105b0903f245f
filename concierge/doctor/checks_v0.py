"""The doctor's checks for livekit-agents **0.x** code: every use of an API that 1.0 removed.

A removed API fails at import or at run time, so unlike a deprecation it is reported at every
line that uses it, not once where it enters the module. Names are resolved through the module's
imports, so a user's own `Worker` or `VoiceAssistant` class is not mistaken for livekit's; the
names only 0.x ever had (`FunctionContext`, `ai_callable`, `VoicePipelineAgent`...) are matched
however they are reached. The table of what was removed and where it went is `v0`.
"""

from __future__ import annotations

import ast

from .checks import dotted
from .rules import Finding
from .v0 import (
    AGENT_CLASSES,
    AGENT_KWARGS,
    AGENT_SIGNATURES,
    EVENTS,
    FUNCTION_CONTEXT_NAMES,
    OTHER_REMOVED,
    REMOVED_MODULES,
)

OTHER_RULE = {
    "AgentCallContext": "LK037",
    "AssistantCallContext": "LK037",
    "Worker": "LK040",
    "ChatManager": "LK041",
    "ChatImage": "LK038",
    "ChatAudio": "LK038",
    "LLMCapabilities": "LK038",
}
FNC_MESSAGE = {
    "FunctionContext": "make its methods `@function_tool()` and pass them as `Agent(tools=...)`",
    "ai_callable": "becomes `@function_tool(...)`",
    "TypeInfo": "becomes pydantic `Field(description=...)`",
    "ai_functions": "`llm.find_function_tools(obj)` lists an object's tools",
}
REMOVED_AGENT_METHODS = {
    "chat_ctx_copy": "`agent.chat_ctx.copy()` on the 1.x `Agent` (or `session.history`)",
    "set_chat_ctx": "`await agent.update_chat_ctx(...)` on the 1.x `Agent`",
}
REALTIME_SESSION_CALLS = ("response.create", "response.cancel")


def imports(tree: ast.Module) -> dict[str, str]:
    """Each name the module imports, and what it is: `{"llm": "livekit.agents.llm"}`."""
    table: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                table[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                table[a.asname or a.name] = f"{node.module}.{a.name}"
    return table


_chain = dotted  # `model.sessions` for `model.sessions[0]`: calls and subscripts looked through


def _removed_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in REMOVED_MODULES)


class V0Checker(ast.NodeVisitor):
    def __init__(self, path: str, tree: ast.Module) -> None:
        self.path = path
        self.findings: list[Finding] = []
        self.table = imports(tree)
        self.agents, self.models, self.sessions = _tracked(tree)
        self.explained: set[int] = set()  # agent-class nodes already reported with a reason

    def add(self, node: ast.AST, rule: str, message: str) -> None:
        line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
        self.findings.append(Finding(self.path, line, rule, message, col))

    def qualified(self, node: ast.AST) -> str:
        """`llm.TypeInfo` -> `livekit.agents.llm.TypeInfo` through the imports (else as written)."""
        chain = _chain(node)
        head, _, rest = chain.partition(".")
        origin = self.table.get(head)
        return f"{origin}.{rest}".rstrip(".") if origin else chain

    def _from_livekit(self, node: ast.AST, prefix: str = "livekit") -> bool:
        return self.qualified(node).startswith(prefix)

    # --- imports ----------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if _removed_module(a.name):
                self.add(node, "LK031", f"`import {a.name}` (removed in 1.0)")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            return
        if _removed_module(module):
            self.add(node, "LK031", f"`from {module} import ...` (removed in 1.0)")
            return
        for a in node.names:  # each at its own line in a parenthesized import
            full = f"{module}.{a.name}"
            if _removed_module(full):
                self.add(a, "LK031", f"imports `{full}` (removed in 1.0)")
            elif module.startswith("livekit"):
                self._name(a, a.name, full)

    def _name(self, node: ast.AST, name: str, full: str) -> None:
        """A removed name, used or imported."""
        if name in FUNCTION_CONTEXT_NAMES and full.startswith("livekit"):
            self.add(node, "LK036", f"`{name}`: {FNC_MESSAGE.get(name, 'no 1.x counterpart')}")
        elif name in AGENT_CLASSES and full.startswith("livekit"):
            if id(node) not in self.explained:
                self.add(node, "LK032", f"`{name}`")
        elif name in OTHER_REMOVED and full.startswith(OTHER_REMOVED[name]):
            self.add(node, OTHER_RULE[name], f"`{name}`")

    # --- names and attributes -----------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        origin = self.table.get(node.id)
        if origin and isinstance(node.ctx, ast.Load):
            self._name(node, node.id, origin)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        full = self.qualified(node)
        attr = node.attr
        if attr in ("FunctionContext", "ai_callable", "ai_functions"):  # only 0.x had these
            self.add(node, "LK036", f"`{_chain(node) or attr}`: {FNC_MESSAGE[attr]}")
        elif attr in AGENT_CLASSES and (attr != "VoiceAssistant" or full.startswith("livekit")):
            if id(node) not in self.explained:
                self.add(node, "LK032", f"`{_chain(node)}`")
        elif full in REMOVED_MODULES:  # `agents.pipeline`; a name from it is judged by name
            self.add(node, "LK031", f"`{_chain(node)}` (removed in 1.0)")
        elif full.startswith("livekit"):
            self._name(node, attr, full)
        chain = _chain(node)
        if ".conversation.item." in f".{chain}." or (
            chain.split(".")[0] in self.sessions
            and any(chain.endswith(c) for c in (*REALTIME_SESSION_CALLS, "conversation"))
        ):
            self.add(node, "LK039", f"`{chain}`")
            return  # one finding for the chain, not one per link
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        value = node.value
        if (
            isinstance(value, ast.Attribute)
            and value.attr in ("sessions", "_sessions")
            and (_chain(value.value) in self.models or "model" in _chain(value.value).lower())
        ):
            self.add(node, "LK039", f"`{_chain(value)}[...]`")
        self.generic_visit(node)

    # --- calls ----------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        func, chain = node.func, _chain(node.func)
        last = chain.rsplit(".", 1)[-1]
        if last in AGENT_CLASSES and self._agent_class(func):
            self._not_0x(node, last)
            for k in node.keywords:
                if k.arg in AGENT_KWARGS:
                    self.add(k, "LK033", f"{last}({k.arg}=...): {AGENT_KWARGS[k.arg]}")
        receiver = chain.rsplit(".", 1)[0] if "." in chain else ""
        if (receiver in self.agents or receiver in self.sessions) and last in REMOVED_AGENT_METHODS:
            self.add(node, "LK034", f"`{chain}(...)`: {REMOVED_AGENT_METHODS[last]}")
        if receiver in self.agents and last in ("start", "say"):
            self.add(
                node,
                "LK034",
                f"`{chain}(...)`: "
                + (
                    "`await session.start(agent=Agent(...), room=ctx.room)`"
                    if last == "start"
                    else "`session.say(...)` (same arguments)"
                )
                + (
                    "; the agent is kept on an object, so `--fix` leaves it: build the "
                    "AgentSession where it is started, by hand"
                    if "." in receiver and last == "start"
                    else ""
                ),
            )
        if (
            last == "on"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in EVENTS
        ):
            event = node.args[0].value
            self.add(node, "LK035", f'`.on("{event}")`: use {EVENTS[event]}')
        self._chat_context(node, chain, last)
        self.generic_visit(node)

    def _not_0x(self, node: ast.Call, cls: str) -> None:
        """A 0.x agent built with arguments 0.x never took: one finding says what only a person
        can do (`--fix` leaves such a call), in place of the bare class-name finding."""
        known = AGENT_SIGNATURES.get(cls)
        if known is None:
            return
        odd = [f"`{k.arg}=`" for k in node.keywords if k.arg and k.arg not in known]
        if node.args:
            odd.insert(0, f"{len(node.args)} positional argument(s)")
        if not odd:
            return
        self.explained.add(id(node.func))
        self.add(
            node.func,
            "LK032",
            f"`{cls}(...)` with {', '.join(odd)}, which 0.x's {cls} never took (it failed under "
            "0.x too); `--fix` leaves it: build `AgentSession(...)` and `Agent(instructions=..., "
            "tools=...)` by hand from what was meant",
        )

    def _agent_class(self, func: ast.AST) -> bool:
        return not (_chain(func).endswith("VoiceAssistant") and not self._from_livekit(func))

    def _chat_context(self, node: ast.Call, chain: str, last: str) -> None:
        names = {k.arg for k in node.keywords}
        if last == "append" and (
            names & {"text", "role", "images"}
            or (
                isinstance(node.func, ast.Attribute)
                and _chain(node.func.value).endswith("ChatContext")
            )
        ):
            self.add(
                node,
                "LK038",
                "`ChatContext.append(...)`: `chat_ctx.add_message(role=..., content=...)`",
            )
        elif chain.endswith("ChatMessage.create"):
            self.add(
                node,
                "LK038",
                "`ChatMessage.create(...)`: `llm.ChatMessage(role=..., content=[...])`",
            )
        elif last == "ChatContext" and "messages" in names:
            where = next(k for k in node.keywords if k.arg == "messages")
            self.add(where, "LK038", "`ChatContext(messages=...)`: `llm.ChatContext(items=[...])`")


def _tracked(tree: ast.Module) -> tuple[set[str], set[str], set[str]]:
    """Names bound to a 0.x agent, to a realtime model, and to a 0.x realtime session."""
    agents: set[str] = set()
    models: set[str] = set()
    sessions: set[str] = set()
    # functions and methods that return a 0.x agent (`def build(self) -> MultimodalAgent:`)
    makers = {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and _names_agent(n.returns)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and _names_agent(node.annotation):
            agents.add(_chain(node.target))  # `self.agent: MultimodalAgent | None = None`
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = {_chain(t) for t in targets} - {""}
        value = node.value
        if isinstance(value, ast.Call):
            last = _chain(value.func).rsplit(".", 1)[-1]
            if last in AGENT_CLASSES or last in makers:
                agents |= names
            elif last == "RealtimeModel":
                models |= names
        elif (
            isinstance(value, ast.Subscript)
            and isinstance(value.value, ast.Attribute)
            and value.value.attr in ("sessions", "_sessions")
        ):
            sessions |= names
    return agents, models, sessions


def _names_agent(annotation: ast.expr | None) -> bool:
    """An annotation that names a 0.x agent class (`MultimodalAgent | None`, `"VoicePipelineAgent"`)."""
    if annotation is None:
        return False
    for n in ast.walk(annotation):
        if (
            isinstance(n, ast.Name | ast.Attribute)
            and _chain(n).rsplit(".", 1)[-1] in AGENT_CLASSES
        ):
            return True
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in AGENT_CLASSES:
            return True
    return False


def check_v0(path: str, tree: ast.Module) -> list[Finding]:
    checker = V0Checker(path, tree)
    checker.visit(tree)
    return checker.findings
