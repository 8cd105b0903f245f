"""Rule-based understanding of food orders, for the offline stand-in model.

This is not an AI model: it is a small, deterministic parser that knows the menu. It turns "I'd
like two classic cheeseburgers and a large coke" into structured intents that
`concierge.offline.llm.StandInLLM` then sends as real tool calls. Keeping it deterministic is
what lets the lab (and CI) run whole conversations with no keys and the same result every time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..menu import SIZES, Catalog, MenuItem, words

NUMBER_WORDS = {
    "zero": 0, "a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "dozen": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "couple": 2, "pair": 2, "few": 3,
}  # fmt: skip
SIZE_WORDS = {
    "small": "small",
    "medium": "medium",
    "regular": "medium",
    "large": "large",
    "big": "large",
}
DIETARY_WORDS = {"vegan": "vegan", "vegetarian": "vegetarian", "gluten free": "gluten-free",
                 "gluten-free": "gluten-free", "glutenfree": "gluten-free"}  # fmt: skip

#: Below this search score a phrase is not taken as naming an item.
MATCH_THRESHOLD = 0.6

_CHECKOUT = re.compile(
    r"\b(check ?out|place (?:the|my) order|that'?s (?:all|it)|i'?m done|confirm (?:the |my )?order|pay now)\b"
)
_REMOVE = re.compile(r"\b(remove|take (?:off|out)|delete|drop|cancel|get rid of|no more)\b")
_CART = re.compile(
    r"\b(cart|basket|my order so far|what'?s in my order|what have i (?:got|ordered)|read (?:it|my order) back)\b"
)
_PROFILE = re.compile(
    r"\b(my profile|profile|my address|who am i|my diet|dietary preferences?|deliver(?:ing)? to)\b"
)
_MENU = re.compile(r"\b(menu|what (?:does|do) .+ (?:have|sell|serve))\b")
_QUESTION = re.compile(
    r"^(do you have|is there|are there|have you got|what|which|how much|anything|any)\b"
)
_THANKS = re.compile(r"^(thanks|thank you|cheers|great|perfect|awesome|ok|okay|cool)\b")
_GREETING = re.compile(r"^(hi|hello|hey|good (?:morning|afternoon|evening))\b")
_ORDER_VERB = re.compile(
    r"\b(i'?d like|i would like|i want|i'?ll (?:have|take)|get me|can i (?:get|have)|give me|order|add)\b"
)
_NOTES = re.compile(r"\b((?:with )?(?:no|without|extra|light|hold the) [a-z ]+?)(?=,|;| and |$)")
_SPLIT = re.compile(r",|;|\band\b|\bplus\b|\balso\b|\bwith\b(?!\s+(?:no|extra|light|hold)\b)|&")


@dataclass(frozen=True)
class ItemRequest:
    """One thing the user asked for: an item (or an unresolved phrase), how many, size, notes."""

    phrase: str
    item_id: str | None = None
    quantity: int = 1
    size: str | None = None
    notes: str = ""
    ambiguous: tuple[str, ...] = ()


@dataclass(frozen=True)
class Intent:
    """What one user message asks for."""

    kind: str  # order remove view_cart checkout menu search profile greeting thanks size_answer unknown
    items: tuple[ItemRequest, ...] = ()
    restaurant_id: str | None = None
    dietary: str | None = None
    query: str = ""
    size: str | None = None
    extras: dict[str, str] = field(default_factory=dict)


def normalize(text: str) -> str:
    """Lower-case, straight apostrophes, single spaces; keeps "'s" readable for the regexes."""
    text = text.lower().replace("’", "'").replace("-", " ")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ,;&?]", " ", text)).strip()


class IntentParser:
    """Turns a user message into an `Intent`, using the catalog to recognise items."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        # Item names that contain a splitting word ("bean and cheese burrito") are protected
        # before a request is split into parts.
        self._protected = {
            " ".join(words(i.name)): " ".join(words(i.name)).replace(" ", "_")
            for i in catalog.items.values()
            if re.search(r"\b(and|with|plus)\b", i.name.lower())
        }

    def parse(self, message: str) -> Intent:
        text = normalize(message)
        if not text or not re.search(r"[a-z0-9]", text):
            return Intent("unknown", query=message)
        if _GREETING.match(text) and len(text.split()) <= 4:
            return Intent("greeting")
        if _THANKS.match(text) and len(text.split()) <= 4:
            return Intent("thanks")
        if _CHECKOUT.search(text):
            return Intent("checkout")
        if _REMOVE.search(text):
            items = self._items(_REMOVE.sub(" ", text))
            return Intent("remove", items=items) if items else Intent("view_cart")
        if _PROFILE.search(text):
            return Intent("profile")
        if _CART.search(text) and not _ORDER_VERB.search(text):
            return Intent("view_cart")
        size_only = self._size_answer(text)
        if size_only is not None:
            return Intent("size_answer", size=size_only)
        restaurant_id, _ = self.catalog.find_restaurant(text)
        dietary = next((v for k, v in DIETARY_WORDS.items() if re.search(rf"\b{k}\b", text)), None)
        if _MENU.search(text):
            return Intent("menu", restaurant_id=restaurant_id)
        items = self._items(text)
        resolved = [i for i in items if i.item_id]
        is_question = bool(_QUESTION.match(text)) or text.endswith("?")
        if dietary and (is_question or not resolved):
            return Intent("search", restaurant_id=restaurant_id, dietary=dietary, query="")
        if is_question and not _ORDER_VERB.search(text):
            query = " ".join(i.phrase for i in items) or _strip_question(text)
            return Intent("search", restaurant_id=restaurant_id, query=query)
        if items and (
            resolved
            or _ORDER_VERB.search(text)
            or any(i.quantity != 1 or i.ambiguous for i in items)
        ):
            return Intent("order", items=items)
        return Intent("unknown", query=message)

    # --- pieces -------------------------------------------------------------------------------

    def _size_answer(self, text: str) -> str | None:
        """ "large", "a large one please", "medium" -> that size; None if it says more."""
        ws = [
            w
            for w in words(text)
            if w not in {"a", "an", "the", "one", "please", "make", "it", "size", "ok", "okay"}
        ]
        if len(ws) == 1 and ws[0] in SIZE_WORDS:
            return SIZE_WORDS[ws[0]]
        return None

    def _items(self, text: str) -> tuple[ItemRequest, ...]:
        for name, joined in self._protected.items():
            text = text.replace(name, joined)
        requests: list[ItemRequest] = []
        for part in _SPLIT.split(text):
            part = part.replace("_", " ").strip(" ,?")
            if not part:
                continue
            size = self._size_answer(part)
            if size is not None and requests and requests[-1].size is None:
                # "a horchata, large": a size on its own belongs to the item before it
                last = requests[-1]
                item = self.catalog.items.get(last.item_id or "")
                requests[-1] = replace(last, size=_fit_size(size, item) if item else size)
                continue
            request = self._item(part)
            if request is not None:
                requests.append(request)
        return tuple(requests)

    def _item(self, part: str) -> ItemRequest | None:
        notes = ""
        m = _NOTES.search(part)
        if m:
            notes = m.group(1).removeprefix("with ").strip()
            part = (part[: m.start()] + part[m.end() :]).strip()
        ws = words(part)
        quantity, size, rest = 1, None, []
        for i, w in enumerate(ws):
            if w.isdigit():
                quantity = int(w)
            elif w in NUMBER_WORDS and (w not in ("a", "an") or quantity == 1):
                if (
                    w in ("a", "an")
                    and i + 1 < len(ws)
                    and ws[i + 1] in ("couple", "few", "dozen", "pair")
                ):
                    continue
                quantity = NUMBER_WORDS[w]
            elif w in SIZE_WORDS:
                size = SIZE_WORDS[w]
            elif w not in {"of", "please", "i", "id", "like", "want", "would", "get", "me", "can", "have",
                           "order", "add", "ill", "take", "some", "the", "actually", "also", "oh",
                           "just", "give", "could", "you", "to", "my", "more", "another", "and", "make",
                           "that", "those", "it", "them", "instead", "let", "us", "lets", "we", "need"}:  # fmt: skip
                rest.append(w)
        phrase = " ".join(rest)
        if not phrase:
            return None
        hits = self.catalog.search(phrase, limit=3)
        good = [h for h in hits if h.score >= MATCH_THRESHOLD]
        if not good:
            return ItemRequest(phrase=phrase, quantity=quantity, size=size, notes=notes)
        tied = [h.item.id for h in good if h.score == good[0].score]
        if len(tied) > 1:
            return ItemRequest(
                phrase=phrase, quantity=quantity, size=size, notes=notes, ambiguous=tuple(tied)
            )
        return ItemRequest(phrase=phrase, item_id=good[0].item.id, quantity=quantity,
                           size=_fit_size(size, good[0].item), notes=notes)  # fmt: skip


def _fit_size(size: str | None, item: MenuItem) -> str | None:
    """ "regular" fries means medium; a size on a one-size item is passed on for the tool to refuse."""
    if size is None and item.has_sizes and len(item.sizes) == 1:
        return item.sizes[0]
    if size is not None and size not in SIZES:
        return None
    return size


def _strip_question(text: str) -> str:
    return _QUESTION.sub("", text).strip(" ?")
