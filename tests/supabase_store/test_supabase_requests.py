"""The HTTP requests supabase-py sends for each store call, pinned.

The PostgREST test harness answers only what it implements, and this file pins what that is:
method, path, query, `Prefer`, and the schema header, per store call. If a supabase-py upgrade
(or a store change) alters a request, this fails with the difference, before production does.
"""

from __future__ import annotations

import uuid

from concierge.cart import Cart
from concierge.menu import default_catalog
from concierge.store import load_seed

from .conftest import LocalSupabase


def _sent(local: LocalSupabase) -> list[tuple]:
    """The requests since the last call, as (method, path, query, prefer, profile), in order."""
    out = []
    for r in local.app.log:
        query = tuple(
            # supabase-py builds `columns` for bulk upserts from a set: its order varies per run.
            (k, ",".join(sorted(v.split(",")))) if k == "columns" else (k, v)
            for k, v in r.query
        )
        out.append((r.method, r.path, query, r.prefer, r.profile))
    local.app.log.clear()
    return out


async def test_requests_per_store_call_are_pinned(supa: LocalSupabase) -> None:
    user = str(uuid.UUID(int=uuid.uuid4().int))
    store = await supa.user_store(user)
    supa.app.log.clear()

    await store.load_catalog()
    # The three reads run concurrently; their order on the wire is not part of the contract.
    assert sorted(_sent(supa)) == sorted([
        ("GET", "/rest/v1/restaurants", (("select", "id,name,cuisine,aliases"), ("order", "sort_order.asc")), None, "public"),
        ("GET", "/rest/v1/menu_items", (("select", "id,restaurant_id,name,category,price_cents,tags,retired_at"), ("order", "sort_order.asc")), None, "public"),
        ("GET", "/rest/v1/menu_item_sizes", (("select", "item_id,size,price_cents"),), None, "public"),
    ])  # fmt: skip
    await store.load_catalog()
    assert _sent(supa) == [], "the menu is read once per store, not once per session"

    await store.get_profile("demo")
    await store.get_profile(user)
    assert _sent(supa) == [
        ("GET", "/rest/v1/profiles", (("select", "id,handle,name,dietary,address"), ("handle", "eq.demo"), ("limit", "1")), None, "public"),
        ("GET", "/rest/v1/profiles", (("select", "id,handle,name,dietary,address"), ("id", f"eq.{user}"), ("limit", "1")), None, "public"),
    ]  # fmt: skip

    cart = Cart(user_id=user)
    cart.add(default_catalog(), "coke", 1, size="small")
    await store.load_cart(user)
    await store.save_cart(cart)
    order = await store.checkout(cart)
    assert _sent(supa) == [
        ("POST", "/rest/v1/rpc/load_cart", (), None, "public"),
        ("POST", "/rest/v1/rpc/save_cart", (), None, "public"),
        ("POST", "/rest/v1/rpc/checkout", (), None, "public"),
    ]

    await store.list_orders(user)
    assert _sent(supa) == [
        ("GET", "/rest/v1/orders", (("select", "id,user_id,cart_id,total_cents,created_at,checkout_key"), ("user_id", f"eq.{user}"), ("order", "created_at.desc")), None, "public"),
        ("GET", "/rest/v1/order_lines", (("select", "order_id,position,item_id,name,restaurant_id,restaurant_name,size,quantity,unit_price_cents,notes"), ("order_id", f"in.({order.order_id})"), ("order", "order_id.asc,position.asc")), None, "public"),
    ]  # fmt: skip

    admin = await supa.service_store()
    supa.app.log.clear()
    await admin.seed(load_seed())
    upsert = "return=minimal,resolution=merge-duplicates"
    assert _sent(supa) == [
        ("POST", "/rest/v1/restaurants", (("on_conflict", "id"), ("columns", '"aliases","cuisine","id","name","sort_order"')), upsert, "public"),
        ("POST", "/rest/v1/menu_items", (("on_conflict", "id"), ("columns", '"category","id","name","price_cents","restaurant_id","retired_at","sort_order","tags"')), upsert, "public"),
        ("POST", "/rest/v1/menu_item_sizes", (("on_conflict", "item_id,size"), ("columns", '"item_id","price_cents","size"')), upsert, "public"),
        ("POST", "/rest/v1/profiles", (("on_conflict", "id"), ("columns", '"address","dietary","handle","id","name"')), upsert, "public"),
        ("POST", "/rest/v1/rpc/retire_menu_items", (), None, "public"),
    ]  # fmt: skip


async def test_store_requests_run_as_the_signed_in_user(supa: LocalSupabase) -> None:
    """The project key goes in `apikey`, the user's token in `Authorization`; the harness logs a
    request only after verifying both, and records the role the token carried."""
    user = str(uuid.uuid4())
    store = await supa.user_store(user)
    supa.app.log.clear()
    await store.load_cart(user)
    (request,) = supa.app.log
    assert request.role == "authenticated"


async def test_the_harness_refuses_what_it_does_not_implement(supa: LocalSupabase) -> None:
    """A request outside the pinned set gets HTTP 501 and a message, never a plausible answer."""
    import httpx

    headers = {"apikey": supa.anon_key, "Authorization": f"Bearer {supa.anon_key}"}
    async with httpx.AsyncClient(base_url=supa.url, headers=headers) as http:
        for method, path, params in [
            ("GET", "/rest/v1/menu_items", {"price_cents": "gt.100"}),
            ("GET", "/rest/v1/menu_items", {"select": "id,menu_item_sizes(size)"}),
            ("PATCH", "/rest/v1/menu_items", {"id": "eq.coke"}),
            ("GET", "/auth/v1/user", {}),
        ]:
            r = await http.request(
                method, path, params=params, json={} if method == "PATCH" else None
            )
            assert r.status_code == 501, (method, path, r.text)
            assert "does not implement" in r.json()["message"]
