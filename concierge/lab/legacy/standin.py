"""`LegacyStandInLLM`: the offline stand-in model, speaking the legacy agent's tools. Not an AI model.

It is `concierge.offline.llm.StandInLLM` (deterministic, menu-aware, real tool calls through the
real `AgentSession`) with one difference in what it calls: the legacy tool names and their
free-text arguments (`item_name="classic cheeseburger"`), and — like many real models given those
tools — one tool call per step, so a five-item order needs five steps. The legacy agent has no
read-back: "checkout" places the order at once, as it did before the migration.
"""

from __future__ import annotations

from ...menu import Catalog
from ...offline.standin import Intent, Plan, PlannedCall, StandInLLM
from ...offline.standin.history import Conversation


class LegacyStandInLLM(StandInLLM):
    """The stand-in model for the legacy agent: legacy tool names, one tool per step."""

    def __init__(self, catalog: Catalog, *, ignore_tool_choice: bool = False) -> None:
        super().__init__(catalog, one_tool_per_step=True, ignore_tool_choice=ignore_tool_choice)

    def plan(self, intent: Intent, conv: Conversation, previous: Intent | None) -> Plan:
        return Plan(tuple(self._calls(intent)))

    def _calls(self, intent: Intent) -> list[PlannedCall]:
        kind = intent.kind
        if kind == "order":
            return [
                PlannedCall(
                    "quick_add_to_cart_tool",
                    {
                        "item_name": self.catalog.items[r.item_id].name if r.item_id else r.phrase,
                        "quantity": r.quantity,
                        "restaurant_name": None,
                        "additional_items": None,
                    },
                )
                for r in intent.items
            ]
        if kind == "view_cart":
            return [PlannedCall("quick_view_cart_tool", {})]
        if kind in ("review", "confirm"):
            return [PlannedCall("quick_checkout_tool", {})]
        if kind == "profile":
            return [PlannedCall("get_user_profile_tool", {"profile_id": None})]
        if kind == "menu" and intent.restaurant_id:
            name = self.catalog.restaurants[intent.restaurant_id].name
            return [PlannedCall("get_restaurant_menu_tool", {"restaurant_name": name})]
        if kind == "search":
            return [
                PlannedCall(
                    "find_food_item_tool",
                    {"query": intent.query or intent.dietary or "", "max_results": 5},
                )
            ]
        return []
