"""From what the customer asked (`Intent`) and what the conversation holds, the tool calls to make.

One function per kind of request. Each returns a `Plan`: the calls, in order, and a sentence to
say after their results (or instead of them when there is nothing to call: a question back, "Okay,
no Sprite."). A correction is one call (`set_quantity`, `change_size`), or a removal and an add
when the customer swaps one item for another; checking out is `review_order`, and only a "yes"
to a read-back in the previous turn is `place_order`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ...cart import MAX_LINES, MAX_QUANTITY, MIN_QUANTITY, CartError, clean_notes
from ...menu import Catalog
from . import wording
from .history import Conversation, LineKey
from .parser import Intent, ItemRequest, fit_size


@dataclass(frozen=True)
class PlannedCall:
    """A tool call the stand-in intends to make."""

    name: str
    #: A str is sent verbatim, even if it is not JSON (`ScriptedLLM`'s lessons on malformed calls).
    arguments: dict[str, Any] | str


@dataclass(frozen=True)
class Plan:
    """The calls that carry out one message, and what to say after them (or instead)."""

    calls: tuple[PlannedCall, ...] = ()
    say: str = ""
    #: One call per model step, each after the last one's result: an order read back in the
    #: message that made it must read the cart the adds made.
    sequential: bool = False


@dataclass
class _Builder:
    catalog: Catalog
    conv: Conversation
    calls: list[PlannedCall] = field(default_factory=list)
    says: list[str] = field(default_factory=list)

    def call(self, name: str, **arguments: Any) -> None:
        self.calls.append(PlannedCall(name, arguments))

    def add(self, item_id: str, quantity: int, size: str | None, notes: str = "") -> None:
        self.call("add_to_cart", item_id=item_id, quantity=quantity, size=size or "null",
                  notes=notes)  # fmt: skip

    def find(
        self, query: str, restaurant_id: str | None = None, dietary: str | None = None
    ) -> None:
        self.call("find_food_item", query=query, restaurant_id=restaurant_id or "null",
                  dietary=dietary or "null")  # fmt: skip

    def line(self, name: str, key: LineKey, **more: Any) -> None:
        self.call(name, item_id=key[0], size=key[1] or "null", **more)

    def name(self, item_id: str) -> str:
        return self.catalog.items[item_id].name

    def plan(self, sequential: bool = False) -> Plan:
        return Plan(tuple(self.calls), " ".join(self.says), sequential)

    def picked(self, intent: Intent) -> list[LineKey]:
        """The cart lines `intent.pick` names ("the priciest item", "all the drinks")."""
        assert intent.pick is not None
        return intent.pick.in_cart(self.catalog, self.conv.lines)


def plan_intent(
    catalog: Catalog, intent: Intent, conv: Conversation, previous: Intent | None
) -> Plan:
    """The plan for `intent`, given the conversation before it and the previous message's intent."""
    b = _Builder(catalog, conv)
    handler = _HANDLERS.get(intent.kind)
    if handler is None:
        b.says.append(wording.no_tool_reply(catalog, intent))
    else:
        handler(b, intent, previous)
    if intent.then_review and b.calls:
        b.call("review_order")
        return b.plan(sequential=True)
    return b.plan()


# --- orders ------------------------------------------------------------------------------------


