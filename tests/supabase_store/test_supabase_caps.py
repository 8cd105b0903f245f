"""The schema's caps are the domain's: for any request, the database's `cart_request` refuses
exactly when `check_cart_limits` does, with the same sentence (Hypothesis, on real PostgreSQL).

The store contract tests show a few caps end to end on both stores; this covers the space in
between (counts around 50, quantities piling up across lines, notes with control characters
and around 200 characters) without HTTP in the way.
"""

from __future__ import annotations

import json

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from concierge.cart import MAX_LINES, MAX_NOTES, CartLimitError, CartLine, check_cart_limits
from concierge.lab.local_postgres import LocalPostgres

# Any character PostgreSQL text can hold: no NUL (jsonb refuses "\u0000" itself), no surrogates.
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
NOTES = st.one_of(
    st.sampled_from(["", "no ice", "x" * MAX_NOTES, "é" * (MAX_NOTES + 1)]),
    st.text(CHARS, max_size=MAX_NOTES + 5),
)
LINE = st.builds(
    lambda item, qty, notes: CartLine(item, item, "r", "R", None, qty, 100, notes),
    st.sampled_from(["coke", "fries", "churros"]),
    st.integers(-1, 22),
    NOTES,
)
LINES = st.one_of(
    st.lists(LINE, max_size=8),
    st.integers(MAX_LINES - 1, MAX_LINES + 2).flatmap(
        lambda n: st.lists(LINE, min_size=n, max_size=n)
    ),
)


@pytest.fixture(scope="module")
def conn(pg: LocalPostgres):
    with psycopg.connect(pg.dsn(), autocommit=True) as c:
        yield c


def _database_says(conn: psycopg.Connection, lines: list[CartLine]) -> str | None:
    request = [
        {"item_id": ln.item_id, "size": ln.size, "quantity": ln.quantity, "notes": ln.notes}
        for ln in lines
    ]
    try:
        conn.execute("select concierge_private.cart_request(%s::jsonb)", [json.dumps(request)])
    except psycopg.Error as e:
        assert e.diag.sqlstate in ("54000", "23514"), e
        return e.diag.message_primary
    return None


def _domain_says(lines: list[CartLine]) -> str | None:
    try:
        check_cart_limits(lines)
    except CartLimitError as e:
        return str(e)
    return None


@settings(max_examples=150)
@given(lines=LINES)
def test_the_database_and_the_domain_refuse_the_same_requests_alike(
    conn: psycopg.Connection, lines: list[CartLine]
) -> None:
    assert _database_says(conn, lines) == _domain_says(lines)
