"""Self-repairs inside one message, applied before the message is read as requests.

People fix what they say while saying it: "a lentil soup no wait a quinoa salad", "two medium
cokes i mean one coke and one sprite", "a large shake actually make the shake medium", "a poke
bowl and a lentil soup actually no soup make it a kombucha", "a caesar salad no wait not the salad
a tiramisu instead", "a carbonara no wait penne not carbonara and two tiramisu". Each repair is
read as an edit of one clause said before it — the clause is found by the item it names ("the
shake", "the salad": by name or by kind), else it is the last one — and the edit is one of:
replace it, change only its number or size, or drop it. What follows the repaired part (more
items, "that's all") is kept. The clauses are cut where a new item starts (a comma, "and", "a",
a number), with dish names that contain "and" kept whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: The words that mark a repair: what comes after replaces something said before.
REPAIR = re.compile(
    r"\s*,?\s*\b(?:(?:no|oh|oops),? wait|(?:sorry,? )?i meant?|or rather|no sorry|"
    r"actually make (?:it|that)|actually)\b,?\s*"
)
#: Where a clause ends and the next item starts.
_CUT = re.compile(
    r",|;|\band\b|\bplus\b|\balso\b|\bwith\b(?!\s+(?:no|extra|light|hold)\b)|&|"
    r"(?<=[a-z]) (?=(?:a|an|\d+) (?!of\b|more\b|less\b|fewer\b)[a-z])"
)
#: "make the shake medium", "make it a kombucha": which clause, then what it becomes.
_MAKE = re.compile(r"^(?:no,? )?(?:make|change|switch|swap|turn) (?P<rest>.+)$")
#: "no soup, make it a kombucha", "not the salad a tiramisu", "scratch the kombucha".
_DROP = re.compile(
    r"^(?:no|not|scratch|drop|remove|forget|skip|cancel|lose|take off|minus|without)\b,? (?P<rest>.+)$"
)
#: "penne arrabbiata not carbonara (and two tiramisu)": the new dish, then the one it replaces.
_NOT = re.compile(r"^(?P<new>.+?),? (?:not|instead of) (?P<rest>.+)$")
_LEAD = re.compile(r"^(?:(?:but|just|make (?:it|that|them)|instead|i'?ll have|give me|get me),? )+")
_INSTEAD = re.compile(r",?\s*\b(?:instead|rather)\b")
_ADDITIVE = re.compile(r"^(?:also|and|add|plus|too)\b")
_PRONOUN = re.compile(r"^(?:it|that|this|those|them|the last (?:1|one))$")
_STARTS_NEW = re.compile(r"^(?:,|but\b|make\b|a\b|an\b|\d|instead\b|just\b|and\b|i'?ll\b|give\b)")


@dataclass(frozen=True)
class Edit:
    """One repair: the words naming the clause it edits (None: the one the new words name, else
    the last), and what the clause becomes (None: it is dropped)."""

    target: str | None
    new: str | None
    rest: str = ""


class Repairs:
    """Applies the self-repairs in a message. `ids` gives the items some words name, `kinds` also
    those of a kind they name ("the shake", "soup"); `has_item` says whether a clause names any
    dish, `size_only` reads "a large one"."""

    def __init__(
        self,
        ids: Callable[[str], set[str]],
        kinds: Callable[[str], set[str]],
        has_item: Callable[[str], bool],
        size_only: Callable[[str], str | None],
        size_words: frozenset[str],
        protected: dict[str, str],
        closing: re.Pattern[str],
    ) -> None:
        self.ids, self.kinds, self.has_item, self.size_only = ids, kinds, has_item, size_only
        self.size_words, self.protected, self.closing = size_words, protected, closing

    def apply(self, text: str) -> str:
        for m in reversed(list(REPAIR.finditer(text))):
            left = re.sub(r"(?:,|\band\b|\buh\b|\bum\b|\s)+$", "", text[: m.start()])
            right = text[m.end() :].strip(" ,")
            spans = self.clauses(left)
            if not right or not spans:
                continue
            closing = self.closing.search(right)  # "… that's all" still closes the message
            said, tail = (
                (right[: closing.start()], right[closing.start() :]) if closing else (right, "")
            )
            said = said.strip(" ,")
            if not said or _ADDITIVE.match(said):
                continue  # "a coke, actually also a sprite": nothing is taken back
            edit = self.edit(said)
            if edit is None:
                continue
            span = self._target(left, spans, edit)
            if span is None:
                continue
            start, end = span
            new = self._rewrite(left[start:end], edit.new) if edit.new is not None else ""
            text = " ".join(
                x for x in (left[:start], new, left[end:], edit.rest, tail) if x.strip(" ,")
            ).strip()
        return text

    def clauses(self, text: str) -> list[tuple[int, int]]:
        """The spans of `text`'s clauses that name a dish, in order."""
        guarded = text
        for name, joined in self.protected.items():  # same length: the spans stay true
            guarded = guarded.replace(name, joined)
        bounds = [0, *(c.end() for c in _CUT.finditer(guarded))]
        ends = [c.start() for c in _CUT.finditer(guarded)] + [len(text)]
        spans = [(s, e) for s, e in zip(bounds, ends, strict=True) if e > s]
        return [(s, e) for s, e in spans if self.has_item(text[s:e])]

    def edit(self, said: str) -> Edit | None:
        """What the words after a repair marker do (see `Edit`)."""
        make = _MAKE.match(said)
        if make is not None:
            target, new = self._split_target(make.group("rest"))
            if target is not None and new:
                return Edit(target, _LEAD.sub("", new).strip(" ,"))
        drop = _DROP.match(said)
        if drop is not None:
            target, new = self._split_target(drop.group("rest"))
            if target is not None:
                new = _INSTEAD.sub("", _LEAD.sub("", new)).strip(" ,")
                return Edit(target, new or None)
        swapped = _NOT.match(said)
        if swapped is not None and self.ids(swapped.group("new")):
            target, rest = self._split_target(swapped.group("rest"))
            if target is not None:
                return Edit(target, swapped.group("new"), rest)
        return Edit(None, _INSTEAD.sub("", said).strip(" ,"))

    def _split_target(self, words: str) -> tuple[str | None, str]:
        """ "the salad a tiramisu" -> ("the salad", "a tiramisu"): the shortest start that names
        a dish and is followed by the start of something new (or nothing)."""
        ws = words.split()
        for k in range(1, min(5, len(ws)) + 1):
            head, rest = " ".join(ws[:k]), " ".join(ws[k:])
            named = _PRONOUN.match(head) or self.kinds(head)
            if named and (not rest or _STARTS_NEW.match(rest) or self.size_only(rest)):
                return head, re.sub(r"^(?:to|into|for) ", "", rest)
        return None, words

    def _target(
        self, left: str, spans: list[tuple[int, int]], edit: Edit
    ) -> tuple[int, int] | None:
        """The clause the edit is about: the last naming the target's (or else the new words')
        items; with no target, the last clause."""
        if edit.target is not None and not _PRONOUN.match(edit.target):
            wanted = self.kinds(edit.target)
            named = [s for s in spans if wanted & self.ids(left[s[0] : s[1]])]
            return named[-1] if named else None
        if edit.new:
            wanted = self.ids(self.closing.sub(" ", edit.new))
            named = [s for s in spans[:-1] if wanted & self.ids(left[s[0] : s[1]])]
            if named:  # "2 tacos and a horchata, actually make that 3 tacos"
                return named[-1]
        return spans[-1]

    def _rewrite(self, clause: str, new: str) -> str:
        """The clause as the repair says it: a new number, a new size, or another dish (keeping
        the number said before when none is said now: "2 cannoli i mean tiramisu")."""
        size = self.size_only(new)
        number = re.fullmatch(r"(?:just |only )?(\d+)", new)
        if size is not None:
            return " ".join(w for w in clause.split() if w not in self.size_words) + " " + size
        if number is not None:
            return re.sub(r"^\s*(?:a|an|\d+)?\s*", number.group(1) + " ", clause.strip())
        said = re.match(r"\s*(\d+) ", clause)
        if said and not re.search(r"\d", new):
            return f"{said.group(1)} {re.sub(r'^(?:a|an) ', '', new)}"
        return new
