"""The stand-in as a livekit `llm.LLM`: the session calls it like any model, it answers at once.

`ImmediateLLM` is the livekit side, shared by every offline model of the lab (the bench's trivial
`ReplayLLM` too): `chat()` returns a stream that computes the whole answer (a text and tool calls)
in one go and sends it as a single chunk. `StandInLLM` is the concierge's stand-in on top of it:

- on the first call of a turn it reads the customer's message (`parser`) and the conversation
  (`history`), and plans the tool calls (`planner`), keeping only calls valid under the offered
  tools' strict schemas (`validation`); the plan is kept by message id, so the calls livekit makes
  after the tools ran reuse it instead of reading the same text again;
- once the tools answered, it says their results (`wording`);
- with `parallel_tool_calls=False` or `one_tool_per_step=True` it makes one call per step, as
  many real models do; with `tool_choice="none"` (livekit's answer to `max_tool_steps`) none.
"""

from __future__ import annotations

import json
from typing import Any

from livekit.agents import APIConnectOptions, llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.utils import shortuuid

from ...menu import Catalog
from . import wording
from .history import Conversation, read_history
from .parser import Intent, IntentParser
from .planner import Plan, PlannedCall, plan_intent
from .validation import is_valid

#: How many planned messages a stand-in remembers (one session needs the current and previous).
_PLAN_MEMORY = 16


class ImmediateLLM(llm.LLM):
    """An offline model whose answer is computed at once by `answer()`. Not an AI model."""

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        text, calls = self.answer(
            chat_ctx.items,
            tools or [],
            sequential=parallel_tool_calls is False,
            tool_choice=str(tool_choice) if tool_choice is not NOT_GIVEN else "auto",
        )
        return _ImmediateStream(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options,
            text=text, calls=calls,
        )  # fmt: skip

    def answer(
        self,
        items: list[llm.ChatItem],
        tools: list[llm.Tool],
        *,
        sequential: bool,
        tool_choice: str,
    ) -> tuple[str, list[PlannedCall]]:
        """The reply text and tool calls for this point of the conversation."""
        raise NotImplementedError


class _ImmediateStream(llm.LLMStream):
    def __init__(
        self, model: llm.LLM, *, text: str, calls: list[PlannedCall], **kwargs: Any
    ) -> None:
        super().__init__(model, **kwargs)
        self._text, self._calls = text, calls

    async def _run(self) -> None:
        tool_calls = [
            llm.FunctionToolCall(
                name=c.name,
                arguments=c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments),
                call_id=shortuuid("call_"),
            )
            for c in self._calls
        ]
        delta = llm.ChoiceDelta(role="assistant", content=self._text or None, tool_calls=tool_calls)
        self._event_ch.send_nowait(llm.ChatChunk(id=shortuuid("standin_"), delta=delta))


class StandInLLM(ImmediateLLM):
    """A deterministic stand-in model that knows the menu. Not an AI model. See the module."""

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
        self._plans: dict[str, tuple[Intent, Plan]] = {}

    @property
    def model(self) -> str:
        return "concierge-stand-in"

    @property
    def provider(self) -> str:
        return "concierge (offline, deterministic)"

    def plan(self, intent: Intent, conv: Conversation, previous: Intent | None) -> Plan:
        """The calls that carry out `intent`; subclasses map intents to other tool sets."""
        return plan_intent(self.catalog, intent, conv, previous)

    def answer(
        self,
        items: list[llm.ChatItem],
        tools: list[llm.Tool],
        *,
        sequential: bool,
        tool_choice: str,
    ) -> tuple[str, list[PlannedCall]]:
        self.calls += 1
        self.tool_choices.append(tool_choice)
        allow_tools = tool_choice != "none" or self.ignore_tool_choice
        user_index = max((i for i, it in enumerate(items) if _is_user(it)), default=None)
        if user_index is None:
            return wording.greeting(self.catalog), []
        plan = self._plan_for(items, user_index, tools)
        sequential = sequential or self.one_tool_per_step or plan.sequential
        since = items[user_index + 1 :]
        done = sum(1 for it in since if it.type == "function_call")
        outputs = [it for it in since if it.type == "function_call_output"]
        remaining = list(plan.calls[done:])
        if allow_tools and remaining and (not done or sequential):
            return "", remaining[:1] if sequential else remaining
        if outputs:
            unfinished = bool(remaining) and not allow_tools
            return wording.speak_outputs(outputs, then=plan.say, unfinished=unfinished), []
        return plan.say or _nothing_to_do(tools), []

    def _plan_for(self, items: list[llm.ChatItem], user_index: int, tools: list[llm.Tool]) -> Plan:
        """The plan for the message at `user_index`, made once per message."""
        message = items[user_index]
        known = self._plans.get(message.id)
        if known is not None:
            return known[1]
        intent = self.parser.parse(_text(message))
        conv = read_history(items[:user_index])
        plan = self.plan(intent, conv, self._previous_intent(conv))
        if self.validate_arguments:
            valid = tuple(c for c in plan.calls if is_valid(c.name, c.arguments, tools))
            plan = Plan(valid, plan.say, plan.sequential)
        self._plans[message.id] = (intent, plan)
        if len(self._plans) > _PLAN_MEMORY:
            del self._plans[next(iter(self._plans))]
        return plan

    def _previous_intent(self, conv: Conversation) -> Intent | None:
        if not conv.previous_id:
            return None
        known = self._plans.get(conv.previous_id)
        return known[0] if known is not None else self.parser.parse(conv.previous_text)


class ScriptedLLM(StandInLLM):
    """A stand-in that sends exactly the tool calls you give it — even invalid ones.

    For lessons and tests about what happens when a model sends something wrong: an id that is
    not in the enum, a quantity of 500, an order placed without a read-back. Each turn it sends
    `script` (set it again between turns); after the tools ran it says their results like
    `StandInLLM`. Not an AI model.
    """

    def __init__(self, catalog: Catalog, calls: list[PlannedCall]) -> None:
        super().__init__(catalog)
        self.script = list(calls)
        self.validate_arguments = False

    def plan(self, intent: Intent, conv: Conversation, previous: Intent | None) -> Plan:
        return Plan(tuple(self.script))


def _nothing_to_do(tools: list[llm.Tool]) -> str:
    if not tools:
        return "I can't look anything up right now."
    return f"Sorry, I didn't understand that. {wording.HELP}"


def _is_user(item: llm.ChatItem) -> bool:
    return item.type == "message" and item.role == "user"


def _text(item: llm.ChatItem) -> str:
    return item.text_content or "" if item.type == "message" else ""
