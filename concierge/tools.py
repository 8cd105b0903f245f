"""The concierge's function tools: the menu-id tools built from the catalog, the rest as methods.

Why two kinds, as in LiveKit's drive_thru example: a tool that takes a menu id gets the catalog's
ids as an `enum` in its schema, which is what stops a model from inventing one
("cheeseburger_deluxe"); those ids are data (they come from the store), so `build_tools(catalog)`
makes those tools, one small factory each. The tools that take no id (`view_cart`, `clear_cart`,
`review_order`, `place_order`, `get_user_profile`) are plain methods of `OrderTools`, which
`FoodConciergeAgent` inherits.

Schema rules these tools follow, each one a lesson of the lab:
- every parameter is required and has no Python default, so the strict schema OpenAI sees is the
  one we wrote (a default would turn into a nullable required field);
- an optional choice is a `Literal[..., "null"]`: models send the *string* "null", which we map
  to `None` ourselves (livekit keeps the text "null" as-is for a `str | None`);
- ids are `Annotated[str, Field(json_schema_extra={"enum": [...]})]`: the enum is schema-only,
  pydantic does not enforce it, so each tool checks ids again;
- every refusal raises `ToolError` with a sentence the model can act on, and changes nothing;
- every output is a `concierge.replies.Reply`: a sentence for the user plus a result code, so a
  program can tell what happened without reading the sentence.

An order is placed in two steps, `review_order` then `place_order` on the customer's yes; the
rules are in `concierge.confirmation` and are enforced here, whatever the model does.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from livekit.agents import RunContext, function_tool
from livekit.agents.llm import FunctionTool, Tool, Toolset
from pydantic import Field, StrictInt

from .cart import MAX_QUANTITY, Cart, CartError, CartLine, check_quantity
from .confirmation import ReadBack, cart_fingerprint, is_explicit_yes, is_refusal
from .menu import Catalog, MenuItem, QueryTooLongError, UnknownItemError, format_usd
from .replies import Code, Reply
from .state import (
    CartChangedError,
    CartUpdate,
    CheckoutResult,
    CheckoutUnknownError,
    ItemsRetiredError,
    UserState,
)
from .store import StoreAuthError, StoreError, StoreUnavailableError

SizeChoice = Literal["small", "medium", "large", "null"]
DietaryChoice = Literal["vegetarian", "vegan", "gluten-free", "null"]
# Strict: a plain `int` would let pydantic turn `true` into 1 and order something nobody asked for.
T = TypeVar("T")

Quantity = Annotated[StrictInt, Field(description=f"How many, from 1 to {MAX_QUANTITY}.")]

#: How many search hits `find_food_item` reads back; a voice reply should stay short.
SEARCH_RESULTS = 5

_LOOK_UP = "Use find_food_item to look up the right id."


def _none_if_null(value: str) -> str | None:
    return None if value in ("null", "") else value


def describe_item(item: MenuItem, catalog: Catalog) -> str:
    """One line a person can hear: name, restaurant, price(s), tags."""
    tags = f", {', '.join(sorted(item.tags))}" if item.tags else ""
    restaurant = catalog.restaurants[item.restaurant_id].name
    return f"{item.name} at {restaurant}: {item.price_label()}{tags}"


def _menu_item(catalog: Catalog, item_id: str) -> MenuItem:
    """The item with this id, or the refusal a model can act on (the enum is not enforced)."""
    try:
        return catalog.item(item_id)
    except UnknownItemError as e:
        raise Reply(Code.UNKNOWN_ID, str(e), _LOOK_UP).error() from None


def _restaurant_id(catalog: Catalog, restaurant_id: str | None) -> str | None:
    if restaurant_id is not None:
        try:
            catalog.restaurant(restaurant_id)
        except UnknownItemError as e:
            raise Reply(Code.UNKNOWN_ID, str(e)).error() from None
    return restaurant_id


def _how_many(quantity: int, line: CartLine) -> str:
    """ "2 × large Coke (no ice)": a quantity of a line's item, without its price."""
    size = f"{line.size} " if line.size else ""
    notes = f" ({line.notes})" if line.notes else ""
    return f"{quantity} × {size}{line.name}{notes}"


