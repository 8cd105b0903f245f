"""`python -m concierge bench`: where the agent's time goes, measured on this machine.

Every figure is measured in the run that prints it:

- `turn_ms_p50/p95`: offline text turns of realistic orders (user text → stand-in model → tool →
  store write → reply) through `offline_session`, one session per customer's order
  (`ORDER_SCRIPT`, eight turns), as many customers as it takes to reach the turn count;
- `floor_ms_p50`: the same user texts, in sessions of the same length, through a bare
  `AgentSession` whose model (`ReplayLLM`, a trivial stand-in) answers at once with no tools —
  livekit's own cost per turn;
- `floor_tool_ms_p50`: the same again, but the trivial model first calls one trivial tool and
  then answers — livekit's own cost for a turn that uses a tool (a second model call, and the
  library validating the call's arguments);
- `floor_calls_ms_p50`: livekit's own cost for exactly the concierge's calls: a trivial model
  (`ReplayLLM`) makes, for each text, the tool calls the concierge made for it, against stubs of
  the concierge's twelve tools (same schemas, bodies that only answer; `concierge_tool_stubs`).
  The concierge's turn minus this floor is what our code adds (the stand-in model, the cart, the
  store); this floor minus `floor_tool_ms_p50` is what livekit charges for richer tools and more
  calls (it validates every call by building a pydantic model of the tool's parameters);
- `sessions`, `crosstalk`, `turn_ms_p95_loaded`: that many concurrent sessions in one process,
  each ordering its own items; crosstalk counts cart lines that landed in another user's cart;
- `search_ms_p95_10k`: `Catalog.search` over a generated 10,000-item catalog;
- `session_start_ms_cold/warm`: a started session, first in this process and then again;
- voice: Silero VAD inference per call (the VAD model's own metrics), the end-of-turn decision,
  speech-to-text and text-to-speech real-time factors, the session's usage
  (`session_usage_updated`), and `voice_turn_ms_p50`: from when livekit's VAD heard the user stop
  speaking to the agent's first audio frame, through the whole offline voice pipeline, with each
  turn's stages on that same clock (`VoiceTurn.stages`).

`--quick` runs a small version in a few seconds (the notebook uses it); results go to
`bench/results.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import random
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from livekit.agents import Agent, AgentSession, function_tool, llm

from .menu import Catalog, MenuItem, Restaurant
from .offline.llm import ImmediateLLM, PlannedCall
from .timeline import STAGES

ORDER_SCRIPT = [
    "two classic cheeseburgers and a large coke",
    "a margherita pizza, large",
    "three churros",
    "remove the coke",
    "anything vegan at Green Bowl?",
    "a falafel bowl and two edamame",
    "what's in my cart",
    "checkout",
]
TARGETS = {
    "turn_ms_p95": 50.0,
    "turn_ms_p95_loaded": 250.0,
    "search_ms_p95_10k": 5.0,
    "session_start_ms_warm": 200.0,
    "tts_rtf": 0.3,
}


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class ReplayLLM(ImmediateLLM):
    """A trivial stand-in model for the floor measurements. Not an AI.

    For each customer message it makes the tool calls `calls` holds for that text (those of them
    the session offers), then answers "Okay." once they ran; with no calls it answers at once.
    `ReplayLLM()` is the bare floor's model, `ReplayLLM.always(call)` the tool floor's, and
    `ReplayLLM(recorded)` with `concierge_tool_stubs` replays the concierge's very calls: what
    livekit itself costs for them (the same tools, schemas, arguments and number of calls) with
    none of our code. It shares the stand-in's livekit adapter (`ImmediateLLM`), so every floor
    pays the same adapter cost as the concierge.
    """

    def __init__(self, calls: Mapping[str, list[PlannedCall]] | None = None) -> None:
        super().__init__()
        self.recorded: Mapping[str, list[PlannedCall]] = calls or {}
        self.every: PlannedCall | None = None

    @classmethod
    def always(cls, call: PlannedCall) -> ReplayLLM:
        """A model that makes `call` on every message."""
        model = cls()
        model.every = call
        return model

    @property
    def model(self) -> str:
        return "replay"

    def answer(
        self,
        items: list[llm.ChatItem],
        tools: list[llm.Tool],
        *,
        sequential: bool,
        tool_choice: str,
    ) -> tuple[str, list[PlannedCall]]:
        asked = next((i for i in range(len(items) - 1, -1, -1) if items[i].type == "message"), 0)
        message = items[asked] if items else None
        if any(it.type == "function_call" for it in items[asked + 1 :]):
            return "Okay.", []
        text = message.text_content or "" if isinstance(message, llm.ChatMessage) else ""
        offered = {t.info.name for t in tools if isinstance(t, llm.FunctionTool)}
        planned = [self.every] if self.every else self.recorded.get(text, [])
        calls = [c for c in planned if c.name in offered]
        return ("", calls) if calls else ("Okay.", [])


class _FloorToolAgent(Agent):
    """The tool floor's agent: one tool that does nothing but answer."""

    def __init__(self) -> None:
        super().__init__(instructions="Reply briefly.")

    @function_tool
    async def note(self, text: str) -> str:
        """Note what the customer said."""
        return "noted"


