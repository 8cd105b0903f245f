"""The wheel availability table in docs/platforms.md matches PyPI, and the check's rules hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import check_wheels  # noqa: E402


@pytest.mark.network
def test_every_dependency_has_a_wheel_where_the_lab_installs_it() -> None:
    done = subprocess.run(
        [sys.executable, ROOT / "scripts" / "check_wheels.py"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr


def test_pip_would_pick_a_newer_sdist_over_an_older_wheel() -> None:
    """So an sdist-only release (pocketsphinx 5.1.1 on 3.12) counts as no wheel."""
    files = [
        {"filename": "pocketsphinx-5.0.4-cp312-cp312-win_amd64.whl"},
        {"filename": "pocketsphinx-5.1.1.tar.gz"},
        {"filename": "pocketsphinx-5.1.1-cp313-cp313-win_amd64.whl"},
        {"filename": "pocketsphinx-5.2.0rc1.tar.gz"},
    ]
    version = check_wheels.chosen_version(Requirement("pocketsphinx"), files)
    assert version == Version("5.1.1")
    offered = check_wheels.wheel_tags(files, version)
    windows = check_wheels.PLATFORMS[-1]
    assert not offered & check_wheels.target_tags(windows, "3.12")
    assert offered & check_wheels.target_tags(windows, "3.13")


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


def test_speech_extra_leaves_pocketsphinx_out_where_it_has_no_wheel() -> None:
    for python, expected in (("3.11", True), ("3.12", False), ("3.13", True)):
        env = check_wheels.marker_env(check_wheels.PLATFORMS[0], python)
        assert ("pocketsphinx" in check_wheels.closure(env)) is expected, python
