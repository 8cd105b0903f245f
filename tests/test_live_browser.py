"""The live notebook in a real browser: JupyterLab on 127.0.0.1, headless Debian Chromium driven by
Playwright, its microphone a WAV made at test time with the offline voice.

One run of the notebook serves three checks, in order: a typed order reaches the cart; a spoken
order (the fake microphone, after clicking Talk) fills the cart with the right total, the
transcript shows what was heard, the page played the agent's audio, and the metrics strip's numbers
add up; then the microphone talks over the agent's reply, and the page stops playing it.
Light and dark screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from concierge.providers import missing_speech_engines
from concierge.timeline import TOLERANCE_MS

from .live_lab import CHROMIUM, ROOT, jupyterlab, mic_flags, run_notebook, speech_wav

ARTIFACTS = ROOT / "test-artifacts"

#: What the fake microphone says, after LEAD seconds of silence, and the silence after each phrase
#: (seconds): an order, whose reply (~5 s of speech) starts 1–4 s after the order ends, even on a
#: loaded 2-core machine, and is talked over 5 s after the order ends.
LEAD = 3.0
SCRIPT = [
    ("two classic cheeseburgers and a large coke", 5.0),
    ("three churros", 8.0),
]

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (scripts/test.sh installs it with apt-get as root)",
    ),
    pytest.mark.skipif(
        bool(missing_speech_engines()), reason=" ".join(missing_speech_engines().values())
    ),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jupyterlab(
        tmp_path_factory.mktemp("jupyter"), [ROOT / "notebooks" / "09_live.ipynb"]
    ) as url:
        yield url


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The order starts 3 s after Talk is clicked: the first second or two of microphone chunks
    # reach the kernel's main shell, later ones a subshell's thread (see check_metrics_add_up).
    return speech_wav(SCRIPT, tmp_path_factory.mktemp("mic") / "order.wav", lead=LEAD)


@pytest.fixture(scope="module")
def page(lab: str, microphone_wav: Path) -> Iterator[Any]:
    """The live notebook, run all, in Chromium with the WAV as its microphone (played once)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=mic_flags(microphone_wav))
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        try:
            run_notebook(page, lab, "09_live.ipynb", done_text="launch() here takes")
            yield page
        finally:
            browser.close()


def panel(page: Any) -> Any:
    return page.locator(".concierge-panel").last


def cart_total(page: Any) -> Any:
    return panel(page).locator(".concierge-cart .concierge-cart-total")


def test_order_typed_in_the_browser_shows_in_the_cart(page: Any) -> None:
    from playwright.sync_api import expect

    # The notebook ends with a live panel: the restored $29.97 cart plus three spoken churros.
    expect(cart_total(page)).to_contain_text("$44.97")
    chat = panel(page).locator("input[type='text']")
    started = time.perf_counter()
    chat.fill("two churros")
    chat.press("Enter")
    expect(cart_total(page)).to_contain_text("$54.97")
    print(f"Enter → cart total in the page: {(time.perf_counter() - started) * 1000:.0f} ms")
    expect(panel(page).locator(".concierge-cart-row").filter(has_text="Churros")).to_contain_text(
        "5"
    )


def test_a_stopped_panels_talk_button_is_off(page: Any) -> None:
    """Notebook 9 stops its first panel before launching the last: that panel's Talk button
    streamed the learner's order to a session that was gone."""
    from playwright.sync_api import expect

    first = page.locator(".concierge-panel").first
    expect(first.locator("button.concierge-mic")).to_be_disabled()
    expect(first.locator(".concierge-status-note")).to_contain_text("session has stopped")
    expect(first.locator(".concierge-badge[data-kind='mic']")).to_have_text("microphone off")
    expect(first.locator("button.jupyter-button", has_text="Send")).to_be_disabled()
    expect(panel(page).locator("button.concierge-mic")).to_be_enabled()


def test_spoken_order_fills_the_cart_and_the_page_plays_the_reply(page: Any) -> None:
    from playwright.sync_api import expect

    mic = panel(page).locator(".concierge-voice")
    played_before = int(mic.get_attribute("data-played_samples") or 0)
    start_talking(page)
    expect(mic).to_have_attribute("data-transport", "direct")  # audio skips the Jupyter server
    expect(mic.locator(".concierge-transport")).to_have_text("audio: direct socket")
    # 2 × $9.99 + a large coke $2.99 on top of $54.97
    expect(cart_total(page)).to_contain_text("$77.94", timeout=30_000)
    transcript = panel(page).locator(".concierge-transcript")
    heard = transcript.locator(".concierge-user").filter(has_text="classic cheeseburgers")
    expect(heard.last).to_contain_text("large coke", timeout=10_000)  # "a"/"an" may vary
    expect(
        panel(page).locator(".concierge-cart-row").filter(has_text="Classic Cheeseburger")
    ).to_contain_text("4")
    page.wait_for_function(
        "([el, before]) => Number(el.dataset.played_samples || 0) > before + 24000",
        arg=[mic.element_handle(), played_before],
        timeout=20_000,
    )
    check_metrics_add_up(page)
    check_nothing_cut_off(page)
    shoot(page, "live-voice-light.png")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(500)
    shoot(page, "live-voice-dark.png")


