"""Recognition off the worker's process: a few processes that each hold menu-grammar decoders.

pocketsphinx's binding holds the GIL while it decodes, and in livekit's thread executor every call
on a worker shares one process: at 16 calls the recogniser was ~30 % of all the GIL time there,
time in which no other call's VAD, turn detector or reply could run. Here each utterance is pinned
to one recognition process (the least busy), its 80 ms increments are sent there as they arrive
(decoding stays incremental, so a flush only waits for the last increment), and the flush gets the
hypothesis back through a reader thread that resolves the caller's asyncio future with
`call_soon_threadsafe`. What is left on the worker is a `send` per increment.

Crashes cost no utterance (issue #23.5: a hostile user's bursts of kills used to leave the pool
empty for good, or kill its reader thread). Each process has a slot; whenever a process dies —
ready or still starting — its slot gets a new one, at once after a stable run and then with
jittered, capped exponential back-off while it keeps dying (`restart_delay`). An utterance whose
process died is sent again, whole, to another; one begun while none is ready waits for the first
that is; a flush never waits past `RESULT_TIMEOUT_S`. The reader thread, which also restarts
processes, logs any unexpected error and goes on. The pool is started once
per worker process (`concierge.server.prewarm`, thread executor only: with one job per process
decoding inline costs no other call anything) and stopped when the worker's process exits (or by
`providers.close_process_models()`). The recognition processes import only pocketsphinx and this
module, and exit when the worker's end of their socket closes, so a killed worker leaves none
behind.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import logging
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from select import select
from typing import Any

logger = logging.getLogger("concierge")

#: How long a flush waits for its hypothesis before the utterance fails (a stuck process).
RESULT_TIMEOUT_S = 10.0
#: How long `start` waits for the processes to load their first decoder.
START_TIMEOUT_S = 60.0
#: A process that dies is replaced at once; one that dies again soon after waits this long, then
#: twice as long each time (jittered), up to RESTART_MAX_S: a crash loop costs little CPU, and a
#: burst of kills costs at most RESTART_MAX_S (+ ~0.5 s to load) before the pool is whole again.
RESTART_MIN_S = 0.1
RESTART_MAX_S = 5.0
#: A process that stayed up this long resets its slot's count of deaths in a row.
RESTART_RESET_S = 10.0
#: An utterance fails once this many processes died holding its audio (it may be what kills them).
TRIES = 2

# One message = header (operation, utterance id) + payload, both ways.
_HEADER = struct.Struct("<BQ")
_DATA, _END, _DROP, _STOP = 1, 2, 3, 4  # worker → recognition process
_READY, _TEXT, _ERROR = 11, 12, 13  # recognition process → worker
_MAX_PAYLOAD = 32768  # audio per record (an 80 ms increment is 2560 bytes)
_RETRY_S = 0.005  # a flush's wait for room in a full queue
_WAIT_S = 0.02  # a flush's wait for a process to be ready (all of them restarting)
_CLOSE_AFTER_S = 0.5  # a dead process's socket is closed this long after it was hung up
_MAX_MESSAGE = 1 << 17  # the largest record either side reads (the grammar is the largest sent)


def new_decoder(dictionary: str, grammar: str, sample_rate: int) -> Any:
    """A pocketsphinx decoder for the menu grammar (~0.05 s of CPU)."""
    from pocketsphinx import Config, Decoder

    # bestpath=False: no lattice rescoring at the end of an utterance; it halved the CPU per
    # utterance here and changed no transcript of the menu phrases measured.
    config = Config(
        samprate=sample_rate, loglevel="FATAL", lm=None, dict=dictionary, bestpath=False
    )
    decoder = Decoder(config)
    decoder.add_jsgf_string("concierge", grammar)
    decoder.activate_search("concierge")
    return decoder


# --- the recognition process ------------------------------------------------------------------


class _Decoders:
    """The recognition process's state: one decoder per open utterance, idle ones reused."""

    def __init__(self, dictionary: str, grammar: str, sample_rate: int) -> None:
        self._make = lambda: new_decoder(dictionary, grammar, sample_rate)
        self._idle = [self._make()]
        self._open: dict[int, Any] = {}
        self._failed: dict[int, str] = {}

    def decode(self, uid: int, pcm16: bytes) -> None:
        if uid in self._failed:
            return
        decoder = self._open.get(uid)
        try:
            if decoder is None:
                decoder = self._open[uid] = self._idle.pop() if self._idle else self._make()
                decoder.start_utt()
            decoder.process_raw(pcm16, False, False)
        except Exception as e:
            self._open.pop(uid, None)
            self._failed[uid] = f"{type(e).__name__}: {e}"

    def end(self, uid: int) -> tuple[int, str]:
        if uid in self._failed:
            return _ERROR, self._failed.pop(uid)
        decoder = self._open.pop(uid, None)
        if decoder is None:
            return _TEXT, ""
        try:
            decoder.end_utt()
            hyp = decoder.hyp()
        except Exception as e:
            return _ERROR, f"{type(e).__name__}: {e}"
        self._idle.append(decoder)
        return _TEXT, hyp.hypstr if hyp is not None else ""

    def drop(self, uid: int) -> None:
        self._failed.pop(uid, None)
        decoder = self._open.pop(uid, None)
        if decoder is not None:
            with contextlib.suppress(Exception):
                decoder.end_utt()
            self._idle.append(decoder)


