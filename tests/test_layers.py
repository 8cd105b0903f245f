"""The package's layers import downward only, and views reach a session by injection.

The folders are the architecture (README, "What is in here"): a newcomer copies the agent layer,
and the teaching tools, the doctor, the panel and the benchmark sit around it. An import that runs
back up a layer would tie the agent to them; this test reads every module's imports (function-local
ones included) and fails on any such edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "concierge"

#: Lower number = lower layer. A module may import its own layer's modules or lower ones.
LAYERS: dict[str, int] = {
    "menu": 0,
    "cart": 0,
    "store": 1,
    # the tools' result codes and the checkout rule: written by the tools, read by the stand-in
    "replies": 2,
    "confirmation": 2,
    # a turn cut into stages from livekit's metrics: read by the offline rig and the live panel
    "timeline": 2,
    "offline": 2,
    "state": 3,
    "tools": 3,
    "agent": 3,
    "providers": 3,
    "session": 3,
    "server": 3,
    # what a frontend reads from the agent's room (the `get_cart` RPC, the cart attribute)
    "room": 3,
    "worker_load": 3,
    "live": 4,
    # LiveKit's server on 127.0.0.1 (found or built, started, stopped) and a worker against it
    "livekit_server": 4,
    # a machine's worth of workers (`start --workers`): supervises `python -m concierge start`s
    "workers": 4,
    "doctor": 4,
    "lab": 5,
    "bench": 5,
    "bench_attack": 5,
    "console": 5,
    "bench_capacity": 5,
    # calls per machine through LiveKit's server and `start --workers` (bench --capacity --livekit)
    "bench_machine": 5,
    "bench_livekit": 5,
    "bench_recovery": 5,
    # what N calls in one process cost livekit.rtc itself, by thread (python -m concierge.bench_ffi)
    "bench_ffi": 5,
    "eval": 5,
    "__main__": 6,
    "__init__": 6,
}
#: Packages of one layer that must not lean on each other either.
SIBLINGS_APART = {"live", "doctor"}


def top_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported_tops(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 0 for concierge/x.py
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.startswith("concierge."):
                found.add(node.module.split(".")[1])
            elif (
                node.level and node.level - 1 == depth
            ):  # relative import reaching the package root
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("concierge."):
                    found.add(alias.name.split(".")[1])
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_downward_only(path: Path) -> None:
    own = top_name(path)
    rank = LAYERS[own]
    for other in imported_tops(path) - {own}:
        assert other in LAYERS, f"{path.name} imports concierge.{other}, which has no layer"
        assert LAYERS[other] <= rank, (
            f"{own} (layer {rank}) imports {other} (layer {LAYERS[other]})"
        )
        assert not (own in SIBLINGS_APART and other in SIBLINGS_APART), f"{own} imports {other}"


def test_every_top_level_module_has_a_layer() -> None:
    tops = {top_name(p) for p in MODULES}
    assert tops <= set(LAYERS), tops - set(LAYERS)


def test_the_readme_module_map_names_every_module() -> None:
    """The README's map is how a newcomer finds their way: every module and package is on it."""
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| layer | module | holds |") :]
    table = table[: table.index("\n\n")]
    for path in sorted(PACKAGE.iterdir()):
        name = path.name
        if name.startswith(("_", ".")) and name != "__main__.py" or name == "__pycache__":
            continue
        if path.is_dir() or path.suffix == ".py":
            shown = f"concierge/{name}/" if path.is_dir() else name
            assert shown in table, f"README's module map does not name {shown}"
