"""The production store: Supabase (PostgreSQL behind PostgREST) through supabase-py's async client.

Selected with `CONCIERGE_STORE=supabase` plus `SUPABASE_URL` and a key (see `from_env`). The
schema, row-level security and the functions it calls live in data/supabase/migrations; a
user's token can only ever reach that user's profile, cart and orders, whatever this code does.

Every call is one HTTP request (or a few independent reads), and each is idempotent by design:

* reads (`load_catalog`, `get_profile`, `load_cart`, `find_order`, `list_orders`) change nothing;
* `save_cart` is a compare-and-set on the cart's revision (the `save_cart` function): a retry of
  a save that went through finds the revision moved and reports a conflict, never a double write;
* `checkout` calls the `checkout` function, which creates at most one order per checkout key
  (the cart's id, revision and contents): a retried call returns that same order;
* `seed` upserts, then retires the items the menu no longer lists.

That is what makes retrying every call safe. Transient failures (connection refused or reset, a
timeout, an HTTP 5xx) are retried a bounded number of times with jittered exponential backoff
(tenacity); when they persist the call raises `StoreUnavailableError`. A 4xx answer is not
transient: a refused or expired token is `StoreAuthError`, anything else (a row-level-security
refusal, a line the database rejects) `StoreError`. The errors carry facts, not sentences: the
agent's tools word them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar, cast

import httpx
from postgrest.exceptions import APIError
from supabase import AsyncClient, AsyncClientOptions
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from ..cart import Cart, CartError, CartLimitError, CartLine, Order
from ..menu import Catalog, MenuItem, Restaurant
from .base import (
    CartConflictError,
    ItemsUnavailableError,
    Profile,
    SeedData,
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
)

T = TypeVar("T")

ENV_URL = "SUPABASE_URL"
ENV_ANON_KEY = "SUPABASE_ANON_KEY"
ENV_USER_JWT = "SUPABASE_USER_JWT"
ENV_SERVICE_ROLE_KEY = "SUPABASE_SERVICE_ROLE_KEY"

RESTAURANT_COLUMNS = "id,name,cuisine,aliases"
ITEM_COLUMNS = "id,restaurant_id,name,category,price_cents,tags,retired_at"
SIZE_COLUMNS = "item_id,size,price_cents"
PROFILE_COLUMNS = "id,handle,name,dietary,address"
ORDER_COLUMNS = "id,user_id,cart_id,total_cents,created_at,checkout_key"
ORDER_LINE_COLUMNS = "order_id,position,item_id,name,restaurant_id,restaurant_name,size,quantity,unit_price_cents,notes"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before telling the user the store is down.

    The defaults keep the worst case for a voice turn bounded: 3 attempts of at most `timeout`
    seconds each, waiting 0.25 s then 0.5 s between them, plus up to 0.25 s of random jitter
    (so many agents hitting a recovering project do not retry in lockstep).
    """

    attempts: int = 3
    timeout: float = 5.0
    initial_wait: float = 0.25
    max_wait: float = 2.0