def test_talking_over_the_agent_stops_its_playback_in_the_page(page: Any) -> None:
    mic = panel(page).locator(".concierge-voice")
    start_talking(page)
    # the order's reply starts playing, then the microphone talks over it
    try:
        page.wait_for_function(
            "(el) => Number(el.dataset.stops || 0) >= 1", arg=mic.element_handle(), timeout=50_000
        )
    except Exception as e:
        seen = panel(page).locator(".concierge-transcript").inner_text()
        data = page.evaluate("(el) => ({...el.dataset})", mic.element_handle())
        raise AssertionError(f"no barge-in reached the page: {data}\n{seen}") from e
    state = page.evaluate("(el) => ({...el.dataset})", mic.element_handle())
    # the page dropped agent audio it had scheduled: playback stopped mid-reply
    assert int(state["cut_samples"]) > 0, state
    assert int(state["played_samples"]) < int(state["received_samples"]), state
    from playwright.sync_api import expect

    answer = panel(page).locator(".concierge-turn").filter(has_text="classic cheeseburgers")
    expect(answer).to_contain_text("(interrupted)", timeout=20_000)
    check_metrics_add_up(page)


def start_talking(page: Any) -> None:
    """Click Talk once (the fake microphone then plays the WAV from its start)."""
    from playwright.sync_api import expect

    mic = panel(page).locator(".concierge-voice")
    if mic.get_attribute("data-active") != "true":
        mic.locator("button.concierge-mic").click()
    expect(mic).to_have_attribute("data-active", "true")
    # the pill is the kernel's word (one status for the whole panel): a round trip, on a busy kernel
    expect(panel(page).locator(".concierge-badge[data-kind='mic']")).to_have_text(
        re.compile("microphone on|you're speaking"), timeout=30_000
    )


def check_metrics_add_up(page: Any) -> None:
    """Every row of the metrics strip: stages ≥ 0, their sum within rounding of the whole; and
    every spoken turn timed from livekit's own end of speech — the browser's microphone chunks are
    handled on a kernel subshell's thread, and when they did not wake the session's loop, livekit
    recorded no end of speech for most spoken turns (`spoken*`)."""
    rows = panel(page).locator(".concierge-metrics-row")
    assert rows.count() >= 1
    kinds = [rows.nth(i).get_attribute("data-kind") for i in range(rows.count())]
    assert "spoken" in kinds and "spoken*" not in kinds, kinds
    for i in range(rows.count()):
        row = rows.nth(i)
        whole, parts = (
            float(row.get_attribute("data-whole")),
            float(row.get_attribute("data-parts")),
        )
        assert abs(whole - parts) <= TOLERANCE_MS
        shown = [
            float(t.replace(",", "").removesuffix(" ms"))
            for t in row.locator("td.num").all_inner_texts()
            if t.endswith(" ms")
        ]
        *stages, whole_shown = shown
        assert all(s >= 0 for s in stages)
        assert abs(sum(stages) - whole_shown) <= TOLERANCE_MS + len(stages)  # 1 ms rounding each


def check_nothing_cut_off(page: Any) -> None:
    """At the panel's default width every pill, the sentence under them and every control shows
    whole: nothing overflows its own box or the panel's."""
    clipped = page.evaluate(
        """(panel) => {
          const box = panel.getBoundingClientRect();
          const out = [];
          const shown = panel.querySelectorAll(
            ".concierge-card, .concierge-status, .concierge-badge, .concierge-status-note, " +
            ".concierge-voice > *, .widget-text, .jupyter-button");
          for (const el of shown) {
            const r = el.getBoundingClientRect();
            if (el.scrollWidth > el.clientWidth + 1 || r.right > box.right + 1 || r.left < box.left - 1)
              out.push(`${el.className}: ${el.textContent.trim().slice(0, 40)}`);
          }
          return out;
        }""",
        panel(page).element_handle(),
    )
    assert clipped == []


def shoot(page: Any, name: str) -> None:
    target = panel(page)
    target.scroll_into_view_if_needed()
    target.screenshot(path=str(ARTIFACTS / name))
