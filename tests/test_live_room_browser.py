"""The live panel in room mode, in a real browser: JupyterLab on 127.0.0.1, headless Debian
Chromium (Playwright) with a WAV as its microphone, LiveKit's own server on loopback and the agent's
worker process. The page is a participant of the agent's room (`livekit-client`, bundled): its
microphone goes to the worker over WebRTC, and everything the panel shows comes back through the
room. Checked: a spoken order fills the cart widget, a typed correction (on `lk.chat`) shows in the
transcript at once and changes the cart, a typed checkout lands the order in the store, and the
page made no request to anything but 127.0.0.1 (no CDN). Then the worker is killed mid-call and the
panel says the agent left.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from concierge.livekit_server import find_server
from concierge.providers import missing_speech_engines

from .live_lab import CHROMIUM, ROOT, code_notebook, jupyterlab, mic_flags, run_notebook, speech_wav
from .livekit_calls import LOAD_BY_CALLS_ONLY

ARTIFACTS = ROOT / "test-artifacts"
USER = "room-browser"

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (scripts/test.sh installs it with apt-get as root)",
    ),
    pytest.mark.skipif(
        find_server() is None, reason="livekit-server is not built (scripts/lab.sh)"
    ),
    pytest.mark.skipif(
        bool(missing_speech_engines()), reason=" ".join(missing_speech_engines().values())
    ),
]


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'orders.db'}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[str]:
    home = tmp_path_factory.mktemp("jupyter")
    notebook = code_notebook(
        home.parent / "room.ipynb",
        "import os\n"
        f"os.environ['CONCIERGE_STORE'] = {store_url!r}  # the worker process inherits it\n"
        f"os.environ.update({LOAD_BY_CALLS_ONLY!r})  # a busy machine must not turn the call away\n"
        "from concierge.live import launch\n"
        "from concierge.live.room_mode import local_worker, shutdown\n"
        f"handle = await launch(mode='room', user_id={USER!r})\n"
        "print('room launched')",
    )
    with jupyterlab(home, [notebook]) as url:
        yield url


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # the page's microphone opens once it has joined; the agent greets first
    script = [("two classic cheeseburgers and a large coke", 6.0)]
    return speech_wav(script, tmp_path_factory.mktemp("mic") / "order.wav", lead=6.0)


@pytest.fixture(scope="module")
def session(lab: str, microphone_wav: Path) -> Iterator[tuple[Any, list[str]]]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    requested: list[str] = []
    flags = [*mic_flags(microphone_wav), "--disable-features=WebRtcHideLocalIpsWithMdns"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.on("request", lambda r: requested.append(r.url))
        page.on("websocket", lambda ws: requested.append(ws.url))
        page.set_default_timeout(60_000)
        try:
            run_notebook(page, lab, "room.ipynb", done_text="room launched", timeout_ms=300_000)
            yield page, requested
        finally:
            # the worker runs in a session of its own: stop it (and the server) from the kernel
            with contextlib.suppress(Exception):
                _run_in_kernel(page, "await handle.stop()\nshutdown()")
            browser.close()


def panel(page: Any) -> Any:
    return page.locator(".concierge-panel").last


def pill(page: Any, kind: str) -> Any:
    return panel(page).locator(f".concierge-badge[data-kind='{kind}']")


def test_spoken_then_typed_order_through_the_room(
    session: tuple[Any, list[str]], store_url: str
) -> None:
    from playwright.sync_api import expect

    page, requested = session
    expect(pill(page, "where")).to_have_text("room (local LiveKit)")
    expect(pill(page, "connection")).to_have_text("live", timeout=60_000)
    expect(panel(page).locator(".concierge-room")).to_have_attribute("data-connection", "connected")
    total = panel(page).locator(".concierge-cart .concierge-cart-total")
    transcript = panel(page).locator(".concierge-transcript")
    # spoken, over WebRTC: 2 × $9.99 + a large coke $2.99
    expect(total).to_contain_text("$22.97", timeout=60_000)
    expect(
        transcript.locator(".concierge-user").filter(has_text="classic cheeseburgers")
    ).to_have_count(1)
    expect(
        transcript.locator(".concierge-chip").filter(has_text=re.compile("cheeseburger", re.I))
    ).not_to_have_count(0)
    # typed, on lk.chat: in the transcript at once, then the cart changes
    chat = panel(page).locator("input[type='text']")
    chat.fill("remove the coke")
    chat.press("Enter")
    expect(transcript.locator(".concierge-user").filter(has_text="remove the coke")).to_have_count(
        1, timeout=5_000
    )
    expect(total).to_contain_text("$19.98", timeout=30_000)
    # the reply shows under the turn it answers, whole once the agent has said it
    correction = transcript.locator(".concierge-turn").filter(has_text="remove the coke")
    expect(correction).to_contain_text("Removed 1 × large Coke", timeout=30_000)
    expect(pill(page, "agent")).to_have_text("agent listening", timeout=30_000)
    for text in ("checkout", "yes"):
        chat.fill(text)
        chat.press("Enter")
        expect(
            transcript.locator(".concierge-user").filter(has_text=re.compile(f"^{text}$"))
        ).to_have_count(1, timeout=5_000)
        # what the agent said (its transcript through the room), not the tool chip's output
        said = transcript.locator(".concierge-turn").last.locator(
            "div:has(> .concierge-who:text-is('agent'))"
        )
        expect(said).to_contain_text(
            "Shall I place it" if text == "checkout" else "placed", timeout=60_000
        )
        expect(pill(page, "agent")).to_have_text("agent listening", timeout=60_000)
    expect(total).to_contain_text("$0.00", timeout=30_000)
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        orders = pool.submit(asyncio.run, _orders(store_url)).result()
    assert [o.total_cents for o in orders] == [1998]
    page.wait_for_function(
        "(el) => el.querySelectorAll('audio').length >= 1",
        arg=panel(page).locator(".concierge-room").element_handle(),
    )
    panel(page).screenshot(path=str(ARTIFACTS / "live-room-light.png"))
    hosts = {urlsplit(u).hostname for u in requested if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, sorted(set(requested))[:20]


def test_the_panel_says_when_the_agent_left(session: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, _ = session
    _run_in_kernel(page, "local_worker().kill()")
    expect(pill(page, "agent")).to_have_text("agent left", timeout=60_000)
    expect(panel(page).locator(".concierge-status-note")).to_contain_text("agent left the room")
    panel(page).screenshot(path=str(ARTIFACTS / "live-room-agent-left.png"))


def _run_in_kernel(page: Any, code: str) -> None:
    """Run `code` in the notebook's kernel, as a cell would, and wait for it to finish."""
    status = page.evaluate(
        """async (code) => {
          const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          const reply = await kernel.requestExecute({ code }).done;
          return reply.content.status;
        }""",
        code,
    )
    assert status == "ok", status


async def _orders(store_url: str) -> list[Any]:
    from concierge.store import open_store

    store = await open_store(store_url)
    try:
        return await store.list_orders(USER)
    finally:
        await store.close()
