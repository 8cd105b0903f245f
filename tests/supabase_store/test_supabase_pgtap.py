"""Row-level security and checkout, proven in SQL on real PostgreSQL with pgTAP (`pg_prove`).

The SQL tests live in tests/supabase_store/pgtap/. Each runs in a transaction that is rolled
back, acting as anon / a user / service_role with `SET LOCAL ROLE` and JWT claims, exactly as
PostgREST does per request. They run in a database of their own, so nothing the Python tests do
can make them pass or fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from concierge.lab.local_postgres import LocalPostgres

PGTAP_DIR = Path(__file__).parent / "pgtap"
INSTALL = "apt-get install postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl (scripts/test.sh does)"


@pytest.fixture(scope="module")
def pgtap_db(pg: LocalPostgres) -> str:
    import psycopg

    if shutil.which("pg_prove") is None:
        pytest.skip(f"pg_prove is not installed: {INSTALL}")
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        available = conn.execute(
            "select 1 from pg_available_extensions where name = 'pgtap'"
        ).fetchone()
    if available is None:
        pytest.skip(f"the pgTAP extension is not installed for this PostgreSQL: {INSTALL}")
    name = "concierge_pgtap"
    pg.create_database(name)
    pg.apply_supabase_schema(dbname=name)
    with psycopg.connect(pg.dsn(dbname=name), autocommit=True) as conn:
        conn.execute("create extension pgtap")
    return name


def test_pgtap_suite_passes(pg: LocalPostgres, pgtap_db: str) -> None:
    files = sorted(str(p) for p in PGTAP_DIR.glob("*.sql"))
    assert len(files) >= 3, files
    done = subprocess.run(
        ["pg_prove", "--host", "127.0.0.1", "--port", str(pg.port), "--username", "postgres",
         "--dbname", pgtap_db, "--verbose", *files],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "All tests successful." in report, report
    # Every file ran its whole plan: a file that died early would report fewer tests.
    planned = sum(
        int(n) for f in files for n in re.findall(r"select plan\((\d+)\)", Path(f).read_text())
    )
    assert planned >= 40 and f"Tests={planned}," in report, report