def _changed(state: UserState, update: CartUpdate, code: Code, what: str) -> Reply:
    """The reply to a cart change: the cart *this* change left (saved, or kept here while the
    store is down), and anything else the user should hear."""
    total = (
        "The cart is empty."
        if update.cart.is_empty()
        else f"Cart total {format_usd(update.cart.total_cents)}."
    )
    return Reply(code, f"{what} {total}{_after_change(state, update)}")


def _after_change(state: UserState, update: CartUpdate) -> str:
    """What else the user should hear after a change: merged carts, an outage, retired items."""
    notes = []
    if update.merged:
        notes.append(f" Your cart was also changed in another session; {update.cart.summary()}")
    if update.unsaved is not None:
        notes.append(
            " (Saving to your account is not working right now; I'm keeping the cart here.)"
        )
    gone = state.take_retired()
    if gone:
        names = ", ".join(ln.name for ln in gone)
        notes.append(f" {names} left the menu, so I took it out of your saved cart.")
    return "".join(notes)


def _refused(e: Exception, what: str = "change your cart") -> Exception:
    """A refused change, in one plain sentence naming the real cause; the cart is as it was."""
    if not isinstance(e, StoreError):
        return Reply(Code.REFUSED, str(e), "Explain it to the user and ask what they want.").error()
    if isinstance(e, StoreAuthError):
        cause = (
            "your sign-in has expired; please sign in again"
            if e.expired
            else "the order system did not accept this app's credentials"
        )
    else:
        cause = "the order system refused it"
    return Reply(
        Code.REFUSED, f"I could not {what}: {cause}. Nothing was changed.", "Tell the user."
    ).error()


async def _apply(
    state: UserState, change: Callable[[Cart], T], what: str = "change your cart"
) -> tuple[T, CartUpdate]:
    """`state.apply(change)`, with a cart rule or store refusal turned into the tool's `ToolError`."""
    try:
        return await state.apply(change)
    except (CartError, StoreError) as e:
        raise _refused(e, what) from None


def _checkout_refused(e: Exception) -> Exception:
    """Why no order was confirmed, in one plain sentence, and what happens next."""
    if isinstance(e, CheckoutUnknownError):
        return Reply(
            Code.STORE_DOWN,
            f"The ordering system stopped answering ({e.cause.reason}) after the order was "
            "sent, so I cannot tell yet whether it was placed. It will not be placed twice.",
            "Try place_order again in a moment: it finds the order if it went through.",
        ).error()
    if isinstance(e, StoreUnavailableError):
        return Reply(
            Code.STORE_DOWN,
            f"The ordering system is not answering right now ({e.reason}), so no order was "
            "placed. The cart is kept in this conversation.",
            "Try place_order again in a moment.",
        ).error()
    if isinstance(e, CartChangedError):
        return Reply(
            Code.REFUSED,
            "Your cart was changed in another session, so I did not place the order yet. "
            + e.cart.summary(),
            "Read the cart back with review_order and wait for the user's yes.",
        ).error()
    if isinstance(e, ItemsRetiredError):
        names = ", ".join(ln.name for ln in e.lines)
        return Reply(
            Code.REFUSED,
            f"{names} is no longer on the menu, so I took it out and placed no order. "
            + e.cart.summary(),
            "Read the cart back with review_order and ask whether to order the rest.",
        ).error()
    return _refused(e, "place your order")


def _placed(state: UserState, result: CheckoutResult) -> Reply:
    order = result.order
    if result.earlier:
        said = f"Your earlier order did go through: {order.summary()}"
        if result.remaining is not None and not result.remaining.is_empty():
            said += f" Still in your cart, not ordered yet: {result.remaining.summary()}"
        return Reply(Code.PLACED, said)
    changed = "".join(
        f" {now.name} now costs {format_usd(now.unit_price_cents)} "
        f"(was {format_usd(was.unit_price_cents)})."
        for was, now in result.repriced
    )
    address = state.profile.address if state.profile and state.profile.address else None
    where = f" It goes to {address}." if address else ""
    return Reply(Code.PLACED, f"{order.summary()}{changed}{where}")


# --- tools that take menu ids: one factory each ------------------------------------------------


@dataclass(frozen=True)
class MenuIds:
    """The ids a catalog offers: all the menu-id tools' schemas depend on."""

    items: tuple[str, ...]
    restaurants: tuple[str, ...]

    @classmethod
    def of(cls, catalog: Catalog) -> "MenuIds":
        return cls(tuple(catalog.item_ids), tuple(catalog.restaurant_ids))


