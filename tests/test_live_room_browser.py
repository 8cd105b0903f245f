"""The live panel in room mode, in a real browser: JupyterLab on 127.0.0.1, headless Debian
Chromium (Playwright), LiveKit's own server on loopback and the agent's worker process. The page is
a participant of the agent's room (`livekit-client`, bundled): its microphone goes to the worker
over WebRTC, and everything the panel shows comes back through the room.

The page's microphone is a WebAudio stream the test speaks into when it means to (the offline
voice's PCM, played into a `MediaStreamAudioDestinationNode` that `getUserMedia` returns), so a
turn spoken over the agent is spoken exactly while the panel shows the agent speaking — no WAV
timed to hope. Checked, in order on one page: `launch()` with no mode takes room mode and says so;
a spoken order fills the cart widget and each turn's stages reach the metrics strip; a typed
correction (on `lk.chat`) shows in the transcript at once and changes the cart; a typed checkout
lands the order in the store; speaking over the agent cuts its reply short (barge-in); the worker
killed mid-call makes the panel say the agent left and offer Reconnect, and after reconnecting
the cart is intact in the store and in the widget; light and dark screenshots are saved; the page
made no request to anything but 127.0.0.1 (no CDN).
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

from .live_lab import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    PAGE_MICROPHONE,
    ROOT,
    code_notebook,
    jupyterlab,
    run_in_kernel,
    run_notebook,
    say_in_page,
)

ARTIFACTS = ROOT / "test-artifacts"
USER = "room-browser"

pytestmark = [
    pytest.mark.livekit,
    # one page for the module: the first test also starts JupyterLab, the server and the worker,
    # the last one a second worker (a generous bound for a loaded machine, not a target)
    pytest.mark.timeout(1200),
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
        "from concierge.live import launch\n"
        "from concierge.live.room_mode import local_worker, shutdown\n"
        f"handle = await launch(user_id={USER!r})  # the default: room mode, a server can run\n"
        "print('launched:', handle.mode)",
    )
    with jupyterlab(home, [notebook]) as url:
        yield url


@pytest.fixture(scope="module")
def session(lab: str) -> Iterator[tuple[Any, list[str]]]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    requested: list[str] = []
    flags = [
        *CHROMIUM_FLAGS,
        "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.add_init_script(PAGE_MICROPHONE)
        page.on("request", lambda r: requested.append(r.url))
        page.on("websocket", lambda ws: requested.append(ws.url))
        console: list[str] = []  # kept beside the screenshots: what the page said, for a failure
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.set_default_timeout(60_000)
        try:
            run_notebook(page, lab, "room.ipynb", done_text="launched: room", timeout_ms=300_000)
            yield page, requested
        finally:
            # the worker runs in a session of its own: stop it (and the server) from the kernel
            with contextlib.suppress(Exception):
                _run_in_kernel(page, "await handle.stop()\nshutdown()")
            browser.close()
            (ARTIFACTS / "live-room-console.log").write_text("\n".join(console))


def say(page: Any, text: str) -> None:
    say_in_page(page, text)


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
    expect(panel(page).locator(".concierge-path")).to_contain_text("Room mode: this page is")
    # the job process starts the session (models loaded at prewarm): generous on a loaded machine
    expect(pill(page, "connection")).to_have_text("live", timeout=240_000)
    expect(panel(page).locator(".concierge-room")).to_have_attribute("data-connection", "connected")
    expect(pill(page, "agent")).to_have_text("agent listening", timeout=240_000)  # greeted
    total = panel(page).locator(".concierge-cart .concierge-cart-total")
    transcript = panel(page).locator(".concierge-transcript")
    # spoken, over WebRTC, once the agent has subscribed to the page's microphone:
    # 2 × $9.99 + a large coke $2.99
    room = panel(page).locator(".concierge-room")
    expect(room).to_have_attribute("data-mic-heard", "true", timeout=120_000)
    say(page, "two classic cheeseburgers and a large coke")
    expect(total).to_contain_text("$22.97", timeout=120_000)
    expect(
        transcript.locator(".concierge-user").filter(has_text="classic cheeseburgers")
    ).to_have_count(1)
    # a chip names the item and its id; the turn's stages arrived on concierge.turn
    expect(
        transcript.locator(".concierge-chip").filter(
            has_text="Classic Cheeseburger (classic_cheeseburger) × 2"
        )
    ).to_have_count(1)
    spoken_row = panel(page).locator(".concierge-metrics-row[data-kind='spoken']")
    expect(spoken_row).not_to_have_count(0, timeout=60_000)
    for stage in ("speech-to-text", "model", "TTS first audio"):
        expect(panel(page).locator(".concierge-metrics")).to_contain_text(stage)
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


def test_speaking_over_the_agent_stops_it(session: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, _ = session
    transcript = panel(page).locator(".concierge-transcript")
    chat = panel(page).locator("input[type='text']")
    chat.fill("what do you have at Luigi's?")  # a reply of many seconds: the whole menu
    chat.press("Enter")
    expect(pill(page, "agent")).to_have_text("agent speaking", timeout=60_000)
    say(page, "three churros")  # over the agent, while the panel shows it speaking
    asked = transcript.locator(".concierge-turn").filter(has_text="what do you have at Luigi")
    # livekit cuts the reply once the words spoken over it are recognised; the order they carry
    # is then taken, and only after that answer is the agent listening again
    total = panel(page).locator(".concierge-cart .concierge-cart-total")
    expect(total).to_contain_text("$15.00", timeout=180_000)  # 3 × churros $5.00
    expect(pill(page, "agent")).to_have_text("agent listening", timeout=60_000)
    said = asked.locator("div:has(> .concierge-who:text-is('agent'))")  # not the tool's output
    expect(said).to_contain_text("Luigi's Trattoria")
    expect(said).not_to_contain_text("Tiramisu")  # the menu's last item: never said


def test_the_worker_killed_mid_call_then_reconnect(
    session: tuple[Any, list[str]], store_url: str
) -> None:
    from playwright.sync_api import expect

    page, _ = session
    total = panel(page).locator(".concierge-cart .concierge-cart-total")
    expect(total).to_contain_text("$15.00")
    room_before = panel(page).locator(".concierge-room").get_attribute("data-room")
    _run_in_kernel(page, "local_worker().kill()")
    expect(pill(page, "agent")).to_have_text("agent left", timeout=60_000)
    expect(panel(page).locator(".concierge-status-note")).to_contain_text("agent left the room")
    reconnect = panel(page).get_by_role("button", name="Reconnect")
    expect(reconnect).to_be_visible()
    panel(page).screenshot(path=str(ARTIFACTS / "live-room-agent-left.png"))
    reconnect.click()
    expect(pill(page, "agent")).to_have_text("agent listening", timeout=240_000)
    expect(reconnect).to_be_hidden()
    expect(panel(page).locator(".concierge-room")).to_have_attribute("data-mic-heard", "true")
    assert panel(page).locator(".concierge-room").get_attribute("data-room") != room_before
    # the cart the killed session saved after its last change: in the store, and in the widget
    # as the new session published it
    with ThreadPoolExecutor(1) as pool:
        cart = pool.submit(asyncio.run, _cart(store_url)).result()
    assert [(ln.item_id, ln.quantity) for ln in cart.lines] == [("churros", 3)]
    expect(total).to_contain_text("$15.00", timeout=30_000)
    expect(panel(page).locator(".concierge-cart-row[data-item='churros']")).to_have_count(1)
    # the panel still works: a typed turn through the new room changes the cart
    chat = panel(page).locator("input[type='text']")
    chat.fill("a large horchata")
    chat.press("Enter")
    expect(total).not_to_contain_text("$15.00", timeout=60_000)
    panel(page).screenshot(path=str(ARTIFACTS / "live-room-light-reconnected.png"))
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{ theme: 'JupyterLab Dark' })"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    # JupyterLab covers the page with its splash while the new theme loads
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)
    panel(page).screenshot(path=str(ARTIFACTS / "live-room-dark.png"))


def _run_in_kernel(page: Any, code: str) -> None:
    run_in_kernel(page, code)


async def _orders(store_url: str) -> list[Any]:
    from concierge.store import open_store

    store = await open_store(store_url)
    try:
        return await store.list_orders(USER)
    finally:
        await store.close()


async def _cart(store_url: str) -> Any:
    from concierge.store import open_store

    store = await open_store(store_url)
    try:
        return await store.load_cart(USER)
    finally:
        await store.close()
