"""The microphone widget in a real browser when the kernel's direct socket is out of reach (a remote
JupyterLab, a hosted notebook): the page must fall back to comm messages, both ways, on its own.

The kernel hands the page socket tickets for a port nobody listens on, as a page would meet a
kernel on another machine (the connection fails); the fake microphone's chunks must still reach the kernel, and the
agent audio the kernel sends must still be played."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .live_lab import CHROMIUM, code_notebook, jupyterlab, mic_flags, run_notebook, speech_wav

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (scripts/test.sh installs it with apt-get as root)",
)

SOURCE = """\
import socket
from concierge.live.voice import BrowserVoice
voice = BrowserVoice()
await voice.widget.open_direct()
# the page cannot reach the kernel's socket, as from another machine: its tickets name a port
# nobody listens on
with socket.socket() as unused:
    unused.bind(("127.0.0.1", 0))
    voice.widget.channel.server.port = unused.getsockname()[1]
# when the microphone starts, the kernel sends 0.4 s of agent audio (it can only go by comm)
voice.widget.observe(
    lambda change: change["new"] and voice.widget.play(bytes(19200), 24000, 1), names="active"
)
display(voice.widget)
print("widget ready")
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("fallback")
    notebook = code_notebook(home / "fallback.ipynb", SOURCE)
    wav = speech_wav([("three churros", 2.0)], home / "mic.wav", lead=0.5)
    with jupyterlab(home / "lab", [notebook]) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=mic_flags(wav))
        page = browser.new_page()
        page.set_default_timeout(60_000)
        try:
            run_notebook(page, url, notebook.name, done_text="widget ready")
            yield page
        finally:
            browser.close()


def test_without_the_direct_socket_audio_goes_both_ways_by_comm(page: Any) -> None:
    from playwright.sync_api import expect

    mic = page.locator(".concierge-voice").last
    page.wait_for_timeout(500)  # the socket's refusal reaches the page
    mic.locator("button.concierge-mic").click()
    expect(mic).to_have_attribute("data-active", "true")
    # every 10 chunks the kernel syncs the microphone's delay back: chunks arrived by comm
    page.wait_for_function(
        "(el) => Number(el.dataset.mic_delay_ms || 0) > 0", arg=mic.element_handle(), timeout=20_000
    )
    page.wait_for_function(
        "(el) => Number(el.dataset.played_samples || 0) >= 9600",
        arg=mic.element_handle(),
        timeout=20_000,
    )
    assert mic.get_attribute("data-transport") == "comm"
    expect(mic.locator(".concierge-transport")).to_have_text("audio: widget messages")