def _item_ids(ids: MenuIds) -> Any:
    enum: list[Any] = list(ids.items)
    return Field(description="The menu item's id.", json_schema_extra={"enum": enum})


LineSize = Annotated[
    SizeChoice,
    Field(description="The size of the cart line meant, or 'null' if it is there in one size."),
]


def find_food_item_tool(ids: MenuIds) -> FunctionTool:
    RestaurantFilter = Annotated[
        str,
        Field(
            description="Only search this restaurant, or 'null' to search them all.",
            json_schema_extra={"enum": [*ids.restaurants, "null"]},
        ),
    ]

    @function_tool
    async def find_food_item(
        ctx: RunContext[UserState],
        query: Annotated[
            str,
            Field(
                description="What the user asked for, e.g. 'pepperoni pizza'. Empty to list everything that matches the filters."
            ),
        ],
        restaurant_id: RestaurantFilter,
        dietary: Annotated[
            DietaryChoice, Field(description="A dietary filter, or 'null' for none.")
        ],
    ) -> str:
        """Search the menu for dishes and drinks by name, optionally at one restaurant or with a
        dietary filter. Use it to turn what the user said into item ids before ordering, and to
        answer questions like "anything vegan at Green Bowl?" or "how much is the tiramisu?"."""
        catalog = ctx.userdata.catalog
        rid = _restaurant_id(catalog, _none_if_null(restaurant_id))
        try:
            catalog.check_query(query)
        except QueryTooLongError:
            raise Reply(
                Code.NO_MATCH,
                "That request is too long to search.",
                "Ask the user to name the dish in a few words.",
            ).error() from None
        hits = catalog.search(
            query, restaurant_id=rid, dietary=_none_if_null(dietary), limit=SEARCH_RESULTS
        )
        if not hits:
            where = f" at {catalog.restaurants[rid].name}" if rid else ""
            diet = f" {dietary}" if dietary != "null" else ""
            raise Reply(
                Code.NO_MATCH,
                f"Nothing{diet} on the menu{where} matches '{query}'.",
                "Ask the user to rephrase, or offer a restaurant's menu.",
            ).error()
        return Reply(
            Code.MATCHES,
            "Matches: " + "; ".join(describe_item(h.item, catalog) for h in hits) + ".",
            ids=tuple(h.item.id for h in hits),
        ).render()

    return find_food_item


def restaurant_menu_tool(ids: MenuIds) -> FunctionTool:
    RestaurantId = Annotated[
        str,
        Field(
            description="The restaurant's id.", json_schema_extra={"enum": list(ids.restaurants)}
        ),
    ]

    @function_tool
    async def get_restaurant_menu(ctx: RunContext[UserState], restaurant_id: RestaurantId) -> str:
        """List everything a restaurant sells, with prices and sizes."""
        catalog = ctx.userdata.catalog
        _restaurant_id(catalog, restaurant_id)
        restaurant = catalog.restaurants[restaurant_id]
        items = catalog.items_at(restaurant.id)
        listed = "; ".join(f"{i.name} {i.price_label()}" for i in items)
        return Reply(
            Code.MENU,
            f"{restaurant.name} ({restaurant.cuisine}) menu: {listed}.",
            ids=tuple(i.id for i in items),
        ).render()

    return get_restaurant_menu


def add_to_cart_tool(ids: MenuIds) -> FunctionTool:
    ItemId = Annotated[str, _item_ids(ids)]

    @function_tool
    async def add_to_cart(
        ctx: RunContext[UserState],
        item_id: ItemId,
        quantity: Quantity,
        size: Annotated[
            SizeChoice,
            Field(
                description="The size for items that come in sizes; 'null' for items that have one size."
            ),
        ],
        notes: Annotated[
            str, Field(description="Special requests such as 'no onions'; empty string if none.")
        ],
    ) -> str:
        """Add an item to the user's cart. Call once per distinct item; if the user orders
        several items, call it for each. Ask for the size first when the item has sizes. To
        change something already in the cart, use set_quantity or change_size instead."""
        catalog = ctx.userdata.catalog
        item = _menu_item(catalog, item_id)
        chosen = _none_if_null(size)
        if item.has_sizes and chosen is None:
            try:  # a quantity it cannot take is refused first: asking the size would waste a turn
                check_quantity(quantity, item)
            except CartError as e:
                raise _refused(e, "add that to your cart") from None
            raise Reply(
                Code.SIZE_NEEDED,
                f"{item.name} comes in {', '.join(item.sizes)}: which size would you like?",
                "Ask the user which size, then call add_to_cart again with it.",
            ).error()
        state = ctx.userdata
        line, update = await _apply(
            state,
            lambda cart: cart.add(catalog, item_id, quantity, chosen, notes),
            "add that to your cart",
        )
        return _changed(state, update, Code.ADDED, f"Added {_how_many(quantity, line)}.").render()

    return add_to_cart


