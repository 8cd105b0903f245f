# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 7 · Supabase: the production store, on a real PostgreSQL
#
# So far every session used the embedded SQLite store. The app this lab migrates kept its menu,
# profiles and carts in **Supabase**: PostgreSQL behind an HTTP API (PostgREST), with row-level
# security deciding who may read which row. In this notebook the agent runs on that store — the
# real `supabase-py` client, the real schema, a real PostgreSQL — without changing a line of
# agent code.
#
# ## What you will learn
# - the store contract both backends keep, and why the agent never notices which one it has;
# - the schema as migrations: constraints, **row-level security** policies, and a
#   `security definer` checkout function that is atomic and idempotent;
# - how a Supabase database is reproduced locally (no Docker needed), and what stands in for
#   the HTTP API;
# - RLS refusing a cross-user read through supabase-py;
# - swapping the agent's store with `offline_session(store=...)`;
# - why a lost checkout answer can be retried without ever placing a second order.
#
# ## Prerequisites
# Notebooks 1–5. For the live part, PostgreSQL's server binaries (`apt-get install postgresql`
# on Debian/Ubuntu; CI installs them). Without them this notebook says so and skips the live
# cells. No keys, no network, no Docker.

# %%
from concierge.lab import cart_table, setup_notebook, table, turn

print(setup_notebook())

# %% [markdown]
# ## One contract, two stores
#
# The agent talks to a `Store` (a `typing.Protocol`), never to a database. `SQLiteStore` and
# `SupabaseStore` both implement it, and one contract test suite
# (`tests/supabase_store/test_store_contract.py`) runs every test against both.

# %%
# NBVAL_CHECK_OUTPUT
import inspect

from concierge.store import SQLiteStore, Store
from concierge.store.supabase import SupabaseStore

methods = [m for m in Store.__dict__ if not m.startswith("_") and callable(getattr(Store, m))]
table(
    [
        (m, (inspect.getdoc(getattr(Store, m)) or "").split("\n")[0], hasattr(SQLiteStore, m), hasattr(SupabaseStore, m))
        for m in methods
    ],
    ["method", "what it promises", "SQLite", "Supabase"],
)

# %% [markdown]
# ## The schema, as migrations
#
# `concierge/data/supabase/` (package data; the repository's `data/supabase` links to it) holds
# plain SQL that runs unchanged in a Supabase project:
#
# - `migrations/*.sql` — tables, constraints (prices > 0, quantity 1..20, only sizes the item
#   has), indexes, RLS policies, and the functions the store calls;
# - `seed.sql` — generated from the menu (`python -m concierge seed --sql`), all upserts;
# - `bootstrap.sql` — **only for a plain PostgreSQL**: the roles (`anon`, `authenticated`,
#   `service_role`), grants and `auth.uid()` a Supabase database already has.
#
# The policies are short. Here are the ones on carts and orders, straight from the migration:

# %%
# NBVAL_CHECK_OUTPUT
import re

from concierge.lab.local_postgres import migration_files

migration = migration_files()[0].read_text()
for statement in re.findall(r"create policy[^;]+;", migration):
    if "cart" in statement or "order" in statement:
        print(" ".join(statement.split()))

# %% [markdown]
# `auth.uid()` is the user id inside the caller's JWT. A signed-in user therefore reaches only
# rows whose `user_id` is their own. Users cannot insert orders at all: an order is made only by
# `public.checkout()`, a `security definer` function that checks the caller, prices every line
# from the menu (never from the client), and creates **at most one order per checkout key** — a
# hash of the cart's id, its saved revision and its contents, so a retry of the same cart gets
# the same order and a cart that changed since never gets an older one. `save_cart()` is a
# compare-and-set on the cart's revision: a second device writing an older copy of the cart gets
# the saved cart back to merge with, instead of silently overwriting it.

# %% [markdown]
# ## A Supabase database, locally
#
# Supabase's own local stack (`npx supabase start`) needs Docker. Instead we start a private
# PostgreSQL cluster from the system's server binaries, apply `bootstrap.sql`, the migrations
# and the seed. Is PostgreSQL here?

# %%
from concierge.lab.local_postgres import find_pg_bindir

LIVE = find_pg_bindir() is not None
if LIVE:
    print(f"PostgreSQL server binaries found in {find_pg_bindir()}: the live cells below run.")
else:
    print(
        "No PostgreSQL server binaries here (looked for /usr/lib/postgresql/*/bin/initdb and "
        "initdb on PATH). Install them with `apt-get install postgresql` to run the live part; "
        "the cells below will say they were skipped."
    )

