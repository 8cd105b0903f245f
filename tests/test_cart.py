"""Cart validation: every refusal is a readable CartError and leaves the cart as it was."""

from __future__ import annotations

import pytest

from concierge.cart import Cart, CartChange, CartError, Order
from concierge.menu import Catalog


def test_totals_and_merging(catalog: Catalog) -> None:
    cart = Cart("u1")
    cart.add(catalog, "classic_cheeseburger", 2)
    cart.add(catalog, "coke", 1, "large")
    cart.add(catalog, "classic_cheeseburger", 1)
    assert [(ln.item_id, ln.quantity) for ln in cart.lines] == [
        ("classic_cheeseburger", 3),
        ("coke", 1),
    ]
    assert str(cart.total) == "32.96"
    assert str(cart.lines[0].line_total) == "29.97"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", 1, None), "no menu item"),
        (("coke", 1, None), "which size"),
        (("coke", 0, "large"), "at least 1"),
        (("coke", 500, "large"), "at most 20"),
        (("coke", -3, "large"), "at least 1"),
        (("tiramisu", 1, "large"), "one size only"),
        (("fries", 1, "huge"), "small, medium or large"),
        (("chocolate_shake", 1, "small"), "medium or large"),
    ],
)
def test_refusals_leave_the_cart_unchanged(catalog: Catalog, args: tuple, message: str) -> None:
    cart = Cart("u1")
    cart.add(catalog, "edamame", 2)
    before = cart.to_dict()
    with pytest.raises(CartError, match=message):
        cart.add(catalog, *args)
    assert cart.to_dict() == before


def test_merge_cannot_pass_the_limit(catalog: Catalog) -> None:
    cart = Cart("u1")
    cart.add(catalog, "edamame", 15)
    with pytest.raises(CartError, match="already have 15"):
        cart.add(catalog, "edamame", 10)
    assert cart.lines[0].quantity == 15


def test_remove_whole_line_or_some(catalog: Catalog) -> None:
    cart = Cart("u1")
    cart.add(catalog, "edamame", 3)
    cart.remove("edamame", quantity=1)
    assert cart.lines[0].quantity == 2
    cart.add(catalog, "miso_soup", 1)
    cart.remove("edamame")
    with pytest.raises(CartError, match="no edamame in the cart. It holds: 1 × Miso Soup"):
        cart.remove("edamame")


def test_remove_asks_which_size_when_ambiguous(catalog: Catalog) -> None:
    cart = Cart("u1")
    cart.add(catalog, "coke", 1, "small")
    cart.add(catalog, "coke", 1, "large")
    with pytest.raises(CartError, match="which one"):
        cart.remove("coke")
    cart.remove("coke", "small")
    assert [ln.size for ln in cart.lines] == ["large"]


def test_subscribers_see_every_change(catalog: Catalog) -> None:
    cart = Cart("u1")
    seen: list[CartChange] = []
    unsubscribe = cart.subscribe(seen.append)
    cart.add(catalog, "edamame", 1)
    cart.remove("edamame")
    unsubscribe()
    cart.add(catalog, "edamame", 1)
    assert [c.kind for c in seen] == ["add", "remove"]


def test_order_from_empty_cart_is_refused() -> None:
    with pytest.raises(CartError, match="empty"):
        Order.from_cart(Cart("u1"))


def test_round_trip(catalog: Catalog) -> None:
    cart = Cart("u1")
    cart.add(catalog, "fries", 2, "large", notes="extra salt")
    assert Cart.from_dict(cart.to_dict()).to_dict() == cart.to_dict()


def test_removing_from_an_empty_cart_says_it_is_empty() -> None:
    with pytest.raises(CartError, match="The cart is empty"):
        Cart(user_id="u").remove("coke")
