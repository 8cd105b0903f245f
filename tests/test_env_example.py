"""`.env.example` names every environment variable the package reads, and nothing stale."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIABLE = re.compile(r"\"((?:CONCIERGE|SUPABASE|OPENAI|LIVEKIT)_[A-Z_]+)\"")


def test_env_example_lists_every_variable_read() -> None:
    sources = [path.read_text() for path in (ROOT / "concierge").rglob("*.py")]
    # a quoted name that is also a Python constant of the package (an `__all__` entry) is not
    # an environment variable
    constants = {m for text in sources for m in re.findall(r"^([A-Z_]+) = ", text, re.M)}
    read = {m for text in sources for m in VARIABLE.findall(text)} - constants
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "the scan found no variables: the pattern is broken"
    assert read <= listed, f"missing from .env.example: {sorted(read - listed)}"
    assert listed <= read, f".env.example lists variables nothing reads: {sorted(listed - read)}"
