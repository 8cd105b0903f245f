"""The store tests: one contract suite for SQLite and Supabase, and Supabase on real Postgres."""
