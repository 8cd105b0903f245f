"""The stand-in only sends arguments its tools' strict schemas accept.

A real model constrained by strict mode cannot send an argument outside the schema; the stand-in
holds itself to the same rule by checking each planned call against the schema livekit would send
to OpenAI (built once per tool). The check covers what strict schemas use: required properties,
no extra ones, types, enums and numeric bounds.
"""

from __future__ import annotations

import weakref
from typing import Any

from livekit.agents import llm
from livekit.agents.llm.utils import build_strict_openai_schema

#: Strict schemas by the tool's function: a method tool is re-bound for every agent, and the
#: menu-id tools are shared by every session of a catalog, so the function is the stable key.
_schema_cache: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def tool_schema(tool: llm.FunctionTool) -> dict[str, Any]:
    """The strict parameter schema livekit would send to OpenAI for `tool` (built once)."""
    key = getattr(tool, "_func", tool)
    schema = _schema_cache.get(key)
    if schema is None:
        schema = build_strict_openai_schema(tool)["function"]["parameters"]
        _schema_cache[key] = schema
    return schema


def is_valid(name: str, arguments: dict[str, Any] | str, tools: list[llm.Tool]) -> bool:
    """Whether `name` is an offered tool and `arguments` validate against its strict schema."""
    tool = next((t for t in tools if isinstance(t, llm.FunctionTool) and t.info.name == name), None)
    return (
        tool is not None
        and isinstance(arguments, dict)
        and not schema_errors(tool_schema(tool), arguments)
    )


def schema_errors(schema: dict[str, Any], args: dict[str, Any]) -> list[str]:
    """The ways `args` breaks `schema`."""
    props: dict[str, Any] = schema.get("properties", {})
    errors = [f"missing {name}" for name in schema.get("required", []) if name not in args]
    for name, value in args.items():
        prop = props.get(name)
        if prop is None:
            if schema.get("additionalProperties") is False:
                errors.append(f"unexpected {name}")
            continue
        errors.extend(f"{name}: {e}" for e in _value_errors(prop, value))
    return errors


def _value_errors(prop: dict[str, Any], value: Any) -> list[str]:
    types = prop.get("type")
    types = [types] if isinstance(types, str) else types or []
    errors = []
    if types and not any(_type_ok(value, t) for t in types):
        errors.append(f"{value!r} is not {types}")
    if "enum" in prop and value not in prop["enum"]:
        errors.append(f"{value!r} not in enum")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in prop and value < prop["minimum"]:
            errors.append(f"{value!r} below {prop['minimum']}")
        if "maximum" in prop and value > prop["maximum"]:
            errors.append(f"{value!r} above {prop['maximum']}")
    return errors


def _type_ok(value: Any, t: str) -> bool:
    return {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(t, False)
