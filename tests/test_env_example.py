"""`.env.example` names every environment variable the package reads, and nothing stale."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIABLE = re.compile(r"\"((?:CONCIERGE|SUPABASE|OPENAI|LIVEKIT)_[A-Z_]+)\"")


def test_env_example_lists_every_variable_read() -> None:
    read = {
        m for path in (ROOT / "concierge").rglob("*.py") for m in VARIABLE.findall(path.read_text())
    }
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "the scan found no variables: the pattern is broken"
    assert read <= listed, f"missing from .env.example: {sorted(read - listed)}"
    assert listed <= read, f".env.example lists variables nothing reads: {sorted(listed - read)}"
