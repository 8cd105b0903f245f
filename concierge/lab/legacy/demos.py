"""Make each failure of the legacy agent happen for real — and its fix — for notebooks and tests.

Every function here runs the pinned livekit-agents (1.8.x) and returns what it observed; nothing
is asserted from memory. What running them on 1.8.9 shows, which corrects the original
migration notes in places:

- `schema_violations()`: only the bare `list` breaks OpenAI's strict rules. Defaults and
  `str | None = None` do *not* fail: livekit turns them into required, nullable fields.
- `argument_parsing()`: what a tool then receives — `null` becomes the Python default, but the
  *string* "null" stays the text "null", and "null" for an `int` is refused.
- `shared_cart()` vs `separate_carts()`: globals mix two users' carts; `UserState` does not.
- `tool_step_cap()`: no infinite loop — livekit stops after `max_tool_steps` (default 3) and asks
  for a final answer with `tool_choice="none"`; a model that ignores that ends the turn silently.
- `worker_options()`: `WorkerOptions` is converted to an `AgentServer` with no warning; the
  built-in CLI itself warns that it is deprecated.
- `multilingual_model()`: the recommended `MultilingualModel` is deprecated and cannot load
  offline; `inference.TurnDetector(version="v1-mini")` runs from its wheel.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import AgentServer, AgentSession, ToolError, WorkerOptions, llm
from livekit.agents.llm.utils import prepare_function_arguments
from livekit.agents.voice.run_result import RunResult

from ...doctor.strict_schema import Violation, check_tool
from ...state import UserState
from ..notebook import HTML, table
from . import agent as legacy
from .standin import LegacyStandInLLM

FIVE_ITEM_ORDER = "a green tea, a kombucha, two edamame, a miso soup and a salmon nigiri"


# --- 1. schemas ------------------------------------------------------------------------------


def schema_violations() -> list[Violation]:
    """Strict-mode violations in the legacy tools, as livekit would send them to OpenAI."""
    return [v for tool in legacy.LEGACY_TOOLS for v in check_tool(tool)]


@dataclass(frozen=True)
class ParsedCall:
    tool: str
    arguments: str
    received: str


def argument_parsing() -> list[ParsedCall]:
    """Send the legacy tools what a model sends for nullable fields; show what the tool gets."""
    cases: list[tuple[llm.FunctionTool, str]] = [
        (legacy.find_food_item_tool, '{"query": "pizza", "max_results": null}'),
        (legacy.get_user_profile_tool, '{"profile_id": null}'),
        (legacy.get_user_profile_tool, '{"profile_id": "null"}'),
        (legacy.quick_add_to_cart_tool, '{"item_name": "coke", "quantity": "3", "restaurant_name": null, "additional_items": null}'),
        (legacy.quick_add_to_cart_tool, '{"item_name": "coke", "quantity": "null", "restaurant_name": null, "additional_items": null}'),
    ]  # fmt: skip
    out = []
    for tool, arguments in cases:
        try:
            args, kwargs = prepare_function_arguments(fnc=tool, json_arguments=arguments)
            names = list(inspect.signature(tool).parameters)
            bound = {**dict(zip(names, args, strict=False)), **kwargs}
            received = ", ".join(f"{k}={v!r}" for k, v in bound.items())
        except ToolError as e:
            received = f"ToolError: {str(e).splitlines()[0]}"
        out.append(ParsedCall(tool.info.name, arguments, received))
    return out


# --- 2. global state -------------------------------------------------------------------------


@dataclass
class CartsSeen:
    """What each customer ordered, and what their cart held at the end."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def _repr_html_(self) -> str:
        return table(self.rows, ["customer", "ordered", "their cart at the end"])._repr_html_()


async def shared_cart(orders: dict[str, Sequence[str]] | None = None) -> CartsSeen:
    """Two customers, one worker process, the legacy agent: turns interleaved, as rooms are."""
    orders = orders or {"demo": ["two classic cheeseburgers"], "alex": ["a falafel bowl"]}
    legacy.reset_globals()
    seen = CartsSeen()

    async def customer(user: str, texts: Sequence[str]) -> str:
        legacy.current_user_id = user  # what the legacy entrypoint does when its room starts
        session: AgentSession[None] = AgentSession(llm=LegacyStandInLLM(legacy.catalog))
        await session.start(legacy.LegacyConciergeAgent())
        for text in texts:
            await asyncio.sleep(0.01)  # the other room's turn runs in between
            await session.run(user_input=text)
        await asyncio.sleep(0.05)
        summary = legacy.current_cart.summary()  # "their" cart: the only cart there is
        await session.aclose()
        return summary

    results = await asyncio.gather(*(customer(u, t) for u, t in orders.items()))
    for (user, texts), summary in zip(orders.items(), results, strict=True):
        seen.rows.append((user, "; ".join(texts), summary))
    return seen


async def separate_carts(orders: dict[str, Sequence[str]] | None = None) -> CartsSeen:
    """The same two customers on the migrated agent: one `UserState` per session."""
    from ...session import offline_session
    from ...store import open_store

    orders = orders or {"demo": ["two classic cheeseburgers"], "alex": ["a falafel bowl"]}
    store = await open_store("memory")
    seen = CartsSeen()

    async def customer(user: str, texts: Sequence[str]) -> str:
        async with offline_session(store=store, user_id=user) as session:
            for text in texts:
                await asyncio.sleep(0.01)
                await session.run(user_input=text)
            await asyncio.sleep(0.05)
            return session.userdata.cart.summary()

    results = await asyncio.gather(*(customer(u, t) for u, t in orders.items()))
    for (user, texts), summary in zip(orders.items(), results, strict=True):
        seen.rows.append((user, "; ".join(texts), summary))
    await store.close()
    return seen


