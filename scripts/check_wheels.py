"""Check that the lab installs from wheels alone (no compiler) where workshop attendees are.

For each supported platform and Python version it takes every package `concierge-lab[lab]`
installs there (the dependency tree of this environment, with each requirement's environment
markers evaluated for that platform), reads the files PyPI lists for it (the Simple API pip
itself reads, one request per package, no downloads), decides with `packaging.tags` whether a
wheel of that version fits the platform's tags the way `pip --platform … --python-version …`
would, and renders the answer as the table in docs/platforms.md:

    python scripts/check_wheels.py           # compare with docs/platforms.md; exit 1 on any change
    python scripts/check_wheels.py --write   # rewrite the table in docs/platforms.md

It fails when a package needed somewhere has no wheel there, or when the table differs from the
committed one (a dependency bump changed what installs where: review it, then `--write`).
Packages are checked at the versions installed here, which is what `scripts/test.sh` just
installed; pure-Python wheels (`py3-none-any`) install everywhere and are not asked about.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata as md
import json
import sys
import tomllib
import urllib.request
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging import tags
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
TABLE_FILE = ROOT / "docs" / "platforms.md"
BEGIN, END = "<!-- wheels:begin -->", "<!-- wheels:end -->"
EXTRAS = ("lab",)  # what scripts/lab.sh installs (it pulls in `speech`)
PYTHONS = ("3.11", "3.12", "3.13")
INDEX = "https://pypi.org/simple"  # PyPI itself, whatever local indexes pip is configured with


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
        "python_full_version": f"{python}.0",
        "sys_platform": platform.sys_platform,
        "platform_system": platform.platform_system,
        "platform_machine": platform.platform_machine,
        "os_name": platform.os_name,
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
        "extra": "",
    }


def _applies(req: Requirement, env: Mapping[str, str], extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**env, "extra": e}) for e in (*extras, ""))


def _installed(name: str) -> md.Distribution | None:
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        return None


def _is_pure(dist: md.Distribution) -> bool:
    tags = [ln.split(":", 1)[1].strip() for ln in (dist.read_text("WHEEL") or "").splitlines()
            if ln.startswith("Tag:")]  # fmt: skip
    return bool(tags) and all(t.endswith("-none-any") for t in tags)


def project_requirements() -> list[Requirement]:
    """`concierge-lab[lab]` as pyproject.toml declares it, self-references expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    reqs, todo, seen = [], ["", *EXTRAS], set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in project["dependencies"] if extra == "" else extras[extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == canonicalize_name(project["name"]):
                todo.extend(req.extras)
            else:
                reqs.append(req)
    return reqs


def closure(env: Mapping[str, str]) -> dict[NormalizedName, Requirement]:
    """Every package installed on this target: name → what to ask pip for."""
    found: dict[NormalizedName, Requirement] = {}
    todo = [r for r in project_requirements() if _applies(r, env, ())]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in found:
            continue
        dist = _installed(req.name)
        if dist is None:  # only needed on another platform: ask for the newest that fits
            found[name] = Requirement(f"{name}{req.specifier}")
            continue
        found[name] = Requirement(f"{name}=={dist.version}")
        for text in dist.requires or []:
            sub = Requirement(text)
            if _applies(sub, env, req.extras):
                todo.append(sub)
    return found


def _needs_asking(req: Requirement) -> bool:
    """Pure-Python wheels install anywhere; only compiled ones (or unknown ones) are looked up."""
    dist = _installed(req.name)
    return dist is None or not _is_pure(dist)


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


def index_files(name: str) -> list[dict[str, Any]]:
    """The files PyPI lists for a project (PEP 691 JSON), yanked ones left out."""
    request = urllib.request.Request(
        f"{INDEX}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    return [f for f in files if not f.get("yanked")]


def chosen_version(req: Requirement, files: list[dict[str, Any]]) -> Version | None:
    """The version pip picks for `req`: the newest release that satisfies it, wheel or not."""
    versions = set()
    for f in files:
        filename = f["filename"]
        try:
            if filename.endswith(".whl"):
                versions.add(parse_wheel_filename(filename)[1])
            elif filename.endswith((".tar.gz", ".zip")):
                versions.add(parse_sdist_filename(filename)[1])
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
    fitting = [v for v in versions if req.specifier.contains(v) and not v.is_prerelease]
    return max(fitting, default=None)


def wheel_tags(files: list[dict[str, Any]], version: Version) -> set[Tag]:
    found: set[Tag] = set()
    for f in files:
        if f["filename"].endswith(".whl"):
            with contextlib.suppress(InvalidWheelFilename, InvalidVersion):
                _, v, _, file_tags = parse_wheel_filename(f["filename"])
                if v == version:
                    found |= file_tags
    return found


def availability() -> tuple[list[str], dict[str, dict[str, str | None]], list[str]]:
    """Rows of the table, cells per (row, column), and the failures (needed but no wheel)."""
    columns = [f"{p.name} · {py}" for p in PLATFORMS for py in PYTHONS]
    direct = {canonicalize_name(r.name) for r in project_requirements()}
    needed = {(p.name, py): closure(marker_env(p, py)) for p in PLATFORMS for py in PYTHONS}
    everything: dict[str, Requirement] = {}
    for reqs in needed.values():
        for name, req in reqs.items():
            everything.setdefault(name, req)
    asked = sorted(name for name, req in everything.items() if _needs_asking(req))
    with ThreadPoolExecutor(max_workers=8) as pool:
        listed = dict(zip(asked, pool.map(index_files, asked), strict=True))
    offered: dict[str, set[Tag]] = {}
    for name in asked:
        version = chosen_version(everything[name], listed[name])
        offered[name] = wheel_tags(listed[name], version) if version is not None else set()
    rows = sorted(direct | set(asked))
    cells: dict[str, dict[str, str | None]] = {row: {} for row in rows}
    failures = []
    for p in PLATFORMS:
        for py in PYTHONS:
            column, here, accepted = f"{p.name} · {py}", needed[(p.name, py)], target_tags(p, py)
            for row in rows:
                has_wheel = row not in offered or bool(offered[row] & accepted)
                if row not in here:
                    cells[row][column] = "—" if has_wheel else "— no wheel"
                elif has_wheel:
                    cells[row][column] = "✓"
                else:
                    cells[row][column] = "✗"
                    failures.append(f"{row} ({everything[row]}) has no wheel for {column}")
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
            "docs/platforms.md's wheel table differs from what PyPI has for today's dependencies:\n"
            f"{table}\nReview it, then run `python scripts/check_wheels.py --write`.",
            file=sys.stderr,
        )
    if not failures and not stale:
        print(f"wheels for all {len(rows)} packages on {len(cells[''])} platform × Python pairs")
    return 1 if failures or stale else 0


if __name__ == "__main__":
    sys.exit(main())
