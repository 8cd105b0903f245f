"""What the stand-in says: tool results read out for a person, and its own short questions.

A tool's output is a `concierge.replies.Reply`; the stand-in says its `say` part (plain speech,
no ids) and never its note to the model. A refusal is prefixed with "Sorry —" so the customer
hears that nothing changed. livekit's own message for arguments it could not parse (which no tool
renders) becomes one plain sentence naming the fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from livekit.agents import llm

from ...menu import Catalog, MenuItem, words
from ...menu import has_tag as has_tag_
from ...replies import Code, Reply
from .parser import Intent, ItemRequest

HELP = (
    "You can order food, say a size like 'a large coke', ask what's vegan at a restaurant, ask "
    "for a restaurant's menu, change or remove something, ask what's in your cart, or say "
    "that's it to hear your order before I place it."
)

#: livekit's message when a call's arguments do not parse or validate (before the tool runs).
_ARGUMENT_ERROR = re.compile(r"^Error parsing arguments for `(\w+)`: (.*)", re.S)


def speak_outputs(
    outputs: Iterable[llm.FunctionCallOutput], *, then: str = "", unfinished: bool = False
) -> str:
    """The tool outputs as one short spoken reply, then `then`. Errors are relayed, not hidden."""
    parts = [_spoken(out) for out in outputs]
    if then:
        parts.append(then)
    if unfinished:
        parts.append("I couldn't finish everything you asked in one go; please repeat the rest.")
    return " ".join(p for p in parts if p)


def _spoken(out: llm.FunctionCallOutput) -> str:
    reply = Reply.parse(out.output)
    if reply is None:
        text = _argument_problem(out.output) or out.output.strip() or "Done."
    else:
        text = reply.say
    question = reply is not None and reply.code is Code.SIZE_NEEDED
    return f"Sorry — {text}" if out.is_error and not question else text


def _argument_problem(tool_output: str) -> str | None:
    """livekit's parsing error (pydantic's report, or a JSON error) as one plain sentence."""
    m = _ARGUMENT_ERROR.match(tool_output)
    if m is None:
        return None
    fields = [
        line.strip()
        for line in m.group(2).splitlines()[1:]
        if line.strip() and not line.startswith(" ")
    ]
    names = list(dict.fromkeys(f.removesuffix("_id").replace("_", " ") for f in fields))
    if names:
        return f"I got the {_and_list(names)} for that wrong. Could you say it again?"
    return "I couldn't read that request. Could you say it again?"


def _and_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def greeting(catalog: Catalog) -> str:
    names = ", ".join(r.name for r in catalog.restaurants.values())
    return f"Hi! I can order for you from {names}. What would you like?"


def restaurants(catalog: Catalog) -> str:
    names = ", ".join(f"{r.name} ({r.cuisine})" if r.cuisine else r.name
                      for r in catalog.restaurants.values())  # fmt: skip
    return f"You can order from {names}. Which would you like?"


def has_tag(item: MenuItem, tag: str) -> str:
    """ "is it vegan?": the menu's dietary tags; any other word, from the dish's name and kind."""
    said = {w for t in item.tags for w in t.split("-")} | set(words(f"{item.name} {item.category}"))
    if has_tag_(item, tag) or tag in said:
        return f"Yes — the {item.name} is {tag}."
    return f"No — the {item.name} is not listed as {tag} on the menu."


def which_menu(catalog: Catalog) -> str:
    names = ", ".join(r.name for r in catalog.restaurants.values())
    return f"Which restaurant's menu would you like? We have {names}."


def ask_quantity(what: str, unclear: str) -> str:
    if unclear == "few":
        return f"How many {what} would you like?"
    return f"I can only order a whole number of {what}, at least 1. How many would you like?"


def which_to_remove(catalog: Catalog, r: ItemRequest) -> str:
    if r.ambiguous:
        options = " or ".join(catalog.items[i].name for i in r.ambiguous)
        return f"Which one do you mean: {options}?"
    return f"I can't find {r.phrase} on the menu. Which item do you mean?"


def which_of(catalog: Catalog, ids: tuple[str, ...]) -> str:
    options = " or ".join(catalog.items[i].name for i in ids[:5])
    return f"Which one would you like: {options}?"


def nothing_to_confirm(size_pending: bool, has_items: bool = False) -> str:
    if size_pending:
        return "Which size would you like: small, medium or large?"
    if has_items:  # a yes that answers no read-back: never a reason to place the order
        return (
            "Okay — what would you like to change? When you're done, say \"that's it\" and "
            "I'll read the order back."
        )
    return "Great — what would you like to order?"


def no_tool_reply(catalog: Catalog, intent: Intent) -> str:
    """What to say when no tool fits the message."""
    if intent.kind == "greeting":
        return greeting(catalog)
    if intent.kind == "thanks":
        return "You're welcome! Anything else? Say that's it when you're ready to order."
    heard = [catalog.items[r.item_id].name for r in intent.items if r.item_id]
    if heard:
        return (
            f"Sorry, I didn't understand what to do: I heard {_and_list(heard)}, and changed "
            "nothing. Say what you'd like, e.g. 'add one' or 'remove it'."
        )
    return f"Sorry, I didn't understand that. {HELP}"
