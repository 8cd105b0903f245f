"""Render concierge/data/supabase/seed.sql from the menu, so the SQL seed never drifts from the menu.

The seed is plain SQL for a Supabase project (`supabase db reset` runs it, or paste it in the SQL
editor) and for the local cluster the tests start. Every statement is an upsert, so running it
twice is harmless: restaurants, items, sizes and profiles are inserted or refreshed, items the
menu no longer lists are retired; carts and orders are never touched.

`python -m concierge seed --sql` writes it; a test fails when the committed file is stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from .base import SeedData, load_seed
from .schema_files import SEED_SQL

HEADER = """\
-- GENERATED from concierge/data/menu.toml by concierge/store/seed_sql.py: do not edit by hand.
-- Regenerate with `python -m concierge seed --sql`.
-- Every statement is an upsert: running this file twice changes nothing the second time.
"""


def literal(value: object) -> str:
    """A SQL literal for the few types the seed holds: None, int, str, and sequences of str."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        raise TypeError("booleans are not part of the seed")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple, frozenset, set)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        if not items:
            return "'{}'::text[]"
        return "array[" + ", ".join(literal(str(v)) for v in items) + "]::text[]"
    raise TypeError(f"cannot render {type(value).__name__} as SQL")


def _upsert(
    table: str, columns: Sequence[str], key: Sequence[str], rows: Iterable[Sequence[object]]
) -> str:
    values = ",\n  ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"insert into public.{table} ({', '.join(columns)}) values\n  {values}\n"
        f"on conflict ({', '.join(key)}) do update set {updates};\n"
    )


def render_seed_sql(data: SeedData | None = None) -> str:
    """The whole seed file as text (deterministic: the same menu gives the same bytes)."""
    data = data or load_seed()
    cat = data.catalog
    parts = [HEADER, "begin;\n"]
    parts.append(
        _upsert(
            "restaurants",
            ("id", "name", "cuisine", "aliases", "sort_order"),
            ("id",),
            [
                (r.id, r.name, r.cuisine, list(r.aliases), i)
                for i, r in enumerate(cat.restaurants.values())
            ],
        )
    )
    parts.append(
        _upsert(
            "menu_items",
            ("id", "restaurant_id", "name", "category", "price_cents", "tags", "sort_order"),
            ("id",),
            [
                (it.id, it.restaurant_id, it.name, it.category, it.price_cents, sorted(it.tags), i)
                for i, it in enumerate(cat.items.values())
            ],
        )
    )
    sizes = [(it.id, s, it.size_prices[s]) for it in cat.items.values() for s in it.sizes]
    if sizes:
        parts.append(
            _upsert(
                "menu_item_sizes", ("item_id", "size", "price_cents"), ("item_id", "size"), sizes
            )
        )
    if data.profiles:
        parts.append(
            _upsert(
                "profiles",
                ("id", "handle", "name", "dietary", "address"),
                ("id",),
                [
                    (p.id, p.handle or None, p.name, list(p.dietary), p.address)
                    for p in data.profiles
                ],
            )
        )
    # Items this menu no longer lists are retired (not orderable; old orders keep them).
    keep = literal(json.dumps(list(cat.items)))
    parts.append(f"select public.retire_menu_items({keep}::jsonb);\n")
    parts.append("commit;\n")
    return "\n".join(parts)


def write_seed_sql(path: str | Path | None = None, data: SeedData | None = None) -> Path:
    """Write the seed file (the package's data/supabase/seed.sql by default) and return its path."""
    path = Path(path) if path is not None else Path(str(SEED_SQL))
    path.write_text(render_seed_sql(data))
    return path


if __name__ == "__main__":  # pragma: no cover - `python -m concierge.store.seed_sql`
    print(write_seed_sql())