def _order(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    if intent.pick is not None:
        return _order_picked(b, intent)
    last_size = b.conv.last[1] if b.conv.last and intent.same_size else None
    for r in intent.items:
        if r.each:  # one for each person
            people = intent.quantity or b.conv.party
            if people is None:
                b.says.append(
                    f"How many of you are there? I'll add one {b.name(r.item_id or '')} each."
                )
                continue
            r = replace(r, quantity=r.quantity * people, counted=True)
        _order_one(b, _sized_like(b, r, last_size))


def _order_picked(b: _Builder, intent: Intent) -> None:
    """ "the least expensive pasta", "one of every roll": the menu items picked, each added."""
    assert intent.pick is not None
    ids = intent.pick.on_menu(b.catalog)
    if not ids or len(ids) > 8:
        b.says.append("Sorry, I couldn't tell which items you mean. Could you name them?")
        return
    for item_id in ids:
        _order_one(b, ItemRequest(b.name(item_id), item_id, intent.quantity or 1, counted=True))


def _sized_like(b: _Builder, r: ItemRequest, size: str | None) -> ItemRequest:
    """`r` in `size` when it was said without one and its item comes in that size."""
    item = b.catalog.items.get(r.item_id or "")
    return replace(r, size=size) if r.size is None and item and size in item.sizes else r


def _order_one(b: _Builder, r: ItemRequest) -> None:
    pending = next((a for a in b.conv.size_needed if a.get("item_id") == r.item_id), None)
    if pending is not None and r.size and not r.counted:  # "medium for the sprites": the answer
        b.conv.size_needed = [a for a in b.conv.size_needed if a is not pending]
        b.call("add_to_cart", **{**pending, "size": r.size})
        return
    if r.item_id is None and r.ambiguous:  # "a dessert" while ordering from Luigi's: its one
        here = {b.catalog.items[k[0]].restaurant_id for k in b.conv.lines}
        same = [i for i in r.ambiguous if b.catalog.items[i].restaurant_id in here]
        if len(here) == 1 and len(same) == 1:
            r = replace(r, item_id=same[0], size=fit_size(r.size, b.catalog.items[same[0]]))
    what = b.name(r.item_id) if r.item_id else r.phrase
    if r.unclear is not None:
        b.says.append(wording.ask_quantity(what, r.unclear))
    elif r.item_id is not None:
        b.add(r.item_id, r.quantity, r.size, r.notes)
    else:
        if r.counted and not MIN_QUANTITY <= r.quantity <= MAX_QUANTITY:
            # the tool would say it once an item is chosen; say it now, not a turn later
            b.says.append(
                f"Sorry — I can take between {MIN_QUANTITY} and {MAX_QUANTITY} of one item, "
                f"not {r.quantity:,}."
            )
        b.find(r.phrase)


def _focus(b: _Builder, previous: Intent | None) -> tuple[str, ...]:
    """The items the customer was just told about: the one asked about, or those offered."""
    searched = previous.items if previous and previous.kind == "search" else ()
    asked_about = [r.item_id for r in searched if r.item_id]
    return tuple(asked_about) if len(asked_about) == 1 else b.conv.offered


def _asked_size(previous: Intent | None, item_id: str) -> str | None:
    """The size said when asking about the item ("how much is a large pepperoni?")."""
    asked = previous.items if previous and previous.kind == "search" else ()
    return next((r.size for r in asked if r.item_id == item_id and r.size), None)


def _asked_about(b: _Builder, previous: Intent | None) -> str | None:
    """The one dish the previous message asked about (and the cart does not hold): "make it two"
    or "a large one" right after means that dish."""
    if previous is None or previous.kind not in ("search", "about", "tag_question"):
        return None
    focus = _focus(b, previous)
    return focus[0] if len(focus) == 1 and not b.conv.has(focus[0]) else None


def _more(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    """ "another one" (the line last touched), "two of those" (the one item just offered),
    "the second one" (of those just offered)."""
    offered = _focus(b, previous)
    if intent.pick is not None:  # "the second one": of those just offered, else ask
        offered = tuple(intent.pick.in_offered(b.catalog, b.conv.offered))
        if not offered:
            b.says.append("Which one do you mean? Tell me its name, please.")
            return
    if len(offered) == 1:
        b.add(offered[0], intent.quantity or 1, _asked_size(previous, offered[0]))
    elif offered:
        b.says.append(wording.which_of(b.catalog, offered))
    elif b.conv.last is None:
        b.says.append("Another what? Tell me the item, please.")
    else:
        item_id, size = b.conv.last
        b.add(item_id, intent.quantity or 1, size)


def _sequence(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    """Several operations in one message, planned in the order said."""
    for part in intent.parts:
        _HANDLERS[part.kind](b, part, previous)


def _repeat_all(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    """ "my wife wants what I'm having": every line again."""
    if not b.conv.lines:
        b.says.append("There's nothing in the cart yet to have the same of.")
    for (item_id, size), quantity in b.conv.lines.items():
        b.add(item_id, quantity, size)


def _repeat(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    if not b.conv.last_adds:
        return _more(b, intent, previous)
    for args in b.conv.last_adds:
        b.call("add_to_cart", **args)


def _answer_size(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    asked = None if b.conv.size_needed else _asked_about(b, previous)
    if asked is not None:  # "got any horchata?" — "a large one, please"
        b.add(asked, 1, intent.size)
    elif not b.conv.size_needed:
        b.says.append("Which item is that size for? Tell me the item and the size together.")
    for args in b.conv.size_needed:
        b.call("add_to_cart", **{**args, "size": intent.size})
    for r in intent.items:  # "large, and some churros"
        _order_one(b, r)


def _answer_quantity(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    asked = [r for r in (previous.items if previous else ()) if r.unclear and r.item_id]
    if not asked and _focus(b, previous):  # "one please" after "how much is the X?"
        return _more(b, intent, previous)
    if not asked:
        b.says.append(f"{intent.quantity} of what? Tell me the item too, please.")
    for r in asked:
        b.add(str(r.item_id), intent.quantity or 1, r.size, r.notes)


# --- changes -----------------------------------------------------------------------------------


def _remove(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    if intent.pick is not None:
        keys = b.picked(intent)
        if not keys:
            b.says.append("I couldn't find that in your cart, so I left it as it is.")
        elif len(keys) > 1 and not (intent.pick.every or intent.pick.keep):
            names = " or ".join(b.name(k[0]) for k in keys)
            b.says.append(f"Which one do you mean: {names}?")
        for key in keys if intent.pick.every or intent.pick.keep or len(keys) == 1 else ():
            b.line("remove_from_cart", key)
        return
    if not intent.items:
        if b.conv.last is None:
            b.says.append("Which item should I remove?")
        elif intent.quantity:
            b.line("remove_quantity", b.conv.last, quantity=intent.quantity)
        else:
            b.line("remove_from_cart", b.conv.last)
        return
    for r in intent.items:
        item_id = _in_cart(b, r)
        if item_id is None:
            b.says.append(wording.which_to_remove(b.catalog, r))
        elif r.counted:
            b.line("remove_quantity", (item_id, r.size), quantity=r.quantity)
        else:
            b.line("remove_from_cart", (item_id, r.size))


def _out_and_in(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    """ "forget the coke and give me a sprite", "get rid of one salad and add fries": two
    requests, both carried out — the removal stands even while the new item waits for a size.
    A new item said without a size takes the removed line's size where it has it."""
    sizes: list[str | None] = []
    for r in intent.source:
        item_id = _in_cart(b, r)
        if item_id is None:
            b.says.append(wording.which_to_remove(b.catalog, r))
            continue
        key = b.conv.line_of(item_id, r.size) or (item_id, r.size)
        sizes.append(key[1])
        if r.counted and r.quantity < b.conv.lines.get(key, 0):
            b.line("remove_quantity", key, quantity=r.quantity)
        else:
            b.line("remove_from_cart", key)
    if not intent.source and b.conv.last is not None:  # "forget it and ..."
        sizes.append(b.conv.last[1])
        b.line("remove_from_cart", b.conv.last)
    size = next((s for s in sizes if s), None)
    for r in intent.items:
        _order_one(b, _sized_like(b, r, size))


def _scale(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    """ "double it": the line last ordered (or the one picked: "twice as many of the first"),
    times `intent.quantity` (the tool refuses past 20)."""
    keys = b.picked(intent) if intent.pick else [b.conv.last] if b.conv.last else []
    if len(keys) != 1:
        b.says.append("Which item should I change?")
        return
    held = b.conv.lines.get(keys[0], 1)
    b.line("set_quantity", keys[0], quantity=held * (intent.quantity or 1))


def _in_cart(b: _Builder, r: ItemRequest) -> str | None:
    """The item `r` names, resolving "the pizza" to the one pizza this conversation added."""
    if r.item_id is not None:
        return r.item_id
    known = [i for i in r.ambiguous if b.conv.has(i)]
    return known[0] if len(known) == 1 else None


def _negate(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    for r in intent.items:
        item_id = _in_cart(b, r)
        if item_id is not None and b.conv.has(item_id):
            b.line("remove_from_cart", (item_id, r.size))
        else:
            b.says.append(f"Okay, no {b.name(item_id) if item_id else r.phrase}.")


def _change(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    if intent.pick is not None:
        keys = b.picked(intent)
        if not keys or (len(keys) > 1 and intent.quantity is not None):
            b.says.append("Which item should I change? Tell me its name, please.")
        for key in keys if intent.quantity is None or len(keys) == 1 else ():
            _change_line(b, key, _fitting(b, key, intent.size), intent.quantity)
        return
    if intent.source:
        _swap(b, intent)
    elif intent.items:
        for r in intent.items:
            _correct(b, intent, r)
    else:
        _change_last(b, intent, previous)


def _swap(b: _Builder, intent: Intent) -> None:
    """ "change the coke to a sprite", "the fries to large", "a sprite instead of the coke"."""
    source = intent.source[0]
    item_id = _in_cart(b, source)
    if item_id is None:
        b.says.append(wording.which_to_remove(b.catalog, source))
        return
    key = b.conv.line_of(item_id, source.size) or (item_id, source.size)
    new = next((r for r in intent.items if r.item_id and r.item_id != item_id), None)
    if new is not None:
        _replace(b, key, new, intent.part)
    elif intent.part is not None and intent.size:
        _resize_part(b, key, intent.size, intent.part)
    else:
        _change_line(b, key, intent.size, intent.quantity)


def _correct(b: _Builder, intent: Intent, r: ItemRequest) -> None:
    """ "actually, make that one margherita pizza", "make it a small coke instead"."""
    if r.item_id is None:
        return _order_one(b, r)
    pending = next((a for a in b.conv.size_needed if a.get("item_id") == r.item_id), None)
    if pending is not None and r.size:
        b.call("add_to_cart", **{**pending, "size": r.size})
    elif b.conv.has(r.item_id):
        key = b.conv.line_of(r.item_id) or (r.item_id, None)
        _change_line(b, key, r.size, r.quantity if r.counted else None)
    elif intent.replaces and b.conv.last is not None and b.conv.last[0] != r.item_id:
        _replace(b, b.conv.last, r, intent.part)
    else:
        _order_one(b, r)


def _change_last(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    """ "make that two", "I meant large": the line last added or changed."""
    if intent.size and b.conv.size_needed:
        return _answer_size(b, intent, previous)
    if intent.quantity and previous and any(r.unclear for r in previous.items):
        return _answer_quantity(b, intent, previous)
    asked = _asked_about(b, previous)
    if asked is not None:  # "how much is the X?" — "make it two of those"
        b.add(asked, intent.quantity or 1, intent.size or _asked_size(previous, asked))
        return
    if b.conv.last is None:
        b.says.append("Which item should I change?")
        return
    if intent.part is not None and intent.size:
        return _resize_part(b, b.conv.last, intent.size, intent.part)
    _change_line(b, b.conv.last, intent.size, intent.quantity)


def _fitting(b: _Builder, key: LineKey, size: str | None) -> str | None:
    """`size` for a line whose item comes in it ("all the drinks large" leaves a tea alone)."""
    return size if size in b.catalog.items[key[0]].sizes else None


def _resize_part(b: _Builder, key: LineKey, size: str, part: int) -> None:
    """ "make 2 of them small": that many of the line in the new size, the rest as they were."""
    if part == 0:
        return _leave(b, key)
    if part >= b.conv.lines.get(key, 1):
        return _change_line(b, key, size, None)
    if size == key[1]:
        b.says.append(f"You have that already: {b.name(key[0])}.")
        return
    b.line("remove_quantity", key, quantity=part)
    b.add(key[0], part, size)


def _change_line(b: _Builder, key: LineKey, size: str | None, quantity: int | None) -> None:
    before = len(b.calls)
    if size is not None and size != key[1]:
        b.line("change_size", key, new_size=size)
        key = (key[0], size)
    if quantity is not None:
        b.line("set_quantity", key, quantity=quantity)
    if len(b.calls) == before:
        b.says.append(f"You have that already: {b.name(key[0])}.")


def _replace(b: _Builder, key: LineKey, new: ItemRequest, part: int | None = None) -> None:
    """Swap a line — or `part` of it — for another item, keeping the quantity swapped and,
    where it fits, the size."""
    assert new.item_id is not None
    if part == 0:
        return _leave(b, key)
    item = b.catalog.items[new.item_id]
    size = new.size or (key[1] if key[1] in item.sizes else None)
    held = b.conv.lines.get(key, 1)
    some = part if part is not None and 0 < part < held else None  # only that many of the line
    quantity = some or (new.quantity if new.counted else held)
    if MIN_QUANTITY <= quantity <= MAX_QUANTITY and (size or not item.has_sizes):
        # only when the add can succeed: otherwise the old line stays as it is
        if some:
            b.line("remove_quantity", key, quantity=quantity)
        else:
            b.line("remove_from_cart", key)
    b.add(new.item_id, quantity, size, new.notes)


def _leave(b: _Builder, key: LineKey) -> None:
    """ "make 0 of them …": nothing to change."""
    b.says.append(f"Okay, I'll leave the {b.name(key[0])} as it is.")


def _undo(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    conv = b.conv
    if conv.size_needed:
        b.says.append("Okay, I won't add that.")
    elif conv.read_back:
        b.says.append("Okay, I haven't placed the order. What would you like to change?")
    elif conv.last_adds:
        for args in conv.last_adds:
            b.line("remove_quantity", (args["item_id"], _size(args)), quantity=args["quantity"])
    else:
        b.says.append("Okay. What would you like instead?")


def _size(args: dict[str, Any]) -> str | None:
    return None if args.get("size") in (None, "null") else str(args["size"])


# --- cart, checkout, questions -----------------------------------------------------------------


def _review(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    b.call("place_order" if intent.yes and b.conv.read_back else "review_order")


def _confirm(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    if b.conv.read_back:
        b.call("place_order")
    else:
        b.says.append(wording.nothing_to_confirm(bool(b.conv.size_needed), bool(b.conv.lines)))


def _deny(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    if b.conv.read_back:
        b.says.append("Okay, I haven't placed the order. What would you like to change?")
    else:
        b.says.append("Okay. Anything else?")


def _simple(name: str) -> Callable[[_Builder, Intent, Intent | None], None]:
    return lambda b, intent, previous: b.call(name)


def _menu(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    if intent.restaurant_id:
        b.call("get_restaurant_menu", restaurant_id=intent.restaurant_id)
    else:
        b.says.append(wording.which_menu(b.catalog))


def _search(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    if b.conv.size_needed and intent.query in ("size", "sizes"):  # "what sizes are there?"
        for item_id in dict.fromkeys(str(a.get("item_id")) for a in b.conv.size_needed):
            b.find(b.name(item_id))
        return
    b.find(intent.query, intent.restaurant_id, intent.dietary)


def _note_on_line(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    """ "no cheese on one of them", "hold the sour cream on that": the line (or that many of
    it) taken out and put back with the note — only when putting it back cannot fail."""
    target = intent.items[0] if intent.items else None
    item_id = _in_cart(b, target) if target is not None else None
    key = (b.conv.line_of(item_id) if item_id else None) if target else b.conv.last
    try:
        notes = clean_notes(intent.query)
    except CartError as e:
        b.says.append(f"{e} I changed nothing.")
        return
    held = b.conv.lines.get(key, 0) if key else 0
    part = intent.part if intent.part is not None and intent.part < held else None
    if key is None or not held or key in b.conv.noted or (part and len(b.conv.lines) >= MAX_LINES):
        b.says.append(
            f"I couldn't tell which dish '{notes}' is for, so I changed nothing. Say it with the "
            "dish, e.g. 'a veggie burger with no pickles'."
        )
        return
    if part:
        b.line("remove_quantity", key, quantity=part)
    else:
        b.line("remove_from_cart", key)
    b.add(key[0], part or held, key[1], notes)


def _party(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    b.says.append("Got it. What would everyone like?")


def _places(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    b.says.append(wording.restaurants(b.catalog))


def _in_focus(b: _Builder, previous: Intent | None) -> str | None:
    """The dish a question about "it" means: the one just asked about, else the last ordered."""
    focus = _focus(b, previous)
    return focus[0] if len(focus) == 1 else b.conv.last[0] if b.conv.last else None


def _tag_question(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    """ "is it vegan?", "is that spicy?": from the menu's tags and the dish's own name."""
    item_id = _in_focus(b, previous)
    if item_id is None:
        b.says.append("Which dish do you mean?")
        return
    b.says.append(wording.has_tag(b.catalog.items[item_id], intent.dietary or intent.query))


def _about(b: _Builder, intent: Intent, previous: Intent | None) -> None:
    """ "what's in that one?": what the menu says about the dish in focus."""
    item_id = _in_focus(b, previous)
    if item_id is None:
        b.says.append("Which dish do you mean?")
        return
    item = b.catalog.items[item_id]
    b.find(item.name, item.restaurant_id)


_HANDLERS: dict[str, Callable[[_Builder, Intent, Intent | None], None]] = {
    "order": _order, "more": _more, "repeat": _repeat, "size_answer": _answer_size,
    "quantity_answer": _answer_quantity, "remove": _remove, "negate": _negate,
    "change": _change, "out_and_in": _out_and_in, "scale": _scale, "undo": _undo, "clear": _simple("clear_cart"), "review": _review,
    "confirm": _confirm, "deny": _deny, "view_cart": _simple("view_cart"),
    "profile": _simple("get_user_profile"), "menu": _menu, "search": _search,
    "repeat_all": _repeat_all, "places": _places, "tag_question": _tag_question,
    "note_on_line": _note_on_line, "about": _about, "party": _party, "sequence": _sequence,
}  # fmt: skip
