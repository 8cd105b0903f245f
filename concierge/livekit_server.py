"""LiveKit's own open-source server on 127.0.0.1: found or built once, started, stopped.

The migrated agent is an `AgentServer` worker: it only does its job once it has registered with a
LiveKit server and been dispatched a room. So that the lab, the tests and `python -m concierge dev`
can run that production path on a laptop, this module obtains the pinned `livekit-server` (Go
module `github.com/livekit/livekit-server`, built with `go install` into a per-machine cache, once)
and runs it in development mode on loopback only: HTTP/WebSocket and WebRTC (UDP) on free
127.0.0.1 ports, no external-IP discovery, no TCP fallback (its listener cannot be bound to one
address), logs to a file.

    with local_server() as lk:          # ServerUnavailable (one sentence) when it cannot be had
        os.environ.update(lk.env())     # LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET
        token = lk.token("caller", room="order-1")

`start_worker(lk)` runs `python -m concierge start` against it the way a deployer would. Nothing in
the agent imports this module: the worker only ever sees the three LiveKit variables.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

__all__ = [
    "GO_MODULE",
    "ConfiguredServer",
    "HOW_TO_GET_IT",
    "PINNED_VERSION",
    "LocalServer",
    "ServerUnavailable",
    "Worker",
    "build_server",
    "can_run_server",
    "find_server",
    "local_server",
    "participant_token",
    "server_binary",
    "start_server",
    "start_worker",
]

#: The server release the lab is tested with (needs Go 1.26; has no `replace`, so `go install` works).
PINNED_VERSION = "v1.13.5"
GO_MODULE = "github.com/livekit/livekit-server/cmd/server"

#: Where a machine without Go gets the server (LiveKit's own ways; any recent version works).
HOW_TO_GET_IT = (
    "install Go 1.26+ (https://go.dev/dl) and run `bash scripts/lab.sh` again, or get LiveKit's "
    "server another way: `curl -sSL https://get.livekit.io | bash`, `brew install livekit`, or the "
    "`livekit/livekit-server` container image (then set CONCIERGE_LIVEKIT_SERVER to the binary)"
)

#: An explicit binary to use instead of the pinned build (Homebrew's, a container's, your own).
BINARY_VARIABLE = "CONCIERGE_LIVEKIT_SERVER"


class ServerUnavailable(RuntimeError):
    """The LiveKit server cannot be found, built or started; the message says why and what to do."""


def cache_dir() -> Path:
    """Where the pinned build lives: one per machine and version (the user's cache directory)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("concierge-lab")) / f"livekit-server-{PINNED_VERSION}"


def find_server() -> Path | None:
    """The server binary to use: `CONCIERGE_LIVEKIT_SERVER`, else the pinned build in the cache,
    else a `livekit-server` on PATH (Homebrew, LiveKit's install script). None if there is none."""
    explicit = os.environ.get(BINARY_VARIABLE, "").strip()
    if explicit:
        return Path(explicit) if os.access(explicit, os.X_OK) else None
    built = cache_dir() / "server"
    if os.access(built, os.X_OK):
        return built
    on_path = shutil.which("livekit-server")
    return Path(on_path) if on_path else None


def build_server(*, timeout: float = 1800) -> Path:
    """Build the pinned server with `go install` into the cache (first time only) and return it."""
    go = shutil.which("go")
    if go is None:
        raise ServerUnavailable(
            f"LiveKit's server is not installed and Go is missing: {HOW_TO_GET_IT}."
        )
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    print(
        f"building livekit-server {PINNED_VERSION} with go (first time only, ~3 min)…",
        file=sys.stderr,
        flush=True,
    )
    env = {**os.environ, "GOBIN": str(target), "CGO_ENABLED": "0"}
    run = subprocess.run(
        [go, "install", f"{GO_MODULE}@{PINNED_VERSION}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    binary = target / "server"
    if run.returncode != 0 or not binary.exists():
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise ServerUnavailable(
            f"`go install {GO_MODULE}@{PINNED_VERSION}` failed ({last}); {HOW_TO_GET_IT}."
        )
    return binary


def server_binary(*, build: bool = True) -> Path:
    """The server binary, built first if `build` and there is none; else `ServerUnavailable`."""
    found = find_server()
    if found is not None:
        return found
    if os.environ.get(BINARY_VARIABLE, "").strip():
        raise ServerUnavailable(
            f"{BINARY_VARIABLE}={os.environ[BINARY_VARIABLE]!r} is not an executable file."
        )
    if not build:
        raise ServerUnavailable(f"LiveKit's server is not installed: {HOW_TO_GET_IT}.")
    return build_server()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that is free right now (TCP by default, `socket.SOCK_DGRAM` for UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_config(
    http_port: int, udp_port: int, api_key: str, api_secret: str, redis: str | None = None
) -> str:
    """The YAML that keeps every socket of the server on 127.0.0.1 (see the module docstring).

    With `redis` ("127.0.0.1:6379"), the server is one node of several sharing that Redis:
    LiveKit's distributed mode, where a room, a caller and an agent worker may each be on
    another node and the nodes route between them."""
    shared = f"redis:\n  address: {redis}\n" if redis else ""
    return f"""\
{shared}port: {http_port}
bind_addresses: ["127.0.0.1"]
keys:
  {api_key}: {api_secret}
rtc:
  tcp_port: 0
  udp_port: {udp_port}
  use_external_ip: false
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
  interfaces:
    includes: [lo]
  ips:
    includes: [127.0.0.1/32]
logging:
  level: info
"""


def participant_token(
    api_key: str, api_secret: str, identity: str, room: str, *, ttl: timedelta = timedelta(hours=6)
) -> str:
    """A token for `identity` to join `room` (publish, subscribe, data), signed with the key pair."""
    from livekit import api

    return (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_ttl(ttl)
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .to_jwt()
    )


def can_run_server() -> str | None:
    """None where a local server can run (found, or buildable with Go); else why not, in words."""
    if find_server() is not None:
        return None
    if os.environ.get(BINARY_VARIABLE, "").strip():
        return f"{BINARY_VARIABLE}={os.environ[BINARY_VARIABLE]!r} is not an executable file"
    if shutil.which("go") is None:
        return "LiveKit's server is not installed and Go is missing to build it"
    return None


class _Credentials:
    """What a worker or a caller needs of any LiveKit server: its URL and API key pair."""

    api_key: str
    api_secret: str
    if TYPE_CHECKING:

        @property
        def url(self) -> str: ...

    def env(self) -> dict[str, str]:
        """The three variables a worker (or `lk`) needs to use this server."""
        return {
            "LIVEKIT_URL": self.url,
            "LIVEKIT_API_KEY": self.api_key,
            "LIVEKIT_API_SECRET": self.api_secret,
        }

    def token(self, identity: str, room: str, *, ttl: timedelta = timedelta(hours=6)) -> str:
        """A participant token for `identity` to join `room` (publish, subscribe, data)."""
        return participant_token(self.api_key, self.api_secret, identity, room, ttl=ttl)


@dataclass
class ConfiguredServer(_Credentials):
    """A LiveKit server someone else runs — LiveKit Cloud, or your own — named by `LIVEKIT_URL`,
    `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET`. Workers and pages use it exactly as they use a
    `LocalServer`; only where it is differs."""

    url: str
    api_key: str
    api_secret: str = field(repr=False)  # never printed: a notebook cell or a log would leak it
    running: bool = True  # not ours to start or stop

    @property
    def log_path(self) -> Path:
        """Beside which the worker's log goes (`start_worker`); the server's own log is not here."""
        folder = Path(tempfile.gettempdir()) / f"concierge-livekit-{os.getpid()}"
        folder.mkdir(exist_ok=True)
        return folder / "server.log"

    @property
    def http_url(self) -> str:
        """The server API's address (`livekit.api.LiveKitAPI(url=...)`)."""
        return self.url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)

    def stop(self) -> None:
        """Nothing to stop: the server is not this process's."""


@dataclass
class LocalServer(_Credentials):
    """A running `livekit-server --dev` on 127.0.0.1. Stop it with `stop()` (or `local_server()`)."""

    binary: Path
    http_port: int
    udp_port: int
    api_key: str
    api_secret: str
    log_path: Path
    redis: str | None = None  # "host:port" of the Redis this node shares with others
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """What workers and callers connect to (LIVEKIT_URL)."""
        return f"ws://127.0.0.1:{self.http_port}"

    @property
    def http_url(self) -> str:
        """The server API's address (`livekit.api.LiveKitAPI(url=...)`)."""
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, *, timeout: float = 30) -> None:
        """Start the server process (again, on the same ports and keys) and wait until it answers."""
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        config = server_config(
            self.http_port, self.udp_port, self.api_key, self.api_secret, self.redis
        )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "--dev", "--config-body", config],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                tail = "\n".join(self.log_lines()[-5:])
                raise ServerUnavailable(f"livekit-server exited while starting:\n{tail}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.http_url, timeout=1) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise ServerUnavailable(f"livekit-server did not answer within {timeout:.0f} s")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, timeout: float = 10) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout`). Safe to call twice."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log_lines(self) -> list[str]:
        """The server's log so far, one entry a line."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def assignments(self) -> list[tuple[str, str]]:
        """(room, worker id) of every job this server's dispatcher assigned so far, in order."""
        return [
            (fields["room"], fields["workerID"])
            for fields in _log_fields(self.log_lines(), "assigned job to worker")
        ]


def _log_fields(lines: list[str], message: str) -> list[dict[str, Any]]:
    """The JSON fields of the log lines carrying `message` (the server's and livekit-agents')."""
    found = []
    for line in lines:
        if message in line and "{" in line:
            with contextlib.suppress(ValueError):
                found.append(json.loads(line[line.index("{") :]))
    return found


def start_server(
    *,
    binary: Path | None = None,
    log_path: Path | None = None,
    timeout: float = 30,
    redis: str | None = None,
    api_secret: str | None = None,
) -> LocalServer:
    """Start the server on free loopback ports with a fresh secret; `ServerUnavailable` if it can't.

    The key pair is `devkey` and a random secret (not `--dev`'s well-known `secret`): anyone on the
    machine can reach 127.0.0.1. Nodes of one deployment (`redis` shared) need the same
    `api_secret`: pass the first node's to the others.
    """
    binary = binary or server_binary()
    log_path = log_path or Path(tempfile.mkdtemp(prefix="livekit-server-")) / "livekit-server.log"
    for attempt in range(3):  # a free port can be taken between choosing it and binding it
        server = LocalServer(
            binary=binary,
            http_port=free_port(),
            udp_port=free_port(socket.SOCK_DGRAM),
            api_key="devkey",
            api_secret=api_secret or secrets.token_urlsafe(32),
            log_path=log_path,
            redis=redis,
        )
        try:
            server.start(timeout=timeout)
            return server
        except ServerUnavailable as e:
            if "address already in use" not in str(e) or attempt == 2:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def local_server(
    *,
    binary: Path | None = None,
    log_path: Path | None = None,
    timeout: float = 30,
    redis: str | None = None,
    api_secret: str | None = None,
) -> Iterator[LocalServer]:
    """`start_server(...)` for a `with` block: the server stops when the block ends."""
    server = start_server(
        binary=binary, log_path=log_path, timeout=timeout, redis=redis, api_secret=api_secret
    )
    try:
        yield server
    finally:
        server.stop()


_PREWARMED = '"process initialized"'
_PREWARMED_THREAD = '"job runner initialized"'


@dataclass
class Worker:
    """A `python -m concierge start` process (and its job processes) against a `LocalServer`."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log_lines(self) -> list[str]:
        """The worker's log so far (livekit's JSON lines), one entry a line."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def registrations(self) -> int:
        """How many times the worker has registered with the server (again after a restart)."""
        return sum('"registered worker"' in line for line in self.log_lines())

    def worker_pids(self) -> dict[str, int]:
        """Worker id (as the server knows it) → the pid of the process that registered it; several
        with `start --workers`, and a new id for each restart."""
        return {
            fields["id"]: fields["pid"]
            for fields in _log_fields(self.log_lines(), '"registered worker"')
            if "id" in fields and "pid" in fields
        }

    def wait_registered(self, count: int = 1, *, timeout: float = 120) -> None:
        """Wait until the worker has registered `count` times; `RuntimeError` if it exits first."""
        deadline = time.monotonic() + timeout
        while self.registrations() < count:
            if self.process.poll() is not None:
                tail = "\n".join(self.log_lines()[-5:])
                raise RuntimeError(f"the worker exited ({self.process.returncode}):\n{tail}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not register within {timeout:.0f} s")
            time.sleep(0.1)

    def wait_ready(self, processes: int = 1, *, timeout: float = 120) -> None:
        """Wait until the worker has registered and `processes` idle job processes have run
        `setup_fnc` (prewarmed: a dispatch now starts a job without loading anything); with the
        thread executor, idle job threads ("job runner initialized")."""
        self.wait_registered(timeout=timeout)
        deadline = time.monotonic() + timeout
        while sum(_PREWARMED in line or _PREWARMED_THREAD in line for line in self.log_lines()) < (
            processes
        ):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the worker's job processes did not start within {timeout:.0f} s"
                )
            time.sleep(0.1)

    def stop(self, *, timeout: float = 60) -> None:
        """SIGTERM: livekit drains the worker (running jobs end), then it exits; SIGKILL after
        `timeout`. Safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the worker and every job process it started (a crash: nothing runs after)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def start_worker(
    server: LocalServer | ConfiguredServer,
    *,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    args: tuple[str, ...] = (),
) -> Worker:
    """Run `python -m concierge start` against `server`, exactly as a deployer would (livekit's
    process executor, `setup_fnc` prewarm), with its health endpoint on 127.0.0.1 and a free port.
    Its output goes to `log_path` (default: `worker.log` beside the server's log, started afresh).
    It runs in a process group of its own, so `Worker.kill()` takes its job processes too."""
    log_path = log_path or server.log_path.with_name("worker.log")
    full_env = {
        **os.environ,
        **(env or {}),
        **server.env(),
        "CONCIERGE_WORKER_HOST": "127.0.0.1",
        "CONCIERGE_WORKER_PORT": "0",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "concierge", "start", *args],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Worker(process, log_path)


def main() -> int:
    """`python -m concierge.livekit_server`: find or build the server; print its path or why not."""
    try:
        print(server_binary())
    except ServerUnavailable as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
