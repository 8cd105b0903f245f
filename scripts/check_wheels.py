"""Check, offline, that the lock installs from wheels alone (no compiler) where attendees are.

uv.lock (written by scripts/lock.sh) records every package the project installs, its environment
markers, and the files PyPI had for the locked version. For each supported platform and Python
this script walks the lock from `concierge-lab[lab]` (markers evaluated for that target), decides
with `packaging.tags` whether a locked wheel fits the target's tags the way pip there would, and
renders the answer as the table in docs/platforms.md:

    python scripts/check_wheels.py           # compare with docs/platforms.md; exit 1 on any change
    python scripts/check_wheels.py --write   # rewrite the table in docs/platforms.md

It reads no network: the same commit gives the same answer next week (tests/test_platforms.py
runs it). It fails when a package needed somewhere has no locked wheel there, or when the table
differs from the committed one (a refreshed lock changed what installs where: review it, then
`--write`). What PyPI holds *today* is the lock refresh's business (`bash scripts/lock.sh
--upgrade --dry-run` reports the drift), never a test's.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging import tags
from packaging.markers import Marker
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion

ROOT = Path(__file__).resolve().parents[1]
LOCK_FILE = ROOT / "uv.lock"
TABLE_FILE = ROOT / "docs" / "platforms.md"
BEGIN, END = "<!-- wheels:begin -->", "<!-- wheels:end -->"
PROJECT = "concierge-lab"
EXTRAS = ("lab",)  # what scripts/lab.sh installs (it pulls in `speech`)
PYTHONS = ("3.11", "3.12", "3.13")


@dataclass(frozen=True)
class Platform:
    name: str
    pip_platforms: tuple[str, ...]
    sys_platform: str
    platform_system: str
    platform_machine: str
    os_name: str


def _manylinux(arch: str) -> tuple[str, ...]:
    """glibc 2.35 and older (Ubuntu 22.04+, Debian 12+), the way pip on such a system sees it."""
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}  # same glibc, old names
    found = []
    for minor in range(35, 4, -1):
        found.append(f"manylinux_2_{minor}_{arch}")
        if minor in legacy and (minor == 17 or arch == "x86_64"):
            found.append(f"{legacy[minor]}_{arch}")
    return tuple(found)


PLATFORMS = (
    Platform("Linux x86_64", _manylinux("x86_64"), "linux", "Linux", "x86_64", "posix"),
    Platform("Linux aarch64", _manylinux("aarch64"), "linux", "Linux", "aarch64", "posix"),
    Platform("macOS arm64", ("macosx_14_0_arm64",), "darwin", "Darwin", "arm64", "posix"),
    Platform("Windows x86_64", ("win_amd64",), "win32", "Windows", "AMD64", "nt"),
)


def marker_env(platform: Platform, python: str) -> dict[str, str]:
    return {
        "python_version": python,
        # a current patch release: uv.lock may split on one (e.g. `python_full_version < '3.11.5'`)
        "python_full_version": f"{python}.9",
        "sys_platform": platform.sys_platform,
        "platform_system": platform.platform_system,
        "platform_machine": platform.platform_machine,
        "os_name": platform.os_name,
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
        "extra": "",
    }


Lock = dict[str, list[dict[str, Any]]]  # package name -> its locked entries (one per version)


def read_lock(path: Path = LOCK_FILE) -> Lock:
    packages: Lock = {}
    for package in tomllib.loads(path.read_text())["package"]:
        packages.setdefault(canonicalize_name(package["name"]), []).append(package)
    return packages


def _applies(dep: Mapping[str, Any], env: Mapping[str, str]) -> bool:
    return "marker" not in dep or Marker(dep["marker"]).evaluate(dict(env))


def _entry(lock: Lock, dep: Mapping[str, Any]) -> dict[str, Any]:
    """The locked package a dependency points at (uv names the version where there are several)."""
    entries = lock[canonicalize_name(dep["name"])]
    return next(e for e in entries if dep.get("version", e["version"]) == e["version"])


def closure(
    env: Mapping[str, str],
    extras: Iterable[str] = EXTRAS,
    lock: Lock | None = None,
    groups: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """Every package the project with `extras` (and dependency `groups`) installs on this target:
    name -> locked entry."""
    lock = read_lock() if lock is None else lock
    project = lock[PROJECT][0]
    todo = list(project.get("dependencies", []))
    for extra in extras:
        todo += project.get("optional-dependencies", {}).get(extra, [])
    for group in groups:
        todo += project.get("dev-dependencies", {}).get(group, [])
    found: dict[str, dict[str, Any]] = {}
    while todo:
        dep = todo.pop()
        if not _applies(dep, env):
            continue
        entry = _entry(lock, dep)
        name = canonicalize_name(entry["name"])
        for extra in dep.get("extra", []):  # psycopg[binary] pulls in psycopg-binary
            todo += entry.get("optional-dependencies", {}).get(extra, [])
        if name not in found:
            found[name] = entry
            todo += entry.get("dependencies", [])
    return found


def wheel_tags(entry: Mapping[str, Any]) -> set[Tag]:
    found: set[Tag] = set()
    for wheel in entry.get("wheels", []):
        with contextlib.suppress(InvalidWheelFilename, InvalidVersion):
            found |= parse_wheel_filename(wheel["url"].rsplit("/", 1)[1])[3]
    return found


def is_pure(entry: Mapping[str, Any]) -> bool:
    """Only pure-Python wheels (`py3-none-any`): installs anywhere, not a row of the table."""
    offered = wheel_tags(entry)
    return bool(offered) and all(t.abi == "none" and t.platform == "any" for t in offered)


def target_tags(platform: Platform, python: str) -> set[Tag]:
    """The wheel tags pip accepts on that platform and CPython version."""
    version = tuple(int(n) for n in python.split("."))
    platforms = []
    for plat in platform.pip_platforms:
        if plat.startswith("macosx_"):
            _, major, minor, arch = plat.split("_", 3)
            platforms += list(tags.mac_platforms((int(major), int(minor)), arch))
        else:
            platforms.append(plat)
    return {
        *tags.cpython_tags(version, platforms=platforms),
        *tags.compatible_tags(version, f"cp{version[0]}{version[1]}", platforms),
    }


Cells = dict[str, dict[str, str | None]]


def availability(lock: Lock | None = None) -> tuple[list[str], Cells, list[str]]:
    """Rows of the table, cells per (row, column), and the failures (needed but no wheel)."""
    lock = read_lock() if lock is None else lock
    columns = [f"{p.name} · {py}" for p in PLATFORMS for py in PYTHONS]
    needed = {(p, py): closure(marker_env(p, py), lock=lock) for p in PLATFORMS for py in PYTHONS}
    project = lock[PROJECT][0]
    direct = {
        canonicalize_name(d["name"])
        for d in project.get("dependencies", [])
        + [d for e in EXTRAS for d in project.get("optional-dependencies", {}).get(e, [])]
    }
    everything = {name: entry for here in needed.values() for name, entry in here.items()}
    compiled = {name for name, entry in everything.items() if not is_pure(entry)}
    rows = sorted(direct | compiled)
    cells: Cells = {row: {} for row in rows}
    failures = []
    for (p, py), here in needed.items():
        column, accepted = f"{p.name} · {py}", target_tags(p, py)
        for row in rows:
            entry = here.get(row, everything[row])
            has_wheel = row not in compiled or bool(wheel_tags(entry) & accepted)
            if row not in here:
                cells[row][column] = "—" if has_wheel else "— no wheel"
            elif has_wheel:
                cells[row][column] = "✓"
            else:
                cells[row][column] = "✗"
                failures.append(f"{row} {entry['version']} has no locked wheel for {column}")
    return rows, cells | {"": dict.fromkeys(columns)}, failures


def render(rows: list[str], cells: Mapping[str, Mapping[str, str | None]]) -> str:
    columns = list(cells[""])
    head = "| package | " + " | ".join(columns) + " |"
    rule = "|---|" + "---|" * len(columns)
    body = [f"| {row} | " + " | ".join(str(cells[row][c]) for c in columns) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def committed_table() -> str:
    text = TABLE_FILE.read_text()
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write", action="store_true", help="rewrite the table in docs/platforms.md"
    )
    args = parser.parse_args(argv)
    rows, cells, failures = availability()
    table = render(rows, cells)
    if args.write:
        text = TABLE_FILE.read_text()
        before, rest = text.split(BEGIN, 1)
        TABLE_FILE.write_text(f"{before}{BEGIN}\n{table}\n{END}{rest.split(END, 1)[1]}")
        print(f"wrote {TABLE_FILE.relative_to(ROOT)}")
    for failure in failures:
        print(f"NO WHEEL: {failure}", file=sys.stderr)
    stale = not args.write and table != committed_table()
    if stale:
        print(
            "docs/platforms.md's wheel table differs from what uv.lock installs:\n"
            f"{table}\nReview it, then run `python scripts/check_wheels.py --write`.",
            file=sys.stderr,
        )
    if not failures and not stale:
        print(f"wheels for all {len(rows)} packages on {len(cells[''])} platform × Python pairs")
    return 1 if failures or stale else 0


if __name__ == "__main__":
    sys.exit(main())