def serve(fd: int) -> None:
    """The recognition process: decode what the worker sends until it says stop or goes away.

    `fd` is its end of a socket pair; the first message is the model (dictionary path, sample
    rate, grammar)."""
    conn = socket.socket(fileno=fd)
    try:
        dictionary, rate, grammar = conn.recv(_MAX_MESSAGE).decode().split("\n", 2)
    except (OSError, ValueError):
        return
    decoders = _Decoders(dictionary, grammar, int(rate))
    conn.send(_HEADER.pack(_READY, 0))
    while True:
        try:
            message = conn.recv(_MAX_MESSAGE)
        except OSError:
            return
        if not message:
            return  # the worker is gone
        op, uid = _HEADER.unpack_from(message)
        if op == _DATA:
            decoders.decode(uid, message[_HEADER.size :])
        elif op == _END:
            reply, text = decoders.end(uid)
            conn.send(_HEADER.pack(reply, uid) + text.encode())
        elif op == _DROP:
            decoders.drop(uid)
        elif op == _STOP:
            return


# --- the worker's side ------------------------------------------------------------------------


class RecognitionError(RuntimeError):
    """An utterance the recognition pool could not decode (its process died, or it failed)."""


_ROOT = str(Path(__file__).resolve().parents[2])  # where the `concierge` package lives
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from concierge.offline.recognition_pool import serve; serve(int(sys.argv[2]))"
)


def restart_delay(failures: int) -> float:
    """How long a slot waits before its next process, after `failures` deaths in a row.

    The first death after a stable run restarts at once; then exponential back-off from
    `RESTART_MIN_S`, capped at `RESTART_MAX_S`, with "equal jitter" (half the step fixed, half
    random) so that processes killed together do not restart in lock-step."""
    if failures <= 1:
        return 0.0
    step = min(RESTART_MAX_S, RESTART_MIN_S * 2 ** (failures - 2))
    return step / 2 + random.uniform(0, step / 2)


class _Process:
    """One recognition process, as the worker sees it.

    A plain `python -c` child on one end of a socket pair (not multiprocessing's spawn, which
    re-runs the parent's `__main__` — a notebook kernel, livekit's CLI — in every child).
    """

    def __init__(self, model: bytes, number: int, slot: int) -> None:
        self.conn, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with theirs:
                self.process = subprocess.Popen(
                    [sys.executable, "-c", _CHILD, _ROOT, str(theirs.fileno())],
                    pass_fds=[theirs.fileno()],
                    stdin=subprocess.DEVNULL,
                )
        except BaseException:
            self.conn.close()
            raise
        self.number = number
        self.slot = slot
        self.started_at = time.monotonic()
        self.ready_at: float | None = None
        self.ready = threading.Event()
        self.dead = False
        self.death: str | None = None  # why it died, for the utterances that were on it
        self.utterances: set[PooledUtterance] = set()
        # if it died already (killed at birth), the reader sees its socket close
        with contextlib.suppress(OSError):
            self.conn.send(model)

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, op: int, uid: int, payload: bytes = b"") -> None:
        """One whole record (SOCK_SEQPACKET), so job threads need no lock between them (a lock
        held across a send that gives up the GIL made them queue behind each other). Never
        blocks: `BlockingIOError` when the process's queue is full."""
        self.conn.send(_HEADER.pack(op, uid) + payload, socket.MSG_DONTWAIT)

    def reap(self) -> int:
        """Wait for the process to exit (it has, or is about to: its socket closed)."""
        try:
            return self.process.wait(1)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def hang_up(self) -> None:
        """Make further sends fail at once (the socket is closed later: a job thread may be in a
        send on it right now, and a closed descriptor's number is soon another socket's)."""
        with contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)


