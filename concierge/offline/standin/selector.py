"""One way to name items, over the menu and the cart alike: by kind, place, price, restaurant.

People rarely repeat a dish's name: "drop the priciest item", "the last one, make it four", "only
keep the desserts", "one of every roll", "the least expensive salad", "make all the drinks large".
`Selector.read` turns those words into a `Pick` — which items, before knowing what is in the cart —
and the planner resolves it against the lines the conversation added (`Pick.in_cart`, in the
order they were added) or against the menu (`Pick.on_menu`). The kinds it knows are the menu's
own: its categories, its dietary tags and the words of its dish names (`Catalog`), never a list
written here; only the words for place, price order and quantity are the language's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ...menu import DIETARY_TAGS, STOPWORDS, Catalog, MenuItem, stem, words
from .history import LineKey

_stem = lru_cache(maxsize=4096)(stem)

#: The sizes as people say them.
SIZE_WORDS = {"small": "small", "medium": "medium", "regular": "medium", "large": "large",
              "big": "large", "biggest": "large", "largest": "large", "smallest": "small"}  # fmt: skip
#: "the large one", "the small drink": a line picked by its size.
_SIZED = re.compile(rf"\bthe ({'|'.join(SIZE_WORDS)}) (?:1|one|item|thing|drink|size)\b")
_POSITIONS = {"first": 0, "opening": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2,
              "fourth": 3, "last": -1, "final": -1, "latest": -1}  # fmt: skip
_MIDDLE = "middle"
_WIDEN = frozenset(("and", "or", "plus", "also"))
_CHEAP = re.compile(r"\b(cheapest|least expensive|lowest priced|cheaper one)\b")
_DEAR = re.compile(r"\b(priciest|most expensive|dearest|pricier one|costliest)\b")
_EVERY = re.compile(r"\b(all|every|each|both|everything|any)\b")
_KEEP = re.compile(
    r"\b(?:only keep|keep only|just keep|keep just|keep what|everything but|everything except|"
    r"all but|all except|except(?: for)?|apart from|other than|keep the|keep our|keep my)\b"
)
#: Words that stand for "an item" without saying which ("the middle thing", "the vegan stuff").
_PLURAL_HEADS = frozenset(("items", "things", "stuff", "ones", "lines", "dishes"))
_HEADS = frozenset(("item", "items", "thing", "things", "stuff", "one", "ones", "line", "lines",
                    "dish", "dishes", "order"))  # fmt: skip


@dataclass(frozen=True)
class Pick:
    """Which items some words name, before they are looked for in the cart or on the menu."""

    #: 0 the first line, 1 the second, -1 the last; "middle" the middle one.
    position: int | str | None = None
    #: "min" for the cheapest, "max" for the priciest.
    price: str | None = None
    #: The menu items of the kind named (a category, a tag, a word of their names); None: any.
    kinds: frozenset[str] | None = None
    restaurant_id: str | None = None
    #: "all", "every", "each": every item picked, not just one.
    every: bool = False
    #: "only keep the desserts", "everything but the drinks": the other lines are meant.
    keep: bool = False
    #: "not four salads, three": the line that holds this many.
    held: int | None = None
    #: "the large one": the lines in this size.
    size: str | None = None

    def in_cart(self, catalog: Catalog, lines: Mapping[LineKey, int]) -> list[LineKey]:
        """The lines picked, from the conversation's lines (in the order they were added)."""
        chosen = [
            k for k in lines
            if self._fits(catalog.items.get(k[0])) and self.size in (None, k[1])
        ]  # fmt: skip
        if self.held is not None:
            chosen = [k for k in chosen if lines[k] == self.held] or chosen
        if self.price is not None and chosen:
            chosen = [_by_price(catalog, chosen, self.price)]
        elif self.position is not None:
            chosen = _at(chosen if self.kinds else list(lines), self.position)
        if self.keep:
            return [k for k in lines if k not in chosen]
        return chosen

    def in_offered(self, catalog: Catalog, offered: Sequence[str]) -> list[str]:
        """ "the second one", "the cheapest one": that item among those just offered."""
        keys: list[LineKey] = [(i, None) for i in offered]
        if self.price is not None and keys:
            return [_by_price(catalog, keys, self.price)[0]]
        if self.position is None:
            return list(offered)
        return [k[0] for k in _at(keys, self.position)]

    def on_menu(self, catalog: Catalog) -> list[str]:
        """The menu items picked ("the cheapest pasta", "every roll"), in menu order."""
        chosen = [i.id for i in catalog.items.values() if self._fits(i)]
        if self.price is not None and chosen:
            keys = _by_price(catalog, [(i, None) for i in chosen], self.price)
            return [keys[0]]
        return chosen

    def _fits(self, item: MenuItem | None) -> bool:
        return (
            item is not None
            and (self.kinds is None or item.id in self.kinds)
            and (self.restaurant_id is None or item.restaurant_id == self.restaurant_id)
        )


