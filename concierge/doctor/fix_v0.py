"""`doctor --fix` for livekit-agents **0.x** code: the mechanical half of the 0.x -> 1.x migration.

Rewritten (libcst, so comments and layout stay), each only in the shape where the 1.x code means
what the 0.x code meant; anything else is left, still reported, for a person:

- a `llm.FunctionContext` class -> a plain class; `@llm.ai_callable(...)` -> `@function_tool(...)`;
  `Annotated[T, llm.TypeInfo(description=d, choices=c)]` -> `Annotated[T, Field(description=d,
  json_schema_extra={"enum": c})]`;
- `x = VoicePipelineAgent(vad=, stt=, llm=, tts=, chat_ctx=, fnc_ctx=, ...)` + `x.start(room,
  participant)` -> `session = AgentSession(vad=, stt=, llm=, tts=, ...)` + `await session.start(
  agent=Agent(instructions=..., tools=find_function_tools(fnc)), room=room, room_options=...)`;
  a `MultimodalAgent(model=RealtimeModel(instructions=...))` the same with `llm=` (the realtime
  model's `instructions=`, ignored by 1.x, moves to the Agent); a system-prompt chat context ->
  `instructions=`; the turn keywords keep their meaning under their 1.x names (and the LK008
  rewrite then folds them into `turn_handling=`); a sync function that starts the agent becomes
  async where every caller can await it;
- the handlers of `user/agent_speech_committed`, `user/agent_started/stopped_speaking` and
  `metrics_collected` -> the 1.x event, with the filter and the argument the old one implied;
- the 0.x realtime greeting (`model.sessions[0]`, `conversation.item.create`, `response.create()`)
  -> `await session.generate_reply(user_input=...)` (an assistant-role item first joins the
  Agent's history through `update_chat_ctx`, which 1.x syncs to the realtime session);
- the agent's `chat_ctx_copy()` / `set_chat_ctx(c)` -> `session.current_agent.chat_ctx.copy()` /
  `.update_chat_ctx(c)`, and `.messages` of such a copy -> `.items`;
- `chat_ctx.append(text=, role=)` -> `chat_ctx.add_message(role=, content=)`,
  `ChatMessage.create(text=, role=)` -> `ChatMessage(role=, content=[...])`;
- the imports: what is used is added, what the rewrite left unused is removed.

Not rewritten: `before_llm_cb` / `before_tts_cb` (an `Agent.llm_node` / `tts_node` override),
`transcription=`, an agent started elsewhere than where it is built, handlers registered by
`on(event, fn)`, `AgentCallContext`, other realtime session edits (`session_update`, private
attributes), an agent call with arguments 0.x never took.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst import matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.helpers import ensure_type

from .syntax import (
    keyword_arg,
    keywords_of,
    last_of,
    make_call,
    name_of,
    replace_args,
)
from .v0 import AGENT_CLASSES, DROPPED_KWARGS, MANUAL_KWARGS, SESSION_KWARGS

#: Imports the rewrite may leave unused (removed only when nothing uses them any more).
MAYBE_DEAD = [
    ("livekit.agents.pipeline", "VoicePipelineAgent"),
    ("livekit.agents.multimodal", "MultimodalAgent"),
    ("livekit.agents.voice_assistant", "VoiceAssistant"),
    ("livekit.agents", "pipeline"),
    ("livekit.agents", "multimodal"),
    ("livekit.agents", "voice_assistant"),
    ("livekit.agents.llm", "FunctionContext"),
    ("livekit.agents.llm", "ai_callable"),
    ("livekit.agents.llm", "TypeInfo"),
    ("livekit.agents.llm", "ChatContext"),
    ("livekit.agents.llm", "ChatMessage"),
    ("livekit.agents", "llm"),
    ("livekit.plugins", "turn_detector"),
]
#: 0.x event -> (1.x event, its event class, the statement that keeps the old meaning)
SPEAKING_EVENTS = {
    "user_started_speaking": ("user_state_changed", "UserStateChangedEvent", "new_state"),
    "user_stopped_speaking": ("user_state_changed", "UserStateChangedEvent", "old_state"),
    "agent_started_speaking": ("agent_state_changed", "AgentStateChangedEvent", "new_state"),
    "agent_stopped_speaking": ("agent_state_changed", "AgentStateChangedEvent", "old_state"),
}
COMMITTED = {"user_speech_committed": "user", "agent_speech_committed": "assistant"}
#: What a 0.x agent and a 1.x AgentSession both have, with the same meaning
SESSION_METHODS = {"start", "say", "on", "generate_reply", "interrupt"}
#: 0.x agent methods on its history -> the 1.x call on the session's current Agent (same result;
#: `set_chat_ctx` and `update_chat_ctx` are both coroutines)
HISTORY_METHODS = {"chat_ctx_copy": "chat_ctx.copy", "set_chat_ctx": "update_chat_ctx"}
#: 0.x chat content classes -> the 1.x classes with the same fields
CONTENT_RENAMES = {"ChatImage": "ImageContent", "ChatAudio": "AudioContent"}
_SEP = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
KNOWN_KWARGS = set(SESSION_KWARGS) | DROPPED_KWARGS | {"chat_ctx", "fnc_ctx", "noise_cancellation"}


def _expr(stmt: cst.CSTNode) -> cst.BaseExpression | None:
    """The expression of a one-expression statement line."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        small = stmt.body[0]
        if isinstance(small, cst.Expr):
            return small.value
    return None


