"""Build the live panel's room widget: concierge/live/frontend/room.js + livekit-client → one ESM.

    python scripts/build_room_widget.py           # npm ci (if needed), esbuild → concierge/live/room_widget.js
    python scripts/build_room_widget.py --check   # build to a temp file, fail if it differs

Why: the panel's page joins the agent's LiveKit room with LiveKit's own browser SDK
(`livekit-client`, pinned exactly in package.json and package-lock.json). esbuild bundles it into
the widget's ESM at build time and the output is committed, so the lab needs neither npm nor a
CDN at run time. The bundle's first line names the SHA-256 of the sources and the lock it was
built from; tests/test_room_widget.py checks that line against the committed files (offline) and,
where `node_modules` is installed, that a rebuild is byte-for-byte the committed file.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "concierge" / "live" / "frontend"
BUNDLE = ROOT / "concierge" / "live" / "room_widget.js"
#: What the bundle is built from: a change to any of them needs a rebuild.
SOURCES = ("room.js", "package.json", "package-lock.json")


def sources_digest() -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        h.update(name.encode() + b"\0" + (FRONTEND / name).read_bytes() + b"\0")
    return h.hexdigest()


def banner() -> str:
    return f"// built by scripts/build_room_widget.py from sources sha256:{sources_digest()}"


def build(out: Path) -> None:
    if not (FRONTEND / "node_modules" / ".bin" / "esbuild").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    subprocess.run(
        [
            str(FRONTEND / "node_modules" / ".bin" / "esbuild"),
            "room.js",
            "--bundle",
            "--format=esm",
            "--target=es2020",
            "--minify",
            "--legal-comments=eof",
            f"--banner:js={banner()}",
            f"--outfile={out}",
            "--log-level=warning",
        ],
        cwd=FRONTEND,
        check=True,
    )


def main(argv: list[str]) -> int:
    if "--check" in argv:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "room_widget.js"
            build(out)
            if out.read_bytes() != BUNDLE.read_bytes():
                print(f"{BUNDLE.relative_to(ROOT)} is stale: run scripts/build_room_widget.py")
                return 1
        print(f"{BUNDLE.relative_to(ROOT)} is the build of the committed sources")
        return 0
    build(BUNDLE)
    print(f"built {BUNDLE.relative_to(ROOT)} ({BUNDLE.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
