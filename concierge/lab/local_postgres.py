"""A throwaway PostgreSQL cluster with the Supabase schema applied: for tests and notebook 07.

Hosted Supabase is PostgreSQL plus an HTTP API (PostgREST) plus auth. To prove the Supabase
store for real without Docker or a cloud project, the tests and the notebook start a private
PostgreSQL cluster from the system's server binaries (Debian: /usr/lib/postgresql/NN/bin), apply
concierge/data/supabase/bootstrap.sql (the roles and `auth.*` functions a Supabase database already has),
the migrations, and the generated seed. It lives in a temporary directory, listens on
127.0.0.1 on a free port, starts in about a second with durability switched off (nothing here
needs to survive a crash), and is deleted on `stop()`.

This module also mints the HS256 JWTs Supabase uses as API keys and user tokens (`sign_jwt`),
so the local stack can be addressed exactly like a project: an anon key, a service-role key and
a token per user, all signed with the cluster's own secret.

`initdb` refuses to run as root, so as root the server runs as the `postgres` system user (via
`runuser`), which is how CI containers work. Needs psycopg (the `test` extra).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import glob
import hashlib
import hmac
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from ..store.schema_files import BOOTSTRAP_SQL, SEED_SQL, migration_files


class PostgresNotAvailable(RuntimeError):
    """No PostgreSQL server binaries on this machine; the message says how to get them."""


def find_pg_bindir() -> Path | None:
    """The directory holding `initdb` and `pg_ctl` (newest Debian version first, then PATH)."""
    env = os.environ.get("CONCIERGE_PG_BINDIR")
    if env and (Path(env) / "initdb").exists():
        return Path(env)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
        reverse=True,
    )
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def sign_jwt(claims: Mapping[str, Any], secret: str) -> str:
    """An HS256 JSON Web Token, the kind Supabase uses for API keys and user sessions."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps(dict(claims), separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """One private PostgreSQL cluster. Use as a context manager, or call `start()` / `stop()`.

    >>> with LocalPostgres() as pg:             # doctest: +SKIP
    ...     pg.apply_supabase_schema()
    ...     pg.dsn()                            # 'host=127.0.0.1 port=… dbname=postgres …'
    """

    def __init__(self, bindir: Path | None = None) -> None:
        found = bindir or find_pg_bindir()
        if found is None:
            raise PostgresNotAvailable(
                "No PostgreSQL server binaries found (looked for /usr/lib/postgresql/*/bin/initdb "
                "and initdb on PATH). Install them with `apt-get install postgresql` (Debian/"
                "Ubuntu) or your platform's package, or set CONCIERGE_PG_BINDIR."
            )
        self.bindir = found
        self.port = 0
        self.jwt_secret = secrets.token_urlsafe(32)
        self._dir: Path | None = None
        self._as_user: str | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_user:
            cmd = ["runuser", "-u", self._as_user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def start(self) -> LocalPostgres:
        """initdb a new cluster in a temporary directory and start it; ~1 s."""
        if self._dir is not None:
            return self
        self._dir = Path(tempfile.mkdtemp(prefix="concierge-pg-"))
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresNotAvailable(
                    "Running as root needs a `postgres` system user to own the cluster "
                    "(initdb refuses root); Debian's postgresql package creates it."
                ) from None
            self._as_user = "postgres"
            os.chown(self._dir, pw.pw_uid, pw.pw_gid)
        data, sock = self._dir / "data", self._dir
        self._run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--no-locale")  # fmt: skip
        self.port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {sock} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=40 -c shared_buffers=16MB"
        )
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self._dir / "server.log"),
                  "-w", "-t", "30", "start")  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop the server and delete the cluster."""
        if self._dir is None:
            return
        with contextlib.suppress(RuntimeError):  # already gone: the directory goes either way
            self._run("pg_ctl", "-D", str(self._dir / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def stop_when_process_exits(self) -> None:
        """Stop the cluster even if this process is killed (a Jupyter kernel is, on shutdown,
        and atexit never runs): a small watchdog process waits for us to die, then stops it."""
        if self._dir is None:
            return
        stop = [
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self._dir / "data"),
            "-m",
            "immediate",
            "stop",
        ]
        if self._as_user:
            stop = ["runuser", "-u", self._as_user, "--", *stop]
        subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self._dir), *stop],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._dir is not None

    # --- connecting ---------------------------------------------------------------------------

    def dsn(self, user: str = "postgres", dbname: str = "postgres") -> str:
        """A libpq connection string (trust authentication: no password on a private cluster)."""
        if not self.running:
            raise RuntimeError("The cluster is not running: call start() first.")
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"

    def url(self, user: str = "postgres", dbname: str = "postgres") -> str:
        """The same as a URL, e.g. for `npx supabase migration up --db-url …`."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}?sslmode=disable"

    def execute_files(self, files: Iterable[Traversable], dbname: str = "postgres") -> None:
        """Run SQL files as the superuser, each in its own transaction."""
        import psycopg

        with psycopg.connect(self.dsn(dbname=dbname), autocommit=True) as conn:
            for path in files:
                with conn.transaction():
                    conn.execute(path.read_text())  # type: ignore[arg-type]

    def create_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def apply_supabase_schema(self, dbname: str = "postgres", *, seed: bool = True) -> None:
        """bootstrap.sql, then every migration, then (by default) the generated seed.sql."""
        files = [BOOTSTRAP_SQL, *migration_files()]
        if seed:
            files.append(SEED_SQL)
        self.execute_files(files, dbname=dbname)

    # --- API keys -----------------------------------------------------------------------------

    def api_key(self, role: str) -> str:
        """The `anon` or `service_role` key for this cluster, as `supabase status` prints them."""
        if role not in ("anon", "service_role"):
            raise ValueError(f"API keys exist for anon and service_role, not {role!r}")
        return sign_jwt(
            {"role": role, "iss": "concierge-local", "exp": _in_an_hour()}, self.jwt_secret
        )

    def user_jwt(self, user_id: str, email: str | None = None) -> str:
        """A signed-in user's access token: role `authenticated`, `sub` = the user's id."""
        claims = {
            "sub": str(user_id),
            "role": "authenticated",
            "aud": "authenticated",
            "iss": "concierge-local",
            "exp": _in_an_hour(),
        }
        if email:
            claims["email"] = email
        return sign_jwt(claims, self.jwt_secret)


_WATCHDOG = """
import os, shutil, subprocess, sys, time
pid, directory, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while True:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    if not os.path.isdir(directory):
        sys.exit(0)
    time.sleep(1)