def _assign(stmt: cst.CSTNode) -> tuple[str, cst.BaseExpression] | None:
    """`name = value` as a statement line of its own."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        small = stmt.body[0]
        if (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
        ):
            return small.targets[0].target.value, small.value
    return None


def _uses(node: cst.CSTNode, name: str) -> int:
    """How often a variable is read or bound (a keyword or attribute of that spelling is not it)."""
    names = len(m.findall(node, m.Name(name)))
    keywords = len(m.findall(node, m.Arg(keyword=m.Name(name))))
    attributes = len(m.findall(node, m.Attribute(attr=m.Name(name))))
    return names - keywords - attributes


def _string(value: str) -> cst.SimpleString:
    return cst.SimpleString(json.dumps(value))  # double quotes, as black and ruff write them


def system_prompt(expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """The text of a chat context that holds only a system prompt (0.x spellings), else None."""
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value == "append"
        and isinstance(expr.func.value, cst.Call)
        and last_of(expr.func.value.func) == "ChatContext"
        and not expr.func.value.args
    ):
        kw = keywords_of(expr)
        role = kw["role"].value if "role" in kw else None
        if set(kw) <= {"text", "role"} and "text" in kw and _is_system(role):
            return kw["text"].value
    if isinstance(expr, cst.Call) and last_of(expr.func) == "ChatContext":
        kw = keywords_of(expr)
        messages = kw["messages"].value if "messages" in kw else None
        if isinstance(messages, cst.List) and len(messages.elements) == 1 and len(kw) == 1:
            message = messages.elements[0].value
            if isinstance(message, cst.Call) and last_of(message.func) in ("ChatMessage", "create"):
                mk = keywords_of(message)
                text = mk.get("content") or mk.get("text")
                if text is not None and set(mk) <= {"role", "content", "text"}:
                    return (
                        text.value
                        if _is_system(mk["role"].value if "role" in mk else None)
                        else None
                    )
    return None


def _is_system(role: cst.BaseExpression | None) -> bool:
    """0.x's default role is "system"."""
    return role is None or m.matches(role, m.SimpleString('"system"') | m.SimpleString("'system'"))


@dataclass
class _Needs:
    """What the rewritten module needs imported (livekit.agents names, and others)."""

    agents: set[str] = field(default_factory=set)
    other: set[tuple[str, str]] = field(default_factory=set)


