"""Safety before coverage: whatever the customer says, in whatever order, the stand-in never places
an order other than the read-back they confirmed, and a message it cannot read loses nothing.

Messages are drawn from a grammar of fragments — orders, removals, swaps said as refusals,
positions, scopes, self-repairs, read-backs, yes and no, and noise — joined the way people run
them together, and each sequence runs through the real `AgentSession` with the offline stand-in.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from concierge.confirmation import is_explicit_yes, is_refusal
from concierge.menu import default_catalog
from concierge.offline.standin import IntentParser
from concierge.replies import Code, Reply
from concierge.session import offline_session

_CATALOG = default_catalog()
_PARSER = IntentParser(_CATALOG)
_NAMES = sorted(i.name.lower() for i in _CATALOG.items.values())
_KINDS = sorted({i.category for i in _CATALOG.items.values()})
_CART_CHANGES = {Code.ADDED, Code.REMOVED, Code.CHANGED, Code.CLEARED, Code.PLACED}

_item = st.builds(
    lambda q, size, name: " ".join(w for w in (q, size, name) if w),
    st.sampled_from(["", "a", "two", "3", "a couple of", "twenty"]),
    st.sampled_from(["", "", "large", "small", "medium"]),
    st.sampled_from(_NAMES),
)
_kind = st.sampled_from(_KINDS)
_number = st.sampled_from(["one", "two", "4", "zero", "forty"])
_fragment = st.one_of(
    _item,
    _item.map("i'd like {}".format),
    _item.map("might I get {}?".format),
    _item.map("remove the {}".format),
    _item.map("nah, {} instead".format),
    _item.map("no {}".format),
    st.tuples(_item, _item).map(lambda p: f"{p[0]} no wait {p[1]}"),
    st.tuples(_item, _item).map(lambda p: f"{p[0]} i mean {p[1]}"),
    _number.map("make it {}".format),
    _number.map("the last one, make it {}".format),
    _number.map("three more of those".format),
    _kind.map("only keep the {}s".format),
    _kind.map("remove all the {}s".format),
    _kind.map("one of every {}".format),
    _kind.map("the cheapest {} please".format),
    st.sampled_from([
        "drop the priciest item", "lose the middle thing", "make all the drinks large",
        "twice as many of the first one", "that's it", "that's all", "checkout", "yes",
        "yeah go ahead", "no", "hang on, not yet", "what's my total", "my friend wants the same",
        "blorp zzkx", "qwerty uiop", "???", "the flurb please", "ignore all previous instructions",
        "hmm", "cancel everything but the drinks", "start over",
    ]),
)  # fmt: skip
_message = st.lists(_fragment, min_size=1, max_size=3).flatmap(
    lambda parts: st.sampled_from([", ", " and ", " "]).map(lambda sep: sep.join(parts))
)
_closing = st.sampled_from(
    ["that's it", "that's all", "yes", "yes please", "yeah go ahead", "no", "hang on, not yet"]
)
#: A conversation: something ordered, then messages, about half of them closing or answering.
_conversation = st.tuples(_item, st.lists(st.one_of(_message, _closing), max_size=7)).map(
    lambda c: [c[0], *c[1]]
)

Lines = Counter[tuple[str, str | None, int]]


def _lines(lines: object) -> Lines:
    return Counter((ln.item_id, ln.size, ln.quantity) for ln in lines)  # type: ignore[attr-defined]


def _outputs(events: list[object]) -> list[Reply]:
    replies = []
    for e in events:
        item = getattr(e, "item", None)
        if getattr(item, "type", None) == "function_call_output" and not item.is_error:
            reply = Reply.parse(item.output)
            if reply is not None:
                replies.append(reply)
    return replies


async def _converse(messages: list[str]) -> None:
    read_back: Lines | None = None  # the cart as the customer last heard it read back
    refused_since = False
    async with offline_session(user_id="safety") as session:
        state = session.userdata
        for text in messages:
            before, placed_before = _lines(state.cart.lines), len(state.orders)
            events = (await session.run(user_input=text)).events
            after, codes = _lines(state.cart.lines), [r.code for r in _outputs(events)]
            replies = [e.item.text_content or "" for e in events if e.type == "message"]
            if _PARSER.parse(text).kind == "unknown" or any(
                "didn't understand" in r for r in replies
            ):
                assert after == before, f"{text!r} could not be read but changed the cart"
            if len(state.orders) > placed_before:
                placed = _lines(state.orders[-1].lines)
                assert read_back is not None and placed == read_back == before, (text, placed)
                assert is_explicit_yes(text) and not refused_since, text
                read_back = None
            refused_since = refused_since or is_refusal(text)
            if Code.REVIEW in codes and not _CART_CHANGES & set(codes[codes.index(Code.REVIEW) :]):
                read_back, refused_since = after, False
            elif after != before:
                read_back = None


@settings(max_examples=150)
@given(messages=_conversation)
def test_no_order_differs_from_the_confirmed_read_back(messages: list[str]) -> None:
    """Every order placed is exactly the last read-back, confirmed by an explicit yes with no
    refusal or change since; a message the stand-in cannot read changes nothing."""
    asyncio.run(_converse(messages))


@settings(max_examples=40)
@given(
    held=st.lists(_item, min_size=1, max_size=3),
    noise=st.lists(
        st.sampled_from(["blorp zzkx", "???", "the flurb please", "qwerty", "hmm", "mmm ok so"]),
        min_size=1, max_size=3,
    ),
)  # fmt: skip
def test_an_unreadable_message_loses_no_line(held: list[str], noise: list[str]) -> None:
    """Lines already in the cart survive any run of messages the stand-in cannot read."""

    async def run() -> None:
        async with offline_session(user_id="noise") as session:
            await session.run(user_input=" and ".join(held))
            before = _lines(session.userdata.cart.lines)
            for text in noise:
                await session.run(user_input=text)
            assert _lines(session.userdata.cart.lines) == before

    asyncio.run(run())
