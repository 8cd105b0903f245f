"""The load this worker reports to LiveKit: how full it is, from what it can really serve.

livekit's default load is the machine's CPU, averaged over 2.5 s. For a voice worker that comes
too late: measured on 2 cores, turns collapsed at ~60 % of the machine (one process cannot use
both cores for Python), so a CPU threshold never fired. What predicts a slow turn is the number of
live voice sessions against the number this worker was measured to hold
(`python -m concierge bench --capacity`), and how late the sessions' event loops run.

`load()` is `AgentServer(load_fnc=...)`: the larger of `sessions / capacity` and
`loop lag / LAG_LIMIT_S`, capped at 1. LiveKit stops sending new calls once it passes the
server's `load_threshold`. (On LiveKit Cloud hosting a custom load function is ignored.)
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from collections import deque

#: Concurrent voice sessions one worker holds with p95 voice turn < 1.5 s, measured on a 2-core
#: machine by `python -m concierge bench --capacity` (README, "Deploy"): 16 with recognition in a
#: process beside the worker (p95 1.03–1.24 s at load average < 2.5; over 1.5 s when other work
#: kept the machine at 3–5). Override with CONCIERGE_SESSIONS_PER_WORKER after measuring yours.
SESSIONS_PER_WORKER = 16
#: Event-loop lag at which a worker counts as full: turns are already audibly late. Override with
#: CONCIERGE_LAG_LIMIT_S (a test that must count sessions only, on a busy machine, sets it high).
LAG_LIMIT_S = 0.25
#: The environment of a worker that serves one presenter (the lab's panel): it counts calls
#: only, so a busy laptop's late event loop never makes LiveKit turn the presenter's call away.
COUNT_CALLS_ONLY = {"CONCIERGE_LAG_LIMIT_S": "3600"}
#: How far back the loop lag is looked at.
LAG_WINDOW_S = 5.0
#: The heartbeat's period: a block is seen to within one tick (the benchmark ticks faster).
TICK_S = 0.05


class LoopLag:
    """How late one event loop runs its timers: a heartbeat every `tick` s, lateness recorded."""

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float = TICK_S) -> None:
        self._loop = loop
        self._tick_s = tick
        self._lags: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self.all_lags: list[float] = []  # every lateness seen, for the benchmark

    def start(self) -> LoopLag:
        self._due = time.perf_counter() + self._tick_s
        self._handle = self._loop.call_later(self._tick_s, self._tick)
        return self

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def _tick(self) -> None:
        now = time.perf_counter()
        lag = max(0.0, now - self._due)
        self.all_lags.append(lag)
        with self._lock:
            self._lags.append((now, lag))
            while self._lags and self._lags[0][0] < now - LAG_WINDOW_S:
                self._lags.popleft()
        self._due = now + self._tick_s
        self._handle = self._loop.call_later(self._tick_s, self._tick)

    def recent_max(self) -> float:
        """The worst lateness in the last `LAG_WINDOW_S` seconds (any thread may ask)."""
        cutoff = time.perf_counter() - LAG_WINDOW_S
        with self._lock:
            return max((lag for at, lag in self._lags if at >= cutoff), default=0.0)


class WorkerLoad:
    """Live voice sessions and loop lag in this process (jobs on threads share one of these)."""

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity or int(
            os.environ.get("CONCIERGE_SESSIONS_PER_WORKER", SESSIONS_PER_WORKER)
        )
        self.lag_limit = float(os.environ.get("CONCIERGE_LAG_LIMIT_S", LAG_LIMIT_S))
        self._sessions = 0
        self._lock = threading.Lock()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopLag] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def sessions(self) -> int:
        return self._sessions

    def session_started(self) -> None:
        """Count a session, and watch the lag of the loop it runs on (once per loop)."""
        with self._lock:
            self._sessions += 1
        self.watch_loop()

    def watch_loop(self) -> None:
        """Watch the running loop's lag from now on (once per loop). The worker's own loop counts
        too: in livekit's process executor the sessions' loops are in job processes, and when the
        machine's cores are saturated the worker's loop runs late with them."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if loop not in self._loops:
                self._loops[loop] = LoopLag(loop).start()

    def session_ended(self) -> None:
        with self._lock:
            self._sessions = max(0, self._sessions - 1)

    def stop(self) -> None:
        """Stop watching every loop (a process that keeps running after its worker, a notebook)."""
        with self._lock:
            meters, self._loops = list(self._loops.values()), weakref.WeakKeyDictionary()
        for meter in meters:
            meter.stop()

    def lag(self) -> float:
        with self._lock:
            meters = [m for loop, m in self._loops.items() if not loop.is_closed()]
        return max((m.recent_max() for m in meters), default=0.0)

    def load(self, active_jobs: int | None = None) -> float:
        """0 (idle) .. 1 (full): sessions against capacity, or loop lag against its limit."""
        sessions = self._sessions if active_jobs is None else max(self._sessions, active_jobs)
        return min(1.0, max(sessions / self.capacity, self.lag() / self.lag_limit))


#: This process's load. In livekit's process executor each job has its own process, and the worker
#: process (where LiveKit asks for the load) counts jobs through `active_jobs` instead.
WORKER_LOAD = WorkerLoad()
