"""Benchmark what oversized cart requests cost the Supabase schema (issue #26), on a throwaway
PostgreSQL with the migrations applied (needs the PostgreSQL server binaries, like the tests).

    PYTHONPATH=$PWD python scripts/bench_supabase_caps.py [--runs 30] [--compare-old]

Prints, as a signed-in user (`SET LOCAL ROLE authenticated` plus JWT claims, as PostgREST runs
each request), the time from sending the request to its answer:

* checkout with 2,000 lines and save_cart with 60,000 lines (a 9 MB request) -> the cap error
  (target: the 2,000-line checkout answers in < 50 ms);
* checkout of a saved cart of 10 / 25 / 50 lines -> the order (cost linear in the lines);
* the same 2,000-line checkout through supabase-py and the PostgREST test harness over HTTP,
  ending in `CartLimitError` (the request's JSON built, sent, parsed, refused, mapped), beside a
  51-line one (what the Python client and the test harness cost any request);
* with `--compare-old`: checkout of 500 / 1,000 / 2,000 lines on the schema before the
  hardening migration (it ordered them all, rebuilding a JSON value per line).

Figures are medians and 95th percentiles over `--runs` runs; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from concierge.cart import Cart, CartLimitError, CartLine  # noqa: E402
from concierge.lab.local_postgres import LocalPostgres  # noqa: E402
from concierge.menu import default_catalog  # noqa: E402
from concierge.store.schema_files import BOOTSTRAP_SQL, SEED_SQL, migration_files  # noqa: E402


def _lines(n: int, notes: str = "") -> list[dict[str, object]]:
    """n request lines of one small coke each (distinct notes keep them distinct lines)."""
    return [
        {"item_id": "coke", "size": "small", "quantity": 1, "notes": notes or f"cup {i}"}
        for i in range(n)
    ]


def _saved_lines(n: int) -> list[dict[str, object]]:
    """n lines within every cap: items in turn, quantity 1, distinct notes."""
    cat = default_catalog()
    items = list(cat.items.values())
    out = []
    for i in range(n):
        item = items[i % len(items)]
        out.append({"item_id": item.id, "size": item.sizes[0] if item.has_sizes else None,
                    "quantity": 1, "notes": f"n{i}"})  # fmt: skip
    return out


def _figures(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):8.2f} ms   p95 {p95:8.2f} ms   (n={len(ms)})"


def _as_user(conn: psycopg.Connection, user: str) -> None:
    conn.execute("set local role authenticated")
    claims = json.dumps({"sub": user, "role": "authenticated"})
    conn.execute("select set_config('request.jwt.claims', %s, true)", [claims])


def _time(conn: psycopg.Connection, runs: int, call: Callable[[psycopg.Connection, str], None]):
    samples = []
    for _ in range(runs):
        user = str(uuid.uuid4())
        with conn.transaction(force_rollback=True):
            _as_user(conn, user)
            started = time.perf_counter()
            call(conn, user)
            samples.append(time.perf_counter() - started)
    return samples


def _refused(sql: str, args: list[object]) -> Callable[[psycopg.Connection, str], None]:
    def call(conn: psycopg.Connection, user: str) -> None:
        try:
            with conn.transaction():
                conn.execute(sql, [user, *args])
        except psycopg.errors.ProgramLimitExceeded:
            return
        raise AssertionError("the cap did not refuse the request")

    return call


CHECKOUT = "select public.checkout(%s, %s, 0, %s, %s::jsonb)"
SAVE = "select public.save_cart(%s, %s, 0, %s::jsonb)"


def bench_caps(conn: psycopg.Connection, runs: int) -> None:
    big = json.dumps(_lines(2000))
    huge = json.dumps(_lines(60_000, notes="x" * 90))
    print(f"checkout, 2,000 lines ({len(big) / 1e3:.0f} kB) -> cap error:  "
          + _figures(_time(conn, runs, _refused(CHECKOUT, [str(uuid.uuid4()), "k", big]))))  # fmt: skip
    print(f"save_cart, 60,000 lines ({len(huge) / 1e6:.1f} MB) -> cap error: "
          + _figures(_time(conn, max(3, runs // 5), _refused(SAVE, [str(uuid.uuid4()), huge]))))  # fmt: skip


def bench_linear(conn: psycopg.Connection, runs: int) -> None:
    for n in (10, 25, 50):
        lines = json.dumps(_saved_lines(n))
        placed: list[float] = []

        def call(
            conn: psycopg.Connection, user: str, lines: str = lines, placed: list[float] = placed
        ) -> None:
            cart = str(uuid.uuid4())
            conn.execute(SAVE, [user, cart, lines])
            started = time.perf_counter()
            row = conn.execute(
                "select public.checkout(%s, %s, 1, 'k', %s::jsonb) ->> 'status'",
                [user, cart, lines],
            ).fetchone()
            assert row is not None and row[0] == "placed", row
            placed.append(time.perf_counter() - started)

        _time(conn, runs, call)
        print(f"checkout of a saved cart of {n:2d} lines -> order:      " + _figures(placed))


def bench_http(pg: LocalPostgres, runs: int) -> None:
    from concierge.store.supabase import RetryPolicy, SupabaseStore
    from tests.postgrest_harness import PostgrestHarness, serve

    async def main(url: str, n: int) -> list[float]:
        samples = []
        coke = default_catalog().item("coke")
        for _ in range(runs):
            user = str(uuid.uuid4())
            store = await SupabaseStore.connect(
                url, pg.api_key("anon"), user_jwt=pg.user_jwt(user), retry=RetryPolicy(attempts=1)
            )
            lines = [CartLine("coke", coke.name, coke.restaurant_id, "", "small", 1, 199, f"c{i}")
                     for i in range(n)]  # fmt: skip
            started = time.perf_counter()
            try:
                await store.checkout(Cart(user, lines))
            except CartLimitError:
                samples.append(time.perf_counter() - started)
            finally:
                await store.close()
        return samples

    app = PostgrestHarness(pg.dsn(user="authenticator"), pg.jwt_secret)
    with serve(app) as url:
        for n in (51, 2000):  # 51: what the client and the harness cost a request by themselves
            samples = asyncio.run(main(url, n))
            print(
                f"store.checkout over HTTP, {n:5,d} lines -> CartLimitError: " + _figures(samples)
            )


def bench_old(pg: LocalPostgres, runs: int) -> None:
    pg.create_database("before_26")
    pg.execute_files([BOOTSTRAP_SQL, *migration_files()[:-1], SEED_SQL], dbname="before_26")
    with psycopg.connect(pg.dsn(dbname="before_26"), autocommit=True) as conn:
        for n in (500, 1000, 2000):
            lines = json.dumps([{"item_id": "coke", "size": "small", "quantity": 1}] * n)

            def call(conn: psycopg.Connection, user: str, lines: str = lines) -> None:
                conn.execute(CHECKOUT, [user, str(uuid.uuid4()), "k", lines])

            print(f"before the migration: checkout of {n:4d} lines -> order: "
                  + _figures(_time(conn, max(3, runs // 10), call)))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--compare-old", action="store_true")
    args = parser.parse_args()
    with LocalPostgres() as pg:
        pg.apply_supabase_schema()
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            bench_caps(conn, args.runs)
            bench_linear(conn, args.runs)
        bench_http(pg, args.runs)
        if args.compare_old:
            bench_old(pg, args.runs)


if __name__ == "__main__":
    main()
