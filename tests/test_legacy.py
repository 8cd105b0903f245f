"""Each failure of the legacy agent happens for real, and the migrated agent does not have it."""

from __future__ import annotations

from concierge.doctor.strict_schema import check_tool
from concierge.lab.legacy import demos
from concierge.menu import default_catalog
from concierge.tools import build_tools


def test_strict_schema_fails_only_where_it_should() -> None:
    violations = demos.schema_violations()
    assert [(v.tool, v.rule, v.context) for v in violations] == [
        (
            "quick_add_to_cart_tool",
            "items-without-type",
            ("properties", "additional_items", "items"),
        )
    ]
    assert (
        violations[0]
        .openai_error()
        .startswith("Invalid schema for function 'quick_add_to_cart_tool'")
    )
    for tool in build_tools(default_catalog()):
        assert check_tool(tool) == [], tool.info.name


def test_nullable_defaults_are_what_the_library_really_does() -> None:
    received = {p.arguments: p.received for p in demos.argument_parsing()}
    assert received['{"query": "pizza", "max_results": null}'] == "query='pizza', max_results=5"
    assert received['{"profile_id": "null"}'] == "profile_id='null'"  # the text, not None
    assert any(r.startswith("ToolError") for r in received.values())


async def test_global_state_mixes_carts_and_userdata_does_not() -> None:
    legacy = await demos.shared_cart()
    carts = {user: cart for user, _, cart in legacy.rows}
    assert carts["demo"] == carts["alex"]  # one shared cart
    assert "Falafel Bowl" in carts["demo"] and "Cheeseburger" in carts["alex"]
    migrated = await demos.separate_carts()
    carts = {user: cart for user, _, cart in migrated.rows}
    assert "Falafel Bowl" not in carts["demo"] and "Cheeseburger" not in carts["alex"]


async def test_tool_step_cap() -> None:
    legacy_default, looping, migrated = await demos.tool_step_cap()
    assert legacy_default.max_tool_steps == 3 and legacy_default.tool_choices[-1] == "none"
    assert legacy_default.cart_lines < 5 and "couldn't finish" in legacy_default.reply
    assert (
        looping.reply.startswith("(no reply") and looping.model_calls == legacy_default.model_calls
    )
    assert migrated.cart_lines == 5 and "none" not in migrated.tool_choices


def test_worker_options_are_converted_silently_and_the_cli_warns() -> None:
    seen = demos.worker_options()
    assert seen.alias and seen.converted_type == "AgentServer" and seen.entrypoint_kept
    assert seen.warnings_on_conversion == ()
    assert "built-in Python CLI is deprecated" in seen.cli_warning


async def test_multilingual_model_fails_offline_and_the_new_detector_does_not() -> None:
    tries = {t.attempt: t.outcome for t in await demos.multilingual_model()}
    assert "no job context found" in tries["MultilingualModel() outside a job"]
    assert (
        'Could not find file "languages.json"' in tries["MultilingualModel() inside a job, offline"]
    )
    assert "turn-detector-v1-mini" in tries['inference.TurnDetector(version="v1-mini")']
