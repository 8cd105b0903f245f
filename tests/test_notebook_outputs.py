"""What a newcomer reads in the committed notebooks: no machine paths, no unexplained stderr.

`scripts/build_notebooks.py` sanitizes paths and refuses unexplained stderr when it builds;
notebooks/conftest.py applies the same stderr rule to every cell of the nbval run (a fresh
kernel, no keys: a newcomer's run). This file checks what is committed, and the rules themselves.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "build_notebooks", ROOT / "scripts" / "build_notebooks.py"
)
assert _spec is not None and _spec.loader is not None
build_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_notebooks)

ALL = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _rerun(path: Path) -> str:
    """What to do when a committed notebook holds a run's outputs (JupyterLab saves them)."""
    return (
        f"notebooks/{path.name} holds outputs saved by a run of the lab on this machine, not the "
        "shipped ones: run `git checkout notebooks/` to put them back (or, when you changed the "
        "notebook on purpose, rebuild it: python scripts/build_notebooks.py)"
    )


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_no_output_holds_an_absolute_path(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    found = build_notebooks.absolute_paths(nb)
    assert found == [], f"{_rerun(path)}; paths: {found[:3]}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_no_saved_widget_holds_a_live_audio_socket(path: Path) -> None:
    """The live panel's socket tickets and proof are never widget traits (concierge/live/
    audio_socket.py), so a saved notebook holds none of them: no address, no secret."""
    text = path.read_text()
    assert "ws://127.0.0.1" not in text, _rerun(path)
    for name in ("socket_url", "socket_proof", "token", "ticket"):
        assert not re.search(rf'"{name}": "[^"]', text), f"{_rerun(path)}; widget trait {name}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_every_stderr_line_is_explained(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    found = build_notebooks.unexplained_stderr(nb)
    assert found == [], f"{_rerun(path)}; stderr: {found[:3]}"


def test_sanitizing_rewrites_a_traceback_through_a_virtualenv() -> None:
    line = (
        "\x1b[32m/home/ana/lab/.venv/lib/python3.11/site-packages/tenacity/__init__.py:462\x1b[39m"
        " and \x1b[32m/work/other-checkout/concierge/store/supabase.py:211\x1b[39m"
    )
    clean = build_notebooks.sanitize_text(line)
    assert "site-packages/tenacity/__init__.py:462" in clean
    assert "concierge/store/supabase.py:211" in clean
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("error", traceback=[line])])
    ]
    assert len(build_notebooks.absolute_paths(nb)) == 2
    build_notebooks.sanitize_paths(nb)
    assert build_notebooks.absolute_paths(nb) == []


def test_sanitizing_rewrites_a_home_shortened_interpreter_path() -> None:
    """IPython prints files under the home directory as ~/...: the Python install there too."""
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"]
    home = str(Path.home())
    if not stdlib.startswith(home + "/"):
        pytest.skip("this interpreter is not installed under the home directory")
    line = f"File ~{stdlib[len(home) :]}/concurrent/futures/_base.py:449"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("error", traceback=[line])])
    ]
    assert build_notebooks.absolute_paths(nb)
    build_notebooks.sanitize_paths(nb)
    assert build_notebooks.absolute_paths(nb) == []
    assert "python-stdlib/concurrent/futures/_base.py:449" in nb.cells[0].outputs[0].traceback[0]


def test_an_unquoted_stderr_line_is_caught_and_a_quoted_one_is_not() -> None:
    lines = ["VAD inference is slower than realtime", "ToolError while executing tool"]
    told = "livekit logs `ToolError while executing tool` when a tool refuses bad input."
    assert build_notebooks.unexplained(lines, told) == ["VAD inference is slower than realtime"]


def test_a_notebook_saved_by_a_run_says_how_to_put_the_shipped_one_back(tmp_path: Path) -> None:
    """What a newcomer sees after running the lab: the fix, not only the temporary path."""
    saved = tmp_path / "07_supabase.ipynb"
    nb = nbformat.v4.new_notebook()
    output = nbformat.v4.new_output("stream", name="stdout", text="/tmp/tmpab12cd/concierge.db\n")
    nb.cells = [nbformat.v4.new_code_cell(outputs=[output])]
    nbformat.write(nb, saved)
    with pytest.raises(AssertionError, match=r"run `git checkout notebooks/`"):
        test_no_output_holds_an_absolute_path(saved)
