"""The model-based test of cart + store (see tests/model_based.py) on the SQLite store."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from concierge.menu import Catalog
from concierge.store import SQLiteStore, Store, open_store

from .model_based import STATS, make_machine


async def _one_store() -> tuple[Store, Store, str, Catalog]:
    store = await open_store("memory")
    assert isinstance(store, SQLiteStore)
    profile = await store.get_profile("alex")
    assert profile is not None
    return store, store, profile.id, await store.load_catalog()


SQLiteMachine = make_machine("sqlite", _one_store)


def test_cart_and_store_match_the_model_on_sqlite() -> None:
    run_state_machine_as_test(
        SQLiteMachine,
        settings=settings(
            max_examples=60, stateful_step_count=25, deadline=None,
            suppress_health_check=[HealthCheck.too_slow], database=None,
            phases=(Phase.generate, Phase.shrink),
        ),
    )  # fmt: skip
    stats = STATS["sqlite"]
    assert stats.runs >= 60 and stats.faults > 0 and stats.orders > 0
    assert stats.lost == 0 and stats.duplicated == 0
    print(f"\nmodel-based sqlite: {stats}")
