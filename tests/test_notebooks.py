"""The notebooks as a curriculum: structure, pairing with their .py sources, and no secrets.

nbval executes each notebook separately (see scripts/test.sh); this file checks what nbval
cannot: that every notebook teaches in the agreed shape and leaks nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
SECRET_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_-]{20,}"),  # OpenAI keys
    re.compile(r"eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{10,}"),  # JWTs
    re.compile(
        r"(LIVEKIT_API_SECRET|SUPABASE_SERVICE_ROLE_KEY|OPENAI_API_KEY)\s*[=:]\s*['\"]?[A-Za-z0-9_-]{8,}"
    ),
    re.compile(r"API[A-Za-z0-9]{12}\b"),  # LiveKit API key ids
]


def _markdown(nb: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_the_curriculum_is_complete() -> None:
    names = [p.stem for p in ALL]
    steps = [
        "welcome",
        "broken",
        "schema",
        "userdata",
        "server",
        "voice",
        "supabase",
        "testing",
        "live",
    ]
    for step in steps:
        assert any(step in n for n in names), f"no notebook covers '{step}': {names}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_notebook_structure(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "starts with a title"
    text = _markdown(nb)
    assert "## What you will learn" in text
    assert "## Prerequisites" in text
    assert re.search(r"## Recap", text), "ends with a recap"
    if path != ALL[-1]:
        assert re.search(r"\*\*Next:\*\* \[.+\]\(\d\d_\w+\.ipynb\)", text), (
            "links to the next notebook"
        )
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= 40, (
                f"a cell of {len(cell.source.splitlines())} lines is too long"
            )


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_notebook_matches_its_source(path: Path) -> None:
    source = path.with_suffix(".py")
    assert source.exists(), f"{path.name} has no paired .py source"
    paired = jupytext.read(source)
    built = nbformat.read(path, as_version=4)
    assert [c.source for c in paired.cells] == [c.source for c in built.cells], (
        f"{path.name} is out of date: run python scripts/build_notebooks.py {source.name}"
    )


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_no_secret_in_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            blob = str(output)
            for pattern in SECRET_PATTERNS:
                assert not pattern.search(blob), f"{path.name}: output matches {pattern.pattern}"


def test_secret_patterns_catch_secrets() -> None:
    fake = "OPENAI_API_KEY=" + "sk-" + "a" * 24
    assert any(p.search(fake) for p in SECRET_PATTERNS)
