"""Where the Supabase schema lives: migrations, the bootstrap a Supabase database already has, the seed.

The store layer owns these files (they define the production store); the lab's local PostgreSQL
and the seed generator read them from here.
"""

from __future__ import annotations

from pathlib import Path

SUPABASE_DIR = Path(__file__).resolve().parents[2] / "data" / "supabase"
BOOTSTRAP_SQL = SUPABASE_DIR / "bootstrap.sql"
MIGRATIONS_DIR = SUPABASE_DIR / "migrations"
SEED_SQL = SUPABASE_DIR / "seed.sql"
