"""The menu data and the catalog's forgiving search."""

from __future__ import annotations

import pytest

from concierge.menu import Catalog, MenuItem, UnknownItemError, cents, format_usd

EXPECTED_PRICES = {
    "margherita_pizza": {"small": 1100, "medium": 1400, "large": 1700},
    "pepperoni_pizza": {"small": 1200, "medium": 1500, "large": 1800},
    "spaghetti_carbonara": 1550, "penne_arrabbiata": 1300, "caesar_salad": 950,
    "garlic_bread": 500, "tiramisu": 700, "classic_cheeseburger": 999, "double_bacon_burger": 1299,
    "veggie_burger": 1049, "fries": {"small": 299, "medium": 399, "large": 499},
    "onion_rings": 449, "chocolate_shake": {"medium": 549, "large": 649},
    "coke": {"small": 199, "medium": 249, "large": 299}, "sprite": {"small": 199, "medium": 249, "large": 299},
    "california_roll": 850, "spicy_tuna_roll": 950, "salmon_nigiri": 600, "vegetable_tempura": 1100,
    "miso_soup": 350, "edamame": 450, "green_tea": 250, "falafel_bowl": 1250, "quinoa_salad": 1100,
    "tofu_poke_bowl": 1350, "acai_bowl": 900, "lentil_soup": 650, "kombucha": 400,
    "chicken_tacos": 1000, "carne_asada_burrito": 1200, "bean_and_cheese_burrito": 950,
    "chips_and_guacamole": 600, "horchata": {"medium": 350, "large": 450}, "churros": 500,
}  # fmt: skip


def test_menu_has_every_item_with_its_prices(catalog: Catalog) -> None:
    assert len(catalog.restaurants) == 5
    for item_id, price in EXPECTED_PRICES.items():
        item = catalog.item(item_id)
        if isinstance(price, dict):
            assert dict(item.size_prices) == price, item_id
        else:
            assert item.price_cents == price and not item.has_sizes, item_id


def test_dietary_tags(catalog: Catalog) -> None:
    assert catalog.item("edamame").tags == {"vegan", "gluten-free"}
    assert "vegetarian" in catalog.item("margherita_pizza").tags
    vegan_at_green_bowl = catalog.search("", restaurant_id="green_bowl", dietary="vegan", limit=0)
    assert len(vegan_at_green_bowl) == 6
    # vegan food is vegetarian too
    assert "penne_arrabbiata" in {
        h.item.id for h in catalog.search("", dietary="vegetarian", limit=0)
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Classic Cheeseburger", "classic_cheeseburger"),
        ("CHEESEBURGERS", "classic_cheeseburger"),
        ("margarita pizza", "margherita_pizza"),
        ("pepperonni pizza", "pepperoni_pizza"),
        ("margherita from Luigi's", "margherita_pizza"),
        ("sprit", "sprite"),
        ("tacos", "chicken_tacos"),
        ("bean and cheese burritos", "bean_and_cheese_burrito"),
        ("chips and guac", "chips_and_guacamole"),
        ("large coke", "coke"),
        ("onion ring", "onion_rings"),
    ],
)
def test_search_is_forgiving(catalog: Catalog, query: str, expected: str) -> None:
    assert catalog.search(query)[0].item.id == expected


def test_restaurant_in_query_narrows_the_search(catalog: Catalog) -> None:
    hits = catalog.search("salad from green bowl")
    assert [h.item.id for h in hits] == ["quinoa_salad"]


def test_search_finds_nothing_for_junk(catalog: Catalog) -> None:
    assert catalog.search("xqzv wkjh") == []


def test_unknown_id_suggests_close_ids(catalog: Catalog) -> None:
    with pytest.raises(UnknownItemError, match="margherita_pizza"):
        catalog.item("margarita_pizza")


def test_money_is_exact() -> None:
    assert cents("9.99") == 999 and cents(2.5) == 250
    assert format_usd(2297) == "$22.97" and format_usd(100000) == "$1,000.00"
    with pytest.raises(ValueError):
        cents("1.001")


def test_an_item_needs_exactly_one_kind_of_price() -> None:
    with pytest.raises(ValueError):
        MenuItem(id="x", restaurant_id="r", name="X")
    with pytest.raises(ValueError):
        MenuItem(id="x", restaurant_id="r", name="X", price_cents=100, size_prices={"small": 100})
    with pytest.raises(ValueError, match="positive"):
        MenuItem(id="x", restaurant_id="r", name="X", price_cents=0)


def test_concierge_menu_points_at_another_menu_file(tmp_path, monkeypatch) -> None:
    menu = tmp_path / "menu.toml"
    menu.write_text(
        '[[restaurants]]\nid = "pie_shop"\nname = "Pie Shop"\ncuisine = "bakery"\n\n'
        '[[restaurants.items]]\nid = "apple_pie"\nname = "Apple Pie"\nprice = "4.25"\n'
    )
    monkeypatch.setenv("CONCIERGE_MENU", str(menu))
    catalog = Catalog.load()
    assert list(catalog.items) == ["apple_pie"]
    assert catalog.items["apple_pie"].price_cents == 425


def test_a_missing_menu_file_says_where_it_looked_and_what_to_set(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CONCIERGE_MENU", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="nope.toml.*CONCIERGE_MENU"):
        Catalog.load()


def test_search_cost_is_bounded_for_hostile_input(catalog: Catalog) -> None:
    import time
    import tracemalloc

    from concierge.menu import MAX_QUERY_CHARS, QueryTooLongError

    with pytest.raises(QueryTooLongError):
        catalog.check_query("x" * (MAX_QUERY_CHARS + 1))
    word = "pizza" + "z" * 100_000  # one 100 KB word
    tracemalloc.start()
    started = time.perf_counter()
    for _ in range(10):
        catalog.search(word)
        catalog.search("margherita " * 100_000)  # a 1 MB message
        catalog.search(" ".join(["margarita"] * 20)[:MAX_QUERY_CHARS])
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Generous bounds (a shared CI machine): the old one-deletion index took seconds and GBs.
    assert elapsed < 1.0 and peak < 5_000_000, (elapsed, peak)


def test_unknown_id_hint_survives_a_huge_id(catalog: Catalog) -> None:
    with pytest.raises(UnknownItemError):
        catalog.item("z" * 100_000)
