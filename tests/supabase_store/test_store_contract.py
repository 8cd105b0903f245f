"""The store contract: every test runs on file-backed SQLite and on Supabase (supabase-py over
real PostgreSQL), and both must pass. The agent may then be given either store unchanged.

On Supabase each store acts as one signed-in user (row-level security on), the way the agent
runs; `admin()` is the service-role store the seed command uses.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from concierge.cart import (
    MAX_LINES,
    MAX_NOTES,
    MAX_QUANTITY,
    Cart,
    CartError,
    CartLimitError,
    CartLine,
)
from concierge.menu import Catalog, default_catalog
from concierge.store import (
    CartConflictError,
    ItemsUnavailableError,
    SeedData,
    Store,
    load_seed,
)

from .conftest import ALEX, DEMO, Backend


def _catalog_rows(store_catalog) -> list[tuple]:
    return [
        (
            it.id,
            it.restaurant_id,
            it.name,
            it.category,
            it.price_cents,
            dict(it.size_prices),
            it.tags,
        )
        for it in store_catalog.items.values()
    ]


def _filled_cart(user_id: str) -> Cart:
    cat = default_catalog()
    cart = Cart(user_id=user_id)
    cart.add(cat, "coke", 2, size="large", notes="no ice, please")
    cart.add(cat, "classic_cheeseburger", 1)
    cart.add(cat, "margherita_pizza", 3, size="small", notes="extra basil; it's for O'Brien")
    return cart


async def test_menu_as_stored_matches_the_menu_file(backend: Backend) -> None:
    store = await backend.store(str(uuid.uuid4()))
    catalog = await store.load_catalog()
    assert _catalog_rows(catalog) == _catalog_rows(default_catalog())
    assert list(catalog.restaurants.values()) == list(default_catalog().restaurants.values())


async def test_profile_by_id_and_by_handle(backend: Backend) -> None:
    store = await backend.store(DEMO.id)
    by_id = await store.get_profile(DEMO.id)
    by_handle = await store.get_profile("demo")
    assert by_id == by_handle == DEMO
    assert await store.get_profile("nobody_here") is None
    assert await store.get_profile(str(uuid.uuid4())) is None


async def test_a_new_user_has_an_empty_cart(backend: Backend, new_user: str) -> None:
    store = await backend.store(new_user)
    cart = await store.load_cart(new_user)
    assert cart.user_id == new_user
    assert cart.is_empty()
    uuid.UUID(cart.cart_id)


async def test_save_and_load_round_trip_keeps_sizes_notes_and_order(
    backend: Backend, new_user: str
) -> None:
    store = await backend.store(new_user)
    cart = _filled_cart(new_user)
    await store.save_cart(cart)
    loaded = await store.load_cart(new_user)
    assert loaded.cart_id == cart.cart_id
    assert loaded.lines == cart.lines
    assert loaded.total_cents == cart.total_cents == 2 * 299 + 999 + 3 * 1100

    cart.remove("classic_cheeseburger")  # saving again replaces, it does not append
    await store.save_cart(cart)
    assert (await store.load_cart(new_user)).lines == cart.lines


async def test_a_saved_cart_survives_a_new_store_instance(backend: Backend, new_user: str) -> None:
    first = await backend.store(new_user)
    cart = _filled_cart(new_user)
    await first.save_cart(cart)
    await first.close()
    second = await backend.store(new_user)
    assert second is not first
    again = await second.load_cart(new_user)
    assert (again.cart_id, again.lines) == (cart.cart_id, cart.lines)


async def test_carts_of_two_users_stay_apart(backend: Backend) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    store_a, store_b = await backend.store(a), await backend.store(b)
    await store_a.save_cart(_filled_cart(a))
    assert (await store_b.load_cart(b)).is_empty()


async def test_checkout_persists_the_order_and_empties_the_saved_cart(
    backend: Backend, new_user: str
) -> None:
    store = await backend.store(new_user)
    cart = _filled_cart(new_user)
    await store.save_cart(cart)
    order = await store.checkout(cart)
    assert (order.user_id, order.cart_id) == (new_user, cart.cart_id)
    assert order.lines == tuple(cart.lines)
    assert order.total_cents == cart.total_cents
    assert cart.lines, "checkout must not change the caller's in-memory cart"
    assert (await store.load_cart(new_user)).is_empty()
    assert await store.list_orders(new_user) == [order]


async def test_checkout_is_idempotent_per_cart_id(backend: Backend, new_user: str) -> None:
    store = await backend.store(new_user)
    cart = _filled_cart(new_user)
    first = await store.checkout(cart)
    retried = await store.checkout(cart)
    assert retried == first
    assert len(await store.list_orders(new_user)) == 1


async def test_checkout_of_an_empty_cart_is_refused_and_creates_nothing(
    backend: Backend, new_user: str
) -> None:
    store = await backend.store(new_user)
    with pytest.raises(CartError, match="empty"):
        await store.checkout(Cart(user_id=new_user))
    assert await store.list_orders(new_user) == []


async def test_list_orders_newest_first(backend: Backend, new_user: str) -> None:
    store = await backend.store(new_user)
    cat = default_catalog()
    placed = []
    for item in ("coke", "fries", "tiramisu"):
        cart = Cart(user_id=new_user)
        cart.add(cat, item, 1, size="medium" if cat.item(item).has_sizes else None)
        placed.append(await store.checkout(cart))
    orders = await store.list_orders(new_user)
    assert [o.order_id for o in orders] == [o.order_id for o in reversed(placed)]
    assert [o.lines[0].item_id for o in orders] == ["tiramisu", "fries", "coke"]
    assert await store.list_orders(str(uuid.uuid4())) == []


async def test_seeding_twice_is_harmless(backend: Backend, new_user: str) -> None:
    admin: Store = await backend.admin()
    user_store = await backend.store(new_user)
    cart = _filled_cart(new_user)
    await user_store.save_cart(cart)
    data = load_seed()
    await admin.seed(data)
    await admin.seed(data)
    assert _catalog_rows(await admin.load_catalog()) == _catalog_rows(data.catalog)
    assert await (await backend.store(ALEX.id)).get_profile("alex") == ALEX
    kept = await user_store.load_cart(new_user)
    assert (kept.cart_id, kept.lines) == (cart.cart_id, cart.lines), "seeding must keep carts"


# --- issue #10: concurrency, checkout keys, catalog changes ------------------------------------


async def test_a_save_based_on_an_older_revision_is_refused(
    backend: Backend, new_user: str
) -> None:
    a, b = await backend.store(new_user), await backend.store(new_user)
    mine = await a.load_cart(new_user)
    theirs = await b.load_cart(new_user)
    mine.add(default_catalog(), "churros", 1)
    await a.save_cart(mine)
    assert mine.revision == 1
    theirs.add(default_catalog(), "edamame", 1)
    with pytest.raises(CartConflictError) as conflict:
        await b.save_cart(theirs)
    assert conflict.value.current.revision == 1
    assert [ln.item_id for ln in conflict.value.current.lines] == ["churros"]
    assert [ln.item_id for ln in (await a.load_cart(new_user)).lines] == ["churros"]


async def test_changed_contents_never_get_an_older_order(backend: Backend, new_user: str) -> None:
    store = await backend.store(new_user)
    cart = _filled_cart(new_user)
    await store.save_cart(cart)
    order = await store.checkout(cart)
    assert await store.find_order(new_user, cart.checkout_key()) == order
    cart.add(default_catalog(), "churros", 1)
    with pytest.raises(CartConflictError):
        await store.checkout(cart)
    assert await store.list_orders(new_user) == [order]
    assert await store.find_order(new_user, cart.checkout_key()) is None


async def test_checkout_prices_from_the_current_menu(backend: Backend, new_user: str) -> None:
    store = await backend.store(new_user)
    cart = Cart(user_id=new_user)
    cart.add(default_catalog(), "churros", 2)
    cart.lines[0] = replace(cart.lines[0], unit_price_cents=1)  # a price the menu no longer has
    order = await store.checkout(cart)
    assert order.lines[0].unit_price_cents == 500 and order.total_cents == 1000


def _seed_without(full: SeedData, item_id: str) -> SeedData:
    """The seed with one item dropped from the menu (seeding it retires that item)."""
    items = [it for it in full.catalog.items.values() if it.id != item_id]
    return replace(full, catalog=Catalog(full.catalog.restaurants.values(), items))


async def test_items_dropped_from_the_menu_are_retired(backend: Backend, new_user: str) -> None:
    admin = await backend.admin()
    store = await backend.store(new_user)
    old = Cart(user_id=new_user)
    old.add(default_catalog(), "churros", 1)
    before = await store.checkout(old)
    cart = Cart(user_id=new_user)
    cart.add(default_catalog(), "churros", 1)
    cart.add(default_catalog(), "edamame", 1)
    await store.save_cart(cart)
    full = load_seed()
    smaller = _seed_without(full, "churros")
    try:
        await admin.seed(smaller)
        assert "churros" not in (await (await backend.store(new_user)).load_catalog()).items
        with pytest.raises(ItemsUnavailableError) as refused:
            await store.checkout(cart)
        assert refused.value.item_ids == ("churros",)
        assert (await store.list_orders(new_user)) == [before], "old orders stay intact"
        saved = await store.load_cart(new_user)
        assert [ln.item_id for ln in saved.lines] == ["churros", "edamame"]
    finally:
        await admin.seed(full)
    assert "churros" in (await admin.load_catalog()).items


# --- issue #26: caps, and checkout of the cart as saved -----------------------------------------


def _line(item_id: str, size: str | None, quantity: int, notes: str = "") -> CartLine:
    """A line built by hand, as a hostile or buggy client could send it (no `Cart.add` checks)."""
    item = default_catalog().item(item_id)
    return CartLine(item.id, item.name, item.restaurant_id, "", size, quantity,
                    item.unit_price_cents(size), notes)  # fmt: skip


OVER_A_CAP = {
    "51 lines": (
        [_line("fries", "small", 1, f"bag {i}") for i in range(MAX_LINES + 1)],
        f"A cart can hold at most {MAX_LINES} lines ({MAX_LINES + 1} given); please combine "
        "or remove some.",
    ),
    "21 of one item across sizes": (
        [_line("coke", "large", 15), _line("coke", "small", 6)],
        f"At most {MAX_QUANTITY} of one item per order: the cart has 21 of coke.",
    ),
    "five lines of 20": (
        [_line("coke", "large", 20, f"cup {i}") for i in range(5)],
        f"At most {MAX_QUANTITY} of one item per order: the cart has 100 of coke.",
    ),
    "a control character in notes": (
        [_line("coke", "large", 1, "ring\x07the bell")],
        "Notes can only hold ordinary text (no control characters).",
    ),
    "notes too long": (
        [_line("coke", "large", 1, "é" * (MAX_NOTES + 1))],
        f"Notes can be at most {MAX_NOTES} characters ({MAX_NOTES + 1} given); please shorten "
        "the request.",
    ),
}


@pytest.mark.parametrize("case", OVER_A_CAP)
async def test_a_cart_over_a_cap_is_refused_with_the_same_sentence_and_nothing_written(
    backend: Backend, new_user: str, case: str
) -> None:
    lines, sentence = OVER_A_CAP[case]
    store = await backend.store(new_user)
    kept = Cart(user_id=new_user)
    kept.add(default_catalog(), "churros", 1)
    await store.save_cart(kept)
    over = Cart(new_user, list(lines), kept.cart_id, kept.revision)
    with pytest.raises(CartLimitError) as saving:
        await store.save_cart(over.copy())
    with pytest.raises(CartLimitError) as ordering:
        await store.checkout(over)
    assert str(saving.value) == str(ordering.value) == sentence
    assert (await store.load_cart(new_user)).lines == kept.lines, "the saved cart is kept"
    assert await store.list_orders(new_user) == []


async def test_a_cart_at_the_caps_saves_and_checks_out(backend: Backend, new_user: str) -> None:
    cat = default_catalog()
    cart = Cart(user_id=new_user)
    for item in list(cat.items.values())[: MAX_LINES // 2]:
        for notes in ("a", "b"):
            cart.add(cat, item.id, 1, size=item.sizes[0] if item.has_sizes else None, notes=notes)
    cart.set_quantity(cat, cart.lines[0].item_id, cart.lines[0].size, MAX_QUANTITY - 1)
    assert len(cart.lines) == MAX_LINES
    store = await backend.store(new_user)
    await store.save_cart(cart)
    order = await store.checkout(cart)
    assert order.lines == tuple(cart.lines)


async def test_checkout_orders_the_saved_cart_never_other_lines(
    backend: Backend, new_user: str
) -> None:
    store = await backend.store(new_user)
    saved = Cart(user_id=new_user)
    saved.add(default_catalog(), "coke", 1, size="small")
    await store.save_cart(saved)
    pizzas = Cart(new_user, [_line("pepperoni_pizza", "large", 20)], saved.cart_id, saved.revision)
    with pytest.raises(CartConflictError) as conflict:
        await store.checkout(pizzas)
    assert conflict.value.current.lines == saved.lines
    assert await store.list_orders(new_user) == []
    assert (await store.load_cart(new_user)).lines == saved.lines


async def test_a_retired_item_of_the_saved_cart_is_reported_though_left_out(
    backend: Backend, new_user: str
) -> None:
    admin = await backend.admin()
    store = await backend.store(new_user)
    saved = Cart(user_id=new_user)
    saved.add(default_catalog(), "churros", 1)
    saved.add(default_catalog(), "edamame", 1)
    await store.save_cart(saved)
    without = Cart(new_user, saved.lines[1:], saved.cart_id, saved.revision)
    full = load_seed()
    smaller = _seed_without(full, "churros")
    try:
        await admin.seed(smaller)
        with pytest.raises(ItemsUnavailableError) as refused:
            await store.checkout(without)
        assert refused.value.item_ids == ("churros",)
        assert await store.list_orders(new_user) == []
    finally:
        await admin.seed(full)
