"""The dialogue corpus through the offline stand-in: the pass rate per phenomenon stays ≥ 97 %."""

from __future__ import annotations

from dataclasses import replace

from concierge.eval import DEFAULT_CORPUS, load_corpus, pass_rates, run_corpus, table

PHENOMENA = {"corrections", "removals", "quantities", "references", "questions", "checkout",
             "bad_input"}  # fmt: skip


def test_the_corpus_covers_every_phenomenon() -> None:
    dialogues = load_corpus(DEFAULT_CORPUS)
    assert len(dialogues) >= 150
    assert {d.phenomenon for d in dialogues} >= PHENOMENA
    assert len({(d.phenomenon, d.name) for d in dialogues}) == len(dialogues), "names repeat"


async def test_offline_pass_rate_is_at_least_97_percent() -> None:
    outcomes = await run_corpus(load_corpus(DEFAULT_CORPUS))
    passed, total = pass_rates(outcomes)["all"]
    failures = [f"{o.dialogue.name}: {o.problems}" for o in outcomes if not o.passed]
    assert passed / total >= 0.97, "\n".join([table(outcomes), *failures])


async def test_a_wrong_expectation_fails() -> None:
    """The checks can fail: the same dialogue with a wrong expected cart does not pass."""
    (dialogue,) = [d for d in load_corpus(DEFAULT_CORPUS) if d.name == "make that one pizza"]
    wrong = replace(dialogue, cart=dialogue.cart + dialogue.cart)  # two lines where one is
    (ok, bad) = await run_corpus([dialogue, wrong])
    assert ok.passed and not bad.passed and "cart" in bad.problems[0]