class _ProcessDied(RecognitionError):
    """The process an utterance was on died before it answered (the utterance goes elsewhere)."""


class PooledUtterance:
    """One utterance, decoded in a recognition process increment by increment.

    Sends never block the session's loop: a socket pair queues only a few records
    (`net.unix.max_dgram_qlen`, 10 here), so audio the process has not taken yet waits in this
    utterance's backlog and goes with the next increment; the flush sends the rest, yielding to
    the loop while the process catches up. An utterance begun while no process is ready (all of
    them restarting) keeps its audio the same way and is pinned to the first one that is; one
    whose process dies is sent again, whole, to another (until `TRIES` processes died holding
    it, so audio that crashes the decoder cannot take down the whole pool).
    """

    def __init__(self, pool: RecognitionPool) -> None:
        self._pool = pool
        self._process: _Process | None = None
        self.uid = next(pool._ids)
        self.seconds = 0.0
        self.error: str | None = None
        self._backlog = bytearray()  # audio not sent yet
        self._sent = bytearray()  # audio its process has, to send again if that one dies
        self._tried: list[_Process] = []  # processes it left (dead when it last tried them)
        self._accepted = False  # its current process took some of its audio
        self._strikes = 0  # processes that died holding its audio
        self._done = False

    def decode(self, pcm16: bytes) -> None:
        self.seconds += len(pcm16) / 2 / self._pool.sample_rate
        if self.error is None:
            self._backlog += pcm16
            self._push()

    def _push(self) -> bool:
        """Send the backlog as far as a process takes it now: True when all of it went (or the
        utterance failed), False while it waits for room in the queue or for a ready process."""
        while self.error is None:
            process = self._process
            if process is not None and process.dead:
                self._requeue(process)
                continue
            if process is None:
                process = self._process = self._pool._pin(self, avoid=self._tried)
                if process is None:
                    return self.error is not None
            if not self._backlog:
                return True
            chunk = bytes(self._backlog[:_MAX_PAYLOAD])
            try:
                process.send(_DATA, self.uid, chunk)
            except BlockingIOError:
                return False
            except OSError:  # it died (the reader says so too) or the pool closed
                self._requeue(process)
                continue
            del self._backlog[: len(chunk)]
            self._sent += chunk
            self._accepted = True
        return True

    def _requeue(self, process: _Process) -> None:
        """Leave a process that died: all the audio goes again to another, if tries are left."""
        self._pool._unpin(self, process)
        self._tried.append(process)
        self._process = None
        self._strikes += self._accepted  # a send that failed at once cost it nothing
        self._accepted = False
        if self._strikes >= TRIES or self._pool.closed:
            self.fail(self._pool._gone(process))
            return
        self._backlog[:0] = self._sent
        self._sent = bytearray()

    def fail(self, error: str) -> None:
        if self.error is None:
            self.error = error
            self._backlog.clear()
            self._sent.clear()

    async def result(self) -> str:
        """End the utterance and wait for what the recognition process heard."""
        self._done = True
        try:
            return await asyncio.wait_for(self._finish(), RESULT_TIMEOUT_S)
        except TimeoutError:
            process = self._process
            if process is None:
                raise RecognitionError(
                    f"no hypothesis within {RESULT_TIMEOUT_S:g} s: no recognition process was ready"
                ) from None
            self._pool._drop_later(process, self.uid)  # free its decoder once it is back
            raise RecognitionError(f"no hypothesis within {RESULT_TIMEOUT_S:g} s") from None
        finally:
            self._pool._forget(self, self.uid)

    async def _finish(self) -> str:
        loop = asyncio.get_running_loop()
        while True:
            while not self._push():  # room in the queue, or a ready process, is a moment away
                await asyncio.sleep(_RETRY_S if self._process is not None else _WAIT_S)
            process = self._process
            if self.error is not None or process is None:
                raise RecognitionError(self.error or "no recognition process")
            future: asyncio.Future[str] = loop.create_future()
            if await self._end(process, loop, future):
                try:
                    return await future
                except _ProcessDied:
                    pass
            future.cancel()  # whatever the reader still settles on it goes nowhere
            self._requeue(process)

    async def _end(
        self, process: _Process, loop: asyncio.AbstractEventLoop, future: asyncio.Future[str]
    ) -> bool:
        """Ask `process` for the hypothesis (into `future`); False if it is gone."""
        if not self._pool._expect(self.uid, process, loop, future):
            return False
        while True:
            try:
                process.send(_END, self.uid)
                return True
            except BlockingIOError:
                await asyncio.sleep(_RETRY_S)
            except OSError:
                return False

    def close(self) -> None:
        """Give up the utterance (no result wanted); a no-op after `result`."""
        if self._done:
            return
        self._done = True
        if self.error is None and self._process is not None:
            self._pool._drop_later(self._process, self.uid)
        self._pool._forget(self, None)


