"""The SQL files themselves: the generated seed is current, and re-running setup is harmless."""

from __future__ import annotations

import psycopg

from concierge.lab.local_postgres import BOOTSTRAP_SQL, SEED_SQL, LocalPostgres
from concierge.store import load_seed
from concierge.store.seed_sql import literal, render_seed_sql

from .conftest import LocalSupabase

MENU_TABLES = ("restaurants", "menu_items", "menu_item_sizes", "profiles")


def _snapshot(pg: LocalPostgres) -> dict[str, list[tuple]]:
    with psycopg.connect(pg.dsn()) as conn:
        return {
            t: conn.execute(f"select * from public.{t} order by 1, 2").fetchall()
            for t in MENU_TABLES
        }


def test_committed_seed_sql_matches_the_menu_file() -> None:
    assert SEED_SQL.read_text() == render_seed_sql(load_seed()), (
        "data/supabase/seed.sql is stale: run `python -m concierge seed --sql > data/supabase/seed.sql`"
    )


def test_literals_are_quoted_safely() -> None:
    assert literal("Luigi's") == "'Luigi''s'"
    assert literal(["a'b", "c"]) == "array['a''b', 'c']::text[]"
    assert literal([]) == "'{}'::text[]"
    assert literal(None) == "null"


async def test_bootstrap_and_seed_run_twice_and_agree_with_the_store_seed(
    supa: LocalSupabase,
) -> None:
    before = _snapshot(supa.pg)
    supa.pg.execute_files([BOOTSTRAP_SQL, SEED_SQL, SEED_SQL])
    assert _snapshot(supa.pg) == before
    # The seed command (service role, over HTTP) writes exactly what seed.sql wrote.
    await (await supa.service_store()).seed(load_seed())
    assert _snapshot(supa.pg) == before
    assert len(before["menu_items"]) == len(load_seed().catalog.items)
