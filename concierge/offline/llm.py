"""`StandInLLM`: a deterministic, menu-aware stand-in for a language model. Not an AI model.

It implements livekit's `llm.LLM` / `llm.LLMStream` interface, so the real `AgentSession` drives
it exactly as it would drive GPT: it receives the chat context and the tools, and answers with
real tool calls (complete `FunctionToolCall`s with JSON arguments) or a short spoken reply.
livekit then parses the arguments, runs the tools, and calls it again with their outputs.

How it decides:
- it reads the *tools it is given* (names and strict JSON schemas, enum values included) and only
  ever calls a tool that is offered, with arguments that validate against that tool's schema;
- it understands orders with `IntentParser` (rules plus the catalog's forgiving search);
- after tools ran, it turns their outputs (errors included) into a short spoken sentence;
- with `parallel_tool_calls=False` or `one_tool_per_step=True` it calls one tool per step, the way
  many real models do; with `tool_choice="none"` it never calls a tool (livekit asks for that once
  `max_tool_steps` is reached).

Use a real model by setting `OPENAI_API_KEY` (see `concierge.providers`).
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from livekit.agents import APIConnectOptions, llm
from livekit.agents.llm.utils import build_strict_openai_schema
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.utils import shortuuid

from ..menu import Catalog
from .intents import Intent, IntentParser

HELP = (
    "You can order food, say a size like 'a large coke', ask what's vegan at a restaurant, "
    "ask for a restaurant's menu, remove something, ask what's in your cart, or say checkout."
)


@dataclass(frozen=True)
class PlannedCall:
    """A tool call the stand-in intends to make."""

    name: str
    #: A str is sent verbatim, even if it is not JSON (`ScriptedLLM`'s lessons on malformed calls).
    arguments: dict[str, Any] | str


class StandInLLM(llm.LLM):
    """A deterministic stand-in model that knows the menu. See the module docstring."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        one_tool_per_step: bool = False,
        ignore_tool_choice: bool = False,
    ) -> None:
        """`ignore_tool_choice=True` imitates a model that keeps calling tools after being told
        not to (`tool_choice="none"`) — the case in which livekit ends a turn with no reply."""
        super().__init__()
        self.catalog = catalog
        self.parser = IntentParser(catalog)
        self.one_tool_per_step = one_tool_per_step
        self.ignore_tool_choice = ignore_tool_choice
        self.calls = 0  # how many times chat() was called; the max_tool_steps lesson counts them
        self.tool_choices: list[str] = []  # the tool_choice of each call, as livekit sent it
        #: Only send arguments valid under the tool's schema (False only for `ScriptedLLM`).
        self.validate_arguments = True

    def plan(self, intent: Intent, history: list[llm.ChatItem]) -> list[PlannedCall]:
        """The tool calls that carry out `intent`; subclasses map intents to other tool sets."""
        return plan_calls(self, intent, history)

    @property
    def model(self) -> str:
        return "concierge-stand-in"

    @property
    def provider(self) -> str:
        return "concierge (offline, deterministic)"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> StandInStream:
        self.calls += 1
        self.tool_choices.append(str(tool_choice) if tool_choice is not NOT_GIVEN else "auto")
        return StandInStream(
            self,
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
            sequential=self.one_tool_per_step or parallel_tool_calls is False,
            allow_tools=tool_choice != "none" or self.ignore_tool_choice,
        )


class StandInStream(llm.LLMStream):
    """One response of the stand-in: computed at once, pushed as a single chunk."""

    def __init__(
        self,
        model: StandInLLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
        sequential: bool,
        allow_tools: bool,
    ) -> None:
        super().__init__(model, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._model = model
        self._sequential = sequential
        self._allow_tools = allow_tools

    async def _run(self) -> None:
        text, calls = respond(
            self._model,
            self._chat_ctx.items,
            _schemas(self._tools),
            sequential=self._sequential,
            allow_tools=self._allow_tools,
        )
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=shortuuid("standin_"),
                delta=llm.ChoiceDelta(
                    role="assistant",
                    content=text or None,
                    tool_calls=[
                        llm.FunctionToolCall(
                            name=c.name,
                            arguments=c.arguments
                            if isinstance(c.arguments, str)
                            else json.dumps(c.arguments),
                            call_id=shortuuid("call_"),
                        )
                        for c in calls
                    ],
                ),
            )
        )


# --- deciding what to say ---------------------------------------------------------------------