def remove_tools(ids: MenuIds) -> list[FunctionTool]:
    ItemId = Annotated[str, _item_ids(ids)]

    @function_tool
    async def remove_from_cart(ctx: RunContext[UserState], item_id: ItemId, size: LineSize) -> str:
        """Take a whole line off the user's cart ("no fries after all")."""
        catalog = ctx.userdata.catalog
        state = ctx.userdata
        item = _menu_item(catalog, item_id).id
        removed, update = await _apply(state, lambda cart: cart.remove(item, _none_if_null(size)))
        return _changed(state, update, Code.REMOVED, f"Removed {removed.describe()}.").render()

    @function_tool
    async def remove_quantity(
        ctx: RunContext[UserState], item_id: ItemId, size: LineSize, quantity: Quantity
    ) -> str:
        """Take some of a line off the cart ("remove one of the pizzas"); the rest stays.
        Taking off as many as the line holds removes the line."""
        catalog = ctx.userdata.catalog
        state = ctx.userdata
        item = _menu_item(catalog, item_id).id
        before, update = await _apply(
            state, lambda cart: cart.remove(item, _none_if_null(size), quantity)
        )
        taken = min(quantity, before.quantity)
        what = f"Removed {_how_many(taken, before)}."
        return _changed(state, update, Code.REMOVED, what).render()

    return [remove_from_cart, remove_quantity]


def change_tools(ids: MenuIds) -> list[FunctionTool]:
    ItemId = Annotated[str, _item_ids(ids)]

    @function_tool
    async def set_quantity(
        ctx: RunContext[UserState], item_id: ItemId, size: LineSize, quantity: Quantity
    ) -> str:
        """Set how many of a cart line the user wants ("make that one pizza", "three fries
        instead") — one call, whatever the line held before."""
        catalog = ctx.userdata.catalog
        state = ctx.userdata
        item = _menu_item(catalog, item_id).id
        line, update = await _apply(
            state, lambda cart: cart.set_quantity(catalog, item, _none_if_null(size), quantity)
        )
        return _changed(state, update, Code.CHANGED, f"Now {line.describe()}.").render()

    @function_tool
    async def change_size(
        ctx: RunContext[UserState],
        item_id: ItemId,
        size: LineSize,
        new_size: Annotated[
            Literal["small", "medium", "large"], Field(description="The size the user wants now.")
        ],
    ) -> str:
        """Change the size of a cart line ("make it a small coke instead") in one call."""
        catalog = ctx.userdata.catalog
        state = ctx.userdata
        item = _menu_item(catalog, item_id).id
        line, update = await _apply(
            state, lambda cart: cart.change_size(catalog, item, _none_if_null(size), new_size)
        )
        return _changed(state, update, Code.CHANGED, f"Now {line.describe()}.").render()

    return [set_quantity, change_size]


_built: dict[MenuIds, list[Tool | Toolset]] = {}


def build_tools(catalog: Catalog) -> list[Tool | Toolset]:
    """The tools that take menu ids, with ids constrained to `catalog`'s (see `OrderTools` for
    the rest). They depend on the catalog's ids only (each call reads the session's catalog from
    `ctx.userdata`), so the tools for a set of ids are built once and every session shares them."""
    ids = MenuIds.of(catalog)
    tools = _built.get(ids)
    if tools is None:
        tools = _built[ids] = [
            find_food_item_tool(ids),
            restaurant_menu_tool(ids),
            add_to_cart_tool(ids),
            *remove_tools(ids),
            *change_tools(ids),
        ]
    return list(tools)


# --- tools that take no menu id: methods the agent inherits ------------------------------------