def concierge_tool_stubs(catalog: Catalog) -> list[llm.Tool | llm.Toolset]:
    """The concierge's tools with the same names, descriptions and parameter schemas (so livekit
    validates their calls exactly as it does the real ones), whose bodies only answer "done"."""
    import inspect
    import typing

    from .agent import FoodConciergeAgent

    def stub_of(tool: llm.FunctionTool) -> llm.FunctionTool:
        async def stub(*args: Any, **kwargs: Any) -> str:
            return "done"

        stub.__signature__ = inspect.signature(tool)  # type: ignore[attr-defined]
        stub.__annotations__ = typing.get_type_hints(tool, include_extras=True)
        stub.__doc__, stub.__name__ = tool.__doc__, tool.info.name
        return function_tool(stub, name=tool.info.name, description=tool.info.description)

    tools = FoodConciergeAgent(catalog).tools
    return [stub_of(t) for t in tools if isinstance(t, llm.FunctionTool)]


def _calls_made(result: Any) -> list[PlannedCall]:
    return [
        PlannedCall(e.item.name, json.loads(e.item.arguments or "{}"))
        for e in result.events
        if getattr(e.item, "type", "") == "function_call"
    ]


async def _timed_orders(
    session: AgentSession[Any], out: list[float], record: dict[str, list[PlannedCall]] | None = None
) -> None:
    for text in ORDER_SCRIPT:
        started = time.perf_counter()
        result: Any = await session.run(user_input=text)
        out.append((time.perf_counter() - started) * 1000)
        if record is not None:
            record.setdefault(text, _calls_made(result))


async def _bare_session(model: llm.LLM, agent: Agent, out: list[float]) -> None:
    bare: AgentSession[None] = AgentSession(
        llm=model, vad=None, turn_handling={"turn_detection": None}
    )
    await bare.start(agent)
    await _timed_orders(bare, out)
    await bare.aclose()


