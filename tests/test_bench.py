"""The benchmark runs and reports every figure (timings are printed, never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

from concierge.bench import generated_catalog, main

KEYS = {
    "turn_ms_p50", "turn_ms_p95", "floor_ms_p50", "floor_tool_ms_p50", "floor_calls_ms_p50", "sessions", "crosstalk", "turn_ms_p95_loaded",
    "search_ms_p95_10k", "session_start_ms_cold", "session_start_ms_warm", "vad_ms_per_inference",
    "tts_rtf", "stt_rtf", "voice_turn_ms_p50",
}  # fmt: skip


def test_quick_bench_writes_every_figure(tmp_path: Path, capsys) -> None:
    out = tmp_path / "results.json"
    assert main(["--quick", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results.keys() >= KEYS, KEYS - results.keys()
    assert results["crosstalk"] == 0 and results["sessions"] >= 20
    assert "turn_ms_p50" in capsys.readouterr().out


def test_generated_catalog_has_ten_thousand_searchable_items() -> None:
    catalog = generated_catalog()
    assert len(catalog.items) == 10_000
    assert catalog.search("grilled salmon bowl")


def test_the_calls_floor_costs_livekit_exactly_the_concierges_calls() -> None:
    """`floor_calls_ms_p50` is only a floor if livekit does the same work for it: the same tool
    schemas (so the same per-call validation) and the same calls, with none of our code."""
    import asyncio

    from livekit.agents import Agent, AgentSession, llm
    from livekit.agents.llm.utils import function_arguments_to_pydantic_model

    from concierge.agent import FoodConciergeAgent
    from concierge.bench import ORDER_SCRIPT, ReplayLLM, _calls_made, concierge_tool_stubs
    from concierge.menu import default_catalog
    from concierge.session import offline_session

    catalog = default_catalog()
    real = {t.info.name: t for t in FoodConciergeAgent(catalog).tools}
    stubs = concierge_tool_stubs(catalog)
    assert {t.info.name for t in stubs} == set(real)  # type: ignore[union-attr]
    for stub in stubs:
        assert isinstance(stub, llm.FunctionTool)
        twin = real[stub.info.name]
        assert stub.info.description == twin.info.description
        schema = function_arguments_to_pydantic_model(stub).model_json_schema()
        assert schema == function_arguments_to_pydantic_model(twin).model_json_schema()

    async def both() -> tuple[list, list]:
        recorded: dict = {}
        async with offline_session(user_id="floor-check") as session:
            for text in ORDER_SCRIPT:
                recorded[text] = _calls_made(await session.run(user_input=text))
        bare: AgentSession = AgentSession(llm=ReplayLLM(recorded), vad=None)
        await bare.start(Agent(instructions="Reply briefly.", tools=stubs))
        replayed = [_calls_made(await bare.run(user_input=text)) for text in ORDER_SCRIPT]
        await bare.aclose()
        return [recorded[t] for t in ORDER_SCRIPT], replayed

    made, replayed = asyncio.run(both())
    assert sum(map(len, made)) >= len(ORDER_SCRIPT)  # every turn of the script calls a tool
    assert replayed == made
