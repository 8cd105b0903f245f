"""A machine's worth of workers: `python -m concierge start --workers [W]`.

One worker process holds as many voice calls as one core lets it (livekit 1.8.9's per-call audio
path holds the worker's GIL; README, "Deploy"). LiveKit's answer is not a bigger process but more
of them: each worker registers with the server, reports its load (`concierge.worker_load`), and
the server's dispatcher sends each new call to one with room. This runs W of them on one machine
(default: one per core), each `python -m concierge start` with livekit's thread executor — its
models prewarmed once (`setup_fnc`) and shared by its calls, recognition in a process beside it —
and its own health port (`CONCIERGE_WORKER_PORT` + i, default 8081 + i).

A worker that dies is started again after a back-off (1 s, doubling to 30 s; reset once it has run
a minute), so a crash costs its own calls only: the server stops dispatching to it the moment its
connection drops, and its carts are in the store. SIGTERM/SIGINT drain every worker (livekit ends
running calls first) and then exit. Each worker runs in a process group of its own; killing the
supervisor with SIGKILL leaves them running (stop it with SIGTERM).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

__all__ = ["WORKERS_FLAG", "default_workers", "main", "split_workers_flag", "worker_env"]

WORKERS_FLAG = "--workers"
#: livekit's default health port; worker i listens on this + i unless CONCIERGE_WORKER_PORT is set.
HEALTH_PORT = 8081
BACKOFF_S = (1.0, 30.0)
#: A worker that ran this long before dying was healthy: its back-off starts again from the bottom.
HEALTHY_RUN_S = 60.0


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)


def split_workers_flag(args: Sequence[str]) -> tuple[int | None, list[str]]:
    """(`W` or None when `--workers` is absent, the other arguments). `--workers` alone (or
    `--workers 0`) is one per core; anything else after it that is not a number is refused."""
    rest = list(args)
    for i, arg in enumerate(rest):
        if arg == WORKERS_FLAG or arg.startswith(WORKERS_FLAG + "="):
            value = arg.partition("=")[2]
            del rest[i]
            if not value and i < len(rest) and not rest[i].startswith("-"):
                value = rest.pop(i)
            if value and not value.isdigit():
                raise ValueError(f"{WORKERS_FLAG} takes a whole number of workers, not {value!r}.")
            count = int(value or 0)
            return (count or default_workers()), rest
    return None, rest


def worker_env(index: int, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of worker `index`: the thread executor (unless CONCIERGE_EXECUTOR says
    otherwise) and a health port of its own; port 0 (any free port) stays 0 for every worker."""
    env = dict(os.environ if env is None else env)
    env.setdefault("CONCIERGE_EXECUTOR", "thread")
    base = int(env.get("CONCIERGE_WORKER_PORT", "").strip() or HEALTH_PORT)
    env["CONCIERGE_WORKER_PORT"] = str(base + index if base else 0)
    return env


@dataclass
class Supervised:
    """One worker process, started again when it dies (unless the supervisor is stopping)."""

    index: int
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = BACKOFF_S[0]
    due: float = 0.0  # when to start it again after a death
    restarts: int = field(default=0)

    def start(self) -> None:
        command = [sys.executable, "-m", "concierge", "start", *self.args]
        # a process group of its own: a signal reaches it once (from here), and killing the group
        # takes its job and recognition processes with it
        self.process = subprocess.Popen(command, env=worker_env(self.index), process_group=0)
        self.started = time.monotonic()
        print(f"concierge: worker {self.index} started (pid {self.process.pid})", flush=True)

    def check(self, now: float) -> None:
        """Start it again when it has died and its back-off has passed."""
        if self.process is None:
            if now >= self.due:
                self.restarts += 1
                self.start()
            return
        code = self.process.poll()
        if code is None:
            return
        ran = now - self.started
        if ran > HEALTHY_RUN_S:
            self.backoff = BACKOFF_S[0]
        self.due = now + self.backoff
        self.process = None
        print(
            f"concierge: worker {self.index} exited ({code}) after {ran:.0f} s; "
            f"starting it again in {self.backoff:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        self.backoff = min(self.backoff * 2, BACKOFF_S[1])


def main(count: int, args: Sequence[str]) -> int:
    """Run `count` workers until SIGTERM/SIGINT; then drain them all (livekit's own drain)."""
    workers = [Supervised(i, list(args)) for i in range(count)]
    stopping: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for worker in workers:
            worker.start()
        while not stopping:
            now = time.monotonic()
            for worker in workers:
                worker.check(now)
            time.sleep(0.2)
    finally:
        for worker in workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in workers:
            if worker.process is not None:
                worker.process.wait()
    return 0