async def text_turns(turns: int) -> dict[str, list[float]]:
    """Milliseconds per turn: the concierge (tools + store) and livekit's three floors.

    Each customer's order (`ORDER_SCRIPT`) runs in its own session, as on a real worker: one
    session is not 240 turns long, and livekit copies a session's whole chat history on every
    model call, so an endless session would measure history length rather than turns. Each
    customer goes through the concierge and then through the three floors, so a machine that gets
    busier during the run slows all four alike instead of whichever ran last.
    """
    from .menu import default_catalog
    from .session import offline_session

    customers = -(-turns // len(ORDER_SCRIPT))
    figures: dict[str, list[float]] = {
        "agent": [],
        "floor": [],
        "floor_tool": [],
        "floor_calls": [],
    }
    recorded: dict[str, list[PlannedCall]] = {}
    stubs = concierge_tool_stubs(default_catalog())
    for n in range(customers):
        async with offline_session(user_id=f"bench-order-{n}") as session:
            await _timed_orders(session, figures["agent"], recorded)
        await _bare_session(ReplayLLM(), Agent(instructions="Reply briefly."), figures["floor"])
        await _bare_session(
            ReplayLLM.always(PlannedCall("note", {"text": "noted"})),
            _FloorToolAgent(),
            figures["floor_tool"],
        )
        await _bare_session(
            ReplayLLM(recorded),
            Agent(instructions="Reply briefly.", tools=stubs),
            figures["floor_calls"],
        )
    gc.collect()
    return figures


async def concurrent_sessions(
    count: int, turns_each: int = 3, pause: tuple[float, float] = (1.0, 4.0)
) -> tuple[int, list[float]]:
    """`count` sessions at once, each ordering its own items; returns (crosstalk lines, turn ms).

    All sessions are started first, then order at the same time; each customer speaks again 1–4 s
    after the previous turn (on a call the reply alone takes seconds to hear), so turns from
    different sessions overlap the way they do on a busy worker. One event loop, one process.
    """
    from .menu import default_catalog
    from .session import offline_session
    from .store import open_store

    rng = random.Random(11)
    catalog = default_catalog()
    one_size = [i for i in catalog.items.values() if not i.has_sizes]
    store = await open_store("memory")
    turn_ms: list[float] = []
    started_count, all_started, all_done = 0, asyncio.Event(), asyncio.Event()
    finished = 0

    async def customer(n: int) -> int:
        nonlocal started_count, finished
        mine = [one_size[(n + k) % len(one_size)] for k in range(turns_each)]
        pauses = [rng.uniform(*pause) for _ in mine]
        async with offline_session(store=store, user_id=f"bench-user-{n}") as session:
            started_count += 1
            if started_count == count:
                all_started.set()
            await all_started.wait()  # measure turns with every session live, not during start-up
            for item, think in zip(mine, pauses, strict=True):
                await asyncio.sleep(think)
                started = time.perf_counter()
                await session.run(user_input=f"two {item.name}")
                turn_ms.append((time.perf_counter() - started) * 1000)
            expected = {i.id for i in mine}
            crosstalk = sum(
                1 for line in session.userdata.cart.lines if line.item_id not in expected
            )
            finished += 1
            if finished == count:
                all_done.set()
            await all_done.wait()
            return crosstalk

    crosstalk = sum(await asyncio.gather(*(customer(n) for n in range(count))))
    await store.close()
    return crosstalk, turn_ms


def generated_catalog(size: int = 10_000, seed: int = 7) -> Catalog:
    """A big synthetic menu for the search benchmark."""
    rng = random.Random(seed)
    adjectives = [
        "spicy",
        "crispy",
        "smoky",
        "sweet",
        "tangy",
        "grilled",
        "roasted",
        "fried",
        "baked",
        "fresh",
        "classic",
        "deluxe",
        "mini",
        "giant",
        "zesty",
        "creamy",
        "garlic",
        "herb",
        "lemon",
        "honey",
    ]
    foods = [
        "chicken",
        "beef",
        "pork",
        "tofu",
        "salmon",
        "tuna",
        "shrimp",
        "veggie",
        "mushroom",
        "cheese",
        "bean",
        "lentil",
        "rice",
        "noodle",
        "potato",
        "corn",
        "avocado",
        "mango",
        "berry",
        "chocolate",
    ]
    dishes = [
        "burger",
        "pizza",
        "taco",
        "burrito",
        "bowl",
        "salad",
        "soup",
        "roll",
        "wrap",
        "sandwich",
        "curry",
        "pasta",
        "stew",
        "pie",
        "cake",
        "shake",
        "tea",
        "smoothie",
        "fries",
        "skewer",
    ]
    restaurants = [Restaurant(f"r{i}", f"Kitchen {i}") for i in range(200)]
    items = [
        MenuItem(
            f"i{i}",
            f"r{i % 200}",
            f"{rng.choice(adjectives)} {rng.choice(foods)} {rng.choice(dishes)} no {i % 50}",
            price_cents=500 + i % 1500,
        )
        for i in range(size)
    ]
    return Catalog(restaurants, items)


def search_times(queries: int) -> list[float]:
    catalog = generated_catalog()
    rng = random.Random(3)
    spoken = ["spicy chiken burger", "grilled salmon bowl", "chocolat shake", "tofu curry", "mango smoothy",
              "crispy shrimp taco from kitchen 7", "avocado", "zesty lemmon pie", "bean burrito", "fries"]  # fmt: skip
    out = []
    for _ in range(queries):
        q = rng.choice(spoken)
        started = time.perf_counter()
        catalog.search(q)
        out.append((time.perf_counter() - started) * 1000)
    return out


async def session_starts(warm_runs: int) -> tuple[float, float]:
    from .session import offline_session

    times = []
    for _ in range(warm_runs + 1):
        started = time.perf_counter()
        async with offline_session() as session:
            times.append((time.perf_counter() - started) * 1000)
            assert session.userdata is not None
    return times[0], statistics.median(times[1:])


async def voice_figures(turns: Sequence[str], playback_speed: float = 1.0) -> dict[str, Any]:
    """The offline voice pipeline, end to end: per-stage timings, usage and real-time factors.

    Per-turn latency comes from `ChatMessage.metrics` (what `VoiceRig.say` reads) and usage from
    the session's `session_usage_updated` event, as livekit 1.8.9 recommends; its session-level
    `metrics_collected` event is deprecated. Per-inference VAD timings are
    events of the *models* themselves (`vad.on("metrics_collected")`), which are not deprecated.
    """
    from .session import voice_session

    vad_metrics: list[Any] = []
    usage: list[Any] = []
    out: dict[str, Any] = {"voice_turns": []}
    async with voice_session(playback_speed=playback_speed) as rig:
        rig.session.on("session_usage_updated", lambda ev: usage.append(ev.usage))
        rig.models.vad.on("metrics_collected", vad_metrics.append)
        voice = rig.models.tts
        clips = []
        for text in turns:
            started = time.perf_counter()
            pcm = voice.pcm16(text)
            clips.append((pcm, (time.perf_counter() - started), len(pcm) / 2 / 24000))
        for text, (pcm, _, _) in zip(turns, clips, strict=True):
            turn = await rig.say(pcm, 24000)
            out["voice_turns"].append(
                {
                    "said": text,
                    **{k: v for k, v in turn.__dict__.items() if k != "timing"},
                    "stages": turn.stages(),
                }
            )
            await rig.wait_until_quiet()
        stt = rig.models.stt
        from livekit import rtc

        from .offline.stt import SAMPLE_RATE, to_pcm16_mono

        stt_rtf = []
        for pcm, _, seconds in clips:
            mono = to_pcm16_mono(rtc.AudioFrame(pcm, 24000, 1, len(pcm) // 2), SAMPLE_RATE)
            started = time.perf_counter()
            stt.transcribe(mono)
            stt_rtf.append((time.perf_counter() - started) / seconds)
    out.update(_voice_summary(out["voice_turns"], vad_metrics))
    out["usage"] = [repr(u) for u in usage[-1].model_usage] if usage else []
    out["tts_rtf"] = statistics.median(t / s for _, t, s in clips[1:] or clips)
    out["stt_rtf"] = statistics.median(stt_rtf)
    out["voice_heard_correctly"] = sum(
        _same_words(t["said"], t["heard"]) for t in out["voice_turns"]
    )
    return out


def _voice_summary(turns: list[dict[str, Any]], vad: list[Any]) -> dict[str, float | None]:
    def p50(key: str) -> float | None:
        values = [t[key] for t in turns if t.get(key) is not None]
        return statistics.median(values) if values else None

    vad = [m for m in vad if m.inference_count]
    decided = [
        t["end_of_turn_ms"] - t["transcription_ms"]
        for t in turns
        if t.get("end_of_turn_ms") is not None and t.get("transcription_ms") is not None
    ]
    return {
        "vad_ms_per_inference": (
            1000
            * sum(m.inference_duration_total for m in vad)
            / sum(m.inference_count for m in vad)
            if vad
            else None
        ),
        # livekit 1.8.9 reports no per-inference figure for the local end-of-turn model; the gap
        # between the transcript and the decision is the decision made once the words are in.
        "eot_decision_ms_p50": statistics.median(decided) if decided else None,
        "transcription_delay_ms_p50": p50("transcription_ms"),
        "voice_turn_ms_p50": p50("voice_turn_ms"),
    }


def _same_words(said: str, heard: str) -> bool:
    from .menu import words

    drop = {"a", "an", "the", "s"}
    return [w for w in words(said) if w not in drop] == [w for w in words(heard) if w not in drop]


async def run(quick: bool = False) -> dict[str, Any]:
    logging.getLogger("livekit.agents").setLevel(logging.ERROR)
    turns = 40 if quick else 240
    sessions = 20 if quick else 100
    started = time.perf_counter()
    cold, warm = await session_starts(2 if quick else 5)
    gc.collect()  # each phase starts without the previous one's garbage to collect mid-measurement
    text = await text_turns(turns)
    gc.collect()
    crosstalk, loaded_ms = await concurrent_sessions(
        sessions, pause=(0.1, 0.5) if quick else (1.0, 4.0)
    )
    gc.collect()
    search_ms = search_times(200 if quick else 2000)
    results: dict[str, Any] = {
        "turns": len(text["agent"]),
        "turn_ms_p50": statistics.median(text["agent"]),
        "turn_ms_p95": percentile(text["agent"], 95),
        "floor_ms_p50": statistics.median(text["floor"]),
        "floor_tool_ms_p50": statistics.median(text["floor_tool"]),
        "floor_calls_ms_p50": statistics.median(text["floor_calls"]),
        "sessions": sessions,
        "crosstalk": crosstalk,
        "turn_ms_p95_loaded": percentile(loaded_ms, 95),
        "search_ms_p95_10k": percentile(search_ms, 95),
        "session_start_ms_cold": cold,
        "session_start_ms_warm": warm,
    }
    try:
        voice_script = ["three churros", "two classic cheeseburgers and a large coke"]
        if not quick:
            voice_script += ["a falafel bowl", "remove the coke", "checkout"]
        results.update(await voice_figures(voice_script, playback_speed=8.0 if quick else 1.0))
    except Exception as e:  # no speech engines here: say so, keep the text figures
        results["voice_error"] = f"{type(e).__name__}: {e}"
    results["bench_seconds"] = time.perf_counter() - started
    return results


def stage_breakdown(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Where a turn's time goes, per stage (ms), for the notebook's stacked bar chart.

    Each bar's parts add up to its whole: the text turn's three layers to `turn_ms_p50`, the
    spoken turn's stages (`VoiceTurn.stages`, all from one origin) to the mean spoken turn.
    """
    floor, floor_tool = results["floor_ms_p50"], results["floor_tool_ms_p50"]
    floor_calls = results.get("floor_calls_ms_p50", floor_tool)
    text = {
        "livekit turn (floor)": floor,
        "livekit: a tool round-trip (2nd model call)": max(0.0, floor_tool - floor),
        "livekit: our calls' schemas and count": max(0.0, floor_calls - floor_tool),
        "concierge: stand-in, tools, store": max(0.0, results["turn_ms_p50"] - floor_calls),
    }
    stages: dict[str, dict[str, float]] = {"text turn": text}
    measured = [t["stages"] for t in results.get("voice_turns") or [] if t.get("stages")]
    if measured:
        names = [n for n in STAGES if any(n in s for s in measured)]  # a turn may call no tool
        stages["spoken turn"] = {
            name: statistics.fmean(s.get(name, 0.0) for s in measured) for name in names
        }
    return stages


def stage_chart(stages: dict[str, dict[str, float]], *, dark: bool = False) -> Any:
    """The stacked stages as a figure read at a glance: one linear panel per kind of turn.

    A text turn takes milliseconds and a spoken one hundreds, so each gets its own linear axis
    (a shared log axis would make parts look like they do not add up). Labels and legend sit
    under each bar; the figure is transparent with mid-grey text, readable on light and dark
    JupyterLab themes alike (`dark=True` uses light text for a dark page).
    """
    import matplotlib.pyplot as plt

    ink = "#d0d0d0" if dark else "#333333"
    colors = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1"]
    fig, grid = plt.subplots(
        2 * len(stages),
        1,
        figsize=(8, 2.2 * len(stages)),
        squeeze=False,
        gridspec_kw={"height_ratios": [1.0, 0.6] * len(stages)},
        layout="constrained",
    )
    fig.patch.set_alpha(0.0)
    for row, (kind, parts) in enumerate(stages.items()):
        ax, key = grid[2 * row, 0], grid[2 * row + 1, 0]
        left = 0.0
        for color, (name, ms) in zip(colors, parts.items(), strict=False):
            ax.barh(0, ms, left=left, color=color, label=f"{name}: {ms:.0f} ms")
            left += ms
        ax.set_title(f"{kind}: {left:.0f} ms in all", color=ink, loc="left", fontsize=10)
        ax.set_xlim(0, left * 1.02 or 1)
        ax.set_xlabel("milliseconds", color=ink)
        ax.set_yticks([])
        ax.set_facecolor("none")
        ax.tick_params(colors=ink)
        for spine in ax.spines.values():
            spine.set_color(ink)
        key.axis("off")  # the legend's own row, under its bar: it never covers the data
        handles, labels = ax.get_legend_handles_labels()
        legend = key.legend(handles, labels, loc="upper left", ncol=2, fontsize=8, frameon=False)
        for text in legend.get_texts():
            text.set_color(ink)
    return fig


def report(results: dict[str, Any]) -> str:
    rows = []
    ratio = results["turn_ms_p50"] / results["floor_ms_p50"]
    tool_ratio = results["turn_ms_p50"] / results["floor_tool_ms_p50"]
    checks = {
        "turn_ms_p50": ("≤ 1.5 × floor", ratio <= 1.5),
        "crosstalk": ("= 0", results["crosstalk"] == 0),
        **{
            k: (f"< {v:g}", (results.get(k) is not None and results[k] < v))
            for k, v in TARGETS.items()
        },
    }
    for key, value in results.items():
        if key in ("voice_turns", "usage"):
            continue
        target, ok = checks.get(key, ("", None))
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        if key == "voice_heard_correctly":
            shown = f"{value} of {len(results.get('voice_turns') or [])}"
        mark = "" if ok is None else ("ok" if ok else "MISSED")
        rows.append(f"{key:28} {shown:>14}  {target:14} {mark}")
    rows.append(f"{'turn_ms_p50 / floor_ms_p50':28} {ratio:14.2f}")
    rows.append(f"{'turn_ms_p50 / floor_tool_ms_p50':28} {tool_ratio:14.2f}")
    if results.get("floor_calls_ms_p50"):
        own = results["turn_ms_p50"] / results["floor_calls_ms_p50"]
        rows.append(f"{'turn_ms_p50 / floor_calls_ms_p50':28} {own:14.2f}")
    if not ratio <= 1.5:
        rows.append(
            "(turn_ms_p50 MISSED: a tool turn costs livekit 1.8.9 a second model call and a "
            "pydantic validation per call before any concierge code runs; the floor_calls ratio "
            "is what the concierge itself adds — README, Performance)"
        )
    return "\n".join(rows)


# --- capacity: concurrent voice sessions per worker (`--capacity`, see concierge.bench_capacity) ---

CAPACITY_SESSIONS = (8, 16, 24, 32, 40)


def capacity_main(args: argparse.Namespace) -> int:
    """Sweep N concurrent voice sessions; merge `voice_capacity` and its p95 into the results."""
    from .bench_capacity import HEADER, sweep

    counts = [int(n) for n in args.capacity_sessions.split(",")]
    modes = [m.strip() for m in args.capacity_modes.split(",")]
    print(HEADER, flush=True)
    figures = asyncio.run(sweep(counts, modes))
    print(
        f"\nvoice_capacity = {figures['voice_capacity']} sessions per worker "
        f"({figures['voice_capacity_mode']} executor), p95 {figures['voice_capacity_p95_ms']} ms; "
        f"load average during the sweep {figures['load_average']}"
    )
    merge_results(Path(args.out), figures)
    return 0


def merge_results(out: Path, figures: Mapping[str, Any]) -> None:
    """Merge `figures` into the results file (other benchmarks' figures stay)."""
    results = json.loads(out.read_text()) if out.exists() else {}
    results.update(figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"written to {out}")


#: Calls at once through the server (`--capacity --livekit`); the target is 24 on 2 cores.
MACHINE_CALLS = (4, 8, 12, 16, 24, 32)


def capacity_livekit_main(args: argparse.Namespace) -> int:
    """Sweep N callers through LiveKit's server and W workers; merge `voice_capacity_machine`."""
    from .bench_machine import HEADER, machine_sweep
    from .livekit_server import ServerUnavailable

    given = args.capacity_sessions != ",".join(map(str, CAPACITY_SESSIONS))
    counts = [int(n) for n in args.capacity_sessions.split(",")] if given else MACHINE_CALLS
    modes = [m.strip() for m in args.capacity_modes.split(",")]
    print(HEADER, flush=True)
    try:
        figures = asyncio.run(machine_sweep(counts, modes, every=args.capacity_every))
    except ServerUnavailable as e:
        print(f"bench --capacity --livekit needs LiveKit's server: {e}")
        return 2
    print(
        f"\nvoice_capacity_machine = {figures['voice_capacity_machine']} calls "
        f"({figures['voice_capacity_machine_mode']} executor, "
        f"{figures['voice_capacity_machine_workers']} workers), p95 "
        f"{figures['voice_capacity_machine_p95_ms']} ms, "
        f"{figures['voice_capacity_machine_mb_per_call']} MB per call; load average "
        f"{figures['voice_capacity_machine_load_average']}\n"
        f"CPU ceiling: at the CPU per call measured (ms/call-s: callers/workers/server), these "
        f"cores carry at most {figures['voice_capacity_machine_cpu_bound']} calls at 100 %"
    )
    merge_results(Path(args.out), figures)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m concierge bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="a small run, a few seconds")
    parser.add_argument("--out", default="bench/results.json")
    parser.add_argument(
        "--attack",
        action="store_true",
        help="only the hostile-input figures (concierge.bench_attack)",
    )
    parser.add_argument(
        "--capacity",
        action="store_true",
        help="sweep concurrent voice sessions per worker instead (minutes); with --livekit, "
        "calls per machine through LiveKit's server and one worker per core",
    )
    parser.add_argument(
        "--capacity-sessions",
        default=",".join(map(str, CAPACITY_SESSIONS)),
        help="the N to measure, comma-separated",
    )
    parser.add_argument("--capacity-modes", default="thread,process", help="executor modes")
    parser.add_argument(
        "--capacity-every",
        action="store_true",
        help="with --livekit: measure every N, not only up to the first that misses",
    )
    parser.add_argument(
        "--livekit",
        action="store_true",
        help="through LiveKit's server and WebRTC: dispatch → greeting, end of speech → first audio",
    )
    args = parser.parse_args(argv)
    if args.livekit and args.capacity:
        return capacity_livekit_main(args)
    if args.livekit:
        from .bench_livekit import main as livekit_main

        return livekit_main(Path(args.out).with_name("livekit.json"))
    if args.attack:
        from .bench_attack import attack_figures, attack_report

        print(attack_report(asyncio.run(attack_figures(quick=args.quick))))
        return 0
    if args.capacity:
        return capacity_main(args)
    results = asyncio.run(run(quick=args.quick))
    print(report(results))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten to {out}")
    return 0
