"""Row-level security seen through supabase-py, and the keys each part of the system uses.

A user's token must not reach another user's cart however it asks: a plain table read answers
an empty list (exactly what PostgREST answers when a policy hides every row), a function call
for another user answers 403, and a write is refused. The service-role key (the seed command's)
writes the menu; a user's token cannot.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import AsyncClient, AsyncClientOptions

from concierge.cart import Cart
from concierge.lab.local_postgres import sign_jwt
from concierge.menu import default_catalog
from concierge.store import StoreAuthError, StoreError, load_seed
from concierge.store.supabase import SupabaseStore

from .conftest import DEMO, LocalSupabase

_raw_clients: list[httpx.AsyncClient] = []


def raw_client(local: LocalSupabase, user_id: str | None) -> AsyncClient:
    """A plain supabase-py client: anon key, plus a user's access token when given."""
    http = httpx.AsyncClient()
    _raw_clients.append(http)
    options = AsyncClientOptions(
        httpx_client=http, postgrest_client_retry=False, persist_session=False
    )
    if user_id:
        options.headers["Authorization"] = f"Bearer {local.pg.user_jwt(user_id)}"
    return AsyncClient(local.url, local.anon_key, options)


@pytest.fixture(autouse=True)
async def _close_raw_clients() -> AsyncIterator[None]:
    yield
    while _raw_clients:
        await _raw_clients.pop().aclose()


async def _saved_cart(local: LocalSupabase, user_id: str) -> Cart:
    store = await local.user_store(user_id)
    cart = Cart(user_id=user_id)
    cart.add(default_catalog(), "fries", 2, size="large", notes="extra salt")
    await store.save_cart(cart)
    return cart


async def test_a_users_token_cannot_read_another_users_cart(supa: LocalSupabase) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await _saved_cart(supa, b)
    client_a, client_b = raw_client(supa, a), raw_client(supa, b)

    # B sees B's own cart, so the rows exist and the query is right ...
    own = await client_b.table("carts").select("user_id,cart_id").eq("user_id", b).execute()
    assert [r["user_id"] for r in own.data] == [b]
    # ... and A, asking for exactly those rows, gets what PostgREST gives for hidden rows: nothing.
    assert (
        await client_a.table("carts").select("user_id,cart_id").eq("user_id", b).execute()
    ).data == []
    assert (
        await client_a.table("cart_lines").select("item_id").eq("user_id", b).execute()
    ).data == []
    # The cart function says no outright (HTTP 403, SQLSTATE 42501), as PostgREST maps it.
    with pytest.raises(APIError) as refused:
        await client_a.rpc("load_cart", {"p_user_id": b}).execute()
    assert refused.value.code == "42501"
    # The store turns that into a sentence, and a write for B is refused the same way.
    store_a = await supa.user_store(a)
    with pytest.raises(StoreError, match="not allowed for this user"):
        await store_a.load_cart(b)
    with pytest.raises(StoreError, match="not allowed for this user"):
        await store_a.save_cart(Cart(user_id=b))
    assert (await (await supa.user_store(b)).load_cart(b)).lines, "B's cart is untouched"


async def test_a_users_token_cannot_read_another_users_orders(supa: LocalSupabase) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    order = await (await supa.user_store(b)).checkout(await _saved_cart(supa, b))
    store_a = await supa.user_store(a)
    assert await store_a.list_orders(b) == []
    client_a = raw_client(supa, a)
    assert (
        await client_a.table("orders").select("id").eq("id", order.order_id).execute()
    ).data == []
    with pytest.raises(StoreError, match="not allowed for this user"):
        await store_a.checkout(Cart(user_id=b, lines=list(order.lines), cart_id=order.cart_id))


async def test_anon_reads_the_menu_and_no_carts(supa: LocalSupabase) -> None:
    anon = raw_client(supa, None)
    items = await anon.table("menu_items").select("id").execute()
    assert {r["id"] for r in items.data} == set(default_catalog().items)
    with pytest.raises(APIError) as refused:
        await anon.table("carts").select("user_id").execute()
    assert refused.value.code == "42501"  # HTTP 401 for anon, as PostgREST answers


async def test_a_user_sees_only_their_own_profile(supa: LocalSupabase) -> None:
    store = await supa.user_store(str(uuid.uuid4()))
    assert await store.get_profile("demo") is None
    assert await (await supa.user_store(DEMO.id)).get_profile("demo") == DEMO


async def test_the_seed_command_uses_the_service_role(supa: LocalSupabase) -> None:
    env = {
        "SUPABASE_URL": supa.url,
        "SUPABASE_ANON_KEY": supa.anon_key,
        "SUPABASE_SERVICE_ROLE_KEY": supa.service_key,
    }
    store = await SupabaseStore.from_env(env, service_role=True)
    supa.opened.append(store)
    await store.seed(load_seed())
    assert supa.app.log[-1].role == "service_role"
    assert len((await store.load_catalog()).items) == len(default_catalog().items)

    user_store = await supa.user_store(str(uuid.uuid4()))
    with pytest.raises(StoreError, match="not allowed for this user"):
        await user_store.seed(load_seed())


async def test_a_token_signed_with_another_secret_is_rejected(supa: LocalSupabase) -> None:
    forged = sign_jwt({"sub": DEMO.id, "role": "authenticated"}, "not-the-project-secret")
    store = await SupabaseStore.connect(supa.url, supa.anon_key, user_jwt=forged)
    supa.opened.append(store)
    with pytest.raises(StoreAuthError, match="credentials rejected"):
        await store.load_cart(DEMO.id)


async def test_from_env_explains_what_is_missing() -> None:
    with pytest.raises(StoreError, match="SUPABASE_URL"):
        await SupabaseStore.from_env({})
    with pytest.raises(StoreError, match="anon key alone"):
        await SupabaseStore.from_env(
            {"SUPABASE_URL": "https://x.supabase.co", "SUPABASE_ANON_KEY": "k"}
        )
    with pytest.raises(StoreError, match="SUPABASE_SERVICE_ROLE_KEY"):
        await SupabaseStore.from_env(
            {"SUPABASE_URL": "https://x.supabase.co", "SUPABASE_ANON_KEY": "k"}, service_role=True
        )


async def test_user_ids_must_be_auth_uuids(supa: LocalSupabase) -> None:
    store = await supa.user_store(DEMO.id)
    with pytest.raises(StoreError, match="UUID"):
        await store.load_cart("demo")


async def test_an_expired_sign_in_is_a_typed_error_the_agent_can_word(supa: LocalSupabase) -> None:
    import time

    user = str(uuid.uuid4())
    expired = sign_jwt(
        {"sub": user, "role": "authenticated", "exp": int(time.time()) - 60}, supa.pg.jwt_secret
    )
    store = await SupabaseStore.connect(supa.url, supa.anon_key, user_jwt=expired)
    supa.opened.append(store)
    with pytest.raises(StoreAuthError) as refused:
        await store.load_cart(user)
    assert refused.value.expired
