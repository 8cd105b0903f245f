"""The cart and the order it becomes: lines, totals, validation, and a change hook for views.

A `Cart` belongs to one user. Every change goes through `add`, `remove` or `clear`, which
validate first and change nothing when they refuse, so a bad request never loses a line. Each
refusal is a `CartError` whose message a person (or a model) can act on. Free text (notes) is
validated here, for every store: no control characters, at most `MAX_NOTES` characters.

Two sessions of one user (two devices, two workers) may change the same saved cart. A cart
carries the `revision` of the saved cart it was based on; the store refuses a write based on an
older revision, and `merge_lines` folds both sides' changes together (a three-way merge of
quantities per line), so neither session's change is lost.

Views (the notebook widgets) watch a cart through `subscribe`, the way LiveKit's frontdesk
example lets its UI observe the agent: the cart knows nothing about who is watching. A view that
raises is logged and ignored: a widget can never fail (or half-apply) a cart change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from .menu import Catalog, MenuItem, UnknownItemError, format_usd

MIN_QUANTITY = 1
#: At most this many of one menu item per order, across all its lines (sizes, notes).
MAX_QUANTITY = 20
#: Longest special request kept on a line.
MAX_NOTES = 200
#: Most lines one cart (and so one save or checkout request) may hold.
MAX_LINES = 50
# The Supabase schema enforces the same three caps (migration 20261208000000): keep them equal.

logger = logging.getLogger("concierge")


class CartError(ValueError):
    """A cart change that was refused; the cart is unchanged."""


class CartLimitError(CartError):
    """A cart over one of the caps (lines, quantity of one item, notes): both stores refuse it
    before writing anything, with a sentence saying which cap."""


def clean_notes(notes: str) -> str:
    """Notes as stored: whitespace runs folded to one space, trimmed; refused (`CartError`) when
    they hold control or unpaired surrogate characters, or are longer than `MAX_NOTES`.

    PostgreSQL refuses a NUL in text outright, so a NUL that reached a store would make every
    later save of that cart fail; the domain refuses it for every store instead.
    """
    if not isinstance(notes, str):
        raise CartError(f"Notes must be text, not {type(notes).__name__}.")
    folded = " ".join(notes.split())
    check_notes(folded)
    return folded


def check_notes(notes: str) -> None:
    """Refuse (`CartLimitError`) notes with control or surrogate characters, or too long."""
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in notes):
        raise CartLimitError("Notes can only hold ordinary text (no control characters).")
    if len(notes) > MAX_NOTES:
        raise CartLimitError(
            f"Notes can be at most {MAX_NOTES} characters ({len(notes)} given); "
            "please shorten the request."
        )


def check_cart_limits(lines: Sequence[CartLine]) -> None:
    """Refuse (`CartLimitError`) lines over a cap: more than `MAX_LINES` lines, a line's quantity
    outside 1..`MAX_QUANTITY`, notes `check_notes` refuses, or more than `MAX_QUANTITY` of one
    item across its lines, checked in that order (the schema's `cart_request` checks the same,
    in the same order, with the same sentences). The stores run it on every save and checkout,
    whoever built the lines."""
    if len(lines) > MAX_LINES:
        raise CartLimitError(
            f"A cart can hold at most {MAX_LINES} lines ({len(lines)} given); "
            "please combine or remove some."
        )
    for ln in lines:
        if isinstance(ln.quantity, bool) or not MIN_QUANTITY <= ln.quantity <= MAX_QUANTITY:
            raise CartLimitError(
                f"Quantity of {ln.item_id} must be a whole number from {MIN_QUANTITY} to "
                f"{MAX_QUANTITY}."
            )
    totals: dict[str, int] = {}
    for ln in lines:
        check_notes(ln.notes)
        totals[ln.item_id] = totals.get(ln.item_id, 0) + ln.quantity
    for item_id, total in totals.items():
        if total > MAX_QUANTITY:
            raise CartLimitError(
                f"At most {MAX_QUANTITY} of one item per order: the cart has {total} of {item_id}."
            )


@dataclass(frozen=True)
class CartLine:
    """One line of a cart: an item, its size (None when it has one size), how many, and notes."""

    item_id: str
    name: str
    restaurant_id: str
    restaurant_name: str
    size: str | None
    quantity: int
    unit_price_cents: int
    notes: str = ""

    @property
    def line_total_cents(self) -> int:
        return self.unit_price_cents * self.quantity

    @property
    def line_total(self) -> Decimal:
        """The line's total in USD."""
        return Decimal(self.line_total_cents) / 100

    @property
    def key(self) -> tuple[str, str | None, str]:
        """Lines with the same item, size and notes merge into one."""
        return (self.item_id, self.size, self.notes)

    @property
    def row(self) -> tuple[str, str, str, int, str]:
        """The line as a cart table shows it: (name, restaurant, size or "—", quantity, total)."""
        return (
            self.name,
            self.restaurant_name,
            self.size or "—",
            self.quantity,
            format_usd(self.line_total_cents),
        )

    def describe(self) -> str:
        """ "2 × large Coke ($5.98)"."""
        size = f"{self.size} " if self.size else ""
        notes = f" ({self.notes})" if self.notes else ""
        return f"{self.quantity} × {size}{self.name}{notes} — {format_usd(self.line_total_cents)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "name": self.name,
            "restaurant_id": self.restaurant_id,
            "restaurant_name": self.restaurant_name,
            "size": self.size,
            "quantity": self.quantity,
            "unit_price_cents": self.unit_price_cents,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CartLine:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class CartChange:
    """What a cart change did, passed to subscribers."""

    kind: Literal["add", "remove", "change", "clear", "load"]
    line: CartLine | None
    cart: Cart