# %% [markdown]
# `shared_cluster()` starts the cluster once per kernel (a re-run reuses it) and stops it when
# the kernel exits. It runs as the `postgres` system user when the notebook runs as root.

# %%
import time

from concierge.lab.local_postgres import shared_cluster

if LIVE:
    started = time.perf_counter()
    pg = shared_cluster()
    print(f"private cluster on 127.0.0.1, schema and seed applied, ready in {time.perf_counter() - started:.1f} s")
    import psycopg

    with psycopg.connect(pg.dsn()) as conn:
        rows = conn.execute(
            """select c.relname, c.relrowsecurity,
                      (select count(*) from pg_policies p where p.tablename = c.relname)
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'public' and c.relkind = 'r' order by c.relname"""
        ).fetchall()
    assert all(rls for _, rls, _ in rows), "every table must have row-level security on"
    display(table(rows, ["table", "row-level security", "policies"]))
else:
    print("skipped: no PostgreSQL here")

# %% [markdown]
# ## The HTTP API in front of it
#
# supabase-py speaks HTTP to PostgREST. No PostgREST build can be installed on these machines
# (not in Debian, PyPI or npm), so the tests put a small **PostgREST-compatible test harness**
# (`tests/postgrest_harness`) in front of the database: it verifies the JWT, runs each request
# in one transaction as the JWT's role with its claims set (exactly what PostgREST does, and
# what `auth.uid()` reads), and maps errors to PostgREST's status codes. It implements only the
# requests the store sends and refuses the rest with HTTP 501. Here it serves this notebook too.
#
# Supabase keys are JWTs signed with the project's secret; the cluster mints its own.

# %%
from concierge.store import load_seed
from concierge.lab.local_postgres import serve_test_harness

seed = load_seed()
DANA = next(p for p in seed.profiles if p.handle == "demo")
ALEX = next(p for p in seed.profiles if p.handle == "alex")

if LIVE:
    api, url = serve_test_harness(pg)
    anon_key = pg.api_key("anon")
    dana_store = await SupabaseStore.connect(url, anon_key, user_jwt=pg.user_jwt(DANA.id))
    alex_store = await SupabaseStore.connect(url, anon_key, user_jwt=pg.user_jwt(ALEX.id))
    display(
        table(
            [(p.name, p.handle, p.id, s.acting_as) for s, p in ((dana_store, DANA), (alex_store, ALEX))],
            ["signed in as", "handle", "auth.uid()", "requests carry"],
        )
    )
else:
    print("skipped: no PostgreSQL here")

# %% [markdown]
# ## Row-level security refuses a cross-user read
#
# Alex saves a cart. Then Dana, with her own token, asks supabase-py for Alex's cart rows —
# a plain table read, the way any client could.

# %%
from supabase import AsyncClient, AsyncClientOptions

from concierge.cart import Cart
from concierge.menu import default_catalog


def client_as(user_id: str) -> AsyncClient:
    """A bare supabase-py client: the project's anon key plus a user's access token."""
    options = AsyncClientOptions(persist_session=False)
    options.headers["Authorization"] = f"Bearer {pg.user_jwt(user_id)}"
    return AsyncClient(url, anon_key, options)


if LIVE:
    alex_cart = await alex_store.load_cart(ALEX.id)  # saves are based on the saved revision
    alex_cart.lines.clear()
    alex_cart.add(default_catalog(), "falafel_bowl", 1, notes="no onions")
    await alex_store.save_cart(alex_cart)

    query = "carts?user_id=eq.<alex>"
    as_alex = await client_as(ALEX.id).table("carts").select("user_id,cart_id").eq("user_id", ALEX.id).execute()
    as_dana = await client_as(DANA.id).table("carts").select("user_id,cart_id").eq("user_id", ALEX.id).execute()
    assert len(as_alex.data) == 1 and as_dana.data == []
    display(
        table(
            [("Alex", query, len(as_alex.data)), ("Dana", query, len(as_dana.data))],
            ["token of", "GET /rest/v1/…", "rows returned"],
        )
    )
else:
    print("skipped: no PostgreSQL here")

# %% [markdown]
# Dana gets an empty list — exactly what PostgREST answers when a policy hides every row. The
# store's own cart function is stricter: asked for another user's cart it refuses outright
# (SQLSTATE 42501, HTTP 403), and the store turns that into a sentence.

# %%
import sys

sys.last_value = None  # so the check below sees this cell's error, not an older one

# %% tags=["raises-exception"]
if LIVE:
    await dana_store.load_cart(ALEX.id)

# %%
from concierge.store import StoreError