class _ServerFailure(Exception):
    """An HTTP 5xx answer, raised from the HTTP client's response hook so it can be retried."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status


async def _raise_on_5xx(response: httpx.Response) -> None:
    if response.status_code >= 500:
        raise _ServerFailure(response.status_code, str(response.url.path))


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, (_ServerFailure, httpx.TransportError))


def _as_uuid(user_id: str) -> str:
    try:
        return str(uuid.UUID(str(user_id)))
    except ValueError:
        raise StoreError(
            f"Supabase identifies users by their auth id (a UUID), not {user_id!r}: "
            "look the user up with get_profile(handle) and use profile.id."
        ) from None


class SupabaseStore:
    """`Store` on a Supabase project (or anything that speaks PostgREST like one).

    Build it with `connect(url, key, user_jwt=...)` or `from_env()`. With a user's access token
    every request runs as that user under row-level security; with the service-role key (trusted
    servers, the seed command) it runs as `service_role`, which bypasses it.
    """

    def __init__(self, client: AsyncClient, http: httpx.AsyncClient, *, url: str, acting_as: str,
                 retry: RetryPolicy) -> None:  # fmt: skip
        self._client = client
        self._http = http
        self._retry = retry
        self._catalog: Catalog | None = None
        self.url = url
        self.acting_as = acting_as
        self.description = f"supabase {url} ({acting_as})"

    # --- construction -------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str,
        key: str,
        *,
        user_jwt: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> SupabaseStore:
        """A store talking to `url` with API key `key` (anon or service role), optionally on
        behalf of the user whose access token is `user_jwt`. Opens no connection yet."""
        retry = retry or RetryPolicy()
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(retry.timeout),
            follow_redirects=True,
            event_hooks={"response": [_raise_on_5xx]},
        )
        options = AsyncClientOptions(
            httpx_client=http,
            postgrest_client_retry=False,  # one retry policy, ours: bounded and for all methods
            auto_refresh_token=False,
            persist_session=False,
        )
        if user_jwt:  # requests then run as this user; the key only identifies the project
            options.headers["Authorization"] = f"Bearer {user_jwt}"
        try:
            client = AsyncClient(url, key, options)
        except Exception as e:  # supabase-py raises SupabaseException for a malformed URL/key
            await http.aclose()
            raise StoreError(f"Cannot use the Supabase settings: {e}") from e
        acting_as = "user token" if user_jwt else "API key"
        return cls(client, http, url=url.rstrip("/"), acting_as=acting_as, retry=retry)

    @classmethod
    async def from_env(
        cls, env: Mapping[str, str] | None = None, *, service_role: bool = False
    ) -> SupabaseStore:
        """The store `CONCIERGE_STORE=supabase` selects, from environment variables.

        `SUPABASE_URL` plus either `SUPABASE_ANON_KEY` and `SUPABASE_USER_JWT` (a signed-in user:
        row-level security applies) or `SUPABASE_SERVICE_ROLE_KEY` (a trusted server). The seed
        command passes `service_role=True`, because only the service role may write the menu.
        """
        env = os.environ if env is None else env
        url = env.get(ENV_URL, "").strip()
        anon = env.get(ENV_ANON_KEY, "").strip()
        user_jwt = env.get(ENV_USER_JWT, "").strip()
        service = env.get(ENV_SERVICE_ROLE_KEY, "").strip()
        if not url:
            raise StoreError(
                f"CONCIERGE_STORE=supabase needs {ENV_URL} (your project's URL, e.g. "
                "https://abcd.supabase.co) and a key; see docs/supabase.md."
            )
        if service_role:
            if not service:
                raise StoreError(
                    f"Seeding Supabase needs {ENV_SERVICE_ROLE_KEY} (Project Settings → API)."
                )
            return await cls.connect(url, service)
        if anon and user_jwt:
            return await cls.connect(url, anon, user_jwt=user_jwt)
        if service:
            return await cls.connect(url, service)
        raise StoreError(
            f"{ENV_URL} is set but no usable key: set {ENV_ANON_KEY} and {ENV_USER_JWT} (a "
            f"signed-in user's access token), or {ENV_SERVICE_ROLE_KEY} on a trusted server. "
            "The anon key alone can read the menu but no cart."
        )

    # --- the retry/translation wrapper --------------------------------------------------------

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        """Run `op`, retrying transient failures (every call is idempotent); type the errors.

        `what` names the operation in error messages ("load_cart"), for logs.
        """
        attempts = self._retry.attempts
        reached = False  # did any attempt possibly reach the database?
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self._retry.initial_wait, max=self._retry.max_wait)
            + wait_random(0, self._retry.initial_wait),
            retry=retry_if_exception(_is_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    try:
                        return await op()
                    except (_ServerFailure, httpx.TransportError) as e:
                        reached |= not isinstance(e, httpx.ConnectError)
                        raise
        except (_ServerFailure, httpx.TransportError) as e:
            reason = _reason(e)
            raise StoreUnavailableError(
                f"Supabase {what}: {reason} (after {attempts} tries)",
                reason=reason,
                attempts=attempts,
                maybe_applied=reached,
            ) from e
        except APIError as e:
            raise _refusal(what, e) from e
        raise AssertionError("tenacity returns or raises")  # pragma: no cover

    # --- menu and profiles --------------------------------------------------------------------

    async def load_catalog(self) -> Catalog:
        """The menu, read once per store and then cached (sessions start without extra calls)."""
        if self._catalog is None:
            self._catalog = await self._call("load_catalog", self._fetch_catalog)
        return self._catalog

    async def _fetch_catalog(self) -> Catalog:
        pg = self._client.postgrest
        restaurants, items, sizes = await asyncio.gather(
            pg.table("restaurants").select(RESTAURANT_COLUMNS).order("sort_order").execute(),
            pg.table("menu_items").select(ITEM_COLUMNS).order("sort_order").execute(),
            pg.table("menu_item_sizes").select(SIZE_COLUMNS).execute(),
        )
        item_rows = _rows(items.data)
        if not item_rows:
            raise StoreError("The Supabase store has no menu yet: run `python -m concierge seed`.")
        by_item: dict[str, dict[str, int]] = {}
        for row in _rows(sizes.data):
            by_item.setdefault(row["item_id"], {})[row["size"]] = row["price_cents"]
        return Catalog(
            [
                Restaurant(r["id"], r["name"], r["cuisine"], tuple(r["aliases"]))
                for r in _rows(restaurants.data)
            ],
            [
                MenuItem(
                    id=r["id"],
                    restaurant_id=r["restaurant_id"],
                    name=r["name"],
                    category=r["category"],
                    price_cents=r["price_cents"],
                    size_prices=by_item.get(r["id"], {}),
                    tags=frozenset(r["tags"]),
                )
                for r in item_rows
                if r.get("retired_at") is None
            ],
        )

    async def get_profile(self, user: str) -> Profile | None:
        """By auth id (a UUID) or by handle ("demo"). A user's token sees only their own."""
        try:
            column, value = "id", str(uuid.UUID(user))
        except ValueError:
            column, value = "handle", user

        async def op() -> Profile | None:
            res = await (
                self._client.table("profiles")
                .select(PROFILE_COLUMNS)
                .eq(column, value)
                .limit(1)
                .execute()
            )
            found = _rows(res.data)
            if not found:
                return None
            r = found[0]
            return Profile(r["id"], r["name"], r["handle"] or "", tuple(r["dietary"]), r["address"])

        return await self._call("get_profile", op)

    async def seed(self, data: SeedData) -> None:
        """Upsert the menu and the profiles (service role only; carts and orders are kept)."""
        cat = data.catalog
        restaurants = [
            {
                "id": r.id,
                "name": r.name,
                "cuisine": r.cuisine,
                "aliases": list(r.aliases),
                "sort_order": i,
            }
            for i, r in enumerate(cat.restaurants.values())
        ]
        items = [
            {
                "id": it.id,
                "restaurant_id": it.restaurant_id,
                "name": it.name,
                "category": it.category,
                "price_cents": it.price_cents,
                "tags": sorted(it.tags),
                "sort_order": i,
                "retired_at": None,
            }
            for i, it in enumerate(cat.items.values())
        ]
        sizes = [
            {"item_id": it.id, "size": s, "price_cents": it.size_prices[s]}
            for it in cat.items.values()
            for s in it.sizes
        ]
        profiles = [
            {
                "id": p.id,
                "handle": p.handle or None,
                "name": p.name,
                "dietary": list(p.dietary),
                "address": p.address,
            }
            for p in data.profiles
        ]

        async def op() -> None:
            for table, rows, key in (
                ("restaurants", restaurants, "id"),
                ("menu_items", items, "id"),
                ("menu_item_sizes", sizes, "item_id,size"),
                ("profiles", profiles, "id"),
            ):
                if rows:
                    await (
                        self._client.table(table)
                        .upsert(rows, on_conflict=key, returning="minimal")  # type: ignore[arg-type]
                        .execute()
                    )
            await self._client.rpc("retire_menu_items", {"p_keep": list(cat.items)}).execute()

        await self._call("seed", op)
        self._catalog = None

    # --- carts and orders ---------------------------------------------------------------------

    async def load_cart(self, user_id: str) -> Cart:
        uid = _as_uuid(user_id)

        async def op() -> Cart:
            res = await self._client.rpc("load_cart", {"p_user_id": uid}).execute()
            return _cart(user_id, res.data)

        return await self._call("load_cart", op)

    async def save_cart(self, cart: Cart) -> None:
        args = {**_cart_args(cart), "p_revision": cart.revision, "p_key": cart.checkout_key()}

        async def op() -> dict[str, Any]:
            res = await self._client.rpc("save_cart", args).execute()
            return cast(dict[str, Any], res.data)

        result = await self._call("save_cart", op)
        if result["status"] == "conflict":
            current = _cart(cart.user_id, result["cart"])
            applied = bool(result.get("applied"))
            if (
                applied
                and current.checkout_key()
                == replace(cart, revision=cart.revision + 1).checkout_key()
            ):
                cart.revision = current.revision  # our own write, its first answer lost in a retry
                return
            raise CartConflictError(current, applied=applied)
        cart.revision = int(result["revision"])

    async def checkout(self, cart: Cart) -> Order:
        if cart.is_empty():
            raise CartError("The cart is empty: add something before checking out.")
        args = {**_cart_args(cart), "p_revision": cart.revision, "p_key": cart.checkout_key()}

        async def op() -> dict[str, Any]:
            res = await self._client.rpc("checkout", args).execute()
            return cast(dict[str, Any], res.data)

        # Idempotent per checkout key (see the checkout function): a retry never double-orders.
        result = await self._call("checkout", op)
        if result["status"] == "conflict":
            raise CartConflictError(_cart(cart.user_id, result["cart"]))
        if result["status"] == "unavailable":
            raise ItemsUnavailableError(result["items"])
        return _order(result["order"], result["order"]["lines"])

    async def find_order(self, user_id: str, checkout_key: str) -> Order | None:
        args = {"p_user_id": _as_uuid(user_id), "p_key": checkout_key}

        async def op() -> Order | None:
            res = await self._client.rpc("find_order", args).execute()
            row = cast(dict[str, Any] | None, res.data)
            return None if not row else _order(row, row["lines"])

        return await self._call("find_order", op)

    async def list_orders(self, user_id: str) -> list[Order]:
        uid = _as_uuid(user_id)

        async def op() -> list[Order]:
            orders = await (
                self._client.table("orders")
                .select(ORDER_COLUMNS)
                .eq("user_id", uid)
                .order("created_at", desc=True)
                .execute()
            )
            order_rows = _rows(orders.data)
            if not order_rows:
                return []
            lines = await (
                self._client.table("order_lines")
                .select(ORDER_LINE_COLUMNS)
                .in_("order_id", [o["id"] for o in order_rows])
                .order("order_id")
                .order("position")
                .execute()
            )
            by_order: dict[str, list[dict[str, Any]]] = {}
            for row in _rows(lines.data):
                by_order.setdefault(row["order_id"], []).append(row)
            return [
                _order({**o, "order_id": o["id"]}, by_order.get(o["id"], [])) for o in order_rows
            ]

        return await self._call("list_orders", op)

    async def close(self) -> None:
        await self._http.aclose()