CartListener = Callable[[CartChange], None]


@dataclass
class Cart:
    """A user's cart.

    `cart_id` names the saved cart (a new one after each checkout) and `revision` is the saved
    revision these lines are based on (0: not saved yet). Checkout is idempotent per
    `checkout_key()`, which covers the id, the revision *and* the contents: a retried checkout
    of the same contents returns the same order, a changed cart never returns an older one.
    """

    user_id: str
    lines: list[CartLine] = field(default_factory=list)
    cart_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    revision: int = 0
    _listeners: list[CartListener] = field(default_factory=list, repr=False, compare=False)

    # --- reading ------------------------------------------------------------------------------

    @property
    def total_cents(self) -> int:
        return sum(line.line_total_cents for line in self.lines)

    @property
    def total(self) -> Decimal:
        """The cart total in USD."""
        return Decimal(self.total_cents) / 100

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def is_empty(self) -> bool:
        return not self.lines

    def summary(self) -> str:
        """A sentence the agent can say: what is in the cart and the total."""
        if not self.lines:
            return "Your cart is empty."
        body = "; ".join(line.describe() for line in self.lines)
        return f"Your cart: {body}. Total {format_usd(self.total_cents)}."

    def checkout_key(self) -> str:
        """The idempotency key of checking out exactly this cart: who, which saved cart, which
        revision, and what is in it. Same contents, same key; any change, a new key."""
        contents = [[ln.item_id, ln.size, ln.quantity, ln.notes] for ln in self.lines]
        payload = json.dumps([self.user_id, self.cart_id, self.revision, contents])
        return hashlib.sha256(payload.encode()).hexdigest()

    def copy(self) -> Cart:
        """A snapshot with the same id, revision and lines, and no subscribers."""
        return Cart(self.user_id, list(self.lines), self.cart_id, self.revision)

    # --- changing -----------------------------------------------------------------------------

    def add(
        self,
        catalog: Catalog,
        item_id: str,
        quantity: int = 1,
        size: str | None = None,
        notes: str = "",
    ) -> CartLine:
        """Add `quantity` of an item (merging with an identical line) and return the new line.

        Raises `CartError` for an unknown id, a quantity outside 1..20 (also after merging), a
        missing size on an item that has sizes, or a size on an item that has none.
        """
        item = self._known_item(catalog, item_id)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise CartError(f"Quantity must be a whole number, not {quantity!r}.")
        check_quantity(quantity, item)
        try:
            unit = item.unit_price_cents(size)
        except ValueError as e:
            raise CartError(str(e)) from None
        restaurant = catalog.restaurant(item.restaurant_id)
        line = CartLine(
            item_id=item.id,
            name=item.name,
            restaurant_id=restaurant.id,
            restaurant_name=restaurant.name,
            size=size if item.has_sizes else None,
            quantity=quantity,
            unit_price_cents=unit,
            notes=clean_notes(notes),
        )
        held = self._held(item.id)
        if held + quantity > MAX_QUANTITY:
            raise CartError(
                f"You already have {held} {item.name} in the cart; at most {MAX_QUANTITY} of "
                f"one item per order, so {quantity} more is too many."
            )
        for i, existing in enumerate(self.lines):
            if existing.key == line.key:
                line = replace(existing, quantity=existing.quantity + quantity)
                self.lines[i] = line
                break
        else:
            if len(self.lines) >= MAX_LINES:
                raise CartLimitError(
                    f"A cart can hold at most {MAX_LINES} lines: please combine or remove some "
                    "before adding another."
                )
            self.lines.append(line)
        self._notify("add", line)
        return line

    def remove(
        self, item_id: str, size: str | None = None, quantity: int | None = None
    ) -> CartLine:
        """Remove an item (all of it, or `quantity` of it) and return the line as it was.

        With `size` None and several sizes of the item in the cart, the request is ambiguous and
        refused with a question.
        """
        target = self._find_line(item_id, size, "remove")
        if quantity is not None and not (quantity >= MIN_QUANTITY):
            raise CartError("Say how many to remove (at least 1), or remove the whole line.")
        idx = self.lines.index(target)
        if quantity is None or quantity >= target.quantity:
            del self.lines[idx]
        else:
            self.lines[idx] = replace(target, quantity=target.quantity - quantity)
        self._notify("remove", target)
        return target

    def set_quantity(
        self, catalog: Catalog, item_id: str, size: str | None, quantity: int
    ) -> CartLine:
        """Set how many of a line the cart holds ("make that one pizza"); returns the new line."""
        target = self._find_line(item_id, size, "change")
        item = self._known_item(catalog, item_id)
        check_quantity(quantity, item)
        others = self._held(item_id) - target.quantity
        if others + quantity > MAX_QUANTITY:
            raise CartError(
                f"The cart has {others} more {item.name} on other lines; at most "
                f"{MAX_QUANTITY} of one item per order."
            )
        line = replace(target, quantity=quantity)
        self.lines[self.lines.index(target)] = line
        self._notify("change", line)
        return line

    def change_size(
        self, catalog: Catalog, item_id: str, size: str | None, new_size: str
    ) -> CartLine:
        """Change a line's size ("make it a small coke instead"), merging with a line already of
        that size; returns the line as it is now."""
        target = self._find_line(item_id, size, "change")
        try:
            unit = self._known_item(catalog, item_id).unit_price_cents(new_size)
        except ValueError as e:
            raise CartError(str(e)) from None
        changed = replace(target, size=new_size, unit_price_cents=unit)
        same = next((ln for ln in self.lines if ln.key == changed.key and ln is not target), None)
        if same is not None:
            if same.quantity + target.quantity > MAX_QUANTITY:
                raise CartError(
                    f"That would make {same.quantity + target.quantity} {new_size} {target.name}; "
                    f"at most {MAX_QUANTITY} of one item per order."
                )
            changed = replace(same, quantity=same.quantity + target.quantity)
            self.lines[self.lines.index(same)] = changed
            self.lines.remove(target)
        else:
            self.lines[self.lines.index(target)] = changed
        self._notify("change", changed)
        return changed

    def _find_line(self, item_id: str, size: str | None, verb: str) -> CartLine:
        """The one line of `item_id` (in `size`, when given); refuses with a question when there
        is none, or several sizes of it and no size was said."""
        matches = [
            line
            for line in self.lines
            if line.item_id == item_id and (size is None or line.size == size)
        ]
        if not matches:
            what = f"{size} {item_id}" if size else item_id
            if not self.lines:
                raise CartError(f"The cart is empty: there is no {what} in it to {verb}.")
            in_cart = "; ".join(f"{line.describe()} (id {line.item_id})" for line in self.lines)
            raise CartError(f"There is no {what} in the cart. It holds: {in_cart}.")
        if len(matches) > 1 and len({m.size for m in matches}) > 1:
            sizes = ", ".join(str(m.size) for m in matches)
            raise CartError(
                f"The cart has {matches[0].name} in several sizes ({sizes}): which one?"
            )
        return matches[0]

    def clear(self, *, new_cart: bool = False) -> None:
        """Empty the cart; with `new_cart` also start a new, unsaved one (after checkout)."""
        self.lines.clear()
        if new_cart:
            self.cart_id = str(uuid.uuid4())
            self.revision = 0
        self._notify("clear", None)

    def replace_contents(self, other: Cart) -> None:
        """Take another cart's lines, id and revision (e.g. the one loaded from the store)."""
        self.lines = list(other.lines)
        self.cart_id = other.cart_id
        self.revision = other.revision
        self._notify("load", None)

    # --- observing ----------------------------------------------------------------------------

    def subscribe(self, listener: CartListener) -> Callable[[], None]:
        """Call `listener(change)` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(
        self, kind: Literal["add", "remove", "change", "clear", "load"], line: CartLine | None
    ) -> None:
        change = CartChange(kind, line, self)
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                # A view must never fail (or half-apply) the change it is watching.
                logger.exception("cart listener %r failed; the cart change stands", listener)

    # --- persistence --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "cart_id": self.cart_id,
            "revision": self.revision,
            "lines": [line.to_dict() for line in self.lines],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Cart:
        return cls(
            user_id=d["user_id"],
            cart_id=d["cart_id"],
            lines=[CartLine.from_dict(x) for x in d.get("lines", ())],
            revision=int(d.get("revision", 0)),
        )

    def _held(self, item_id: str) -> int:
        """How many of `item_id` the cart holds, across its lines."""
        return sum(ln.quantity for ln in self.lines if ln.item_id == item_id)

    @staticmethod
    def _known_item(catalog: Catalog, item_id: str) -> MenuItem:
        try:
            return catalog.item(item_id)
        except UnknownItemError as e:
            raise CartError(str(e)) from None


def check_quantity(quantity: int, item: MenuItem) -> None:
    """Raise the `CartError` a customer hears for a quantity outside 1..20 of `item`."""
    if quantity < MIN_QUANTITY:
        raise CartError(
            f"Quantity must be at least {MIN_QUANTITY}; to drop {item.name}, remove it."
        )
    if quantity > MAX_QUANTITY:
        raise CartError(
            f"{quantity} {item.name} is more than one order can hold: at most {MAX_QUANTITY} "
            f"of one item. How many would you like?"
        )


def merge_lines(
    base: Sequence[CartLine], mine: Sequence[CartLine], theirs: Sequence[CartLine]
) -> list[CartLine]:
    """Three-way merge of cart lines: `theirs` (the saved cart now) plus what changed from
    `base` (the saved cart this session last saw) to `mine` (this session's cart).

    Per line key the quantity is `theirs + (mine - base)`, kept within 0..MAX_QUANTITY (per
    item, across its lines, earlier lines first), so an
    add made here and an add made elsewhere both survive, and a line removed here stays removed.
    Lines keep `theirs`' order, with lines new here after them.
    """

    def quantities(lines: Iterable[CartLine]) -> dict[tuple[str, str | None, str], int]:
        out: dict[tuple[str, str | None, str], int] = {}
        for ln in lines:
            out[ln.key] = out.get(ln.key, 0) + ln.quantity
        return out

    q_base, q_mine, q_theirs = quantities(base), quantities(mine), quantities(theirs)
    latest = {ln.key: ln for ln in (*base, *theirs, *mine)}
    order = list(dict.fromkeys([ln.key for ln in theirs] + [ln.key for ln in mine]))
    merged = []
    held: dict[str, int] = {}  # per item, across lines: the merge keeps the per-item cap too
    for key in order:
        qty = q_theirs.get(key, 0) + q_mine.get(key, 0) - q_base.get(key, 0)
        qty = min(max(qty, 0), MAX_QUANTITY - held.get(key[0], 0))
        if qty:
            held[key[0]] = held.get(key[0], 0) + qty
            merged.append(replace(latest[key], quantity=qty))
    return merged


@dataclass(frozen=True)
class Order:
    """A checked-out cart, as persisted by the store, priced from the menu at checkout."""

    order_id: str
    user_id: str
    cart_id: str
    lines: tuple[CartLine, ...]
    total_cents: int
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: The `Cart.checkout_key()` this order was placed under ("" for orders older than keys).
    checkout_key: str = ""

    @property
    def total(self) -> Decimal:
        return Decimal(self.total_cents) / 100

    @classmethod
    def from_cart(cls, cart: Cart, order_id: str | None = None) -> Order:
        if cart.is_empty():
            raise CartError("The cart is empty: add something before checking out.")
        return cls(
            order_id=order_id or str(uuid.uuid4()),
            user_id=cart.user_id,
            cart_id=cart.cart_id,
            lines=tuple(cart.lines),
            total_cents=cart.total_cents,
            checkout_key=cart.checkout_key(),
        )

    def summary(self) -> str:
        return (
            f"Order {self.order_id[:8]} placed: {self.item_count} item(s), "
            f"total {format_usd(self.total_cents)}."
        )

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)
