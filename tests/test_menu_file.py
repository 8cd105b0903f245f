"""`CONCIERGE_MENU` takes effect on every store, and a bad menu file is one sentence on every store.

The default store is a SQLite file that outlives a session: it used to keep the menu it was first
seeded with, so pointing `CONCIERGE_MENU` at another menu changed nothing. Now the store records
which menu it holds, and opening it with another one reseeds it (the dropped items retired, so
saved carts and past orders keep them).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from concierge.cart import Cart
from concierge.menu import DEFAULT_MENU_PATH, MenuFileError
from concierge.store import open_store

MENU = DEFAULT_MENU_PATH.read_text()
BLOCKS = re.split(r"\n(?=\[\[)", MENU)
ITEM_IDS = [
    re.search(r'^id = "([^"]+)"', b, re.M)[1]  # type: ignore[index]
    for b in BLOCKS
    if b.startswith("[[restaurants.items]]")
]


def _menu_without(dropped: set[str]) -> str:
    """The packaged menu with these items' blocks taken out (restaurants and profiles stay)."""
    kept = [
        b
        for b in BLOCKS
        if not (b.startswith("[[restaurants.items]]") and any(f'id = "{i}"' in b for i in dropped))
    ]
    return "\n".join(kept)


async def _items(url: str) -> list[str]:
    store = await open_store(url)
    try:
        return sorted((await store.load_catalog()).items)
    finally:
        await store.close()


def test_a_changed_menu_file_reseeds_the_default_sqlite_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'concierge.db'}"
    monkeypatch.delenv("CONCIERGE_MENU", raising=False)
    assert asyncio.run(_items(url)) == sorted(ITEM_IDS)

    async def save_churros() -> None:
        store = await open_store(url)
        cart = Cart("alex")
        cart.add(await store.load_catalog(), "churros", 2)
        await store.save_cart(cart)
        await store.close()

    asyncio.run(save_churros())
    smaller = tmp_path / "menu.toml"
    smaller.write_text(_menu_without({"churros", "tiramisu"}))
    monkeypatch.setenv("CONCIERGE_MENU", str(smaller))
    assert asyncio.run(_items(url)) == sorted(set(ITEM_IDS) - {"churros", "tiramisu"})

    async def saved_cart() -> list[str]:
        store = await open_store(url)
        try:
            return [line.item_id for line in (await store.load_cart("alex")).lines]
        finally:
            await store.close()

    assert asyncio.run(saved_cart()) == ["churros"]  # retired, not lost
    monkeypatch.delenv("CONCIERGE_MENU")
    assert asyncio.run(_items(url)) == sorted(ITEM_IDS)  # back on the menu


@settings(max_examples=15)
@given(menus=st.lists(st.sets(st.sampled_from(ITEM_IDS), max_size=6), min_size=1, max_size=4))
def test_the_store_serves_exactly_the_menu_file_it_was_last_opened_with(
    menus: list[set[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Any sequence of menu files, on one SQLite file: the catalog is always the latest file's."""
    folder = tmp_path_factory.mktemp("menus")
    url = f"sqlite:///{folder / 'concierge.db'}"
    menu = folder / "menu.toml"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CONCIERGE_MENU", str(menu))
        for dropped in menus:
            menu.write_text(_menu_without(dropped))
            assert asyncio.run(_items(url)) == sorted(set(ITEM_IDS) - dropped)


BAD_MENUS = {
    "missing": None,
    "malformed": "[[restaurants]\nname = ",
    "duplicate ids": MENU + '\n[[restaurants.items]]\nid = "churros"\nname = "More Churros"\n'
    'price = "1.00"\n',
}


@pytest.mark.parametrize("bad", list(BAD_MENUS))
def test_a_bad_menu_file_is_the_same_sentence_on_every_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    menu = tmp_path / "menu.toml"
    if BAD_MENUS[bad] is not None:
        menu.write_text(BAD_MENUS[bad])
    monkeypatch.setenv("CONCIERGE_MENU", str(menu))
    monkeypatch.setenv("SUPABASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SUPABASE_ANON_KEY", "not-a-real-key")
    messages = set()
    for url in ("memory", f"sqlite:///{tmp_path / 'concierge.db'}", "supabase"):
        with pytest.raises(MenuFileError) as raised:
            asyncio.run(open_store(url))
        messages.add(str(raised.value))
    (message,) = messages
    assert str(menu) in message and "\n" not in message


def test_a_store_file_from_before_the_menu_was_recorded_is_upgraded_and_reseeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    path = tmp_path / "concierge.db"
    monkeypatch.delenv("CONCIERGE_MENU", raising=False)
    asyncio.run(_items(f"sqlite:///{path}"))
    with sqlite3.connect(path) as db:  # as version 2 left it: no record of the menu
        db.execute("DROP TABLE seed_info")
        db.execute("PRAGMA user_version = 2")
    smaller = tmp_path / "menu.toml"
    smaller.write_text(_menu_without({"churros"}))
    monkeypatch.setenv("CONCIERGE_MENU", str(smaller))
    assert asyncio.run(_items(f"sqlite:///{path}")) == sorted(set(ITEM_IDS) - {"churros"})
