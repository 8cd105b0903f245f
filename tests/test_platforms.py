"""The lock decides what installs: docs/platforms.md's wheel table is rendered from uv.lock, the
pip files scripts/bootstrap.sh installs are that lock's export, and both are checked offline, so
the same commit passes next week whatever PyPI holds then."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import check_wheels  # noqa: E402

TARGETS = [(p, py) for p in check_wheels.PLATFORMS for py in check_wheels.PYTHONS]


@pytest.fixture(scope="module")
def lock() -> check_wheels.Lock:
    return check_wheels.read_lock()


def test_every_dependency_has_a_locked_wheel_where_the_lab_installs_it(
    lock: check_wheels.Lock,
) -> None:
    rows, cells, failures = check_wheels.availability(lock)
    assert failures == []
    assert check_wheels.render(rows, cells) == check_wheels.committed_table(), (
        "docs/platforms.md is stale: run `python scripts/check_wheels.py --write`"
    )


def test_livekit_agents_is_locked_at_the_version_the_lab_teaches(
    lock: check_wheels.Lock,
) -> None:
    for name in ("livekit-agents", "livekit-plugins-openai", "livekit-plugins-silero"):
        assert [e["version"] for e in lock[name]] == ["1.8.9"], name


def _exported(path: Path) -> dict[str, tuple[str, set[str]]]:
    """requirements/*.txt as name -> (version, hashes)."""
    found: dict[str, tuple[str, set[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        pin = re.match(r"([A-Za-z0-9._-]+)==([^ ;\\\n]+)", block)
        if pin:
            found[f"{canonicalize_name(pin[1])}=={pin[2]}"] = (
                pin[2],
                set(re.findall(r"--hash=(\S+)", block)),
            )
    return found


def _files(entry: dict[str, Any]) -> set[str]:
    files = [*entry.get("wheels", []), *([entry["sdist"]] if "sdist" in entry else [])]
    return {f["hash"] for f in files}


@pytest.mark.parametrize("extra", ["base", "lab", "test"])
def test_the_pip_files_are_the_locks_export(lock: check_wheels.Lock, extra: str) -> None:
    """What bootstrap.sh (lab, test) and the Dockerfile (base) install on every supported target
    is what uv.lock resolved there, every file pinned by its hash (pip's --require-hashes refuses
    anything else)."""
    exported = _exported(ROOT / "requirements" / f"{extra}.txt")
    extras = () if extra == "base" else (extra,)
    for platform, python in TARGETS:
        env = check_wheels.marker_env(platform, python)
        needed = check_wheels.closure(env, extras, lock, groups=("bootstrap",))
        for name, entry in needed.items():
            key = f"{name}=={entry['version']}"
            assert key in exported, (
                f"{key} ({platform.name}, {python}) missing: run scripts/lock.sh"
            )
            assert exported[key][1] == _files(entry), f"{key}: hashes differ from uv.lock"
    for key, (version, _) in exported.items():
        name = key.split("==")[0]
        assert version in [e["version"] for e in lock[name]], f"{key} is not in uv.lock"


def _fake_lock(wheels: list[str], sdist: bool) -> check_wheels.Lock:
    entry: dict[str, Any] = {"name": "sphinxy", "version": "5.1.1", "wheels": []}
    entry["wheels"] = [{"url": f"https://x/{w}", "hash": w} for w in wheels]
    if sdist:
        entry["sdist"] = {"url": "https://x/sphinxy-5.1.1.tar.gz", "hash": "s"}
    project = {"name": "concierge-lab", "version": "0.1.0", "dependencies": [{"name": "sphinxy"}]}
    return {"concierge-lab": [project], "sphinxy": [entry]}


def test_a_locked_sdist_with_no_fitting_wheel_is_a_failure_where_it_is_needed() -> None:
    """pocketsphinx 5.1.1's shape: wheels for 3.11 and 3.13 only, an sdist pip would compile."""
    wheels = [
        f"sphinxy-5.1.1-cp3{n}-cp3{n}-{plat}.whl"
        for n in (11, 13)
        for plat in ("manylinux2014_x86_64", "manylinux_2_17_aarch64", "macosx_11_0_arm64",
                     "win_amd64")
    ]  # fmt: skip
    rows, cells, failures = check_wheels.availability(_fake_lock(wheels, sdist=True))
    assert rows == ["sphinxy"]
    assert {c for c, v in cells["sphinxy"].items() if v == "✗"} == {
        f"{p.name} · 3.12" for p in check_wheels.PLATFORMS
    }
    assert len(failures) == 4


def test_a_pure_python_wheel_installs_everywhere() -> None:
    rows, _, failures = check_wheels.availability(
        _fake_lock(["sphinxy-5.1.1-py3-none-any.whl"], sdist=False)
    )
    assert failures == []
    assert rows == ["sphinxy"]  # a direct dependency is a row even when pure


def test_target_tags_are_what_pip_accepts_there() -> None:
    linux, _, mac, _ = check_wheels.PLATFORMS
    on_linux = check_wheels.target_tags(linux, "3.12")
    assert Tag("cp312", "cp312", "manylinux2014_x86_64") in on_linux
    assert Tag("cp311", "abi3", "manylinux_2_28_x86_64") in on_linux
    assert Tag("py3", "none", "any") in on_linux
    assert Tag("cp312", "cp312", "manylinux_2_39_x86_64") not in on_linux  # newer glibc
    on_mac = check_wheels.target_tags(mac, "3.13")
    assert Tag("cp313", "cp313", "macosx_11_0_arm64") in on_mac
    assert Tag("cp313", "cp313", "macosx_10_9_x86_64") not in on_mac


def test_speech_extra_leaves_pocketsphinx_out_where_it_has_no_wheel(
    lock: check_wheels.Lock,
) -> None:
    for python, expected in (("3.11", True), ("3.12", False), ("3.13", True)):
        env = check_wheels.marker_env(check_wheels.PLATFORMS[0], python)
        assert ("pocketsphinx" in check_wheels.closure(env, ("speech",), lock)) is expected, python


def _pins(reqs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(canonicalize_name(n), str(SpecifierSet(s))) for n, s in reqs if n != "concierge-lab"}


def test_the_lock_was_made_from_todays_pyproject() -> None:
    """A dependency added to, dropped from or re-ranged in pyproject.toml without
    `bash scripts/lock.sh` would install what the lock says, not what pyproject asks."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = [Requirement(r) for r in project["project"]["dependencies"]] + [
        Requirement(r)
        for extra in project["project"]["optional-dependencies"].values()
        for r in extra
    ]
    locked = tomllib.loads((ROOT / "uv.lock").read_text())
    (entry,) = [p for p in locked["package"] if p["name"] == "concierge-lab"]
    recorded = entry["metadata"]["requires-dist"]
    assert _pins([(r.name, str(r.specifier)) for r in declared]) == _pins(
        [(r["name"], r.get("specifier", "")) for r in recorded]
    ), "uv.lock is older than pyproject.toml's dependencies: run bash scripts/lock.sh"
