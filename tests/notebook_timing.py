"""A pytest plugin (loaded by scripts/test.sh with `-p tests.notebook_timing`) that prints how long
the notebooks took under nbval, per notebook and in total: the lab's target is under 2 minutes for
one run of every notebook. The second run in the same kernel (notebooks/conftest.py) is shown apart.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_seconds: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])


def pytest_runtest_logreport(report: Any) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        # notebooks/conftest.py tags the second pass's cells `("run", 2)`
        _seconds[path][("run", 2) in report.user_properties] += report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _seconds:
        return
    terminalreporter.section("notebook execution time (nbval): first run, run again")
    for path, (first, again) in sorted(_seconds.items()):
        terminalreporter.write_line(f"{first:6.1f} s {again:6.1f} s  {path}")
    first = sum(s[0] for s in _seconds.values())
    again = sum(s[1] for s in _seconds.values())
    terminalreporter.write_line(
        f"{first:6.1f} s {again:6.1f} s  all notebooks (target for one run: under 120 s)"
    )
