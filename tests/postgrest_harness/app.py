"""TEST HARNESS — a PostgREST-compatible HTTP layer over psycopg, for testing supabase-py only.

This is not PostgREST and not for production. No PostgREST binary can be installed on the
machines this project runs on (see docs/supabase.md), so the tests put this small WSGI app in
front of a real PostgreSQL to exercise the real supabase-py client end to end. It does what
PostgREST does for exactly the requests `concierge.store.supabase.SupabaseStore` sends, and
answers anything else with HTTP 501 and a message naming the unsupported feature, so a store
change that needs more cannot pass by accident.

What it reproduces from PostgREST 12 (https://docs.postgrest.org):
  * authentication: `Authorization: Bearer <JWT>` verified with the cluster's HS256 secret; the
    `role` claim becomes `SET LOCAL ROLE`; the claims go into `request.jwt.claims` (what
    `auth.uid()` reads); no token means the anon role; the connection logs in as
    `authenticator`, like PostgREST. Like Supabase's API gateway, an `apikey` header holding a
    valid key is required;
  * one transaction per request, rolled back on error;
  * GET /rest/v1/<table>: `select` (plain column lists), `eq` / `in` filters, `order`,
    `limit`, `offset`; rows built by PostgreSQL's own `json_agg`, as PostgREST does;
  * POST /rest/v1/<table>: insert or upsert (`Prefer: resolution=merge-duplicates` with
    `on_conflict`), a JSON object or an array, `columns`, `Prefer: return=representation|minimal`;
  * POST /rest/v1/rpc/<function>: named arguments from a JSON object; the result as JSON;
  * errors: SQLSTATE mapped to PostgREST's HTTP status and its `{code, message, details, hint}`
    body (42501 is 401 for anon, 403 otherwise; 23505/23503 are 409; P0001 is 400; ...).

Two test-only extras: `log` records every request (method, path, query, `Prefer`, `Accept`) for
the contract test that pins what supabase-py sends, and `faults` injects failures (an error
before or *after* the transaction commits, or a delay) for the failure tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import psycopg
from psycopg import sql

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
API_ROLES = ("anon", "authenticated", "service_role")
JSON_HEADERS = [("Content-Type", "application/json; charset=utf-8")]


class HarnessError(Exception):
    """An HTTP error answer: status plus PostgREST's error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message)
        self.status, self.body = (
            status,
            {"code": code, "message": message, "details": details, "hint": hint},
        )


def unsupported(feature: str) -> HarnessError:
    """The loud refusal for anything the store does not use."""
    return HarnessError(
        501,
        "HARNESS501",
        f"The PostgREST test harness does not implement {feature}.",
        hint="Extend tests/postgrest_harness only together with a store change that needs it.",
    )


# --- JWT ---------------------------------------------------------------------------------------


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jwt(token: str, secret: str) -> dict[str, Any]:
    """The claims of an HS256 token signed with `secret`; HarnessError(401) as PostgREST would."""
    try:
        header_b64, payload_b64, sig_b64 = token.split(".")
        header = json.loads(_b64decode(header_b64))
        claims = json.loads(_b64decode(payload_b64))
        signature = _b64decode(sig_b64)
    except ValueError:
        raise HarnessError(401, "PGRST301", "Expected 3 parts in JWT; got fewer or more") from None
    if header.get("alg") != "HS256":
        raise HarnessError(401, "PGRST301", "Wrong or unsupported encoding algorithm")
    expected = hmac.new(
        secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected, signature):
        raise HarnessError(401, "PGRST301", "JWSError JWSInvalidSignature")
    if "exp" in claims and float(claims["exp"]) < time.time():
        raise HarnessError(401, "PGRST303", "JWT expired")
    return claims


# --- SQLSTATE -> HTTP, per PostgREST's error table -------------------------------------------------

