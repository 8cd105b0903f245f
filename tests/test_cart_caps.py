"""The cart's caps as invariants: whatever a session does to a cart, the cart never breaks a cap
a store would refuse (`check_cart_limits`), and a three-way merge keeps the per-item cap too."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from concierge.cart import MAX_LINES, MAX_QUANTITY, Cart, CartError, check_cart_limits, merge_lines
from concierge.menu import default_catalog

CATALOG = default_catalog()
ITEMS = sorted(CATALOG.items)[:6]  # a few items, so carts pile up on them
SIZES = st.sampled_from([None, "small", "medium", "large"])
NOTES = st.sampled_from(["", "no ice", "extra", "a", "b", "c", "d", "e", "f", "g"])

ADD = st.tuples(st.just("add"), st.sampled_from(ITEMS), st.integers(-2, 25), SIZES, NOTES)
SET = st.tuples(st.just("set"), st.sampled_from(ITEMS), st.integers(-2, 25), SIZES, NOTES)
RESIZE = st.tuples(st.just("resize"), st.sampled_from(ITEMS), st.just(0), SIZES, SIZES)
OPS = st.lists(st.one_of(ADD, SET, RESIZE), max_size=80)


def _apply(cart: Cart, op: tuple) -> None:
    kind, item, quantity, size, extra = op
    try:
        if kind == "add":
            cart.add(CATALOG, item, quantity, size=size, notes=extra)
        elif kind == "set":
            cart.set_quantity(CATALOG, item, size, quantity)
        else:
            cart.change_size(CATALOG, item, size, extra or "small")
    except CartError:
        pass  # refused: the cart is unchanged, which the next check covers too


def _totals(cart_lines) -> dict[str, int]:
    out: dict[str, int] = {}
    for ln in cart_lines:
        out[ln.item_id] = out.get(ln.item_id, 0) + ln.quantity
    return out


@given(OPS)
def test_no_sequence_of_changes_breaks_a_cap(ops: list[tuple]) -> None:
    cart = Cart(user_id="u")
    for op in ops:
        _apply(cart, op)
        check_cart_limits(cart.lines)  # raises CartLimitError if a cap broke
        assert len(cart.lines) <= MAX_LINES


@given(OPS, OPS, OPS)
def test_a_merge_keeps_at_most_twenty_of_one_item(base_ops, mine_ops, theirs_ops) -> None:
    carts = []
    for ops in (base_ops, mine_ops, theirs_ops):
        cart = Cart(user_id="u")
        for op in ops:
            _apply(cart, op)
        carts.append(cart.lines)
    merged = merge_lines(*carts)
    assert all(total <= MAX_QUANTITY for total in _totals(merged).values())