def _rows(data: object) -> list[dict[str, Any]]:
    """PostgREST's JSON array of rows (supabase-py types `data` as any JSON)."""
    return cast(list[dict[str, Any]], data or [])


def _cart(user_id: str, data: object) -> Cart:
    """A cart from the `load_cart` function's answer (None: nothing saved, a new empty cart)."""
    if not data:
        return Cart(user_id=user_id)
    d = cast(dict[str, Any], data)
    return Cart(
        user_id=user_id,
        cart_id=d["cart_id"],
        lines=[CartLine.from_dict(x) for x in d["lines"]],
        revision=int(d.get("revision", 0)),
    )


def _cart_args(cart: Cart) -> dict[str, Any]:
    """The arguments the save_cart and checkout SQL functions take."""
    return {
        "p_user_id": _as_uuid(cart.user_id),
        "p_cart_id": cart.cart_id,
        "p_lines": [
            {"item_id": ln.item_id, "size": ln.size, "quantity": ln.quantity, "notes": ln.notes}
            for ln in cart.lines
        ],
    }


def _order(row: Mapping[str, Any], lines: list[dict[str, Any]]) -> Order:
    return Order(
        order_id=row["order_id"],
        user_id=row["user_id"],
        cart_id=row["cart_id"],
        lines=tuple(CartLine.from_dict(x) for x in lines),
        total_cents=row["total_cents"],
        created_at=datetime.fromisoformat(row["created_at"]),
        checkout_key=row.get("checkout_key") or "",
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, _ServerFailure):
        return f"it answered with an error, HTTP {exc.status}"
    if isinstance(exc, httpx.TimeoutException):
        return "it timed out"
    if isinstance(exc, httpx.ConnectError):
        return "it cannot be reached"
    return "the connection broke"


