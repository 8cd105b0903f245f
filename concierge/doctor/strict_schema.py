"""Check a tool's JSON schema against OpenAI's strict function-calling rules, offline.

OpenAI validates a strict tool schema when the request arrives and answers HTTP 400 if it breaks
the rules of its documented subset ("Structured Outputs → Supported schemas",
platform.openai.com/docs/guides/structured-outputs#supported-schemas):

- every object lists *all* its properties in `required` and sets `additionalProperties: false`;
- every schema says what it is: a `type` (string, number, integer, boolean, object, array,
  null), an `enum`/`const`, an `anyOf`, or a `$ref` — including the `items` of an array;
- only a subset of JSON Schema keywords is supported; e.g. `default`, `allOf`, `not`,
  `if`/`then`/`else`, `patternProperties` are rejected.

Without a key we cannot ask OpenAI, so `openai_error()` *reproduces* the error text it returns
for each rule (the shape "Invalid schema for function 'f': In context=(...), …"), and the lab says
it is reproduced, not received. `check_tool()` runs the pinned library's own
`build_strict_openai_schema` first, so what is checked is exactly what livekit would send.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from livekit.agents import llm
from livekit.agents.llm.utils import build_strict_openai_schema

OPENAI_RULES_URL = "https://platform.openai.com/docs/guides/structured-outputs#supported-schemas"
TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}
UNSUPPORTED_KEYWORDS = {
    "default", "allOf", "not", "if", "then", "else", "patternProperties",
    "unevaluatedProperties", "unevaluatedItems", "propertyNames", "minProperties",
    "maxProperties", "dependentRequired", "dependentSchemas", "contains", "minContains",
    "maxContains", "uniqueItems",
}  # fmt: skip


@dataclass(frozen=True)
class Violation:
    """One way a schema breaks the strict rules; `context` is the path OpenAI would report."""

    tool: str
    context: tuple[str, ...]
    rule: str  # missing-type | items-without-type | not-required | additional-properties | unsupported-keyword
    detail: str

    def openai_error(self) -> str:
        """The 400 error text OpenAI returns for this violation (reproduced, not received)."""
        return (
            f"Invalid schema for function '{self.tool}': In context={self.context!r}, {self.detail}"
        )


def strict_parameters(tool: llm.FunctionTool) -> dict[str, Any]:
    """The `parameters` schema livekit sends for `tool` in strict mode."""
    return build_strict_openai_schema(tool)["function"]["parameters"]  # type: ignore[no-any-return]


def check_tool(tool: llm.FunctionTool) -> list[Violation]:
    """Every strict-mode violation in `tool`'s schema as the pinned library builds it."""
    return check_schema(tool.info.name, strict_parameters(tool))


def check_schema(tool: str, schema: dict[str, Any]) -> list[Violation]:
    """Every strict-mode violation in a function's `parameters` schema."""
    return list(_walk(tool, schema, ()))


def _walk(tool: str, node: Any, ctx: tuple[str, ...]) -> Iterator[Violation]:
    if not isinstance(node, dict):
        return
    for keyword in sorted(UNSUPPORTED_KEYWORDS & node.keys()):
        yield Violation(tool, ctx, "unsupported-keyword", f"'{keyword}' is not permitted.")
    described = {"type", "enum", "const", "anyOf", "$ref"} & node.keys()
    if not described:
        rule = "items-without-type" if ctx and ctx[-1] == "items" else "missing-type"
        yield Violation(tool, ctx, rule, "schema must have a 'type' key.")
    types = node.get("type")
    types = {types} if isinstance(types, str) else set(types or ())
    if "object" in types or "properties" in node:
        props: dict[str, Any] = node.get("properties", {})
        missing = [p for p in props if p not in node.get("required", [])]
        if missing:
            yield Violation(
                tool, ctx, "not-required",
                "'required' is required to be supplied and to be an array including every key "
                f"in properties. Missing '{missing[0]}'.",
            )  # fmt: skip
        if node.get("additionalProperties") is not False:
            yield Violation(
                tool, ctx, "additional-properties",
                "'additionalProperties' is required to be supplied and to be false.",
            )  # fmt: skip
        for name, sub in props.items():
            yield from _walk(tool, sub, (*ctx, "properties", name))
    if "array" in types:
        if "items" not in node:
            yield Violation(tool, ctx, "items-without-type", "array schema missing items.")
        else:
            yield from _walk(tool, node["items"], (*ctx, "items"))
    for i, sub in enumerate(node.get("anyOf", ())):
        yield from _walk(tool, sub, (*ctx, "anyOf", str(i)))
    for name, sub in node.get("$defs", {}).items():
        yield from _walk(tool, sub, (*ctx, "$defs", name))
