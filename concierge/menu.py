"""The menu: restaurants, their items, and a catalog that finds items the way people say them.

Everything the agent may sell lives in a `Catalog`. It answers two questions quickly:
"which item has this id?" (exact, for tools whose ids are constrained by enums) and "which items
did the person mean?" (forgiving text search: case, plurals, small typos, and restaurant-qualified
names such as "margherita from Luigi's").

Typos are matched with RapidFuzz (optimal string alignment distance over the menu's words), and
the cost of a search is bounded whatever is typed: only the first `MAX_QUERY_CHARS` characters
are read (callers taking a query from a person refuse a longer one first with `check_query`,
so the person hears why), and a word longer than any menu word plus the typos allowed cannot
match, so it is skipped without being compared.

Prices are integer cents so that totals never drift; `format_usd` turns them into "$9.99".
"""

from __future__ import annotations

import heapq
import os
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

SIZES: tuple[str, ...] = ("small", "medium", "large")
DIETARY_TAGS: tuple[str, ...] = ("vegetarian", "vegan", "gluten-free")
# Package data, so an installed wheel finds its menu wherever it is installed.
DEFAULT_MENU_PATH: Traversable = files("concierge") / "data" / "menu.toml"


def menu_path() -> Path | Traversable:
    """The menu file to load: `CONCIERGE_MENU` when set, else the packaged concierge/data/menu.toml."""
    env = os.environ.get("CONCIERGE_MENU")
    return Path(env) if env else DEFAULT_MENU_PATH


class MenuFileError(ValueError):
    """The menu file is missing or unreadable; the message says where it looked."""


class MissingMenuFileError(MenuFileError, FileNotFoundError):
    """No menu file where one was expected."""


@contextmanager
def menu_file_errors(path: str | Path | None = None) -> Iterator[None]:
    """Turn what a menu file's content breaks (a duplicate id, a missing field, a bad price) into
    one `MenuFileError` naming the file: every entry point reads a menu through this."""
    try:
        yield
    except (ValueError, KeyError, TypeError) as e:
        if isinstance(e, MenuFileError):
            raise
        source = Path(path) if path is not None else menu_path()
        why = f"an entry has no {e.args[0]!r}" if isinstance(e, KeyError) else str(e)
        raise MenuFileError(f"The menu file {source} is not a valid menu: {why}.") from None


def read_menu_file(path: str | Path | None = None) -> dict[str, Any]:
    """The parsed menu TOML, with an error that says where it looked and how to point elsewhere."""
    source = Path(path) if path is not None else menu_path()
    try:
        with source.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise MissingMenuFileError(
            f"No menu file at {source}. Set CONCIERGE_MENU to the path of a menu.toml "
            "(the packaged one is concierge/data/menu.toml)."
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise MenuFileError(f"The menu file {source} is not valid TOML: {e}") from None


#: The longest search query accepted (a spoken dish name is a few words).
MAX_QUERY_CHARS = 200


class QueryTooLongError(ValueError):
    """A search query longer than `MAX_QUERY_CHARS`; nothing was searched."""


class UnknownItemError(LookupError):
    """An id that is not on the menu. The message says what exists instead."""


def cents(amount: str | int | float | Decimal) -> int:
    """Parse a USD amount ("9.99", 9.99) into integer cents, exactly."""
    value = Decimal(str(amount)) * 100
    if value != value.to_integral_value():
        raise ValueError(f"{amount!r} has fractions of a cent")
    return int(value)


def format_usd(amount_cents: int) -> str:
    """1999 -> "$19.99"."""
    sign = "-" if amount_cents < 0 else ""
    whole, part = divmod(abs(amount_cents), 100)
    return f"{sign}${whole:,}.{part:02d}"


@dataclass(frozen=True)
class Restaurant:
    """A restaurant the concierge orders from; `aliases` are the ways people name it."""

    id: str
    name: str
    cuisine: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class MenuItem:
    """One dish or drink. It has either a single `price_cents` or a price per size."""

    id: str
    restaurant_id: str
    name: str
    category: str = ""
    price_cents: int | None = None
    size_prices: Mapping[str, int] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if (self.price_cents is None) == (not self.size_prices):
            raise ValueError(f"{self.id}: give either one price or a price per size, not both")
        prices = [self.price_cents] if self.price_cents is not None else self.size_prices.values()
        if any(p <= 0 for p in prices):
            raise ValueError(f"{self.id}: prices must be positive")
        unknown = set(self.size_prices) - set(SIZES)
        if unknown:
            raise ValueError(f"{self.id}: unknown sizes {sorted(unknown)}; allowed: {SIZES}")

    @property
    def sizes(self) -> tuple[str, ...]:
        """The sizes this item comes in, smallest first; empty when it has one size."""
        return tuple(s for s in SIZES if s in self.size_prices)

    @property
    def has_sizes(self) -> bool:
        return bool(self.size_prices)

    def unit_price_cents(self, size: str | None) -> int:
        """The price of one, for `size` (None when the item has no sizes).

        Raises `ValueError` with a sentence a person can act on when the size does not fit.
        """
        if not self.has_sizes:
            if size is not None:
                raise ValueError(f"{self.name} comes in one size only; leave the size out.")
            assert self.price_cents is not None
            return self.price_cents
        if size is None:
            raise ValueError(
                f"{self.name} comes in {_or_list(self.sizes)}: which size would you like?"
            )
        if size not in self.size_prices:
            raise ValueError(f"{self.name} comes in {_or_list(self.sizes)}, not {size}.")
        return self.size_prices[size]

    def price_label(self) -> str:
        """ "$9.99" or "small $1.99 / medium $2.49 / large $2.99"."""
        if self.price_cents is not None:
            return format_usd(self.price_cents)
        return " / ".join(f"{s} {format_usd(self.size_prices[s])}" for s in self.sizes)


def _or_list(words: Iterable[str]) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


# --- text normalisation shared by search and the offline stand-in model -----------------------

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "from",
        "at",
        "in",
        "on",
        "with",
        "please",
        "some",
        "i",
        "id",
        "i'd",
        "like",
        "want",
        "would",
        "love",
        "get",
        "me",
        "my",
        "to",
        "for",
        "can",
        "could",
        "you",
        "have",
        "any",
        "do",
        "does",
        "is",
        "are",
    ]
)