subprocess.run(stop, capture_output=True, timeout=60)
shutil.rmtree(directory, ignore_errors=True)
"""


def _in_an_hour() -> int:
    return int(time.time()) + 3600


# --- one stack per process, for notebooks -----------------------------------------------------

_shared_cluster: LocalPostgres | None = None
_shared_api: tuple[Any, str] | None = None


def shared_cluster() -> LocalPostgres:
    """A cluster with the schema and seed applied, started once per process and stopped at exit.

    Notebooks call this instead of `LocalPostgres()` so that re-running a cell (or the whole
    notebook) in the same kernel reuses the running cluster instead of starting another.
    """
    global _shared_cluster
    if _shared_cluster is None or not _shared_cluster.running:
        cluster = LocalPostgres().start()
        atexit.register(cluster.stop)
        cluster.stop_when_process_exits()
        cluster.apply_supabase_schema()
        _shared_cluster = cluster
    return _shared_cluster


def import_test_harness() -> Any:
    """The PostgREST *test harness* package (tests/postgrest_harness) of this source checkout.

    It is a test harness, not a product part: there is no PostgREST server to install on the
    machines this lab targets, so notebook 07 uses the same stand-in the tests use.
    """
    root = Path(__file__).resolve().parents[2]
    if not (root / "tests" / "postgrest_harness" / "__init__.py").exists():
        raise PostgresNotAvailable(
            "The PostgREST test harness ships with the source checkout (tests/postgrest_harness); "
            "it is not part of an installed package."
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import importlib

    return importlib.import_module("tests.postgrest_harness")


def serve_test_harness(cluster: LocalPostgres) -> tuple[Any, str]:
    """Serve the test harness in front of `cluster` on 127.0.0.1 (once per process).

    Returns `(app, url)`: `app.log` lists the requests received and `app.faults` injects
    failures; `url` is what to give supabase-py as the project URL.
    """
    global _shared_api
    if _shared_api is None or _shared_api[0].dsn != cluster.dsn(user="authenticator"):
        harness = import_test_harness()
        app = harness.PostgrestHarness(cluster.dsn(user="authenticator"), cluster.jwt_secret)
        serving = harness.serve(app)
        url = serving.__enter__()
        atexit.register(serving.__exit__, None, None, None)
        _shared_api = (app, url)
    return _shared_api
