"""The nbval run's two extra rules (scripts/test.sh): no unexplained stderr, and every notebook
survives being run twice in one kernel.

A newcomer running a notebook sees every line a cell writes to stderr. Each such line must be
the lesson — quoted in the notebook's own text — or it must not appear. nbval executes each
notebook in a fresh kernel with no keys, exactly as a newcomer would; the first hook reads what
each cell really wrote (`test_outputs`) and applies the rule `scripts/build_notebooks.py` applies
at build time. The second (`pytest_collection_modifyitems`) makes nbval run every cell again in
the same kernel, as a learner re-running cells does.
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nbval.plugin import IPyNbCell

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
    # the rule is for a newcomer's first run; the second run (below) must only raise no error,
    # as tests/test_notebooks_rerun.py required (a re-run of notebook 5 logs a session's end)
    again = ("run", 2) in item.user_properties
    if outputs and notebook is not None and not again:
        lines = build_notebooks.stderr_lines(outputs)
        stray = build_notebooks.unexplained(lines, build_notebooks.markdown_of(notebook))
        if stray:
            raise AssertionError(
                "this cell wrote to stderr what the notebook never explains "
                "(quote it in a markdown cell if it is the lesson, else keep it out):\n"
                + "\n".join(stray)
            )
    return result


# --- every notebook, run twice in one kernel -------------------------------------------------
# A learner re-runs cells: state that cells fight over (globals, a second launch, a reused cluster)
# shows up only on the second run. nbval runs each notebook once in a fresh kernel; this appends a
# second pass of every code cell to the same notebook's items, so nbval runs them again in that
# same kernel, right after the first pass (`--dist loadfile` keeps a notebook's items together and
# in order). The second pass must run without an error (a `raises-exception` cell may raise, as in
# the first); its outputs are not compared, since a re-run may legitimately print other numbers.
SECOND_RUN = " (run again)"

#: nbval waits this long for each output message after a cell's reply (its default, 5 s, fails a
#: cell on a busy machine whose kernel is slow to report idle, not wrong).
OUTPUT_TIMEOUT_S = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    cells: dict[Any, list[Any]] = {}
    for item in items:
        if isinstance(item, IPyNbCell):
            item.output_timeout = OUTPUT_TIMEOUT_S
            cells.setdefault(item.parent, []).append(item)
    for notebook, first_pass in cells.items():
        again = [
            IPyNbCell.from_parent(
                notebook,
                name=cell.name + SECOND_RUN,
                cell_num=cell.cell_num,
                cell=cell.cell,
                options=defaultdict(bool, cell.options, check=False),
            )
            for cell in first_pass
        ]
        for cell in again:
            cell.output_timeout = OUTPUT_TIMEOUT_S
            cell.user_properties.append(("run", 2))  # tests/notebook_timing.py reports it apart
        at = items.index(first_pass[-1]) + 1
        items[at:at] = again
