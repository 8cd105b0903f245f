"""Fixtures for the store tests: a throwaway PostgreSQL with the Supabase schema, the PostgREST
test harness in front of it, and stores of both kinds built the way the agent builds them.

The cluster starts once per test session (~1.5 s with the schema and seed). Tests that need it
skip, saying why, only when no PostgreSQL server binaries exist; `scripts/test.sh` installs them,
so in CI they always run. Each test works on fresh user ids, so tests share the cluster safely.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from concierge.lab.local_postgres import LocalPostgres, PostgresNotAvailable, find_pg_bindir
from concierge.store import SQLiteStore, Store, load_seed, open_store
from concierge.store.supabase import RetryPolicy, SupabaseStore
from tests.postgrest_harness import PostgrestHarness, serve

NO_POSTGRES = (
    "no PostgreSQL server binaries (initdb) here: apt-get install postgresql (scripts/test.sh does)"
)

#: Retries fast enough for tests, still 3 attempts.
FAST_RETRY = RetryPolicy(attempts=3, timeout=2.0, initial_wait=0.01, max_wait=0.05)


@pytest.fixture(scope="session")
def pg() -> Iterator[LocalPostgres]:
    """The session's PostgreSQL cluster, schema and seed applied."""
    if find_pg_bindir() is None:
        pytest.skip(NO_POSTGRES)
    try:
        cluster = LocalPostgres().start()
    except PostgresNotAvailable as e:
        pytest.skip(str(e))
    try:
        cluster.apply_supabase_schema()
        yield cluster
    finally:
        cluster.stop()


@dataclass
class LocalSupabase:
    """The harness-served API: its URL, keys and the harness (request log, fault injection)."""

    pg: LocalPostgres
    app: PostgrestHarness
    url: str
    opened: list[SupabaseStore] = field(default_factory=list)

    @property
    def anon_key(self) -> str:
        return self.pg.api_key("anon")

    @property
    def service_key(self) -> str:
        return self.pg.api_key("service_role")

    async def user_store(
        self, user_id: str, retry: RetryPolicy = FAST_RETRY, url: str | None = None
    ) -> SupabaseStore:
        """A store acting as the signed-in user `user_id` (row-level security applies)."""
        store = await SupabaseStore.connect(
            url or self.url, self.anon_key, user_jwt=self.pg.user_jwt(user_id), retry=retry
        )
        self.opened.append(store)
        return store

    async def service_store(self, retry: RetryPolicy = FAST_RETRY) -> SupabaseStore:
        """A store with the service-role key (the seed command's)."""
        store = await SupabaseStore.connect(self.url, self.service_key, retry=retry)
        self.opened.append(store)
        return store


@pytest.fixture(scope="session")
def served(pg: LocalPostgres) -> Iterator[tuple[PostgrestHarness, str]]:
    app = PostgrestHarness(pg.dsn(user="authenticator"), pg.jwt_secret)
    with serve(app) as url:
        yield app, url


@pytest.fixture
async def supa(
    pg: LocalPostgres, served: tuple[PostgrestHarness, str]
) -> AsyncIterator[LocalSupabase]:
    """Per test: the local Supabase API with a clean request log and no faults."""
    app, url = served
    app.log.clear()
    app.faults.clear()
    local = LocalSupabase(pg, app, url)
    yield local
    app.faults.clear()
    for store in local.opened:
        await store.close()


@pytest.fixture
def new_user() -> str:
    return str(uuid.uuid4())


DEMO = next(p for p in load_seed().profiles if p.handle == "demo")
ALEX = next(p for p in load_seed().profiles if p.handle == "alex")


class Backend:
    """One store backend as the contract suite sees it."""

    name: str

    async def store(self, user_id: str) -> Store:
        """A store to act for `user_id`; a *new* instance on every call."""
        raise NotImplementedError

    async def admin(self) -> Store:
        """A store allowed to seed."""
        raise NotImplementedError

    async def aclose(self) -> None: ...


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: str) -> None:
        self.url = f"sqlite:///{path}"
        self.opened: list[Store] = []

    async def store(self, user_id: str) -> Store:
        # The first open seeds from the menu file; later ones serve whatever the admin seeded since,
        # as a Supabase store does (open_store would put the menu file's menu back).
        store = await open_store(self.url, seed=not self.opened)
        assert isinstance(store, SQLiteStore)
        self.opened.append(store)
        return store

    async def admin(self) -> Store:
        return await self.store("")

    async def aclose(self) -> None:
        for store in self.opened:
            await store.close()


class SupabaseBackend(Backend):
    name = "supabase"

    def __init__(self, local: LocalSupabase) -> None:
        self.local = local

    async def store(self, user_id: str) -> Store:
        return await self.local.user_store(user_id)

    async def admin(self) -> Store:
        return await self.local.service_store()

    async def aclose(self) -> None:
        for store in self.local.opened:
            await store.close()


@pytest.fixture(params=["sqlite", "supabase"])
async def backend(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Backend]:
    """Each contract test runs once per backend: file-backed SQLite, and Supabase."""
    if request.param == "sqlite":
        b: Backend = SQLiteBackend(str(tmp_path / "concierge.db"))
    else:
        # Only now ask for the cluster, so the SQLite half runs even where Postgres is missing.
        app, url = request.getfixturevalue("served")
        app.faults.clear()
        b = SupabaseBackend(LocalSupabase(request.getfixturevalue("pg"), app, url))
    yield b
    await b.aclose()
