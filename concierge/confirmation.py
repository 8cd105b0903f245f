"""Why the concierge reads the order back and waits for a yes before placing it.

On a voice call the customer cannot see a cart. Drive-thrus and phone orders read the order back
and ask "is that right?" because speech recognition mishears, people change their minds, and a
closing remark ("great, thanks, that's it") is not a request to pay. So placing an order takes two
tools: `review_order` reads back the items and total, and `place_order` succeeds only when

- the cart is exactly what was read back (any change needs a new read-back), and
- the customer has spoken since the read-back, and their latest words are an explicit yes, with
  no refusal in between ("no" to the read-back, then "yes" to "what would you like to change?"
  is not a yes to the order).

The tools check this themselves, so a model that skips the read-back, or places the order in the
same turn as it reads it back, is refused with a sentence saying what to do instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .cart import Cart

_YES = re.compile(
    r"\b(yes|yeah|yep|yup|sure|correct|confirm(?:ed)?|go ahead|place (?:it|the order|my order)|"
    r"that'?s (?:right|correct)|sounds (?:good|right)|do it|please do|absolutely|definitely)\b"
)
_NOT_YES = re.compile(
    r"\b(no|nope|not|don'?t|wait|hold on|cancel|change|actually|but|instead|remove|add)\b"
)


def is_explicit_yes(words: str) -> bool:
    """True for "yes", "yeah go ahead", "that's right, place it"; False for anything that also
    changes, hesitates or refuses ("yes but no coke", "wait"), and for bare closing remarks."""
    text = _plain(words)
    return bool(_YES.search(text)) and not _NOT_YES.search(text)


def is_refusal(words: str) -> bool:
    """True for words that refuse, hesitate or change ("no", "wait", "actually…"): said after a
    read-back, they void it — a later "yes" answers another question, not "shall I place it?"."""
    return bool(_NOT_YES.search(_plain(words)))


def _plain(words: str) -> str:
    return words.lower().replace("’", "'")


def cart_fingerprint(cart: Cart) -> tuple[object, ...]:
    """What a read-back promised: this cart, these lines, these quantities."""
    return (cart.cart_id, *((line.key, line.quantity) for line in cart.lines))


@dataclass(frozen=True)
class ReadBack:
    """A read-back the customer heard: the cart it described and the customer words before it."""

    fingerprint: tuple[object, ...]
    #: The id of the customer's latest message when the order was read back ("" if none yet).
    heard_after: str
