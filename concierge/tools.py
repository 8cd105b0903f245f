"""The concierge's function tools, built from the catalog so every id the model may send is known.

Why a builder and not plain methods: the set of item and restaurant ids is data (it comes from the
store), and putting it in the schema as an `enum` is what stops a model from inventing an id
("cheeseburger_deluxe"). This is the pattern of LiveKit's drive_thru example.

Schema rules these tools follow, each one a lesson of the lab:
- every parameter is required and has no Python default, so the strict schema OpenAI sees is the
  one we wrote (a default would turn into a nullable required field);
- an optional choice is a `Literal[..., "null"]`: models send the *string* "null", which we map
  to `None` ourselves (livekit keeps the text "null" as-is for a `str | None`);
- ids are `Annotated[str, Field(json_schema_extra={"enum": [...]})]`: the enum is schema-only,
  pydantic does not enforce it, so each tool checks ids again;
- every refusal raises `ToolError` with a sentence the model can act on, and changes nothing.
"""

from typing import Annotated, Literal

from livekit.agents import RunContext, ToolError, function_tool
from livekit.agents.llm import Tool, Toolset
from pydantic import Field

from .cart import MAX_QUANTITY, CartError
from .menu import Catalog, MenuItem, UnknownItemError, format_usd
from .state import UserState
from .store import StoreUnavailableError

SizeChoice = Literal["small", "medium", "large", "null"]
DietaryChoice = Literal["vegetarian", "vegan", "gluten-free", "null"]

#: How many search hits `find_food_item` reads back; a voice reply should stay short.
SEARCH_RESULTS = 5


def _none_if_null(value: str) -> str | None:
    return None if value in ("null", "") else value


def describe_item(item: MenuItem, catalog: Catalog) -> str:
    """One line a model can quote: name, id, restaurant, price(s), tags."""
    tags = f", {', '.join(sorted(item.tags))}" if item.tags else ""
    restaurant = catalog.restaurants[item.restaurant_id].name
    return f"{item.name} (id {item.id}) at {restaurant}: {item.price_label()}{tags}"


def build_tools(catalog: Catalog) -> list[Tool | Toolset]:
    """The seven tools of the migrated agent, with ids constrained to `catalog`."""
    item_ids = catalog.item_ids
    restaurant_ids = catalog.restaurant_ids

    ItemId = Annotated[
        str,
        Field(description="The menu item's id.", json_schema_extra={"enum": item_ids}),
    ]
    RestaurantId = Annotated[
        str,
        Field(description="The restaurant's id.", json_schema_extra={"enum": restaurant_ids}),
    ]
    RestaurantFilter = Annotated[
        str,
        Field(
            description="Only search this restaurant, or 'null' to search them all.",
            json_schema_extra={"enum": [*restaurant_ids, "null"]},
        ),
    ]

    def check_item(item_id: str) -> MenuItem:
        try:
            return catalog.item(item_id)
        except UnknownItemError as e:
            raise ToolError(f"{e} Use find_food_item to look up the right id.") from None

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
        answer questions like "anything vegan at Green Bowl?"."""
        rid = _none_if_null(restaurant_id)
        if rid is not None and rid not in catalog.restaurants:
            raise ToolError(f"Unknown restaurant id '{rid}'. Known: {', '.join(restaurant_ids)}.")
        hits = catalog.search(
            query, restaurant_id=rid, dietary=_none_if_null(dietary), limit=SEARCH_RESULTS
        )
        if not hits:
            where = f" at {catalog.restaurants[rid].name}" if rid else ""
            diet = f" {dietary}" if dietary != "null" else ""
            raise ToolError(
                f"Nothing{diet} on the menu{where} matches '{query}'. "
                "Ask the user to rephrase, or offer a restaurant's menu."
            )
        return "Matches: " + "; ".join(describe_item(h.item, catalog) for h in hits)

    @function_tool
    async def get_restaurant_menu(ctx: RunContext[UserState], restaurant_id: RestaurantId) -> str:
        """List everything a restaurant sells, with prices and sizes."""
        try:
            restaurant = catalog.restaurant(restaurant_id)
        except UnknownItemError as e:
            raise ToolError(str(e)) from None
        items = catalog.items_at(restaurant.id)
        return f"{restaurant.name} ({restaurant.cuisine}) menu: " + "; ".join(
            f"{i.name} (id {i.id}) {i.price_label()}" for i in items
        )

    @function_tool
    async def get_user_profile(ctx: RunContext[UserState]) -> str:
        """Read the current user's profile: name, dietary preferences and delivery address."""
        profile = ctx.userdata.profile
        if profile is None:
            return "This user has no saved profile: no dietary preferences or address on file."
        return "Profile: " + profile.summary()

    @function_tool
    async def add_to_cart(
        ctx: RunContext[UserState],
        item_id: ItemId,
        quantity: Annotated[int, Field(description=f"How many, from 1 to {MAX_QUANTITY}.")],
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
        several items, call it for each. Ask for the size first when the item has sizes."""
        check_item(item_id)
        state = ctx.userdata
        try:
            line = state.cart.add(catalog, item_id, quantity, _none_if_null(size), notes)
        except CartError as e:
            raise ToolError(str(e)) from None
        saved = await state.save_cart()
        return f"Added {line.describe()}. Cart total {format_usd(state.cart.total_cents)}.{saved}"

    @function_tool
    async def remove_from_cart(
        ctx: RunContext[UserState],
        item_id: ItemId,
        size: Annotated[
            SizeChoice,
            Field(
                description="Which size to remove, or 'null' if the item is in the cart in one size only."
            ),
        ],
    ) -> str:
        """Remove an item from the user's cart (the whole line)."""
        check_item(item_id)
        state = ctx.userdata
        try:
            removed = state.cart.remove(item_id, _none_if_null(size))
        except CartError as e:
            raise ToolError(str(e)) from None
        saved = await state.save_cart()
        return f"Removed {removed.describe()}. {state.cart.summary()}{saved}"

    @function_tool
    async def view_cart(ctx: RunContext[UserState]) -> str:
        """Read back what is in the user's cart and the total."""
        return ctx.userdata.cart.summary()

    @function_tool
    async def checkout(ctx: RunContext[UserState]) -> str:
        """Place the order for everything in the cart. Only call it when the user asks to
        check out or confirms the order."""
        state = ctx.userdata
        if state.cart.is_empty():
            raise ToolError("The cart is empty. Ask the user what they would like first.")
        try:
            order = await state.checkout()
        except StoreUnavailableError:
            raise ToolError(
                "The ordering system is not answering right now, so no order was placed. The cart "
                "is kept in this conversation; try checkout again in a moment."
            ) from None
        address = state.profile.address if state.profile and state.profile.address else None
        where = f" It goes to {address}." if address else ""
        return f"{order.summary()}{where}"

    return [
        find_food_item,
        get_restaurant_menu,
        get_user_profile,
        add_to_cart,
        remove_from_cart,
        view_cart,
        checkout,
    ]
