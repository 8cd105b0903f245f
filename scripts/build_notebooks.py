"""Build the lab's notebooks: jupytext sources (notebooks/NN_name.py) -> executed .ipynb.

    python scripts/build_notebooks.py                 # every notebooks/*.py
    python scripts/build_notebooks.py notebooks/03_tool_schemas.py
    python scripts/build_notebooks.py --sanitize-only notebooks/07_supabase.ipynb   # no re-run

Why: the `.py` files are what reviewers read in a diff; the `.ipynb` files are what learners open,
with outputs already there, and what nbval re-executes and compares (cells marked
`# NBVAL_CHECK_OUTPUT`). Executing here, in a clean kernel with no keys and an in-memory store,
makes the stored outputs the offline ones. Volatile metadata (execution timestamps) is dropped so
that rebuilding an unchanged notebook leaves git clean apart from real output changes.

Two things a newcomer must never meet in a built notebook are checked here (and by
notebooks/conftest.py on every nbval run, and tests/test_notebook_outputs.py on what is
committed): this machine's paths in outputs (a traceback through `/home/you/.venv/...`) are
rewritten to `site-packages/...` and repository-relative paths; and every line a cell writes to
stderr must be explained in the notebook's own text (quoted in a markdown cell), or the build
fails. A stray log line is either the lesson, and then the notebook says so, or it must go.
"""

from __future__ import annotations

import json
import os
import re
import sys
import sysconfig
import tempfile
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
    sanitize_paths(nb)
    target = source.with_suffix(".ipynb")
    nbformat.write(nb, target)
    return time.perf_counter() - start


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: An absolute path into someone's machine: a home, a checkout, a temp dir, a virtualenv. (System
#: locations such as /usr/lib/postgresql are the same on every Debian and stay readable.)
ABSOLUTE_PATH = re.compile(
    r"(?<![\w.:/~$])/(?:work|home|Users|root|tmp|var|private|mnt|srv)/[\w.@+-]+"
    r"|(?<![\w.:/~$])/[\w./@+-]*(?:site-packages|\.venv)/"
    r"|(?<![\w.:/$])~/[\w.@+-]+/"  # a path under someone's home, as IPython shortens it
)


def _machine_prefixes() -> list[tuple[str, str]]:
    """(prefix, replacement) pairs, longest first: site-packages, the repo, the venv, temp, home."""
    pairs = {
        sysconfig.get_paths()["purelib"]: "site-packages",
        sysconfig.get_paths()["stdlib"]: "python-stdlib",
        str(ROOT): ".",
        sys.prefix: "$VENV",
        tempfile.gettempdir(): "$TMPDIR",
        str(Path.home()): "~",
    }
    # IPython's tracebacks shorten paths under the home directory to "~/...": match that form too
    home = str(Path.home())
    for prefix, replacement in list(pairs.items()):
        if prefix.startswith(home + "/"):
            pairs.setdefault("~" + prefix[len(home) :], replacement)
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def sanitize_text(text: str) -> str:
    """This machine's paths replaced by ones any reader can place."""
    for prefix, replacement in _machine_prefixes():
        if prefix and prefix != "/":
            text = text.replace(prefix + "/", replacement + "/").replace(prefix, replacement)
    # another checkout's virtualenv or site-packages (a kernel started elsewhere)
    text = re.sub(r"/[\w./@+-]*?/site-packages/", "site-packages/", text)
    # another checkout of this repository (a notebook built in another worktree)
    return re.sub(
        r"/(?:work|home|Users|root|tmp|var|private|mnt|srv)/[\w./@+-]*?/"
        r"(concierge|tests|notebooks|scripts|data)/",
        r"\1/",
        text,
    )


def sanitize_paths(nb: nbformat.NotebookNode) -> None:
    """Rewrite absolute paths in every output (streams, tracebacks, reprs, HTML)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = sanitize_text(output["text"])
            if "traceback" in output:
                output["traceback"] = [sanitize_text(line) for line in output["traceback"]]
            if "evalue" in output:
                output["evalue"] = sanitize_text(output["evalue"])
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str) and mime.startswith("text/"):
                    output["data"][mime] = sanitize_text(value)


def absolute_paths(nb: nbformat.NotebookNode) -> list[str]:
    """Absolute machine paths left anywhere in the notebook's outputs."""
    found = []
    for index, cell in enumerate(nb.cells):
        for text in _strings(cell.get("outputs", [])):
            text = ANSI.sub("", text)
            found += [f"cell {index}: {m.group(0)}" for m in ABSOLUTE_PATH.finditer(text)]
    return found


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _normal(text: str) -> str:
    text = ANSI.sub("", text).lower()
    text = re.sub(r"[`'\"*_>]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def stderr_lines(outputs: list[dict]) -> list[str]:
    lines: list[str] = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            lines += [ln for ln in ANSI.sub("", output.get("text", "")).splitlines() if ln.strip()]
    return lines


def unexplained(lines: list[str], markdown: str) -> list[str]:
    """The stderr lines whose opening words (40 characters) the notebook's text never quotes."""
    told = _normal(markdown)
    return [ln for ln in lines if _normal(ln)[:40] not in told]


def markdown_of(nb: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def unexplained_stderr(nb: nbformat.NotebookNode) -> list[str]:
    told = markdown_of(nb)
    return [
        f"cell {index}: {line}"
        for index, cell in enumerate(nb.cells)
        for line in unexplained(stderr_lines(cell.get("outputs", [])), told)
    ]


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


def _check(target: Path) -> bool:
    nb = nbformat.read(target, as_version=4)
    problems = [f"unexplained stderr, {p}" for p in unexplained_stderr(nb)]
    problems += [f"absolute path, {p}" for p in absolute_paths(nb)]
    for problem in problems:
        print(f"  {target.name}: {problem}", file=sys.stderr)
    return not problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["--sanitize-only"]:
        targets = [Path(a).resolve() for a in argv[1:]]
        for target in targets:
            nb = nbformat.read(target, as_version=4)
            sanitize_paths(nb)
            nbformat.write(nb, target)
        return 0 if all([_check(t) for t in targets]) else 1
    os.environ.update(OFFLINE_ENV)
    for key in ("OPENAI_API_KEY", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        os.environ.pop(key, None)
    sources = [Path(a).resolve() for a in argv] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    clean = True
    for source in sources:
        print(f"building {source.relative_to(ROOT)} ...", flush=True)
        print(f"  executed in {build(source):.1f} s -> {source.with_suffix('.ipynb').name}")
        clean = _check(source.with_suffix(".ipynb")) and clean
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
