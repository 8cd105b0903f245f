"""A pytest plugin (loaded by scripts/test.sh with `-p tests.notebook_timing`) that prints how long
the notebooks took under nbval, per notebook and in total: the lab's target is under 2 minutes."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: Any) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _seconds:
        return
    terminalreporter.section("notebook execution time (nbval)")
    for path, seconds in sorted(_seconds.items()):
        terminalreporter.write_line(f"{seconds:6.1f} s  {path}")
    terminalreporter.write_line(
        f"{sum(_seconds.values()):6.1f} s  all notebooks (target: under 120 s)"
    )
