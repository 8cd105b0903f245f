"""`python -m concierge bench --attack` runs and prints every hostile-input figure (the timings
are printed for people to read, never asserted: the machine may be busy)."""

from __future__ import annotations

from concierge.bench import main

KEYS = (
    "attack_1mb_message_ms", "attack_1mb_message_mb", "attack_100kb_word_ms",
    "attack_100kb_word_mb", "victim_turn_ms_p95_quiet", "victim_turn_ms_p95_attacked",
    "victim_slowdown", "attack_turns_during_victims",
)  # fmt: skip


def test_attack_figures_are_printed(capsys) -> None:
    assert main(["--attack", "--quick"]) == 0
    out = capsys.readouterr().out
    for key in KEYS:
        assert key in out, key
