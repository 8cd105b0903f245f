"""The live notebook in a real browser: JupyterLab on 127.0.0.1, headless Debian Chromium driven by
Playwright. Run all cells, type an order into the chat box, press Enter, and check that the cart
widget in the page shows the item and the right total. A screenshot lands in test-artifacts/.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (scripts/test.sh installs it with apt-get as root)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab serving a copy of notebooks/ with every Jupyter directory in a temp dir."""
    home = tmp_path_factory.mktemp("jupyter")
    work = home / "notebooks"
    work.mkdir()
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(notebook, work)
    settings = home / "settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(
        json.dumps(
            {
                "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
                "@jupyterlab/apputils-extension:notification": {
                    "fetchNews": "false",
                    "checkForUpdates": False,
                },
            }
        )
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "user-settings"),
        "IPYTHONDIR": str(home / "ipython"),
        "CONCIERGE_STORE": "memory",
        "CONCIERGE_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    }
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip",
            "127.0.0.1",
            f"--port={port}",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--allow-root",
            f"--ServerApp.root_dir={work}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabServerApp.app_settings_dir={settings}",
        ],  # fmt: skip
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail("JupyterLab did not start within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_order_typed_in_the_browser_shows_in_the_cart(jupyterlab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        try:
            page.goto(f"{jupyterlab}/lab/tree/09_live.ipynb?reset")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            # The kernel is idle once the status bar says so (the toolbar indicator lies early).
            page.get_by_text("| Idle").first.wait_for()
            page.click("text=Run", timeout=10_000)
            page.click("text=Run All Cells", timeout=10_000)
            # The notebook ends with a live panel (the cart it restored holds $29.97 of food).
            expect(
                page.locator(".jp-OutputArea-output").filter(has_text="credentials set")
            ).to_have_count(1)
            chat = page.locator(".concierge-panel input[type='text']").last
            chat.wait_for()
            cart = page.locator(".concierge-cart").last
            expect(cart.locator(".concierge-cart-total")).to_contain_text("$29.97")
            started = time.perf_counter()
            chat.fill("two churros")
            chat.press("Enter")
            expect(cart.locator(".concierge-cart-row")).to_have_count(4)
            seconds = time.perf_counter() - started
            expect(cart.locator(".concierge-cart-row").last).to_contain_text("Churros")
            expect(cart.locator(".concierge-cart-total")).to_contain_text("$39.97")
            print(f"Enter → cart rows in the page: {seconds * 1000:.0f} ms")
        finally:
            page.locator(".concierge-panel").last.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "live-notebook.png"), full_page=False)
            browser.close()