def _at(lines: list[LineKey], position: int | str) -> list[LineKey]:
    if position == _MIDDLE:
        return [lines[len(lines) // 2]] if len(lines) % 2 == 1 else []
    assert isinstance(position, int)
    return [lines[position]] if -len(lines) <= position < len(lines) else []


def _by_price(catalog: Catalog, keys: Sequence[LineKey], order: str) -> LineKey:
    def price(key: LineKey) -> int:
        item = catalog.items[key[0]]
        if not item.has_sizes:
            return item.unit_price_cents(None)
        return item.unit_price_cents(
            key[1] or (item.sizes[0] if order == "min" else item.sizes[-1])
        )

    return min(keys, key=price) if order == "min" else max(keys, key=price)


class Selector:
    """Reads the words that pick items by kind, place, price or restaurant (see the module)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        kinds: dict[str, set[str]] = {}
        for item in catalog.items.values():
            for word in {item.category, *item.tags, *(t.split("-")[0] for t in item.tags)}:
                if word:
                    kinds.setdefault(stem(word), set()).add(item.id)
        if "vegan" in DIETARY_TAGS and "vegetarian" in DIETARY_TAGS:  # a vegan dish is vegetarian
            kinds.setdefault("vegetarian", set()).update(kinds.get("vegan", ()))
        #: category and tag words -> the items of that kind
        self.kinds = {k: frozenset(v) for k, v in kinds.items()}
        names: dict[str, set[str]] = {}
        for item in catalog.items.values():
            for word in set(words(item.name)) - STOPWORDS:
                names.setdefault(stem(word), set()).add(item.id)
        #: words of dish names -> the items whose names have them ("every roll")
        self.name_words = {k: frozenset(v) for k, v in names.items() if len(v) > 1}
        self._every_name_word = {k: frozenset(v) for k, v in names.items()}

    def read(self, text: str) -> Pick | None:
        """The `Pick` in `text`, or None when it picks by nothing but a dish's name."""
        said = words(text)
        stems = [_stem(w) for w in said]
        position: int | str | None = next((_POSITIONS[w] for w in said if w in _POSITIONS), None)
        if position is None and _MIDDLE in said:
            position = _MIDDLE
        price = "min" if _CHEAP.search(text) else "max" if _DEAR.search(text) else None
        quantified = bool(_EVERY.search(text))
        kinds = self._kinds(stems, by_name=quantified or price is not None)
        sized = _SIZED.search(text)
        size = SIZE_WORDS[sized.group(1)] if sized else None
        if position is None and price is None and kinds is None and size is None:
            return None  # most messages: one pass over the words says so
        restaurant_id, rest = self.catalog.find_restaurant(text)
        if restaurant_id is not None:
            stems = [_stem(w) for w in rest]
            kinds = self._kinds(stems, by_name=quantified or price is not None)
        # "all the drinks", "the salads": every item of the kind, not one
        every = (
            quantified
            or bool(_PLURAL_HEADS.intersection(said))
            or any(w != s and s in self.kinds for w, s in zip(said, map(_stem, said), strict=True))
        )
        keep = bool(_KEEP.search(text))
        return Pick(position, price, kinds, restaurant_id, every, keep, size=size)

    def named(self, text: str) -> Pick | None:
        """The items a short phrase names by any word of their name or kind ("3 rolls")."""
        found: set[str] = set()
        for w in words(text):
            s = _stem(w)
            found |= self.kinds.get(s, frozenset()) | self._every_name_word.get(s, frozenset())
        return Pick(kinds=frozenset(found)) if found else None

    def without_kinds(self, text: str) -> str:
        """`text` without its kind words: what is left to name a dish by its name."""
        return " ".join(w for w in text.split() if _stem(w) not in self.kinds)

    def _kinds(self, ws: list[str], *, by_name: bool) -> frozenset[str] | None:
        """The items of the kinds said: words side by side narrow ("vegetarian burger", "gluten
        free side"), "and"/"or" widen ("the drinks and the desserts")."""
        groups: list[set[str]] = []
        narrowing = False
        for w in ws:
            if w in _WIDEN:
                narrowing = False
                continue
            ids = self.kinds.get(w) or (self.name_words.get(w) if by_name else None)
            if not ids:
                continue
            if narrowing and groups[-1] & ids:
                groups[-1] &= ids
            else:
                groups.append(set(ids))
            narrowing = True
        if not groups:
            return None
        return frozenset(set().union(*groups))


def without_sized(text: str) -> str:
    """`text` without the words that pick a line by its size ("make the large one a medium")."""
    return _SIZED.sub(" ", text)


def has_head(text: str) -> bool:
    """Whether `text` names its items only by a stand-in word ("the last item", "the middle one")."""
    return any(w in _HEADS for w in words(text))
