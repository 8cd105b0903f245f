"""JupyterLab, started by scripts/lab.sh, lists each lesson once: the notebook, not its .py source."""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_server.services.contents.filemanager import FileContentsManager

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "scripts" / "jupyter"


def test_lab_script_uses_the_config() -> None:
    assert "scripts/jupyter" in (ROOT / "scripts" / "lab.sh").read_text()


def test_each_lesson_is_listed_once() -> None:
    config = json.loads((CONFIG_DIR / "jupyter_server_config.json").read_text())
    manager = FileContentsManager(
        root_dir=str(ROOT / "notebooks"), hide_globs=config["ContentsManager"]["hide_globs"]
    )
    listed = [entry["name"] for entry in manager.get("", content=True)["content"]]
    lessons = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(Path(n).stem for n in listed if n[:2].isdigit()) == lessons
    assert all(n.endswith(".ipynb") for n in listed if n[:2].isdigit()), listed
