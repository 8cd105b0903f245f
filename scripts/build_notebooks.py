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

import json
import os
import re
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
    renumber_widgets(nb)
    target = source.with_suffix(".ipynb")
    nbformat.write(nb, target)
    return time.perf_counter() - start


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def renumber_widgets(nb: nbformat.NotebookNode) -> None:
    """Give widget models ids in the order they are shown, not random ones.

    The saved widget state (which lets JupyterLab draw the panel without a kernel) keys each model
    by a random id, and outputs and other models refer to it. Renaming them all in display order
    (depth first through `IPY_MODEL_` references) makes a rebuilt notebook byte-identical.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state")
    if not state:
        return
    order: list[str] = []

    def visit(model_id: str) -> None:
        if model_id in order or model_id not in state:
            return
        order.append(model_id)
        for ref in re.findall(r"IPY_MODEL_([0-9a-f]{32})", json.dumps(state[model_id])):
            visit(ref)

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view:
                visit(view["model_id"])
    # models no output reaches (e.g. layouts of closed widgets): keep them, in a content order
    rest = sorted(
        (m for m in state if m not in order), key=lambda m: json.dumps(state[m], sort_keys=True)
    )
    new_ids = {old: f"{i:032x}" for i, old in enumerate(order + rest, start=1)}
    text = json.dumps({"cells": nb.cells, "state": state})
    text = re.sub(
        r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])",
        lambda m: new_ids.get(m.group(0), m.group(0)),
        text,
    )
    renamed = json.loads(text)
    nb.cells = nbformat.from_dict(renamed["cells"])
    nb.metadata["widgets"][WIDGET_STATE]["state"] = {
        new_ids[old]: renamed["state"][new_ids[old]] for old in order + rest
    }


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