class _Rename(cst.CSTTransformer):
    """Rename a variable (not attribute or keyword names that happen to be spelled the same)."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        return updated.with_changes(value=self.new) if updated.value == self.old else updated

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        return updated.with_changes(attr=original.attr)

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        return updated.with_changes(keyword=original.keyword)


class _ContentText(cst.CSTTransformer):
    """`msg.content` -> `msg.text_content` (1.x content is a list; the text is `text_content`)."""

    def __init__(self, param: str) -> None:
        self.param, self.targets = param, 0

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.targets += 1

    def leave_AssignTarget(
        self, original: cst.AssignTarget, updated: cst.AssignTarget
    ) -> cst.AssignTarget:
        self.targets -= 1
        return updated  # `msg.content = ...` stays: a message's content can be set in 1.x too

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        if self.targets:
            return updated
        if m.matches(updated, m.Attribute(value=m.Name(self.param), attr=m.Name("content"))):
            return updated.with_changes(attr=cst.Name("text_content"))
        return updated


class V0Fixer(cst.CSTTransformer):
    """One pass over a module; `fixed` names the rules it rewrote."""

    def __init__(
        self, context: CodemodContext, module: cst.Module, imports: dict[str, str]
    ) -> None:
        self.context, self.imports = context, imports
        self.fixed: set[str] = set()
        self.needs = _Needs()
        self.to_async = _async_candidates(module)
        self.awaited: set[str] = set()
        self.depth = 0  # blocks around the node being visited: how deep its body is indented
        self._local_names = {
            n.value
            for s in module.body
            if isinstance(s, cst.ClassDef | cst.FunctionDef)
            for n in [s.name]
        }

    def _livekit(self, node: cst.CSTNode) -> bool:
        head = name_of(node).split(".")[0]
        return self.imports.get(head, "").startswith("livekit")

    # --- tools --------------------------------------------------------------------------------

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self.depth -= 1
        bases = [b for b in updated.bases if last_of(b.value) != "FunctionContext"]
        if len(bases) == len(updated.bases):
            return updated
        self.fixed.add("LK036")
        if not bases:
            return updated.with_changes(
                bases=[], lpar=cst.MaybeSentinel.DEFAULT, rpar=cst.MaybeSentinel.DEFAULT
            )
        return updated.with_changes(
            bases=[*bases[:-1], bases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]
        )

    def leave_Decorator(self, original: cst.Decorator, updated: cst.Decorator) -> cst.Decorator:
        deco = updated.decorator
        if last_of(deco) != "ai_callable" or not (
            self._livekit(deco) or name_of(deco) == "llm.ai_callable"
        ):
            return updated  # `fnc_ctx.ai_callable()` registers on an instance: not mechanical
        return self.function_tool(updated)

    def function_tool(self, decorator: cst.Decorator) -> cst.Decorator:
        """`@...ai_callable(name=, description=, auto_retry=)` -> `@function_tool(name=, description=)`."""
        self.fixed.add("LK036")
        self.needs.agents.add("function_tool")
        deco, args = decorator.decorator, []
        if isinstance(deco, cst.Call):
            for a in deco.args:
                key = a.keyword.value if a.keyword else ""
                if key == "name" or (key == "description" and last_of(a.value) != "USE_DOCSTRING"):
                    args.append(a)
        return decorator.with_changes(decorator=make_call("function_tool", args))

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        new = CONTENT_RENAMES.get(updated.attr.value)
        if new and self._livekit(updated):  # same fields: image=, inference_width=, frame=...
            self.fixed.add("LK038")
            return updated.with_changes(attr=cst.Name(new))
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        last = last_of(updated.func)
        if last == "TypeInfo" and (
            self._livekit(updated.func) or name_of(updated.func) == "llm.TypeInfo"
        ):
            return self._field(updated)
        if name_of(updated.func).endswith("ChatMessage.create") and all(
            a.keyword for a in updated.args
        ):
            kw = keywords_of(updated)
            if set(kw) <= {"text", "role"}:
                self.fixed.add("LK038")
                role = kw["role"].value if "role" in kw else _string("system")
                content = (
                    cst.List([cst.Element(kw["text"].value)]) if "text" in kw else cst.List([])
                )
                head = name_of(updated.func).rsplit(".", 1)[0]
                return make_call(head, [keyword_arg("role", role), keyword_arg("content", content)])
        return updated

    def _field(self, call: cst.Call) -> cst.BaseExpression:
        args = list(call.args)
        description = next(
            (a.value for a in args if a.keyword is None or a.keyword.value == "description"), None
        )
        choices = next((a.value for a in args if a.keyword and a.keyword.value == "choices"), None)
        new = [keyword_arg("description", description)] if description is not None else []
        if choices is not None:
            if isinstance(choices, cst.Tuple):
                choices = cst.List([e.with_changes(comma=e.comma) for e in choices.elements])
            elif not isinstance(choices, cst.List) and name_of(choices) != "list":
                choices = make_call("list", [cst.Arg(choices)])  # a JSON schema enum is a list
            extra = cst.Dict([cst.DictElement(_string("enum"), choices)])
            new.append(keyword_arg("json_schema_extra", extra))
        self.fixed.add("LK036")
        self.needs.other.add(("pydantic", "Field"))
        return make_call("Field", new)

    # --- statements ---------------------------------------------------------------------------

    def leave_Expr(self, original: cst.Expr, updated: cst.Expr) -> cst.Expr:
        value = updated.value
        if (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Attribute)
            and value.func.attr.value == "append"
            and value.args
            and all(a.keyword for a in value.args)
            and set(keywords_of(value)) <= {"text", "role"}
            and "text" in keywords_of(value)
        ):  # `chat_ctx.append(text=, role=)` as a statement: the returned context is unused
            args = [  # the same arguments in the same layout; `text=` is now `content=`
                a.with_changes(keyword=cst.Name("content")) if a.keyword.value == "text" else a  # type: ignore[union-attr]
                for a in value.args
            ]
            if "role" not in keywords_of(value):  # 0.x's default
                args = [keyword_arg("role", _string("system")).with_changes(comma=_SEP), *args]
            call = value.with_changes(
                func=value.func.with_changes(attr=cst.Name("add_message")), args=args
            )
            self.fixed.add("LK038")
            return updated.with_changes(value=call)
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth += 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        self.depth -= 1
        new = _AgentRewrite(self, updated, 99 - 4 * (self.depth + 1)).run()
        if new is not updated and not new.asynchronous:
            self.awaited.add(new.name.value)
            new = new.with_changes(asynchronous=cst.Asynchronous())
        return new

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        if self.awaited:  # callers are visited before or after: a second pass awaits them all
            updated = updated.visit(_AwaitCalls(self.awaited))
        for name in sorted(self.needs.agents):
            AddImportsVisitor.add_needed_import(self.context, "livekit.agents", name)
        for module, name in sorted(self.needs.other):
            AddImportsVisitor.add_needed_import(self.context, module, name)
        if self.fixed:
            for module, name in MAYBE_DEAD:
                RemoveImportsVisitor.remove_unused_import(self.context, module, name)
        return updated


class _AwaitCalls(cst.CSTTransformer):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def leave_Expr(self, original: cst.Expr, updated: cst.Expr) -> cst.Expr:
        value = updated.value
        if (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name)
            and value.func.value in self.names
        ):
            return updated.with_changes(value=cst.Await(value))
        return updated


def _async_candidates(module: cst.Module) -> set[str]:
    """Top-level sync functions that every caller calls as a statement inside an `async def`:
    they can become async (and be awaited) if they must await `session.start`."""
    functions = {
        s.name.value for s in module.body if isinstance(s, cst.FunctionDef) and not s.asynchronous
    }
    ok = set(functions)
    for fn in m.findall(module, m.FunctionDef()):
        assert isinstance(fn, cst.FunctionDef)
        statements = {
            id(_expr(s)) for s in m.findall(fn, m.SimpleStatementLine()) if _expr(s) is not None
        }
        for call in m.findall(fn, m.Call(func=m.Name())):
            assert isinstance(call, cst.Call) and isinstance(call.func, cst.Name)
            if call.func.value in ok and not (fn.asynchronous and id(call) in statements):
                ok.discard(call.func.value)
    for s in module.body:  # a call at module level, or a reference that is not a call
        for n in m.findall(s, m.Name()):
            assert isinstance(n, cst.Name)
            if n.value in ok and not isinstance(s, cst.FunctionDef):
                ok.discard(n.value)
    return ok


class _AgentRewrite:
    """The 0.x agent in one function -> an AgentSession started with an Agent."""

    def __init__(self, fixer: V0Fixer, fn: cst.FunctionDef, width: int) -> None:
        self.fixer, self.fn, self.width = fixer, fn, width  # width: the columns right of the body
        self.body = list(fn.body.body) if isinstance(fn.body, cst.IndentedBlock) else []
        self.inline_model: cst.Call | None = None  # `model=RealtimeModel(...)` without instructions
        self.expanded: dict[int, list[cst.BaseStatement]] = {}  # a statement that becomes several

    def run(self) -> cst.FunctionDef:
        found = next(
            ((i, *a) for i, s in enumerate(self.body) if (a := self._agent(s)) is not None), None
        )
        if found is None:
            return self.fn
        i, var, call = found
        start = next(
            (k for k in range(i + 1, len(self.body)) if self._start(self.body[k], var) is not None),
            None,
        )
        kw = keywords_of(call)
        if (
            start is None
            or any(a.keyword is None or a.star for a in call.args)
            or kw.keys() & MANUAL_KWARGS
            or kw.keys() - KNOWN_KWARGS
            or not (self.fn.asynchronous or self.fn.name.value in self.fixer.to_async)
            or {"Agent", "AgentSession"} & self.fixer._local_names
            or self._other_agent_attributes(var)
        ):
            return self.fn
        start_call = self._start(self.body[start], var)
        assert start_call is not None
        room, participant = self._room_and_participant(start_call)
        if room is None:
            return self.fn
        removed: set[int] = set()
        instructions, chat_ctx = self._instructions(kw, i, removed)
        if instructions is None and chat_ctx is None and "model" in kw:
            return self.fn
        agent_args = [keyword_arg("instructions", instructions or _string(""))]
        if "fnc_ctx" in kw:
            agent_args.append(keyword_arg("tools", self._tools(kw["fnc_ctx"].value, i, removed)))
        if chat_ctx is not None:
            agent_args.append(keyword_arg("chat_ctx", chat_ctx))
        start_args = [
            keyword_arg("agent", make_call("Agent", agent_args)),
            keyword_arg("room", room),
        ]
        options = self._room_options(kw, participant)
        if options is not None:
            start_args.append(keyword_arg("room_options", options))
        code = "await " + _layout(name_of(start_call.func), start_args, "", self.width - 6)
        statement = cst.parse_statement(code)
        assert isinstance(statement, cst.SimpleStatementLine)
        old = self.body[start]
        assert isinstance(old, cst.SimpleStatementLine)  # `_start` matched a statement line
        self.body[start] = statement.with_changes(
            leading_lines=old.leading_lines, trailing_whitespace=old.trailing_whitespace
        )
        self.body[i] = self._session_statement(self.body[i], call)
        self._greeting(var, start, removed)
        self.body = self._drop(removed)
        self.fixer.needs.agents |= {"Agent", "AgentSession"}
        self.fixer.fixed |= {"LK031", "LK032", "LK033", "LK034"}
        fn = self.fn.with_changes(body=self.fn.body.with_changes(body=self.body))
        fn = ensure_type(fn.visit(_History(var)), cst.FunctionDef)
        name = next((n for n in ("session", "agent_session") if _uses(fn, n) == 0), var)
        if name != var:
            fn = ensure_type(fn.visit(_Rename(var, name)), cst.FunctionDef)
        return ensure_type(fn.visit(_Events(self.fixer, name)), cst.FunctionDef)

    def _tools(
        self, fnc_ctx: cst.BaseExpression, before: int, removed: set[int]
    ) -> cst.BaseExpression:
        """`[f, g]` for `fnc_ctx = llm.FunctionContext()` + `@fnc_ctx.ai_callable()` functions
        in this body (which become `@function_tool()`), else `find_function_tools(fnc_ctx)`."""
        j = self._bound_at(fnc_ctx.value, before) if isinstance(fnc_ctx, cst.Name) else None
        made = _assign(self.body[j])[1] if j is not None else None  # type: ignore[index]
        if (
            isinstance(fnc_ctx, cst.Name)
            and isinstance(made, cst.Call)
            and last_of(made.func) == "FunctionContext"
            and not made.args
        ):
            var = fnc_ctx.value
            registered = [
                k for k, s in enumerate(self.body)
                if isinstance(s, cst.FunctionDef)
                and any(m.matches(d.decorator, m.Call(func=m.Attribute(value=m.Name(var), attr=m.Name("ai_callable")))) for d in s.decorators)
            ]  # fmt: skip
            if registered and _uses(self.fn, var) == 2 + len(registered):
                names = []
                for k in registered:
                    fn = self.body[k]
                    assert isinstance(fn, cst.FunctionDef)
                    decorators = [
                        self.fixer.function_tool(d) if last_of(d.decorator) == "ai_callable" else d
                        for d in fn.decorators
                    ]
                    self.body[k] = fn.with_changes(decorators=decorators)
                    names.append(cst.Element(fn.name))
                removed.add(j)  # type: ignore[arg-type]
                return cst.List(_element_commas(names))
        self.fixer.needs.other.add(("livekit.agents.llm", "find_function_tools"))
        return make_call("find_function_tools", [cst.Arg(fnc_ctx)])

    def _other_agent_attributes(self, var: str) -> bool:
        """The agent is used beyond what an AgentSession has under the same name (say, on...):
        `chat_ctx_copy()`, `set_chat_ctx()`, `fnc_ctx` have no mechanical 1.x spelling."""
        used = {
            a.attr.value
            for a in m.findall(self.fn, m.Attribute(value=m.Name(var)))
            if isinstance(a, cst.Attribute)
        }
        return bool(used - SESSION_METHODS - set(HISTORY_METHODS))

    def _agent(self, stmt: cst.CSTNode) -> tuple[str, cst.Call] | None:
        assigned = _assign(stmt)
        if assigned is None or not isinstance(assigned[1], cst.Call):
            return None
        call = assigned[1]
        last = last_of(call.func)
        if last not in AGENT_CLASSES or (
            last == "VoiceAssistant" and not self.fixer._livekit(call.func)
        ):
            return None
        return assigned[0], call

    @staticmethod
    def _start(stmt: cst.CSTNode, var: str) -> cst.Call | None:
        value = _expr(stmt)
        if isinstance(value, cst.Call) and m.matches(
            value.func, m.Attribute(value=m.Name(var), attr=m.Name("start"))
        ):
            return value
        return None

    def _room_and_participant(
        self, call: cst.Call
    ) -> tuple[cst.BaseExpression | None, cst.BaseExpression | None]:
        positional = [a.value for a in call.args if a.keyword is None]
        kw = keywords_of(call)
        room = positional[0] if positional else (kw["room"].value if "room" in kw else None)
        participant = (
            positional[1]
            if len(positional) > 1
            else (kw["participant"].value if "participant" in kw else None)
        )
        return room, participant

    def _param_is_str(self, name: str) -> bool:
        for p in self.fn.params.params:
            if p.name.value == name and p.annotation is not None:
                return "str" in cst.Module([]).code_for_node(p.annotation.annotation)
        return False

    def _room_options(
        self, kw: dict[str, cst.Arg], participant: cst.BaseExpression | None
    ) -> cst.Call | None:
        args = []
        if participant is not None and not m.matches(participant, m.Name("None")):
            is_text = isinstance(participant, cst.SimpleString | cst.FormattedString) or (
                isinstance(participant, cst.Name) and self._param_is_str(participant.value)
            )
            identity = participant if is_text else cst.Attribute(participant, cst.Name("identity"))
            args.append(keyword_arg("participant_identity", identity))
        if "noise_cancellation" in kw:
            audio = make_call(
                "room_io.AudioInputOptions",
                [keyword_arg("noise_cancellation", kw["noise_cancellation"].value)],
            )
            args.append(keyword_arg("audio_input", audio))
        if not args:
            return None
        self.fixer.needs.agents.add("room_io")
        return make_call("room_io.RoomOptions", args)

    def _instructions(
        self, kw: dict[str, cst.Arg], before: int, removed: set[int]
    ) -> tuple[cst.BaseExpression | None, cst.BaseExpression | None]:
        """The Agent's instructions (from a system-prompt chat context or the realtime model's
        `instructions=`) and the chat context to keep, if it is more than a system prompt."""
        instructions: cst.BaseExpression | None = None
        chat_ctx = kw["chat_ctx"].value if "chat_ctx" in kw else None
        if chat_ctx is not None:
            source, j = chat_ctx, None
            if isinstance(chat_ctx, cst.Name):
                j = self._bound_at(chat_ctx.value, before)
                source = _assign(self.body[j])[1] if j is not None else chat_ctx  # type: ignore[index]
            prompt = system_prompt(source)
            if prompt is not None and (j is None or _uses(self.fn, chat_ctx.value) == 2):  # type: ignore[attr-defined]
                instructions, chat_ctx = prompt, None
                self.fixer.fixed.add("LK038")  # the 0.x system-prompt context is gone
                if j is not None:
                    removed.add(j)
        if "model" in kw:
            model = kw["model"].value
            from_model = self._model_instructions(model, before)
            if from_model is not None and instructions is None:
                instructions = from_model
            elif from_model is not None:
                return None, None  # two system prompts: which one wins is a person's call
        return instructions, chat_ctx

    def _model_instructions(
        self, model: cst.BaseExpression, before: int
    ) -> cst.BaseExpression | None:
        """Take `instructions=` out of the realtime model (1.x ignores it there)."""
        j = self._bound_at(model.value, before) if isinstance(model, cst.Name) else None
        call = _assign(self.body[j])[1] if j is not None else model  # type: ignore[index]
        if not isinstance(call, cst.Call) or "instructions" not in keywords_of(call):
            return None
        text = keywords_of(call)["instructions"].value
        kept = [a for a in call.args if not (a.keyword and a.keyword.value == "instructions")]
        if kept:
            kept[-1] = kept[-1].with_changes(comma=call.args[-1].comma)
        new_call = call.with_changes(args=kept)
        if j is not None:
            stmt = self.body[j]
            assert isinstance(stmt, cst.SimpleStatementLine)
            self.body[j] = stmt.with_changes(body=[stmt.body[0].with_changes(value=new_call)])
        else:
            self.inline_model = new_call
        return text

    def _bound_at(self, name: str, before: int) -> int | None:
        for j in range(before - 1, -1, -1):
            assigned = _assign(self.body[j])
            if assigned is not None and assigned[0] == name:
                return j
        return None

    def _session_statement(self, stmt: cst.BaseStatement, call: cst.Call) -> cst.BaseStatement:
        kw = keywords_of(call)
        drop = {k for k in kw if k not in SESSION_KWARGS}

        new = replace_args(call, drop, [])
        args = []
        for a in new.args:
            key = a.keyword.value if a.keyword else ""
            value = self.inline_model if key == "model" and self.inline_model else a.value
            if (
                key == "turn_detector"
                and m.matches(value, m.Call(args=[]))
                and last_of(value) == "EOUModel"
            ):
                # 0.x's turn-detector plugin class; 1.8.9's on-device successor (LK024's fix)
                value = cst.parse_expression("inference.TurnDetector()")
                self.fixer.needs.agents.add("inference")
            args.append(a.with_changes(keyword=cst.Name(SESSION_KWARGS.get(key, key)), value=value))
        session = new.with_changes(func=cst.Name("AgentSession"), args=args)
        assert isinstance(stmt, cst.SimpleStatementLine)
        return stmt.with_changes(body=[stmt.body[0].with_changes(value=session)])

    def _greeting(self, var: str, start: int, removed: set[int]) -> None:
        """The 0.x realtime greeting after start -> `await session.generate_reply(...)`."""
        k = start + 1
        assigned = _assign(self.body[k]) if k < len(self.body) else None
        if assigned is None or name_of(assigned[1]).rsplit(".", 1)[-1] not in (
            "sessions",
            "_sessions",
        ):
            return
        rt = assigned[0]
        item = _expr(self.body[k + 1]) if k + 1 < len(self.body) else None
        reply_at, args, content = k + 1, [], None
        if isinstance(item, cst.Call) and name_of(item.func) == f"{rt}.conversation.item.create":
            message = item.args[0].value if len(item.args) == 1 else None
            mk = keywords_of(message) if isinstance(message, cst.Call) else {}
            role = mk["role"].value if "role" in mk else None
            if "content" not in mk or not isinstance(role, cst.SimpleString):
                return
            said = role.evaluated_value
            key = {"user": "user_input", "system": "instructions"}.get(said)  # type: ignore[arg-type]
            if key is None and said != "assistant":
                return
            args = [keyword_arg(key, mk["content"].value)] if key else []
            reply_at, content = k + 2, mk["content"].value
        reply = _expr(self.body[reply_at]) if reply_at < len(self.body) else None
        if not (isinstance(reply, cst.Call) and name_of(reply.func) == f"{rt}.response.create"):
            return
        if _uses(self.fn, rt) != 1 + (reply_at - k):
            return  # the realtime session is used elsewhere too
        call = make_call(f"{var}.generate_reply", args)
        stmt = self.body[reply_at]
        assert isinstance(stmt, cst.SimpleStatementLine)
        self.body[reply_at] = stmt.with_changes(body=[cst.Expr(cst.Await(call))])
        if (
            content is not None and not args
        ):  # an assistant item: it joins the history, then a reply
            last = self.body[reply_at].with_changes(leading_lines=[])
            self.expanded[reply_at] = [*self._assistant_item(var, content), last]
        removed |= set(range(k, reply_at))

    def _assistant_item(self, var: str, content: cst.BaseExpression) -> list[cst.BaseStatement]:
        """0.x's `conversation.item.create(ChatMessage(role="assistant", ...))`: the 1.x agent's
        history gets the message (synced to the realtime session by `update_chat_ctx`)."""
        ctx = next(n for n in ("chat_ctx", "greeting_ctx", "history") if _uses(self.fn, n) == 0)
        text = cst.Module([]).code_for_node(content)
        return [
            cst.parse_statement(f"{ctx} = {var}.current_agent.chat_ctx.copy()\n"),
            cst.parse_statement(f'{ctx}.add_message(role="assistant", content={text})\n'),
            cst.parse_statement(f"await {var}.current_agent.update_chat_ctx({ctx})\n"),
        ]

    def _drop(self, removed: set[int]) -> list[cst.BaseStatement]:
        """The body without `removed`; their leading comments move to the next statement kept."""
        out: list[cst.BaseStatement] = []
        carried: list[cst.EmptyLine] = []
        for j, stmt in enumerate(self.body):
            assert isinstance(stmt, cst.SimpleStatementLine | cst.BaseCompoundStatement)
            if j in removed:
                carried += [line for line in stmt.leading_lines if line.comment is not None]
                continue
            leading = [*carried, *stmt.leading_lines]
            if not out:  # first in the body now: no blank line above it
                leading = [line for line in leading if line.comment is not None]
            first, *rest = self.expanded.get(j, [stmt])
            out += [first.with_changes(leading_lines=leading), *rest]
            carried = []
        return out


def _layout(func: str, args: Sequence[cst.Arg], indent: str, width: int) -> str:
    """`func(args)` on one line if it fits, else one argument per line (calls laid out alike).
    `indent` is relative to the statement's block (libcst indents continuation lines by it)."""
    code = cst.Module([]).code_for_node
    flat = (
        f"{func}("
        + ", ".join(code(a.with_changes(comma=cst.MaybeSentinel.DEFAULT)) for a in args)
        + ")"
    )
    if len(indent) + len(flat) <= width and "\n" not in flat:
        return flat
    inner = indent + "    "
    lines = []
    for a in args:
        value = a.value
        if isinstance(value, cst.Call) and value.args and all(x.keyword for x in value.args):
            key_width = len(a.keyword.value) + 1 if a.keyword else 0
            text = _layout(name_of(value.func), list(value.args), inner, width - key_width)
        else:
            text = code(value)
        key = f"{a.keyword.value}=" if a.keyword else ""
        lines.append(f"{inner}{key}{text},")
    return f"{func}(\n" + "\n".join(lines) + f"\n{indent})"