#: What the schema raises for a cart over a cap (lines: 54000, PostgREST's 413; quantity per
#: item and notes: 23514). Its sentence is the one concierge/cart.py words for the same cap.
CAP_SQLSTATES = ("54000", "23514")
#: The calls whose request carries cart lines (elsewhere, e.g. in `seed`, a 23514 is no cart's).
CART_WRITES = ("save_cart", "checkout")


def _refusal(what: str, e: APIError) -> StoreError | CartLimitError:
    """A 4xx answer as a typed error; PostgREST's message stays in the text for whoever debugs."""
    code, message = e.code or "", (e.message or "").rstrip(".")
    if code == "PGRST303":
        return StoreAuthError(
            f"Supabase {what}: the user's token expired ({message})", expired=True
        )
    if code in ("PGRST301", "PGRST302") or code in ("401", "403"):
        return StoreAuthError(
            f"Supabase {what}: credentials rejected ({message}); check {ENV_ANON_KEY} and "
            f"{ENV_USER_JWT}, or {ENV_SERVICE_ROLE_KEY}"
        )
    if code == "42501":
        return StoreError(f"Supabase {what}: not allowed for this user ({message})")
    if code in CAP_SQLSTATES and what in CART_WRITES:
        return CartLimitError(e.message or message)
    return StoreError(f"Supabase {what}: refused ({message})")
