"""The benchmark runs and reports every figure (timings are printed, never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

from concierge.bench import generated_catalog, main

KEYS = {
    "turn_ms_p50", "turn_ms_p95", "floor_ms_p50", "floor_tool_ms_p50", "sessions", "crosstalk", "turn_ms_p95_loaded",
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
