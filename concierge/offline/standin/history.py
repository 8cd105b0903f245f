"""What the conversation so far tells the stand-in, read from the chat history as a model would.

A model knows the cart only from the calls it made and what the tools answered. `read_history`
walks the history once and keeps, from the calls that succeeded (by the tools' result codes, see
`concierge.replies`): the cart lines this conversation put there, the line last touched ("make
that two", "another one", "remove it"), the last turn's additions ("the same again"), an add that
was refused for want of a size (so "large" can finish it), and whether the order was just read
back and not changed since (so "yes" places it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import llm

from ...confirmation import is_refusal
from ...replies import Code, Reply
from .numbers import party_size

LineKey = tuple[str, str | None]


@dataclass
class Conversation:
    """The stand-in's view of the conversation before the current message."""

    #: Lines this conversation put in the cart, as (item id, size) -> quantity, in order.
    lines: dict[LineKey, int] = field(default_factory=dict)
    #: The line most recently added or changed.
    last: LineKey | None = None
    #: The add_to_cart arguments of the previous turn's successful adds.
    last_adds: list[dict[str, Any]] = field(default_factory=list)
    #: add_to_cart arguments the previous turn could not finish for want of a size.
    size_needed: list[dict[str, Any]] = field(default_factory=list)
    #: The order was read back, and not changed or turned down since.
    read_back: bool = False
    #: The ids offered by the previous turn's search or menu.
    offered: tuple[str, ...] = ()
    #: The text of the previous customer message ("" if none).
    previous_text: str = ""
    previous_id: str = ""
    #: How many people the customer said the order is for ("there are three of us").
    party: int | None = None
    #: Lines some of which were added with a note (the cart may hold them as several lines).
    noted: set[LineKey] = field(default_factory=set)

    def line_of(self, item_id: str, size: str | None = None) -> LineKey | None:
        """The line of `item_id` this conversation knows (in `size` if given), if exactly one."""
        keys = [k for k in self.lines if k[0] == item_id and (size is None or k[1] == size)]
        return keys[0] if len(keys) == 1 else None

    def has(self, item_id: str) -> bool:
        return any(k[0] == item_id for k in self.lines)


def read_history(items: list[llm.ChatItem]) -> Conversation:
    """The `Conversation` the chat items describe (items before the current message)."""
    conv = Conversation()
    outputs = {it.call_id: it for it in items if it.type == "function_call_output"}
    waiting: list[dict[str, Any]] = []  # the size requests open when the turn began
    calls: list[str] = []  # the calls of the turn so far
    for it in items:
        if it.type == "message" and it.role == "user":
            waiting, calls = _still_waiting(conv, waiting, calls), []
            conv.last_adds, conv.size_needed, conv.offered = [], [], ()
            conv.previous_text, conv.previous_id = it.text_content or "", it.id
            # "no" to a read-back voids it: a later "yes" answers "what would you like to change?"
            conv.read_back = conv.read_back and not is_refusal(conv.previous_text)
            conv.party = party_size(conv.previous_text) or conv.party
        elif it.type == "function_call":
            calls.append(it.name)
            out = outputs.get(it.call_id)
            reply = Reply.parse(out.output) if out is not None else None
            if reply is not None:
                _apply(conv, it.name, _arguments(it), reply)
    _still_waiting(conv, waiting, calls)
    return conv


#: Calls that only look something up: a size asked for stays asked for across them.
_LOOKUPS = frozenset(("find_food_item", "get_restaurant_menu", "view_cart", "get_user_profile"))


def _still_waiting(
    conv: Conversation, waiting: list[dict[str, Any]], calls: list[str]
) -> list[dict[str, Any]]:
    """At the end of a turn: a size asked for before a turn that only looked things up ("what
    sizes are there?") is still asked for. Returns the requests open as the next turn begins."""
    if calls and _LOOKUPS.issuperset(calls):
        conv.size_needed = [*waiting, *conv.size_needed]
    return conv.size_needed


def _arguments(call: llm.FunctionCall) -> dict[str, Any]:
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:  # a malformed call from a misbehaving model
        return {}
    return args if isinstance(args, dict) else {}


def _size(args: dict[str, Any], key: str = "size") -> str | None:
    value = args.get(key)
    return None if value in (None, "null", "") else str(value)


def _apply(conv: Conversation, name: str, args: dict[str, Any], reply: Reply) -> None:
    """Fold one answered call into the conversation."""
    code = reply.code
    if code in (Code.MATCHES, Code.MENU):
        conv.offered = reply.ids
    elif code is Code.SIZE_NEEDED:
        conv.size_needed.append(args)
    elif code is Code.REVIEW:
        conv.read_back = True
    elif code in (Code.CLEARED, Code.PLACED):
        conv.lines.clear()
        conv.last, conv.read_back = None, False
    elif code in (Code.ADDED, Code.REMOVED, Code.CHANGED):
        conv.read_back = False
        _change_lines(conv, name, args)


def _change_lines(conv: Conversation, name: str, args: dict[str, Any]) -> None:
    item_id, size = str(args.get("item_id", "")), _size(args)
    key = conv.line_of(item_id, size) or (item_id, size)
    quantity = args.get("quantity")
    count = quantity if isinstance(quantity, int) else 0
    if name == "add_to_cart":
        if args.get("notes"):
            conv.noted.add(key)
        conv.lines[key] = conv.lines.get(key, 0) + count
        conv.last = key
        conv.last_adds.append(args)
    elif name == "remove_from_cart" or (
        name == "remove_quantity" and conv.lines.get(key, 0) <= count
    ):
        conv.lines.pop(key, None)
        conv.last = None if conv.last == key else conv.last
    elif name == "remove_quantity":
        conv.lines[key] -= count
        conv.last = key
    elif name == "set_quantity":
        conv.lines[key] = count
        conv.last = key
    elif name == "change_size":
        moved = conv.lines.pop(key, 0)
        new_key = (item_id, _size(args, "new_size"))
        conv.lines[new_key] = conv.lines.get(new_key, 0) + moved
        conv.last = new_key