assert not LIVE or isinstance(sys.last_value, StoreError), "Dana must not read Alex's cart"
print(f"refused: {sys.last_value}" if LIVE else "skipped: no PostgreSQL here")

# %% [markdown]
# ## Swap the agent's store
#
# `offline_session(store=...)` takes any `Store`. Give it Alex's Supabase store: the same agent,
# the same tools, the same stand-in model — and every cart write now goes through supabase-py,
# HTTP and row-level security into PostgreSQL.

# %%
from concierge.session import offline_session

if LIVE:
    emptied = await alex_store.load_cart(ALEX.id)  # start from an empty cart on every run
    emptied.lines.clear()
    await alex_store.save_cart(emptied)
    async with offline_session(store=alex_store, user_id="alex") as session:
        shown = await turn(session, "a falafel bowl and two edamame")
        in_session = session.userdata.cart
    display(shown)
else:
    print("skipped: no PostgreSQL here")

# %% [markdown]
# The session is over. A **new** store instance — a new HTTP client, nothing shared — loads
# Alex's cart back from PostgreSQL:

# %%
if LIVE:
    fresh = await SupabaseStore.connect(url, anon_key, user_jwt=pg.user_jwt(ALEX.id))
    from_db = await fresh.load_cart(ALEX.id)
    assert from_db.lines == in_session.lines and from_db.cart_id == in_session.cart_id
    display(cart_table(from_db))
else:
    print("skipped: no PostgreSQL here")

# %% [markdown]
# ## Checkout, and an answer that gets lost
#
# The worst moment for a network fault is checkout: the order was created, but the reply never
# arrived. A client that retries blindly would order twice. Here the harness commits the
# checkout and then answers **502**, as a failing gateway would. The store retries (bounded, with
# backoff — tenacity), and because `checkout()` is idempotent per checkout key, the retry returns
# the order that already exists.

# %%
if LIVE:
    api.faults.add("POST /rest/v1/rpc/checkout", status=502, when="after")
    api.log.clear()
    order = await fresh.checkout(from_db)
    calls = [f"{r.method} {r.path}" for r in api.log]
    with psycopg.connect(pg.dsn()) as conn:
        in_db = conn.execute("select count(*) from orders where cart_id = %s", (from_db.cart_id,)).fetchone()[0]
    assert calls == ["POST /rest/v1/rpc/checkout"] * 2 and in_db == 1
    display(
        table(
            [
                ("checkout requests sent", len(calls)),
                ("orders in PostgreSQL for this cart", in_db),
                ("order", order.summary()),
                ("Alex's saved cart afterwards", (await fresh.load_cart(ALEX.id)).summary()),
            ],
            ["", ""],
        )
    )
else:
    print("skipped: no PostgreSQL here")

# %% [markdown]
# When the store stays down, the caller gets `StoreUnavailableError` with a plain sentence, the
# agent keeps the cart in the session, and checkout can be tried again later — the failure
# tests (`tests/supabase_store/test_supabase_faults.py`) inject each fault: unreachable, timeout,
# 5xx before and after the commit.

# %%
if LIVE:
    for s in (dana_store, alex_store, fresh):
        await s.close()

# %% [markdown]
# ## Three ways to run the store
#
# | where | how | variables |
# |---|---|---|
# | embedded (default) | nothing to do: SQLite in your user data directory | `CONCIERGE_STORE` unset, or `sqlite:///path.db` / `memory` |
# | a Supabase project | run `data/supabase/migrations/*.sql` and `seed.sql` in the SQL editor (or `supabase db push`) | `CONCIERGE_STORE=supabase`, `SUPABASE_URL`, `SUPABASE_ANON_KEY` + `SUPABASE_USER_JWT` (or `SUPABASE_SERVICE_ROLE_KEY`) |
# | Supabase's local stack | `npx supabase start` where Docker exists, then apply the same files | the URL and keys `npx supabase status` prints |
#
# `docs/supabase.md` walks through each, and through `python -m concierge seed`, which loads
# the menu with the service-role key.
#
# ## Recap — what changed
#
# | before | now |
# |---|---|
# | the app wrote to Supabase tables directly, trusting the client | RLS on every table; users reach only their own rows |
# | checkout = several inserts from the client | one `security definer` function: atomic, priced from the menu, one order per checkout key (cart id, revision, contents) |
# | a network error could mean a lost or a double order | bounded retries of idempotent calls; `StoreUnavailableError` with a plain sentence; never a duplicate |
# | the agent's code chose its database | the agent takes any `Store`; `offline_session(store=...)` swaps it |
#
# **Next:** [8 · Testing the agent](08_testing.ipynb) — the same tests CI runs.