class OrderTools:
    """The cart, profile and checkout tools, as agent methods (`FoodConciergeAgent` inherits
    them). Keeps the read-back the customer last heard, which belongs to this conversation."""

    _read_back: ReadBack | None = None

    @function_tool
    async def get_user_profile(self, ctx: RunContext[UserState]) -> str:
        """Read the current user's profile: name, dietary preferences and delivery address."""
        profile = ctx.userdata.profile
        if profile is None:
            return Reply(
                Code.PROFILE,
                "This user has no saved profile: no dietary preferences or address on file.",
            ).render()
        return Reply(Code.PROFILE, "Profile: " + profile.summary()).render()

    @function_tool
    async def view_cart(self, ctx: RunContext[UserState]) -> str:
        """Read back what is in the user's cart and the total."""
        state = ctx.userdata
        said = state.cart.summary() + _after_change(state, CartUpdate(state.cart.copy()))
        return Reply(Code.CART, said).render()

    @function_tool
    async def clear_cart(self, ctx: RunContext[UserState]) -> str:
        """Empty the cart, when the user wants to start over or cancel everything."""
        state = ctx.userdata
        _, update = await _apply(state, lambda cart: cart.clear(), "clear your cart")
        return _changed(state, update, Code.CLEARED, "Cleared the cart.").render()

    @function_tool
    async def review_order(self, ctx: RunContext[UserState]) -> str:
        """Read the order back before placing it: call it when the user is done ("that's it",
        "checkout"), say the items and total, and ask whether to place the order."""
        cart = ctx.userdata.cart
        if cart.is_empty():
            raise Reply(
                Code.EMPTY_CART, "The cart is empty.", "Ask the user what they would like first."
            ).error()
        said = _user_messages(ctx)
        self._read_back = ReadBack(cart_fingerprint(cart), said[-1][0] if said else "")
        body = "; ".join(line.describe() for line in cart.lines)
        return Reply(
            Code.REVIEW,
            f"Your order: {body}. Total {format_usd(cart.total_cents)}. Shall I place it?",
            "Read this back and wait for the user's yes; then call place_order.",
        ).render()

    @function_tool
    async def place_order(self, ctx: RunContext[UserState]) -> str:
        """Place the order that was read back with review_order — only once the user, having
        heard the read-back, confirms it with a clear yes. Any change to the cart needs a new
        review_order first."""
        state = ctx.userdata
        self._check_confirmed(ctx)
        try:
            result = await state.checkout()
        except (
            CartError,
            StoreError,
            CheckoutUnknownError,
            CartChangedError,
            ItemsRetiredError,
        ) as e:
            raise _checkout_refused(e) from None
        self._read_back = None
        return _placed(state, result).render()

    def _check_confirmed(self, ctx: RunContext[UserState]) -> None:
        """Refuse unless this cart was read back and the customer has since said yes."""
        cart = ctx.userdata.cart
        if cart.is_empty():
            raise Reply(
                Code.EMPTY_CART, "The cart is empty.", "Ask the user what they would like first."
            ).error()
        read_back = self._read_back
        if read_back is None or read_back.fingerprint != cart_fingerprint(cart):
            raise Reply(
                Code.NOT_REVIEWED,
                "No order was placed: the user has not heard this order read back.",
                "Call review_order, read it to the user, and place it only after they say yes.",
            ).error()
        answers = _user_messages_after(ctx, read_back.heard_after)
        if any(is_refusal(words) for words in answers[:-1]):
            # "no" to the read-back, then "yes" to "what would you like to change?"
            raise Reply(
                Code.NOT_REVIEWED,
                "No order was placed: the user turned the read-back down and has not heard the "
                "order again since.",
                "Call review_order, read it to the user, and place it only after they say yes.",
            ).error()
        if not answers or not is_explicit_yes(answers[-1]):
            raise Reply(
                Code.NOT_CONFIRMED,
                "No order was placed: the user has not said yes to the read-back.",
                "Ask the user whether to place the order, and wait for a clear yes.",
            ).error()


def _user_messages(ctx: RunContext[UserState]) -> list[tuple[str, str]]:
    """The id and words of each customer message in this session, oldest first."""
    return [
        (item.id, item.text_content or "")
        for item in ctx.session.history.items
        if item.type == "message" and item.role == "user"
    ]


def _user_messages_after(ctx: RunContext[UserState], message_id: str) -> list[str]:
    """The words of each customer message after the one with `message_id` ("" = all of them)."""
    said = _user_messages(ctx)
    ids = [i for i, _ in said]
    start = ids.index(message_id) + 1 if message_id in ids else 0
    return [words for _, words in said[start:]]