# --- 3. max_tool_steps -----------------------------------------------------------------------


@dataclass(frozen=True)
class StepRun:
    """One turn under a tool-step cap: what the model was asked, what ran, what the user heard."""

    setup: str
    max_tool_steps: int
    model_calls: int
    tool_choices: tuple[str, ...]
    tools_run: int
    reply: str
    cart_lines: int
    seconds: float


async def tool_step_cap() -> list[StepRun]:
    """A five-item order, one tool per step: legacy default, a looping model, the migrated cap."""
    from ...agent import MAX_TOOL_STEPS
    from ...session import offline_session

    runs = []
    for setup, model, cap in (
        ("legacy agent, default cap", LegacyStandInLLM(legacy.catalog), None),
        ("model that ignores tool_choice='none'", LegacyStandInLLM(legacy.catalog, ignore_tool_choice=True), None),
    ):  # fmt: skip
        legacy.reset_globals()
        session: AgentSession[None] = AgentSession(llm=model)
        await session.start(legacy.LegacyConciergeAgent())
        started = time.perf_counter()
        result: RunResult[None] = await session.run(user_input=FIVE_ITEM_ORDER)
        runs.append(
            _step_run(
                setup, cap or 3, model, result.events, len(legacy.current_cart.lines), started
            )
        )
        await session.aclose()

    from ...offline.llm import StandInLLM

    migrated_model = StandInLLM(legacy.catalog, one_tool_per_step=True)
    async with offline_session(model=migrated_model, max_tool_steps=MAX_TOOL_STEPS) as migrated:
        started = time.perf_counter()
        done: RunResult[UserState] = await migrated.run(user_input=FIVE_ITEM_ORDER)
        lines = len(migrated.userdata.cart.lines)
    setup = f"migrated agent, max_tool_steps={MAX_TOOL_STEPS}"
    runs.append(_step_run(setup, MAX_TOOL_STEPS, migrated_model, done.events, lines, started))
    return runs


def _step_run(
    setup: str, cap: int, model: Any, events: list[Any], lines: int, started: float
) -> StepRun:
    replies = [e.item.text_content or "" for e in events if e.type == "message"]
    return StepRun(
        setup=setup,
        max_tool_steps=cap,
        model_calls=model.calls,
        tool_choices=tuple(model.tool_choices),
        tools_run=sum(1 for e in events if e.type == "function_call_output"),
        reply=replies[-1] if replies else "(no reply: the user hears nothing)",
        cart_lines=lines,
        seconds=round(time.perf_counter() - started, 2),
    )


def step_table(runs: Sequence[StepRun]) -> HTML:
    return table(
        [
            (
                r.setup,
                r.max_tool_steps,
                r.model_calls,
                " ".join(r.tool_choices),
                r.tools_run,
                r.cart_lines,
                r.reply,
            )
            for r in runs
        ],  # fmt: skip
        [
            "setup",
            "max_tool_steps",
            "model calls",
            "tool_choice per call",
            "tools run",
            "cart lines",
            "what the user hears",
        ],
    )


# --- 4. the old server pattern ---------------------------------------------------------------


@dataclass(frozen=True)
class ServerPattern:
    alias: bool
    converted_type: str
    entrypoint_kept: bool
    warnings_on_conversion: tuple[str, ...]
    cli_warning: str


def worker_options() -> ServerPattern:
    """What 1.8 does with `cli.run_app(WorkerOptions(entrypoint_fnc=...))`, observed."""
    from livekit.agents.worker import ServerOptions

    options = WorkerOptions(entrypoint_fnc=legacy.entrypoint)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        server = AgentServer.from_server_options(options)  # what cli.run_app does with it
    cli = subprocess.run(
        [sys.executable, "-W", "default", "-m", "concierge.lab.legacy.agent", "--help"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    deprecation = next((ln.strip() for ln in cli.stderr.splitlines() if "deprecated" in ln), "")
    return ServerPattern(
        alias=WorkerOptions is ServerOptions,
        converted_type=type(server).__name__,
        entrypoint_kept=server._entrypoint_fnc is legacy.entrypoint,
        warnings_on_conversion=tuple(str(w.message) for w in caught),
        cli_warning=deprecation,
    )


# --- 5. turn detection -----------------------------------------------------------------------


@dataclass(frozen=True)
class TurnDetectorTry:
    attempt: str
    outcome: str


async def multilingual_model() -> list[TurnDetectorTry]:
    """Try the turn detector the original fix recommended, then the 1.8 way, offline.

    Async because a job's plugins initialise on the job's running event loop."""
    from livekit.agents import inference
    from livekit.agents.testing import fake_job_context

    tries = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from livekit.plugins.turn_detector.multilingual import MultilingualModel
    deprecations = [str(w.message) for w in caught if "deprecated" in str(w.message)]
    tries.append(
        (
            "import livekit.plugins.turn_detector",
            deprecations[0]
            if deprecations
            else "(warning already shown once in this process: `livekit.plugins.turn_detector` is deprecated)",
        )
    )
    for where, ctx in (
        ("MultilingualModel() outside a job", None),
        ("MultilingualModel() inside a job, offline", fake_job_context),
    ):
        try:
            if ctx is None:
                MultilingualModel()
            else:
                with ctx():
                    MultilingualModel()
            tries.append((where, "constructed"))
        except Exception as e:
            tries.append((where, f"{type(e).__name__}: {str(e).splitlines()[0]}"))
    detector = inference.TurnDetector(version="v1-mini")
    tries.append(
        ('inference.TurnDetector(version="v1-mini")',
         f"constructed offline: model {detector.model} by {detector.provider}, weights inside "
         "the livekit-local-inference wheel, so nothing is downloaded")
    )  # fmt: skip
    return [TurnDetectorTry(a, o) for a, o in tries]
