"""The room widget's ESM (concierge/live/room_widget.js) is the build of the committed sources.

The bundle is committed so the lab runs without npm; these tests keep it honest: its first line
names the digest of room.js, package.json and package-lock.json it was built from, and where the
pinned packages are installed (`npm ci` in concierge/live/frontend) a rebuild is byte-for-byte
the committed file. Nothing in it loads from a CDN: its only absolute URL is a spec link in a
comment-like string."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "build_room_widget", ROOT / "scripts/build_room_widget.py"
)
assert spec is not None and spec.loader is not None
build = importlib.util.module_from_spec(spec)
sys.modules["build_room_widget"] = build
spec.loader.exec_module(build)


def test_the_bundle_names_the_digest_of_the_committed_sources() -> None:
    first = build.BUNDLE.read_text(encoding="utf-8").splitlines()[0]
    assert first == build.banner(), "room_widget.js is stale: run scripts/build_room_widget.py"


def test_livekit_client_is_pinned_exactly() -> None:
    package = json.loads((build.FRONTEND / "package.json").read_text())
    lock = json.loads((build.FRONTEND / "package-lock.json").read_text())
    for name, version in {**package["dependencies"], **package["devDependencies"]}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is not an exact pin"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_the_bundle_loads_nothing_from_elsewhere() -> None:
    text = build.BUNDLE.read_text(encoding="utf-8")
    urls = set(re.findall(r"https?://[\w.\-/]+", text))
    assert urls <= {"https://aomediacodec.github.io/av1-rtp-spec/"}, urls  # a comment link
    assert "import(" not in text.replace("import()", ""), "the bundle imports code at run time"


@pytest.mark.skipif(
    not (build.FRONTEND / "node_modules" / ".bin" / "esbuild").exists() or not shutil.which("node"),
    reason="the pinned npm packages are not installed (npm ci in concierge/live/frontend)",
)
def test_a_rebuild_is_the_committed_bundle(tmp_path: Path) -> None:
    out = tmp_path / "room_widget.js"
    build.build(out)
    assert out.read_bytes() == build.BUNDLE.read_bytes()
