"""During the nbval run (scripts/test.sh), fail a cell whose stderr the notebook never explains.

A newcomer running a notebook sees every line a cell writes to stderr. Each such line must be
the lesson — quoted in the notebook's own text — or it must not appear. nbval executes each
notebook in a fresh kernel with no keys, exactly as a newcomer would; this hook reads what each
cell really wrote (`test_outputs`) and applies the rule `scripts/build_notebooks.py` applies at
build time.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_spec = importlib.util.spec_from_file_location(
    "build_notebooks", Path(__file__).resolve().parent.parent / "scripts" / "build_notebooks.py"
)
assert _spec is not None and _spec.loader is not None
build_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_notebooks)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield
    outputs: list[dict[str, Any]] | None = getattr(item, "test_outputs", None)
    notebook = getattr(getattr(item, "parent", None), "nb", None)
    if outputs and notebook is not None:
        lines = build_notebooks.stderr_lines(outputs)
        stray = build_notebooks.unexplained(lines, build_notebooks.markdown_of(notebook))
        if stray:
            raise AssertionError(
                "this cell wrote to stderr what the notebook never explains "
                "(quote it in a markdown cell if it is the lesson, else keep it out):\n"
                + "\n".join(stray)
            )
    return result