def respond(
    model: StandInLLM,
    items: list[llm.ChatItem],
    schemas: dict[str, dict[str, Any]],
    *,
    sequential: bool = False,
    allow_tools: bool = True,
) -> tuple[str, list[PlannedCall]]:
    """The stand-in's whole policy: from the conversation so far, a reply text and tool calls."""
    user_index = max((i for i, it in enumerate(items) if _is_user(it)), default=None)
    if user_index is None:
        return greeting(model.catalog), []
    since_user = items[user_index + 1 :]
    done_calls = [it for it in since_user if it.type == "function_call"]
    outputs = [it for it in since_user if it.type == "function_call_output"]

    intent = model.parser.parse(_text(items[user_index]))
    plan = [
        c
        for c in model.plan(intent, items[:user_index])
        if _valid(c, schemas) or (not model.validate_arguments and c.name in schemas)
    ]
    remaining = plan[len(done_calls) :] if done_calls else plan

    if allow_tools and remaining and (not done_calls or sequential):
        return "", remaining[:1] if sequential else remaining
    if outputs:
        unfinished = bool(remaining) and not allow_tools
        return speak_outputs(outputs, unfinished=unfinished), []
    return no_tool_reply(model, intent, schemas), []


def plan_calls(model: StandInLLM, intent: Intent, history: list[llm.ChatItem]) -> list[PlannedCall]:
    """The tool calls that carry out `intent`, in order."""
    kind = intent.kind
    if kind == "checkout":
        return [PlannedCall("checkout", {})]
    if kind == "view_cart":
        return [PlannedCall("view_cart", {})]
    if kind == "profile":
        return [PlannedCall("get_user_profile", {})]
    if kind == "menu" and intent.restaurant_id:
        return [PlannedCall("get_restaurant_menu", {"restaurant_id": intent.restaurant_id})]
    if kind == "search":
        return [
            PlannedCall(
                "find_food_item",
                {
                    "query": intent.query,
                    "restaurant_id": intent.restaurant_id or "null",
                    "dietary": intent.dietary or "null",
                },
            )
        ]
    if kind == "remove":
        added = _added_item_ids(history)
        calls = []
        for r in intent.items:
            item_id = r.item_id
            if item_id is None and r.ambiguous:
                # "remove the pizza": the one pizza this conversation added, if only one was
                in_cart = [i for i in r.ambiguous if i in added]
                item_id = in_cart[0] if len(in_cart) == 1 else None
            if item_id is not None:
                calls.append(
                    PlannedCall("remove_from_cart", {"item_id": item_id, "size": r.size or "null"})
                )
        return calls
    if kind == "size_answer":
        pending = _pending_size_question(history)
        if pending is not None:
            return [PlannedCall("add_to_cart", {**pending, "size": intent.size})]
        return []
    if kind == "order":
        calls = []
        for r in intent.items:
            if r.item_id:
                args = {
                    "item_id": r.item_id,
                    "quantity": r.quantity,
                    "size": r.size or "null",
                    "notes": r.notes,
                }
                calls.append(PlannedCall("add_to_cart", args))
            else:
                calls.append(
                    PlannedCall(
                        "find_food_item",
                        {"query": r.phrase, "restaurant_id": "null", "dietary": "null"},
                    )
                )
        return calls
    return []


def speak_outputs(outputs: Iterable[llm.FunctionCallOutput], *, unfinished: bool = False) -> str:
    """Turn tool outputs into one short spoken reply. Errors are relayed, not hidden."""
    parts = []
    for out in outputs:
        text = _spoken(out.output)
        parts.append(f"Sorry — {text}" if out.is_error else text)
    reply = " ".join(parts)
    if unfinished:
        reply += " I couldn't finish everything you asked in one go; please repeat the rest."
    return reply


def no_tool_reply(model: StandInLLM, intent: Intent, schemas: dict[str, Any]) -> str:
    """What to say when no tool fits the message."""
    if intent.kind == "greeting":
        return greeting(model.catalog)
    if intent.kind == "thanks":
        return "You're welcome! Anything else, or shall I check out?"
    if intent.kind == "menu":
        names = ", ".join(r.name for r in model.catalog.restaurants.values())
        return f"Which restaurant's menu would you like? We have {names}."
    if intent.kind == "size_answer":
        return "Which item is that size for? Tell me the item and the size together."
    if intent.kind in ("order", "remove"):
        amb = next((r for r in intent.items if r.ambiguous), None)
        if amb:
            options = " or ".join(model.catalog.items[i].name for i in amb.ambiguous)
            return f"Which one do you mean: {options}?"
    if intent.kind == "remove":
        phrase = next((r.phrase for r in intent.items if not r.item_id), "that")
        return f"I can't find {phrase} on the menu. Which item should I remove from your cart?"
    if not schemas:
        return "I can't look anything up right now."
    return f"Sorry, I didn't understand that. {HELP}"


def greeting(catalog: Catalog) -> str:
    names = ", ".join(r.name for r in catalog.restaurants.values())
    return f"Hi! I can order for you from {names}. What would you like?"


# --- helpers ----------------------------------------------------------------------------------


