"""Build the lab's notebooks: jupytext sources (notebooks/NN_name.py) -> executed .ipynb.

    python scripts/build_notebooks.py                 # every notebooks/*.py
    python scripts/build_notebooks.py notebooks/03_tool_schemas.py

Why: the `.py` files are what reviewers read in a diff; the `.ipynb` files are what learners open,
with outputs already there, and what nbval re-executes and compares (cells marked
`# NBVAL_CHECK_OUTPUT`). Executing here, in a clean kernel with no keys and an in-memory store,
makes the stored outputs the offline ones. Volatile metadata (execution timestamps) is dropped so
that rebuilding an unchanged notebook leaves git clean apart from real output changes.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
OFFLINE_ENV = {"CONCIERGE_STORE": "memory", "CONCIERGE_OFFLINE": "1"}


def build(source: Path) -> float:
    """Execute one jupytext source and write its paired .ipynb; return seconds taken."""
    nb = jupytext.read(source)
    # No pairing metadata in the .ipynb: with jupytext installed, JupyterLab would otherwise
    # refuse to open a notebook whose .py twin is older (file times after a git clone are
    # arbitrary). The .py stays the source of truth; tests/test_notebooks.py checks they match.
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    start = time.perf_counter()
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell.id = f"cell-{index:02d}"  # stable ids: rebuilding does not churn the diff
    target = source.with_suffix(".ipynb")
    nbformat.write(nb, target)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    os.environ.update(OFFLINE_ENV)
    for key in ("OPENAI_API_KEY", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        os.environ.pop(key, None)
    sources = [Path(a).resolve() for a in argv] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    for source in sources:
        print(f"building {source.relative_to(ROOT)} ...", flush=True)
        print(f"  executed in {build(source):.1f} s -> {source.with_suffix('.ipynb').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