def _element_commas(elements: Sequence[cst.Element]) -> list[cst.Element]:
    return [
        e.with_changes(comma=_SEP if i < len(elements) - 1 else cst.MaybeSentinel.DEFAULT)
        for i, e in enumerate(elements)
    ]


class _History(cst.CSTTransformer):
    """The 0.x agent's own calls, in their 1.x spelling: `agent.chat_ctx_copy()` ->
    `session.current_agent.chat_ctx.copy()`, `agent.set_chat_ctx(c)` -> `session.current_agent
    .update_chat_ctx(c)`, and `.messages` of such a copy -> `.items` (a 1.x ChatContext's list);
    `generate_reply(on_duplicate)` loses the argument 1.x does not take."""

    def __init__(self, var: str) -> None:
        self.var = var
        self.copies: set[str] = set()

    def visit_Assign(self, node: cst.Assign) -> None:
        if m.matches(
            node.value, m.Call(func=m.Attribute(m.Name(self.var), m.Name("chat_ctx_copy")))
        ):
            self.copies |= {t.target.value for t in node.targets if isinstance(t.target, cst.Name)}

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        func = updated.func
        if not m.matches(func, m.Attribute(value=m.Name(self.var))):
            return updated
        method = ensure_type(func, cst.Attribute).attr.value
        if method == "generate_reply":
            return updated.with_changes(
                args=[a for a in updated.args if a.keyword and a.keyword.value != "on_duplicate"]
            )
        if method not in HISTORY_METHODS:
            return updated
        new = cst.parse_expression(f"{self.var}.current_agent.{HISTORY_METHODS[method]}")
        return updated.with_changes(func=new)

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        if m.matches(updated, m.Attribute(value=m.Name(), attr=m.Name("messages"))) and (
            ensure_type(updated.value, cst.Name).value in self.copies
        ):
            return updated.with_changes(attr=cst.Name("items"))
        return updated


