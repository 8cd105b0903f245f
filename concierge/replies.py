"""What a tool's output means, as data: a result code, the sentence for the user, a note for the model.

Why: a tool's output is the only thing a model learns from a call, and livekit passes it as one
string. A real model reads the sentence; a program (the offline stand-in, the eval, a test) should
not have to guess from the wording ("which size" in the text means the size was missing). So every
tool answers with a `Reply`: a `Code` anyone can branch on, a sentence fit to be said to the user,
the menu ids the model may use next, and a note meant only for the model. `Reply.render` lays them
out on separate, labelled lines a model reads easily; `Reply.parse` reads them back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from livekit.agents import ToolError

_IDS = "(ids: "
_NOTE = "(for you, not to read out: "
_CODE = "(result: "


class Code(StrEnum):
    """What a tool call did (the first group) or why it was refused (the second)."""

    MATCHES = "matches"
    MENU = "menu"
    PROFILE = "profile"
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    CLEARED = "cleared"
    CART = "cart"
    REVIEW = "review"
    PLACED = "placed"

    NO_MATCH = "no_match"
    UNKNOWN_ID = "unknown_id"
    SIZE_NEEDED = "size_needed"
    REFUSED = "refused"
    EMPTY_CART = "empty_cart"
    NOT_REVIEWED = "not_reviewed"
    NOT_CONFIRMED = "not_confirmed"
    STORE_DOWN = "store_down"


@dataclass(frozen=True)
class Reply:
    """One tool output. `say` is plain speech (no ids); `note` directs the model."""

    code: Code
    say: str
    note: str = ""
    ids: tuple[str, ...] = ()

    def render(self) -> str:
        lines = [self.say]
        if self.ids:
            lines.append(f"{_IDS}{', '.join(self.ids)})")
        if self.note:
            lines.append(f"{_NOTE}{self.note})")
        lines.append(f"{_CODE}{self.code.value})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def error(self) -> ToolError:
        """This reply as the `ToolError` a refusing tool raises."""
        return ToolError(self.render())

    @classmethod
    def parse(cls, output: str) -> Reply | None:
        """The `Reply` a tool rendered, or None for any other text (livekit's own errors)."""
        *body, last = output.split("\n")
        if not (last.startswith(_CODE) and last.endswith(")")):
            return None
        try:
            code = Code(last[len(_CODE) : -1])
        except ValueError:
            return None
        ids: tuple[str, ...] = ()
        note = ""
        while body and body[-1].startswith((_IDS, _NOTE)) and body[-1].endswith(")"):
            line = body.pop()
            if line.startswith(_NOTE):
                note = line[len(_NOTE) : -1]
            else:
                ids = tuple(line[len(_IDS) : -1].split(", "))
        return cls(code, "\n".join(body), note, ids)
