"""`python -m concierge …`: run the agent server, check an agent, seed the store, benchmark, eval.

    python -m concierge start            # register the AgentServer with LiveKit (production)
    python -m concierge start --workers  # one worker per core (thread executor), kept running
    python -m concierge dev              # same, with dev defaults (no load limit, debug logs)
    python -m concierge console          # type to the agent in this terminal (no keys needed)
    python -m concierge console --audio  # speak to it (livekit's deprecated console, PortAudio)
    python -m concierge doctor PATH...   # find legacy patterns in any agent (--fix rewrites them)
    python -m concierge seed [--store URL] [--sql]  # load the menu into a store (or print seed SQL)
    python -m concierge bench [--quick]  # measure turn latency, concurrency, search, voice
    python -m concierge bench --attack   # hostile input: 1 MB messages, 100 KB words
    python -m concierge bench --capacity # concurrent voice sessions one worker serves
    python -m concierge bench --capacity --livekit  # calls per machine: server, W workers, callers
    python -m concierge eval [-v]        # pass rates: tuned corpus per phenomenon, held-out sets per kind

`start`/`dev` hand over to `python -m livekit.agents start concierge/server.py`, the entry point
livekit-agents 1.8 recommends (its built-in `cli.run_app` CLI is deprecated); with the LiveKit CLI
installed, `lk agent dev` / `lk agent console` drive that same entry point. `console` types turns
through the real `AgentSession` offline (see concierge/console.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .livekit_server import LocalServer

AGENT_FILE = Path(__file__).resolve().parent / "server.py"


SERVER_HELP = """\
python -m concierge {command}: run concierge/server.py's AgentServer as a LiveKit worker.

It registers with the LiveKit server named by LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET
(.env is read) and waits for rooms to be dispatched to the agent "food-concierge". `start` is
production; `dev` adds debug logs and lifts the load limit. `start --workers [W]` runs W workers
(default: one per core), each with livekit's thread executor and its own health port, and starts
a worker that dies again (concierge/workers.py). Both run
`python -m livekit.agents start concierge/server.py [--dev]`, the entry point livekit-agents 1.8.9
recommends; the LiveKit CLI's `lk agent dev` runs the same thing with code reload.
No keys? `python -m concierge console` talks to the agent offline.

Options after `{command}` go to livekit's `start` command:
"""


def _server_command(command: str, extra: list[str]) -> int:
    from livekit.agents.__main__ import main as livekit_main

    from .providers import LIVEKIT_VARIABLES, load_env

    if "-h" in extra or "--help" in extra:
        print(SERVER_HELP.format(command=command), flush=True)
        try:
            return livekit_main(["start", "--help"])
        except SystemExit as done:  # argparse exits after printing help
            return int(done.code or 0)
    load_env()
    missing = [v for v in LIVEKIT_VARIABLES if not os.environ.get(v)]
    if missing and command == "dev":
        return _dev_with_local_server(extra)
    if missing:
        print(
            f"`{command}` registers the agent with a LiveKit server and needs {', '.join(missing)} "
            "(see .env.example). To try it on this machine: python -m concierge dev (starts "
            "LiveKit's server on 127.0.0.1). To talk to the agent offline: python -m concierge "
            "console (or concierge.session.offline_session() in Python, or the lab: bash "
            "scripts/lab.sh).",
            file=sys.stderr,
        )
        return 2
    if command == "start":
        from .workers import main as workers_main
        from .workers import split_workers_flag

        try:
            count, extra = split_workers_flag(extra)
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
        if count is not None:
            return workers_main(count, extra)
    args = ["start", str(AGENT_FILE), *extra]
    if command == "dev":
        args += ["--dev", "--log-format", "colored", "--log-level", "DEBUG"]
    return livekit_main(args)


#: The room `dev` invites you to (the agent is dispatched to it when you join).
DEV_ROOM = "concierge-dev"


def _dev_with_local_server(extra: list[str]) -> int:
    """`dev` with no LiveKit variables: LiveKit's server on 127.0.0.1 for as long as the worker
    runs, and how to join its room."""
    from livekit.agents.__main__ import main as livekit_main

    from .livekit_server import ServerUnavailable, start_server

    try:
        server = start_server()
    except ServerUnavailable as e:
        print(f"`dev` without LIVEKIT_URL runs LiveKit's server locally, but: {e}", file=sys.stderr)
        return 2
    try:
        os.environ.update(server.env())
        os.environ.setdefault("CONCIERGE_WORKER_HOST", "127.0.0.1")
        from .server import server as agent_server

        # Say how to join once the worker has registered: a room created before then would find
        # no worker to dispatch the agent to.
        agent_server.on(
            "worker_registered", lambda *_: print(_join_instructions(server), flush=True)
        )
        args = ["start", str(AGENT_FILE), *extra, "--dev", "--log-format", "colored"]
        return livekit_main([*args, "--log-level", "INFO"])
    finally:
        server.stop()


def _join_instructions(server: LocalServer) -> str:
    from livekit import api

    from .server import AGENT_NAME

    token = (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity("you")
        .with_grants(api.VideoGrants(room_join=True, room=DEV_ROOM))
        .with_room_config(
            api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=AGENT_NAME)])
        )
        .to_jwt()
    )
    env = " ".join(f"{k}={v}" for k, v in server.env().items())
    return (
        f"LiveKit's server ({server.binary}) on {server.url} (127.0.0.1 only; log: "
        f"{server.log_path}); it stops with this command.\n"
        f"  {env}\n"
        f"Join room {DEV_ROOM!r} (joining dispatches the agent {AGENT_NAME!r}) with this token:\n"
        f"  JOIN_TOKEN={token}\n"
        "  from any LiveKit client: livekit-client in a browser (room.connect(url, token)), or "
        "Python: concierge.lab.room_caller.RoomCaller.joined(url, token) (README, "
        '"Real LiveKit on this machine").'
    )


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


def _store_url_ok(rest: list[str]) -> bool:
    """Check `--store` / `CONCIERGE_STORE` before starting anything; say what is wrong plainly."""
    from .store import InvalidStoreURL, check_store_url, default_store_url

    given = "--store" in rest[:-1]
    url = rest[rest.index("--store") + 1] if given else default_store_url()
    try:
        check_store_url(url)
    except InvalidStoreURL as e:
        print(str(e).replace("CONCIERGE_STORE=", "--store ") if given else e, file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Run one command; a store that is down or refuses, or a bad menu file, is one sentence."""
    from .menu import MenuFileError
    from .store import StoreError

    argv = sys.argv[1:] if argv is None else argv
    try:
        return _dispatch(argv)
    except (StoreError, MenuFileError) as e:
        command = argv[0] if argv else ""
        print(f"concierge {command}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `python -m concierge doctor ... | head`: the reader stopped early
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        return 0


def _dispatch(argv: list[str]) -> int:
    commands = ("start", "dev", "console", "doctor", "seed", "bench", "eval")
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] not in commands:
        print(f"unknown command {argv[0]!r}; choose one of: {', '.join(commands)}", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command in ("start", "dev", "console", "seed") and not _store_url_ok(rest):
        return 2
    if command in ("start", "dev"):
        return _server_command(command, rest)
    if command == "console":
        from .console import main as console_main

        return console_main(rest)
    if command == "doctor":
        from .doctor import main as doctor_main

        return doctor_main(rest)
    if command == "bench":
        from .bench import main as bench_main

        return bench_main(rest)
    if command == "eval":
        from .eval import main as eval_main

        return eval_main(rest)
    return _seed_command(rest)


if __name__ == "__main__":
    sys.exit(main())