_EXACT = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "42883": 404,
    "42P01": 404,
    "42P17": 500,
    "P0001": 400,
}
_BY_CLASS = {
    "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500,
    "39": 500, "3B": 500, "40": 500, "53": 503, "54": 413, "55": 500, "57": 500, "58": 500,
    "F0": 500, "HV": 500, "P0": 500, "XX": 500,
}  # fmt: skip


def http_status(sqlstate: str, role: str) -> int:
    if sqlstate == "42501":
        return 401 if role == "anon" else 403
    return _EXACT.get(sqlstate) or _BY_CLASS.get(sqlstate[:2], 400)


# --- test-only extras ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """What the client sent, in the terms the contract test pins."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    prefer: str | None
    accept: str | None
    profile: str | None  # Accept-Profile (reads) or Content-Profile (writes): the schema
    role: str | None


@dataclass
class Fault:
    """One injected failure for requests whose `METHOD path` starts with `match`.

    `when="before"`: answer `status` without touching the database (the request never ran).
    `when="after"`: run and commit the request, then answer `status` (the answer was lost).
    `delay`: seconds to wait before handling (with a short client timeout: a real timeout).
    `times`: how many requests it hits; then it is spent.
    """

    match: str
    status: int = 503
    when: str = "before"
    delay: float = 0.0
    times: int = 1
    hits: int = 0


@dataclass
class Faults:
    """The harness's fault list; thread-safe, consumed in order."""

    _items: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, match: str, **kwargs: Any) -> Fault:
        fault = Fault(match, **kwargs)
        with self._lock:
            self._items.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def take(self, method: str, path: str) -> Fault | None:
        key = f"{method} {path}"
        with self._lock:
            for fault in self._items:
                if fault.hits < fault.times and key.startswith(fault.match):
                    fault.hits += 1
                    return fault
        return None


# --- the app --------------------------------------------------------------------------------------