class RecognitionPool:
    """`processes` recognition processes for one menu grammar, shared by a worker's sessions.

    Used like a `MenuRecognizer`: `utterance()` for streaming, `transcribe()` for a whole clip.
    Each process has a slot; a process that dies, at any point of its life, is replaced in its
    slot after `restart_delay` of the slot's deaths in a row (the count starts again once a
    process has stayed up `RESTART_RESET_S`), so the pool always returns to its size.
    """

    def __init__(
        self,
        grammar: str,
        dictionary: str,
        sample_rate: int,
        processes: int = 1,
        *,
        owner: object = None,
    ) -> None:
        self._owner = owner  # whatever keeps `dictionary` on disk (a restart reads it again)
        self.sample_rate = sample_rate
        self.size = max(1, processes)
        self._model = f"{dictionary}\n{sample_rate}\n{grammar}".encode()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a process got ready or died; closed
        #: flushes waiting for a hypothesis: utterance id → (its process, its loop, its future)
        self._waiting: dict[
            int, tuple[_Process, asyncio.AbstractEventLoop, asyncio.Future[str]]
        ] = {}
        self._processes: list[_Process | None] = [None] * self.size  # one per slot
        self._failures = [0] * self.size  # each slot's deaths in a row
        self._restart_at: list[float | None] = [None] * self.size  # when a slot gets its next
        self._started = 0
        self._ever_ready = False
        self._broken: str | None = None  # why no process could ever start (`start` gives up)
        self._closed = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._reader: threading.Thread | None = None
        self._drops: list[tuple[_Process, int]] = []  # utterances given up, for the reader
        #: dead processes (and when they died) whose sockets the reader closes a little later
        self._hung_up: list[tuple[float, _Process]] = []
        self.restarts = 0

    # lifecycle

    def start(self, timeout: float = START_TIMEOUT_S) -> RecognitionPool:
        """Start the processes and wait until each has loaded a decoder.

        A process killed while the pool starts is replaced like any other; `start` fails when
        processes exit on their own before any got ready (a broken model: restarts would only
        fail again) or `timeout` passes."""
        try:
            for slot in range(self.size):
                self._spawn(slot)
        except OSError as e:
            self.close()
            raise RecognitionError(f"a recognition process could not be started: {e}") from e
        self._reader = threading.Thread(
            target=self._read, name="concierge-recognition-reader", daemon=True
        )
        self._reader.start()
        if not self.wait_ready(timeout):
            why = self._broken or f"not all ready within {timeout:g} s"
            self.close()
            raise RecognitionError(f"a recognition process did not start ({why})")
        atexit.register(self.close)
        return self

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every slot's process is up and has loaded its decoder: False after
        `timeout` seconds, once the pool is closed, or if no process could ever start."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(
                p is not None and p.ready.is_set() and not p.dead for p in self._processes
            ):
                remaining = deadline - time.monotonic()
                if self._closed or self._broken or remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def _spawn(self, slot: int) -> None:
        """A new process in `slot` (OSError if none can be started)."""
        with self._lock:
            self._started += 1
            number = self._started
        proc = _Process(self._model, number, slot)
        with self._lock:
            closed = self._closed
            if not closed:
                if self._processes[slot] is not None:
                    self.restarts += 1
                self._processes[slot] = proc
                self._restart_at[slot] = None
        if closed:  # the pool closed while this one was starting
            proc.process.kill()
            proc.reap()
            proc.conn.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._processes if p is not None and not p.dead]

    def close(self) -> None:
        """Stop the processes and the reader; utterances still waiting fail."""
        with self._changed:
            if self._closed:
                return
            self._closed = True
            self._changed.notify_all()
        atexit.unregister(self.close)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(5)
        with self._lock:  # the reader starts no process once closed is set
            processes = [p for p in self._processes if p is not None]
        for proc in processes:
            with contextlib.suppress(OSError):
                proc.send(_STOP, 0)  # if its queue is full, it is killed below instead
        for proc in processes:
            try:
                proc.process.wait(2)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait(2)
            proc.hang_up()
            proc.conn.close()
        for _, proc in self._hung_up:
            proc.conn.close()
        self._wake_r.close()
        self._wake_w.close()
        self._fail_waiting(None, RecognitionError("the recognition pool was closed"))

    # utterances

    def utterance(self) -> PooledUtterance:
        """A new utterance, pinned to the least busy recognition process that is ready (or, if
        none is, to the first that gets ready)."""
        utterance = PooledUtterance(self)
        utterance._process = self._pin(utterance, avoid=[])
        return utterance

    def transcribe(self, pcm16: bytes) -> str:
        """Recognise one whole utterance of 16 kHz mono 16-bit PCM (blocking; not on a loop)."""

        async def run() -> str:
            utterance = self.utterance()
            utterance.decode(pcm16)
            return await utterance.result()

        return asyncio.run(run())

    def _pin(self, utterance: PooledUtterance, avoid: list[_Process]) -> _Process | None:
        """The least busy ready process (not one in `avoid`) for `utterance`, if there is one."""
        with self._lock:
            if self._closed:
                utterance.fail("the recognition pool was closed")
                return None
            live = [
                p
                for p in self._processes
                if p is not None and p.ready.is_set() and not p.dead and p not in avoid
            ]
            proc = min(live, key=lambda p: len(p.utterances), default=None)
            if proc is not None:
                proc.utterances.add(utterance)
            return proc

    def _unpin(self, utterance: PooledUtterance, proc: _Process) -> None:
        with self._lock:
            proc.utterances.discard(utterance)

    def _gone(self, proc: _Process) -> str:
        """Why `proc` no longer answers."""
        if self._closed:
            return "the recognition pool was closed"
        return proc.death or f"recognition process {proc.pid} exited"

    def _expect(
        self,
        uid: int,
        proc: _Process,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[str],
    ) -> bool:
        """Wait for `proc`'s hypothesis of `uid` in `future`; False if it is too late for that
        (the process died, the pool closed)."""
        with self._lock:
            if self._closed or proc.dead:
                return False
            self._waiting[uid] = (proc, loop, future)
            return True

    def _drop_later(self, proc: _Process, uid: int) -> None:
        """Tell `proc` to free an utterance's decoder, from the reader thread (it may wait)."""
        if proc.dead:
            return  # its decoders went with it
        with self._lock:
            self._drops.append((proc, uid))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"d", socket.MSG_DONTWAIT)

    def _send_drops(self) -> None:
        with self._lock:
            drops, self._drops = self._drops, []
        for i, (proc, uid) in enumerate(drops):
            try:
                proc.send(_DROP, uid)
            except BlockingIOError:
                with self._lock:
                    self._drops[:0] = drops[i:]
                return
            except OSError:
                pass  # that process is gone, and its decoders with it

    def _forget(self, utterance: PooledUtterance, uid: int | None) -> None:
        with self._lock:
            if uid is not None:
                self._waiting.pop(uid, None)
            for proc in self._processes:
                if proc is not None:
                    proc.utterances.discard(utterance)

    # the reader thread: replies, deaths and restarts

    def _read(self) -> None:
        while not self._closed:
            try:
                self._read_once()
            except Exception:  # nothing may end the thread that restarts processes
                if self._closed:
                    return
                logger.exception("recognition pool: unexpected error in its reader; going on")
                time.sleep(0.1)

    def _read_once(self) -> None:
        with self._lock:
            by_fd = {p.conn.fileno(): p for p in self._processes if p is not None and not p.dead}
        readable, _, _ = select([*by_fd, self._wake_r.fileno()], [], [], self._read_timeout())
        for ready in readable:
            if self._closed:
                return
            if ready in by_fd:
                self._receive(by_fd[ready])
            else:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096, socket.MSG_DONTWAIT)
        if self._drops:
            self._send_drops()
        while self._hung_up and self._hung_up[0][0] < time.monotonic() - _CLOSE_AFTER_S:
            self._hung_up.pop(0)[1].conn.close()
        self._restart_due()

    def _read_timeout(self) -> float:
        timeout = 0.05 if self._drops else 1.0
        with self._lock:
            due = [at for at in self._restart_at if at is not None]
        if due:
            timeout = min(timeout, max(0.0, min(due) - time.monotonic()))
        return timeout

    def _receive(self, proc: _Process) -> None:
        try:
            message = proc.conn.recv(_MAX_MESSAGE)
        except OSError:
            message = b""
        if not message:  # its end of the socket closed: the process is gone
            self._died(proc)
            return
        op, uid = _HEADER.unpack_from(message)
        if op == _READY:
            self._got_ready(proc)
            return
        with self._lock:
            waiting = self._waiting.get(uid)
            if waiting is None or waiting[0] is not proc:
                return  # the flush gave up already, or went to another process
            del self._waiting[uid]
        _, loop, future = waiting
        text = bytes(message[_HEADER.size :]).decode()
        if op == _TEXT:
            _resolve(loop, future, lambda: future.set_result(text))
        else:
            error = RecognitionError(f"recognition failed: {text}")
            _resolve(loop, future, lambda: future.set_exception(error))

    def _got_ready(self, proc: _Process) -> None:
        with self._changed:
            proc.ready_at = time.monotonic()
            proc.ready.set()
            self._ever_ready = True
            self._changed.notify_all()
        if proc.number > self.size:
            logger.info(
                "recognition process %d ready, %.2f s after it was started",
                proc.pid,
                proc.ready_at - proc.started_at,
            )

    def _died(self, proc: _Process) -> None:
        if self._closed or proc.dead:
            return
        code = proc.reap()
        error = f"recognition process {proc.pid} exited (code {code})"
        with self._changed:
            proc.dead = True
            proc.death = error
            on_it = len(proc.utterances)
            proc.utterances.clear()  # each notices and goes to another process
            delay = self._schedule_restart(proc.slot, proc.ready_at)
            if code > 0 and not self._ever_ready:  # it failed by itself, not killed
                self._broken = f"{error} before it was ready"
            self._changed.notify_all()
        logger.error(
            "%s; %d utterance(s) on it go to another; restarting it in %.2f s", error, on_it, delay
        )
        self._fail_waiting(proc, _ProcessDied(error))
        proc.hang_up()
        self._hung_up.append((time.monotonic(), proc))

    def _schedule_restart(self, slot: int, up_since: float | None) -> float:
        """Count a death in `slot` and set when its next process starts (the lock is held)."""
        now = time.monotonic()
        if up_since is not None and now - up_since >= RESTART_RESET_S:
            self._failures[slot] = 0  # it had been up a while: this is a new failure
        self._failures[slot] += 1
        delay = restart_delay(self._failures[slot])
        self._restart_at[slot] = now + delay
        return delay

    def _restart_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [s for s, at in enumerate(self._restart_at) if at is not None and at <= now]
        for slot in due:
            if self._closed:
                return
            try:
                self._spawn(slot)
            except OSError as e:  # no fork, no file descriptors: try again later
                with self._lock:
                    delay = self._schedule_restart(slot, None)
                logger.error(
                    "a recognition process could not be started (%s); trying again in %.2f s",
                    e,
                    delay,
                )

    def _fail_waiting(self, proc: _Process | None, error: RecognitionError) -> None:
        """Fail the flushes waiting on `proc` (None: on any process) with `error`."""
        with self._lock:
            uids = [u for u, (p, _, _) in self._waiting.items() if proc is None or p is proc]
            failed = [self._waiting.pop(uid) for uid in uids]
        for _, loop, future in failed:
            _resolve(loop, future, lambda f=future: f.set_exception(type(error)(*error.args)))  # type: ignore[misc]


def _resolve(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[str], settle: Callable[[], None]
) -> None:
    """Settle `future` on its own loop's thread (it may have been cancelled, its loop closed)."""

    def run() -> None:
        if not future.done():
            settle()

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(run)