_schema_cache: weakref.WeakKeyDictionary[llm.FunctionTool, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def _schemas(tools: list[llm.Tool]) -> dict[str, dict[str, Any]]:
    """Each offered function tool's strict parameter schema (built once per tool object)."""
    out = {}
    for tool in tools:
        if isinstance(tool, llm.FunctionTool):
            schema = _schema_cache.get(tool)
            if schema is None:
                schema = build_strict_openai_schema(tool)["function"]["parameters"]
                _schema_cache[tool] = schema
            out[tool.info.name] = schema
    return out


def _valid(call: PlannedCall, schemas: dict[str, dict[str, Any]]) -> bool:
    """Only call offered tools, with arguments that validate against their strict schema."""
    schema = schemas.get(call.name)
    return (
        schema is not None
        and isinstance(call.arguments, dict)
        and not schema_errors(schema, call.arguments)
    )


def schema_errors(schema: dict[str, Any], args: dict[str, Any]) -> list[str]:
    """The ways `args` breaks `schema` (the subset strict schemas use: type, enum, required)."""
    errors = []
    props: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in args:
            errors.append(f"missing {name}")
    for name, value in args.items():
        prop = props.get(name)
        if prop is None:
            if schema.get("additionalProperties") is False:
                errors.append(f"unexpected {name}")
            continue
        types = prop.get("type")
        types = [types] if isinstance(types, str) else types or []
        if types and not any(_type_ok(value, t) for t in types):
            errors.append(f"{name}: {value!r} is not {types}")
        if "enum" in prop and value not in prop["enum"]:
            errors.append(f"{name}: {value!r} not in enum")
    return errors


def _type_ok(value: Any, t: str) -> bool:
    return {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(t, False)


def _is_user(item: llm.ChatItem) -> bool:
    return item.type == "message" and item.role == "user"


def _text(item: llm.ChatItem) -> str:
    return item.text_content or "" if item.type == "message" else ""


#: Sentences in tool messages that instruct the model; a person should not hear them.
_MODEL_DIRECTIONS = re.compile(
    r"(?:^|(?<=[.:;?!]))\s*(?:Ask the user|Use find_food_item|Offer|Explain)[^.]*\."
)


#: livekit's message when a call's arguments do not parse or validate (before the tool runs).
_ARGUMENT_ERROR = re.compile(r"^Error parsing arguments for `(\w+)`: (.*)", re.S)


def _argument_problem(tool_output: str) -> str | None:
    """livekit's parsing error (pydantic's report, or a JSON error) as one plain sentence."""
    m = _ARGUMENT_ERROR.match(tool_output)
    if m is None:
        return None
    fields = [
        line.strip()
        for line in m.group(2).splitlines()[1:]
        if line.strip() and not line.startswith(" ")
    ]
    names = list(dict.fromkeys(f.removesuffix("_id").replace("_", " ") for f in fields))
    if names:
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"I got the {listed} for that wrong. Could you say it again?"
    return "I couldn't read that request. Could you say it again?"


def _spoken(tool_output: str) -> str:
    """A tool's output as the stand-in says it: ids and instructions to the model left out."""
    plain = _argument_problem(tool_output)
    if plain is not None:
        return plain
    text = re.sub(r" \(id [a-z0-9_]+\)", "", tool_output)
    text = _MODEL_DIRECTIONS.sub("", text).strip().rstrip(":;,")
    return text or "Done."


def _added_item_ids(history: list[llm.ChatItem]) -> set[str]:
    """The items this conversation has put in the cart and not taken out again."""
    failed = {it.call_id for it in history if it.type == "function_call_output" and it.is_error}
    lines: dict[str, int] = {}
    for it in history:
        if it.type != "function_call" or it.call_id in failed:
            continue
        try:
            item_id = str(json.loads(it.arguments or "{}").get("item_id", ""))
        except (ValueError, AttributeError):  # a malformed call from a misbehaving model
            continue
        if it.name == "add_to_cart":
            lines[item_id] = lines.get(item_id, 0) + 1
        elif it.name == "remove_from_cart":
            lines[item_id] = lines.get(item_id, 0) - 1
        elif it.name == "checkout":
            lines.clear()
    return {item_id for item_id, count in lines.items() if count > 0}


def _pending_size_question(history: list[llm.ChatItem]) -> dict[str, Any] | None:
    """If the last add_to_cart failed for want of a size, its arguments (to retry with one)."""
    outputs = {it.call_id: it for it in history if it.type == "function_call_output"}
    for it in reversed(history):
        if it.type == "message" and it.role == "user":
            return None
        if it.type == "function_call" and it.name == "add_to_cart":
            out = outputs.get(it.call_id)
            if out is not None and out.is_error and "which size" in out.output:
                args = json.loads(it.arguments)
                return {k: v for k, v in args.items() if k != "size"}
    return None


class ScriptedLLM(StandInLLM):
    """A stand-in that sends exactly the tool calls you give it — even invalid ones.

    For lessons and tests about what happens when a model sends something wrong: an id that is
    not in the enum, a quantity of 500. After the tools ran it speaks their outputs like
    `StandInLLM`. Not an AI model.
    """

    def __init__(self, catalog: Catalog, calls: list[PlannedCall]) -> None:
        super().__init__(catalog)
        self.script = list(calls)
        self.validate_arguments = False

    def plan(self, intent: Intent, history: list[llm.ChatItem]) -> list[PlannedCall]:
        return list(self.script)