def stem(word: str) -> str:
    """A tiny plural-folding stemmer: "fries" -> "fry", "tacos" -> "taco", "rolls" -> "roll"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-case word tokens with apostrophes folded ("Luigi's" -> "luigis")."""
    return _WORD.findall(text.lower().replace("'", "").replace("’", ""))


def tokens(text: str) -> list[str]:
    """Search tokens: words, stemmed, without stopwords."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def _allowed_typos(token: str) -> int:
    return 0 if len(token) <= 3 else 1 if len(token) <= 6 else 2


@dataclass(frozen=True)
class SearchHit:
    """A search result: the item and how well the query matched it (1.0 = every word exact)."""

    item: MenuItem
    score: float


class Catalog:
    """All restaurants and items, indexed for id lookup and forgiving text search."""

    def __init__(self, restaurants: Iterable[Restaurant], items: Iterable[MenuItem]) -> None:
        self.restaurants: dict[str, Restaurant] = {r.id: r for r in restaurants}
        self.items: dict[str, MenuItem] = {}
        for item in items:
            if item.id in self.items:
                raise ValueError(f"duplicate item id {item.id!r}")
            if item.restaurant_id not in self.restaurants:
                raise ValueError(f"{item.id}: unknown restaurant {item.restaurant_id!r}")
            self.items[item.id] = item
        self._build_index()

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalog:
        """Build from the structure of concierge/data/menu.toml (restaurants with nested items)."""
        restaurants, items = [], []
        for r in data["restaurants"]:
            restaurants.append(
                Restaurant(r["id"], r["name"], r.get("cuisine", ""), tuple(r.get("aliases", ())))
            )
            for it in r.get("items", ()):
                items.append(
                    MenuItem(
                        id=it["id"],
                        restaurant_id=r["id"],
                        name=it["name"],
                        category=it.get("category", ""),
                        price_cents=cents(it["price"]) if "price" in it else None,
                        size_prices={s: cents(p) for s, p in it.get("sizes", {}).items()},
                        tags=frozenset(it.get("tags", ())),
                    )
                )
        return cls(restaurants, items)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalog:
        """Read a menu TOML file (`menu_path()` by default: `CONCIERGE_MENU` or the packaged menu)."""
        raw = read_menu_file(path)
        with menu_file_errors(path):
            return cls.from_dict(raw)

    # --- exact lookups ------------------------------------------------------------------------

    @property
    def item_ids(self) -> list[str]:
        return list(self.items)

    @property
    def restaurant_ids(self) -> list[str]:
        return list(self.restaurants)

    def item(self, item_id: str) -> MenuItem:
        try:
            return self.items[item_id]
        except KeyError:
            close = [h.item.id for h in self.search(item_id.replace("_", " "), limit=3)]
            hint = f" Did you mean {_or_list(close)}?" if close else ""
            raise UnknownItemError(f"There is no menu item with id '{item_id}'.{hint}") from None

    def restaurant(self, restaurant_id: str) -> Restaurant:
        try:
            return self.restaurants[restaurant_id]
        except KeyError:
            raise UnknownItemError(
                f"There is no restaurant with id '{restaurant_id}'. "
                f"Known restaurants: {', '.join(self.restaurants)}."
            ) from None

    def items_at(self, restaurant_id: str) -> list[MenuItem]:
        self.restaurant(restaurant_id)
        return [i for i in self.items.values() if i.restaurant_id == restaurant_id]

    # --- search -------------------------------------------------------------------------------

    def _build_index(self) -> None:
        self._postings: dict[str, set[str]] = defaultdict(set)
        self._name_tokens: dict[str, tuple[str, ...]] = {}
        self._name_len: dict[str, int] = {}
        for item in self.items.values():
            toks = tuple(tokens(item.name))
            self._name_tokens[item.id] = toks
            self._name_len[item.id] = max(1, len(toks))
            for t in {*toks, stem(item.category)}:
                self._postings[t].add(item.id)
        self._vocab: list[str] = sorted(self._postings)
        self._longest_word = max((len(v) for v in self._vocab), default=0)
        self._restaurant_phrases: list[tuple[tuple[str, ...], str]] = sorted(
            (
                (tuple(words(phrase)), r.id)
                for r in self.restaurants.values()
                for phrase in {r.name, *r.aliases}
            ),
            key=lambda p: -len(p[0]),
        )
        self._restaurant_first_words = {
            phrase[0] for phrase, _ in self._restaurant_phrases if phrase
        }

    def _vocab_matches(self, token: str) -> list[tuple[str, float]]:
        """Index words within a small edit distance of `token`, with a match quality."""
        if token in self._postings:
            return [(token, 1.0)]
        limit = _allowed_typos(token)
        if limit == 0 or len(token) > self._longest_word + limit:
            return []  # too short to guess at, or too long to be within `limit` edits of any word
        hits = process.extract(
            token, self._vocab, scorer=OSA.distance, score_cutoff=limit, limit=None
        )
        if not hits and len(token) >= 7:  # "milkshake": a compound ending in a menu word
            return [(w, 0.75) for w in self._vocab if len(w) >= 4 and token.endswith(w)]
        return [(word, 1.0 - 0.25 * distance) for word, distance, _ in hits]

    def find_restaurant(self, text: str) -> tuple[str | None, list[str]]:
        """Find a restaurant named in `text`; return its id and the words left over."""
        ws = words(text)
        if self._restaurant_first_words.isdisjoint(ws):
            return None, ws  # most messages name no restaurant: one set lookup says so
        for phrase, rid in self._restaurant_phrases:
            n = len(phrase)
            for i in range(len(ws) - n + 1):
                if tuple(ws[i : i + n]) == phrase:
                    return rid, ws[:i] + ws[i + n :]
        return None, ws

    @staticmethod
    def check_query(query: str) -> None:
        """Refuse (`QueryTooLongError`) a query longer than `MAX_QUERY_CHARS`."""
        if len(query) > MAX_QUERY_CHARS:
            raise QueryTooLongError(
                f"A search can be at most {MAX_QUERY_CHARS} characters ({len(query)} given)."
            )

    def search(
        self,
        query: str,
        *,
        restaurant_id: str | None = None,
        dietary: str | None = None,
        limit: int = 5,
    ) -> list[SearchHit]:
        """Items matching `query`, best first.

        Forgiving on purpose: case, plurals ("cheeseburgers"), typos ("margarita", "pepperonni"),
        and a restaurant named in the query ("margherita from Luigi's") narrows the search.
        An empty query lists everything (after the restaurant and dietary filters). Only the
        first `MAX_QUERY_CHARS` characters are read.
        """
        query = query[:MAX_QUERY_CHARS]
        named, rest = self.find_restaurant(query)
        restaurant_id = restaurant_id or named
        qtoks = [stem(w) for w in rest if w not in STOPWORDS and w not in SIZES]
        allowed = self._allowed(restaurant_id, dietary)
        if qtoks:
            scores: dict[str, float] = defaultdict(float)
            for qt in qtoks:
                best: dict[str, float] = {}
                for vocab_token, quality in self._vocab_matches(qt):
                    for item_id in self._postings[vocab_token]:
                        if best.get(item_id, 0.0) < quality:
                            best[item_id] = quality
                for item_id, quality in best.items():
                    scores[item_id] += quality
            n = len(qtoks)
            name_len = self._name_len
            # Mostly "how much of what was said matched", a little "how much of the name".
            ranked = [
                (0.75 * s / n + 0.25 * min(1.0, s / name_len[iid]), iid)
                for iid, s in scores.items()
                if allowed is None or iid in allowed
            ]
        else:
            ranked = [(1.0, iid) for iid in (self.items if allowed is None else allowed)]
        key = lambda pair: (-pair[0], self.items[pair[1]].name)  # noqa: E731
        top = heapq.nsmallest(limit, ranked, key=key) if limit else sorted(ranked, key=key)
        return [SearchHit(self.items[iid], round(score, 3)) for score, iid in top]

    def _allowed(self, restaurant_id: str | None, dietary: str | None) -> set[str] | None:
        """Item ids passing the filters, or None when there is no filter."""
        if restaurant_id is None and dietary is None:
            return None
        return {
            iid
            for iid, item in self.items.items()
            if (restaurant_id is None or item.restaurant_id == restaurant_id)
            and (dietary is None or has_tag(item, dietary))
        }


def has_tag(item: MenuItem, tag: str) -> bool:
    """Whether `item` carries the dietary `tag` (a vegan dish is vegetarian too)."""
    if tag == "vegetarian":
        return bool(item.tags & {"vegetarian", "vegan"})
    return tag in item.tags


_default_catalog: Catalog | None = None


def default_catalog() -> Catalog:
    """The catalog from the menu file (`menu_path()`), loaded once per process (it is immutable)."""
    global _default_catalog
    if _default_catalog is None:
        _default_catalog = Catalog.load()
    return _default_catalog
