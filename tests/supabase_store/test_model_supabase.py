"""The model-based test of cart + store (see tests/model_based.py) on the Supabase stack:
supabase-py over HTTP to the PostgREST harness and real PostgreSQL, two store instances (two
devices) acting as one signed-in user."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from concierge.menu import Catalog
from concierge.store import Store
from concierge.store.supabase import SupabaseStore
from tests.model_based import STATS, make_machine

from .conftest import FAST_RETRY, LocalSupabase


def test_cart_and_store_match_the_model_on_supabase(supa: LocalSupabase) -> None:
    async def two_devices() -> tuple[Store, Store, str, Catalog]:
        user = str(uuid.uuid4())
        jwt = supa.pg.user_jwt(user)
        a = await SupabaseStore.connect(supa.url, supa.anon_key, user_jwt=jwt, retry=FAST_RETRY)
        b = await SupabaseStore.connect(supa.url, supa.anon_key, user_jwt=jwt, retry=FAST_RETRY)
        return a, b, user, await a.load_catalog()

    machine = make_machine("supabase", two_devices)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=15, stateful_step_count=15, deadline=None, derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
            database=None, phases=(Phase.generate, Phase.shrink),
        ),
    )  # fmt: skip
    stats = STATS["supabase"]
    assert stats.runs >= 15 and stats.faults > 0 and stats.orders > 0
    assert stats.lost == 0 and stats.duplicated == 0
    print(f"\nmodel-based supabase: {stats}")