class PostgrestHarness:
    """The WSGI app. `dsn` must log in as `authenticator` (see concierge/data/supabase/bootstrap.sql)."""

    def __init__(self, dsn: str, jwt_secret: str, schema: str = "public") -> None:
        self.dsn, self.jwt_secret, self.schema = dsn, jwt_secret, schema
        self.log: list[RecordedRequest] = []
        self.faults = Faults()

    # WSGI entry point
    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = unquote(environ.get("PATH_INFO", ""))
        query = tuple(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        role: str | None = None
        fault = self.faults.take(method, path)
        try:
            if fault and fault.delay:
                time.sleep(fault.delay)
            claims = self._authenticate(headers)
            role = claims["role"]
            self.log.append(
                RecordedRequest(
                    method,
                    path,
                    query,
                    headers.get("prefer"),
                    headers.get("accept"),
                    headers.get("content-profile") or headers.get("accept-profile"),
                    role,
                )
            )
            if fault and fault.when == "before" and fault.status:
                raise HarnessError(
                    fault.status, "HARNESS_FAULT", "Injected failure (before the transaction)."
                )
            status, extra, payload = self._handle(method, path, query, headers, body, claims)
            if fault and fault.when == "after" and fault.status:
                raise HarnessError(
                    fault.status, "HARNESS_FAULT", "Injected failure (after the commit)."
                )
        except HarnessError as e:
            status, extra, payload = e.status, [], json.dumps(e.body).encode()
        start_response(f"{status} {_REASONS.get(status, 'Status')}", JSON_HEADERS + extra)
        return [payload]

    def _authenticate(self, headers: dict[str, str]) -> dict[str, Any]:
        apikey = headers.get("apikey")
        if not apikey:
            raise HarnessError(
                401, "HARNESS401", "No API key found in request", hint="Send the apikey header."
            )
        verify_jwt(apikey, self.jwt_secret)
        auth = headers.get("authorization", "")
        if not auth:
            return {"role": "anon"}
        if not auth.lower().startswith("bearer "):
            raise HarnessError(401, "PGRST301", "Authorization header must be 'Bearer <JWT>'")
        claims = verify_jwt(auth[7:].strip(), self.jwt_secret)
        if claims.get("role") not in API_ROLES:
            raise HarnessError(
                401, "PGRST301", f"JWT role {claims.get('role')!r} is not an API role"
            )
        return claims

    def _handle(
        self, method: str, path: str, query: tuple[tuple[str, str], ...], headers: dict[str, str],
        body: bytes, claims: dict[str, Any],
    ) -> tuple[int, list[tuple[str, str]], bytes]:  # fmt: skip
        parts = path.strip("/").split("/")
        if parts[:2] != ["rest", "v1"] or len(parts) not in (3, 4):
            raise unsupported(f"the path {path!r} (only /rest/v1/<table> and /rest/v1/rpc/<fn>)")
        if headers.get("accept", "").startswith("application/vnd.pgrst"):
            raise unsupported(f"Accept: {headers['accept']} (single-object responses)")
        prefer = _prefer(headers.get("prefer"))
        if "count" in prefer:
            raise unsupported("Prefer: count=… (counting)")
        is_rpc = len(parts) == 4 and parts[2] == "rpc"
        if len(parts) == 4 and not is_rpc:
            raise unsupported(f"the path {path!r}")
        name = parts[3] if is_rpc else parts[2]
        if not IDENT.match(name):
            raise HarnessError(400, "HARNESS400", f"Bad table or function name {name!r}")
        if is_rpc:
            if method != "POST":
                raise unsupported(f"{method} on /rpc (only POST)")
            if query:
                raise unsupported("filters on an rpc result")
            return self._transaction(claims, lambda cur: self._rpc(cur, name, _json_body(body)))
        if method == "GET":
            return self._transaction(claims, lambda cur: self._select(cur, name, query))
        if method == "POST":
            return self._transaction(
                claims, lambda cur: self._insert(cur, name, query, prefer, _json_body(body))
            )
        raise unsupported(f"{method} requests (the store never updates or deletes through tables)")

    def _transaction(
        self,
        claims: dict[str, Any],
        work: Callable[[psycopg.Cursor[Any]], tuple[int, list[tuple[str, str]], bytes]],
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        role = claims["role"]
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as e:
            raise HarnessError(
                503, "PGRST001", "Database client error. Retrying the connection.", str(e)
            ) from None
        try:
            with conn, conn.transaction(), conn.cursor() as cur:
                cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                cur.execute(
                    "SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),)
                )
                cur.execute("SELECT set_config('search_path', %s, true)", (self.schema,))
                return work(cur)
        except psycopg.Error as e:
            diag = e.diag
            state = diag.sqlstate or "XX000"
            raise HarnessError(
                http_status(state, role),
                state,
                diag.message_primary or str(e),
                diag.message_detail,
                diag.message_hint,
            ) from None

    # --- GET -------------------------------------------------------------------------------------

    def _select(self, cur: psycopg.Cursor[Any], table: str, query: tuple[tuple[str, str], ...]):
        columns: sql.Composable = sql.SQL("*")
        where: list[sql.Composable] = []
        params: list[Any] = []
        order: list[sql.Composable] = []
        limit = offset = None
        for key, value in query:
            if key == "select":
                columns = _column_list(value)
            elif key == "order":
                order = [_order_term(term) for term in value.split(",")]
            elif key == "limit":
                limit = _non_negative(key, value)
            elif key == "offset":
                offset = _non_negative(key, value)
            else:
                clause, values = _filter(key, value)
                where.append(clause)
                params.extend(values)
        stmt = sql.SQL("SELECT {} FROM {}.{}").format(
            columns, sql.Identifier(self.schema), sql.Identifier(table)
        )
        if where:
            stmt += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
        if order:
            stmt += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(order)
        if limit is not None:
            stmt += sql.SQL(" LIMIT {}").format(sql.Literal(limit))
        if offset is not None:
            stmt += sql.SQL(" OFFSET {}").format(sql.Literal(offset))
        cur.execute(
            sql.SQL("SELECT coalesce(json_agg(_r), '[]')::text, count(*) FROM ({}) _r").format(
                stmt
            ),
            params,
        )
        text, n = _one(cur)
        last = f"{(offset or 0) + n - 1}" if n else ""
        content_range = f"{offset or 0}-{last}/*" if n else "*/*"
        return 200, [("Content-Range", content_range)], text.encode()

    # --- POST (insert / upsert) ----------------------------------------------------------------

    def _insert(
        self, cur: psycopg.Cursor[Any], table: str, query, prefer: dict[str, str], body: Any
    ):
        rows = body if isinstance(body, list) else [body]
        if not rows or not all(isinstance(r, dict) for r in rows):
            raise HarnessError(
                400, "PGRST102", "Expected a JSON object or a non-empty array of objects"
            )
        params = dict(query)
        unknown = set(params) - {"on_conflict", "columns"}
        if unknown:
            raise unsupported(f"the insert parameters {sorted(unknown)}")
        cols = _insert_columns(params.get("columns"), rows)
        if prefer.get("missing") == "default":
            raise unsupported("Prefer: missing=default")
        target = sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))
        col_ids = sql.SQL(", ").join(map(sql.Identifier, cols))
        stmt = sql.SQL(
            "INSERT INTO {t} ({c}) SELECT {c} FROM json_populate_recordset(NULL::{t}, %s::json)"
        ).format(t=target, c=col_ids)
        stmt += _on_conflict(params.get("on_conflict"), prefer.get("resolution"), cols)
        returning = prefer.get("return", "minimal")
        if returning == "representation":
            cur.execute(
                sql.SQL(
                    "WITH _ins AS ({} RETURNING *) SELECT coalesce(json_agg(_ins), '[]')::text FROM _ins"
                ).format(stmt),
                (json.dumps(rows),),
            )
            return 201, [], _one(cur)[0].encode()
        if returning == "minimal":
            cur.execute(stmt, (json.dumps(rows),))
            return 201, [], b""
        raise unsupported(f"Prefer: return={returning}")

    # --- POST /rpc -------------------------------------------------------------------------------

    def _rpc(self, cur: psycopg.Cursor[Any], name: str, args: Any):
        if not isinstance(args, dict):
            raise HarnessError(400, "PGRST102", "rpc arguments must be a JSON object")
        cur.execute(
            """SELECT p.proargnames, array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t),
                      format_type(p.prorettype, NULL)
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = %s AND p.proname = %s""",
            (self.schema, name),
        )
        candidates = [r for r in cur.fetchall() if set(r[0] or ()) == set(args)]
        if len(candidates) != 1:
            raise HarnessError(
                404,
                "PGRST202",
                f"Could not find the function {self.schema}.{name}({', '.join(sorted(args))}) in the schema cache",
            )
        names, types, returns = candidates[0]
        if not names:
            call = sql.SQL("SELECT to_json({}.{}())::text").format(
                sql.Identifier(self.schema), sql.Identifier(name)
            )
            cur.execute(call)
        else:
            record = sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t))
                for n, t in zip(names, types, strict=True)
            )
            named = sql.SQL(", ").join(
                sql.SQL("{0} := _a.{0}").format(sql.Identifier(n)) for n in names
            )
            call = sql.SQL(
                "SELECT to_json({}.{}({}))::text FROM json_to_record(%s::json) AS _a({})"
            ).format(sql.Identifier(self.schema), sql.Identifier(name), named, record)
            cur.execute(call, (json.dumps(args),))
        value = _one(cur)[0]
        if returns == "void":
            return 204, [], b""
        return 200, [], (value if value is not None else "null").encode()


