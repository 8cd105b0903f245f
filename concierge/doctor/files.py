"""Which files the doctor reads and writes, and how: safe on any tree someone points it at.

The doctor is run on code it does not own, so reading a file must never hang, exhaust memory or
follow a link out of the tree: only regular files are read (a FIFO blocks forever, `/dev/zero`
never ends), a symlink is followed only to a regular file (its target is stat-ed, never opened
blind), a size cap skips generated or vendored giants with a message that says so, and Python
sources are decoded the way the interpreter does (`tokenize.open` honours a PEP 263 coding line).
Virtualenvs, `node_modules`, caches and build output are skipped unless asked for.

Writing (`doctor --fix --write`) never harms a file: the new text goes to a temporary file in the
same directory, is flushed to disk, and replaces the original in one `os.replace` (a crash or a
full disk leaves the original whole); a read-only file is left alone; and a symlink is written
through only when its target is inside the tree the doctor was given.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: Directories no one wants audited: environments, caches, VCS and build output.
SKIP_DIRS = frozenset(
    {
        ".venv", "venv", "env", ".env", ".git", ".hg", ".svn", "__pycache__", "node_modules",
        ".tox", ".nox", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".ipynb_checkpoints",
        "build", "dist", "site-packages", ".eggs",
    }
)  # fmt: skip
#: Larger files are skipped with a message: no hand-written agent module is 1 MB.
MAX_BYTES = 1_000_000
#: Non-Python files where an agent script is started from a command line (see rule LK029).
SCRIPT_NAMES = ("Dockerfile", "Procfile", "Makefile", "justfile")
SCRIPT_SUFFIXES = (".sh", ".bash", ".yml", ".yaml", ".toml", ".dockerfile")


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str
    failed: bool = False  # it should have been checked and could not be (no parse, no import)


def is_script(path: Path) -> bool:
    return path.name.startswith(SCRIPT_NAMES) or path.suffix in SCRIPT_SUFFIXES


def candidate_files(
    paths: Iterable[str | Path], *, skip_dirs: frozenset[str] = SKIP_DIRS
) -> Iterator[Path]:
    """Python sources and launch scripts under `paths`; a path named explicitly is always yielded.

    Directory symlinks are not descended (`os.walk(followlinks=False)`), so a link cannot loop the
    walk or lead it out of the tree; file symlinks are yielded and checked by `read_source`.
    """
    for p in map(Path, paths):
        if not p.is_dir():
            yield p
            continue
        for root, dirs, files in os.walk(p, followlinks=False):
            dirs[:] = sorted(d for d in dirs if d not in skip_dirs and not d.endswith(".egg-info"))
            for name in sorted(files):
                child = Path(root, name)
                if child.suffix == ".py" or is_script(child):
                    yield child


def read_source(path: Path, *, max_bytes: int = MAX_BYTES) -> str | Skipped:
    """The text of `path`, or why it was skipped. Never blocks on a FIFO or reads a device.

    The file is opened non-blocking and checked with `fstat` on the open descriptor, so what is
    read is exactly what was checked (no window to swap a FIFO in). Python is decoded like
    `tokenize.open` does it (`tokenize.detect_encoding`: PEP 263 coding line or BOM, else UTF-8).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        return Skipped(str(path), f"cannot read it ({e.strerror or type(e).__name__})")
    with os.fdopen(fd, "rb") as raw:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            return Skipped(
                str(path), f"skipped: {kind} (FIFOs, devices and sockets are never read)"
            )
        if info.st_size > max_bytes:
            return Skipped(
                str(path),
                f"skipped: {info.st_size:,} bytes is over the {max_bytes:,}-byte size cap",
            )
        data = raw.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew after the check
        return Skipped(str(path), f"skipped: over the {max_bytes:,}-byte size cap")
    try:
        encoding = "utf-8"
        if path.suffix == ".py":
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (UnicodeDecodeError, SyntaxError, LookupError) as e:
        return Skipped(str(path), f"cannot read it ({type(e).__name__}: {e})")


def write_atomic(path: Path, data: bytes, *, root: Path) -> str | None:
    """Replace `path`'s content with `data` in one step; the reason it was not written, or None.

    `root` is the tree the doctor was given: a link whose target lies outside it is not followed.
    """
    target = path.resolve()
    inside = root.resolve()
    if target != inside and inside not in target.parents:
        return f"not written: it links to {target}, outside {root}"
    if not os.access(target, os.W_OK) or not os.stat(target).st_mode & 0o222:
        return "not written: the file is read-only"  # marked so, even for a user who could
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".doctor", dir=target.parent)
    except OSError as e:
        return f"not written: {e.strerror or type(e).__name__}"
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        reason = "the disk is full" if e.errno == errno.ENOSPC else e.strerror or str(e)
        return f"not written ({reason}); the file is unchanged"
    return None
