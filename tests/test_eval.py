"""The dialogue corpus through the offline stand-in: the pass rate per phenomenon stays ≥ 97 %."""

from __future__ import annotations

from dataclasses import replace

from concierge.eval import (
    DEFAULT_CORPUS,
    DEFAULT_HELDOUT,
    load_corpus,
    load_heldout,
    pass_rates,
    run_corpus,
    table,
)

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


def test_held_out_sets_are_apart_and_labelled() -> None:
    """Held-out dialogues are never part of the tuned corpus, and each says its kind."""
    sets = load_heldout(DEFAULT_HELDOUT)
    assert len(sets["set1"]) == 100
    assert all(d.kind for ds in sets.values() for d in ds)
    tuned = {d.turns for d in load_corpus(DEFAULT_CORPUS)}
    assert not tuned & {d.turns for ds in sets.values() for d in ds}


async def test_held_out_rates_are_per_kind() -> None:
    """A held-out set is reported per kind; its overall row counts every dialogue once."""
    dialogues = load_heldout(DEFAULT_HELDOUT)["set1"][:6]
    rates = pass_rates(await run_corpus(dialogues), by="kind")
    assert set(rates) == {d.kind for d in dialogues} | {"all"}
    assert rates["all"][1] == 6 and sum(t for k, (_, t) in rates.items() if k != "all") == 6
