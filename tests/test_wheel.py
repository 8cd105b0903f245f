"""The package as users get it: a wheel installed into a fresh venv, run outside the repository.

The wheel is built from a copy of the sources (so the build leaves nothing in the checkout) by
the build backend the lock installed (setuptools, without build isolation: nothing is fetched
from the package index, so the test runs offline and on the locked version). The new venv does not see the
system's or the test venv's packages; a `.pth` file lends it the test venv's installed
dependencies (not the repository, not the editable install), so nothing else is downloaded.
Then, with no variables set and the working directory outside the repository, it seeds the
default store and holds an offline conversation: both need the menu and the schema that the
wheel carries as package data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONVERSATION = textwrap.dedent(
    """
    import asyncio
    from pathlib import Path

    import concierge
    from concierge.menu import menu_path
    from concierge.session import offline_session
    from concierge.store import default_store_url, open_store
    from concierge.store.schema_files import BOOTSTRAP_SQL, migration_files

    print("package:", Path(concierge.__file__).parent)
    print("menu:", menu_path())
    print("schema:", BOOTSTRAP_SQL.read_text().count("create role"), len(migration_files()))

    async def main():
        store = await open_store(default_store_url(), seed=False)
        async with offline_session(store=store, user_id="demo") as session:
            result = await session.run(user_input="two classic cheeseburgers and a large coke")
            print("agent:", result.events[-1].item.text_content)
            for line in session.userdata.cart.lines:
                print("line:", line.quantity, line.size, line.name, line.line_total)
            print("total:", session.userdata.cart.total)
        await store.close()

    asyncio.run(main())
    """
)


def _copy_sources(dest: Path) -> Path:
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "concierge", dest / "concierge", ignore=shutil.ignore_patterns("__pycache__")
    )
    return dest


def _fresh_venv(path: Path) -> Path:
    """A venv without pip or system site-packages that borrows the test venv's installed deps."""
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(path)
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "borrowed_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


def _run(args: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _build_backend_problem() -> str | None:
    """Why this venv cannot build the package offline (its build backend is not what
    pyproject.toml asks for: a venv not installed from the lock); None when it can."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    for text in tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]:
        need = Requirement(text)
        try:
            have = version(need.name)
        except PackageNotFoundError:
            have = "none"
        if have == "none" or not need.specifier.contains(have):
            return (
                f"the build backend {need} is not installed here ({need.name} {have}): this venv "
                "was not installed from the lock; run bash scripts/test.sh, or "
                "pip install --require-hashes -r requirements/test.txt"
            )
    return None


def test_installed_wheel_seeds_and_converses_outside_the_repository(tmp_path: Path) -> None:
    problem = _build_backend_problem()
    assert problem is None, problem
    src = _copy_sources(tmp_path / "src")
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["-q", "-w", dist, src],
        tmp_path,
        dict(os.environ),
    )
    (wheel,) = dist.glob("concierge_lab-*.whl")

    python = _fresh_venv(tmp_path / "venv")
    pip_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            wheel,
        ],
        tmp_path,
        pip_env,
    )

    home = tmp_path / "home"
    home.mkdir()
    # No CONCIERGE_*, keys or PYTHONPATH: only what any shell has.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "USERPROFILE": str(home)}
    seeded = _run([python, "-m", "concierge", "seed"], home, env)
    assert "Seeded sqlite" in seeded and "5 restaurants" in seeded, seeded
    assert str(home) in seeded, f"the default store should live in the user's data dir: {seeded}"

    (home / "talk.py").write_text(CONVERSATION)
    out = _run([python, "talk.py"], home, env)
    installed = tmp_path / "venv"
    package = next(ln for ln in out.splitlines() if ln.startswith("package:"))
    menu = next(ln for ln in out.splitlines() if ln.startswith("menu:"))
    assert str(installed) in package and str(ROOT) not in package, out
    assert str(installed) in menu and menu.endswith("concierge/data/menu.toml"), out
    migrations = len(list((ROOT / "concierge" / "data" / "supabase" / "migrations").glob("*.sql")))
    assert f"schema: 4 {migrations}" in out, out  # every migration shipped in the wheel
    assert "line: 2 None Classic Cheeseburger 19.98" in out, out
    assert "line: 1 large Coke 2.99" in out, out
    assert "total: 22.97" in out, out