class _Events(cst.CSTTransformer):
    """`@session.on("<0.x event>")` handlers -> the 1.x event, with the old meaning kept."""

    def __init__(self, fixer: V0Fixer, var: str) -> None:
        self.fixer, self.var = fixer, var

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        for i, d in enumerate(updated.decorators):
            deco = d.decorator
            if not (
                isinstance(deco, cst.Call)
                and m.matches(deco.func, m.Attribute(value=m.Name(self.var), attr=m.Name("on")))
                and len(deco.args) == 1
                and isinstance(deco.args[0].value, cst.SimpleString)
            ):
                continue
            event = deco.args[0].value.evaluated_value
            new = self._handler(updated, str(event))
            if new is None:
                return updated
            fn, new_event = new
            decorators = list(fn.decorators)
            if new_event == "conversation_item_added":  # 1.x adds interrupted replies too
                gone = {
                    j
                    for j, x in enumerate(decorators)
                    if j != i and _on(x, self.var, "agent_speech_interrupted")
                }
                decorators = [x for j, x in enumerate(decorators) if j not in gone]
                i -= sum(j < i for j in gone)
            decorators[i] = d.with_changes(
                decorator=deco.with_changes(
                    args=[deco.args[0].with_changes(value=_string(new_event))]
                )
            )
            return fn.with_changes(decorators=decorators)
        return updated

    def _handler(self, fn: cst.FunctionDef, event: str) -> tuple[cst.FunctionDef, str] | None:
        params = fn.params.params
        ev = "ev" if _uses(fn, "ev") == 0 else "event"
        if event in SPEAKING_EVENTS and not params:
            new_event, cls, state = SPEAKING_EVENTS[event]
            guard = f'if ev.{state} != "speaking":\n    return\n'.replace("ev.", f"{ev}.")
            fn = _prepend(fn, guard)
        elif event in COMMITTED and len(params) == 1:
            new_event, cls = "conversation_item_added", "ConversationItemAddedEvent"
            old = params[0].name.value
            fn = ensure_type(fn.visit(_ContentText(old)), cst.FunctionDef)
            fn = _prepend(
                fn, f'if {ev}.item.role != "{COMMITTED[event]}":\n    return\n{old} = {ev}.item\n'
            )
        elif event == "metrics_collected" and len(params) == 1:
            new_event, cls = event, "MetricsCollectedEvent"
            fn = _prepend(fn, f"{params[0].name.value} = {ev}.metrics\n")
        else:
            return None
        param = cst.Param(cst.Name(ev), cst.Annotation(cst.Name(cls)))
        self.fixer.needs.agents.add(cls)
        self.fixer.fixed.add("LK035")
        return fn.with_changes(params=fn.params.with_changes(params=[param])), new_event


def _on(decorator: cst.Decorator, var: str, event: str) -> bool:
    """`@var.on("event")`."""
    return m.matches(
        decorator.decorator,
        m.Call(
            func=m.Attribute(value=m.Name(var), attr=m.Name("on")),
            args=[m.Arg(value=m.SimpleString(f'"{event}"') | m.SimpleString(f"'{event}'"))],
        ),
    )


def _prepend(fn: cst.FunctionDef, code: str) -> cst.FunctionDef:
    """`code` at the top of `fn`'s body (after its docstring)."""
    assert isinstance(fn.body, cst.IndentedBlock)
    new = list(cst.parse_module(code).body)
    body = list(fn.body.body)
    at = (
        1
        if body and m.matches(body[0], m.SimpleStatementLine(body=[m.Expr(m.SimpleString())]))
        else 0
    )
    return fn.with_changes(body=fn.body.with_changes(body=[*body[:at], *new, *body[at:]]))
