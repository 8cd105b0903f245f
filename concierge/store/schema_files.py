"""Where the Supabase schema lives: migrations, the bootstrap a plain PostgreSQL lacks, the seed.

The store layer owns these files (they define the production store); the lab's local PostgreSQL
and the seed generator read them from here. They are package data (concierge/data/supabase, which
is also the Supabase CLI's project: the repository's data/supabase links to it), so an installed
wheel has them too.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

SUPABASE_DIR: Traversable = files("concierge") / "data" / "supabase"
BOOTSTRAP_SQL = SUPABASE_DIR / "bootstrap.sql"
MIGRATIONS_DIR = SUPABASE_DIR / "migrations"
SEED_SQL = SUPABASE_DIR / "seed.sql"


def migration_files() -> list[Traversable]:
    """The migrations in the order `supabase migration up` applies them (by timestamp prefix)."""
    return sorted(
        (f for f in MIGRATIONS_DIR.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name
    )
