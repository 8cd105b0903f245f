"""Quantities as customers say them, written as digits for the stand-in's parser.

"twenty one cokes", "one hundred churros", "x2", "2x", "a dozen", "a couple of", "half a dozen":
number words become digits with text2num's `alpha2digit` (a maintained parser of English
numbers), and the counter's own idioms are rewritten around it. A quantity that is not a whole
number of at least one is never turned into another number: it becomes a marker word the parser
reads as a question to ask ("a few" → how many?) or a refusal ("-3", "2.5", "two and a half").
"""

from __future__ import annotations

import re
from collections.abc import Callable

from text_to_num import alpha2digit

#: Marker words left in the text for quantities the stand-in must ask about or refuse.
FEW = "qfew"
NEGATIVE = "qneg"
FRACTION = "qfrac"
MARKERS = {FEW: "few", NEGATIVE: "negative", FRACTION: "fraction"}

_BEFORE = [  # idioms alpha2digit does not know, rewritten before it runs
    (re.compile(r"\bhalf (?:a )?dozen\b"), " 6 "),
    (re.compile(r"(?<![\w.])-?\d+[.,/]\d+\b|½|\b(?:and a half|one half|a half|half an?)\b"),
     f" {FRACTION} "),
    (re.compile(r"(?:^|(?<=\s))-\s*(?=\d)|\b(?:minus|negative)\s+"), f" {NEGATIVE} "),
    (re.compile(r"\b(?:a )?(?:couple|pair)(?: of)?\b"), " 2 "),
    (re.compile(r"\b(?:a few|several)\b"), f" {FEW} "),
]  # fmt: skip
_AFTER: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [  # once digits
    (re.compile(r"\b(\d+) dozen\b"), lambda m: f" {int(m.group(1)) * 12} "),
    (re.compile(r"\b(?:a )?dozen\b"), " 12 "),
    (re.compile(r"\bx ?(\d+)\b|\b(\d+) ?x\b"), lambda m: f" {m.group(1) or m.group(2)} "),
    (re.compile(rf"\b{NEGATIVE}\s+\d+\b"), f" {NEGATIVE} "),
]


#: "for the 4 of us", "there are 3 of us": how many people an order is for (on spelled text).
PARTY = re.compile(
    r"\b(?:for )?(?:the |all )?(\d+) of us\b|"
    r"\b(?:we'?re|we are) (?:a party of )?(\d+)(?: people| persons| guests| of us)?\b|"
    r"\bparty of (\d+)\b|\bfor (\d+) (?:people|persons|guests)\b"
)
#: "me and my two kids", "for me and my buddy": the speaker and the others named (on spelled
#: text); a plural said without a number ("me and the kids") is no count.
PEOPLE = re.compile(r"\b(?:it'?s |for )?(?:me|myself) and (?:my|the) (?:(\d+) )?(\w+)")
_MAYBE_PARTY = re.compile(r" of us|we'?re|we are|party of|people|persons|guests|me and|myself and")


def party_size(text: str) -> int | None:
    """How many people `text` says the order is for ("there are three of us" -> 3), if it says."""
    if not _MAYBE_PARTY.search(text.lower()):
        return None
    spelled = spell_quantities(text.lower())
    m = PARTY.search(spelled)
    if m is not None:
        return int(next(g for g in m.groups() if g))
    others = PEOPLE.search(spelled)
    if others is None or (others.group(1) is None and others.group(2).endswith("s")):
        return None
    return 1 + int(others.group(1) or 1)


def spell_quantities(text: str) -> str:
    """Lower-case `text` with every quantity as digits or a marker word."""
    for pattern, repl in _BEFORE:
        text = pattern.sub(repl, text)
    text = alpha2digit(text, "en", threshold=0)
    for pattern, sub in _AFTER:
        text = pattern.sub(sub, text)
    return re.sub(r"\s+", " ", text).strip()
