"""A newcomer who runs a cell before the ones above it is told so, under the NameError."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from concierge.lab.notebook import NAME_ERROR_HINT, explain_name_errors


@pytest.fixture
def shell() -> InteractiveShell:
    shell = InteractiveShell.instance()
    explain_name_errors(shell)
    yield shell
    shell.set_custom_exc((), None)


def test_a_name_a_cell_above_defines_gets_the_hint(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = shell.run_cell("total = cart_total + 1")
    assert isinstance(result.error_in_exec, NameError)
    shown = capsys.readouterr().out
    assert "name 'cart_total' is not defined" in shown and NAME_ERROR_HINT in shown
    shell.run_cell("cart_total = 2")
    assert shell.run_cell("total = cart_total + 1").success  # run in order, it works


def test_a_name_error_inside_the_package_is_not_blamed_on_cell_order(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """A NameError raised in a module's code (here a function compiled as lib.py) is a bug there,
    not a cell run out of order: no hint."""
    other = shell.run_cell("import types; types.FunctionType(compile('x', 'lib.py', 'eval'), {})()")
    assert isinstance(other.error_in_exec, NameError)
    shown = capsys.readouterr().out
    assert "name 'x' is not defined" in shown and NAME_ERROR_HINT not in shown