# --- parsing helpers ------------------------------------------------------------------------------


def _one(cur: psycopg.Cursor[Any]) -> Any:
    row = cur.fetchone()
    assert row is not None, "an aggregate query always returns one row"
    return row


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise HarnessError(400, "PGRST102", "Empty or invalid json") from None


def _prefer(header: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key:
            out[key] = value
    return out


def _column_list(value: str) -> sql.Composable:
    if value == "*":
        return sql.SQL("*")
    cols = [c.strip() for c in value.split(",")]
    if not all(IDENT.match(c) for c in cols):
        raise unsupported(
            f"the select {value!r} (only * or plain column names: no embedding, aliases or casts)"
        )
    return sql.SQL(", ").join(map(sql.Identifier, cols))


def _order_term(term: str) -> sql.Composable:
    col, _, direction = term.partition(".")
    if not IDENT.match(col) or direction not in ("", "asc", "desc"):
        raise unsupported(f"the order term {term!r} (only column[.asc|.desc])")
    return sql.SQL("{} {}").format(
        sql.Identifier(col), sql.SQL("DESC" if direction == "desc" else "ASC")
    )


def _in_list(arg: str) -> list[str]:
    if not (arg.startswith("(") and arg.endswith(")")):
        raise HarnessError(400, "PGRST100", f"in. needs a parenthesised list, got {arg!r}")
    items, current, quoted = [], "", False
    for ch in arg[1:-1]:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    return [i for i in items if i != ""]


def _filter(key: str, value: str) -> tuple[sql.Composable, list[Any]]:
    """One `column=op.arg` filter as a WHERE clause and its parameters (eq and in only)."""
    if key in ("or", "and", "not") or not IDENT.match(key):
        raise unsupported(f"the query parameter {key!r}")
    op, _, arg = value.partition(".")
    if op == "eq":
        return sql.SQL("{} = %s").format(sql.Identifier(key)), [arg]
    if op == "in":
        values = _in_list(arg)
        placeholders = sql.SQL(", ").join([sql.Placeholder()] * len(values))
        return sql.SQL("{} IN ({})").format(sql.Identifier(key), placeholders), list(values)
    raise unsupported(f"the filter operator {op!r} (only eq and in)")


def _insert_columns(columns: str | None, rows: list[dict[str, Any]]) -> list[str]:
    """The `columns=` parameter, or the rows' keys (which must then all match)."""
    if columns is not None:
        cols = [c.strip().strip('"') for c in columns.split(",")]
    else:
        cols = list(rows[0])
        if any(set(r) != set(cols) for r in rows):
            raise HarnessError(400, "PGRST102", "All object keys must match")
    if not all(IDENT.match(c) for c in cols):
        raise HarnessError(400, "HARNESS400", f"Bad column list {cols}")
    return cols


def _on_conflict(
    on_conflict: str | None, resolution: str | None, cols: list[str]
) -> sql.Composable:
    """The upsert clause for `Prefer: resolution=…` with `on_conflict=…` (empty for a plain insert)."""
    if not resolution:
        if on_conflict is not None:
            raise unsupported("on_conflict without Prefer: resolution")
        return sql.SQL("")
    if on_conflict is None:
        raise unsupported("upsert without on_conflict (primary-key discovery)")
    keys = [k.strip() for k in on_conflict.split(",")]
    if not all(IDENT.match(k) for k in keys):
        raise HarnessError(400, "HARNESS400", f"Bad on_conflict {keys}")
    conflict = sql.SQL(" ON CONFLICT ({})").format(sql.SQL(", ").join(map(sql.Identifier, keys)))
    if resolution == "merge-duplicates":
        updates = [
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in cols if c not in keys
        ]
        return conflict + sql.SQL(" DO UPDATE SET ") + sql.SQL(", ").join(updates)
    if resolution == "ignore-duplicates":
        return conflict + sql.SQL(" DO NOTHING")
    raise HarnessError(400, "PGRST100", f"Unknown resolution {resolution!r}")


def _non_negative(key: str, value: str) -> int:
    if not value.isdigit():
        raise HarnessError(400, "PGRST100", f"{key} must be a non-negative integer, got {value!r}")
    return int(value)


_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    409: "Conflict", 413: "Payload Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip
