"""`python -m concierge …`: run the agent server, check an agent, seed the store, benchmark.

    python -m concierge start            # register the AgentServer with LiveKit (production)
    python -m concierge dev              # same, with dev defaults (no load limit, debug logs)
    python -m concierge console          # talk to the agent in this terminal (needs PortAudio)
    python -m concierge doctor PATH...   # find legacy patterns in any agent (--fix rewrites them)
    python -m concierge seed [--sql]     # load the menu into the store (or print seed SQL)
    python -m concierge bench [--quick]  # measure turn latency, concurrency, search, voice

`start`/`dev` hand over to `python -m livekit.agents start`, the entry point livekit-agents 1.8
recommends (its built-in `cli.run_app` CLI is deprecated); `console` still needs the built-in CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

AGENT_FILE = Path(__file__).resolve().parent / "server.py"


def _server_command(command: str, extra: list[str]) -> int:
    from livekit.agents.__main__ import main as livekit_main

    from .providers import load_env

    load_env()
    if command == "console":
        from livekit.agents import cli

        from .server import server

        sys.argv = [sys.argv[0], "console", *extra]
        cli.run_app(server)
        return 0
    missing = [
        v for v in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET") if not os.environ.get(v)
    ]
    if missing:
        print(
            f"`{command}` registers the agent with a LiveKit server and needs {', '.join(missing)} "
            "(see .env.example). To talk to the agent offline, open the lab "
            "(bash scripts/lab.sh) or use concierge.session.offline_session().",
            file=sys.stderr,
        )
        return 2
    args = ["start", str(AGENT_FILE), *extra]
    if command == "dev":
        args += ["--dev", "--log-format", "colored", "--log-level", "DEBUG"]
    return livekit_main(args)


async def _seed(url: str | None) -> str:
    from .store import Store, default_store_url, load_seed, open_store

    store: Store
    if (url or default_store_url()).startswith("supabase"):
        from .store.supabase import SupabaseStore

        # Only the service role may write the menu; a user's token would be refused by RLS.
        store = await SupabaseStore.from_env(service_role=True)
    else:
        store = await open_store(url, seed=False)
    try:
        data = load_seed()
        await store.seed(data)
        return (
            f"Seeded {store.description}: {len(data.catalog.restaurants)} restaurants, "
            f"{len(data.catalog.items)} items, {len(data.profiles)} profiles."
        )
    finally:
        await store.close()


def _seed_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m concierge seed")
    parser.add_argument("--store", help="store URL (default: CONCIERGE_STORE or the user data dir)")
    parser.add_argument("--sql", action="store_true", help="print the Supabase seed SQL instead")
    args = parser.parse_args(argv)
    if args.sql:
        from .store import load_seed
        from .store.seed_sql import render_seed_sql

        sys.stdout.write(render_seed_sql(load_seed()))
        return 0
    from .store import StoreError

    try:
        print(asyncio.run(_seed(args.store)))
    except (StoreError, ValueError) as e:
        print(f"seed failed: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = ("start", "dev", "console", "doctor", "seed", "bench")
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] not in commands:
        print(f"unknown command {argv[0]!r}; choose one of: {', '.join(commands)}", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command in ("start", "dev", "console"):
        return _server_command(command, rest)
    if command == "doctor":
        from .doctor import main as doctor_main

        return doctor_main(rest)
    if command == "bench":
        from .bench import main as bench_main

        return bench_main(rest)
    return _seed_command(rest)


if __name__ == "__main__":
    sys.exit(main())
