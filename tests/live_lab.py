"""A JupyterLab and a headless Chromium with a fake microphone, for the live panel's browser test
and `scripts/bench_live.py --voice`. Every Jupyter directory lives in a temporary directory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def mic_flags(wav: Path) -> list[str]:
    """Chromium flags: a fake microphone playing `wav` once, allowed without a prompt."""
    return [
        *CHROMIUM_FLAGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
        "--autoplay-policy=no-user-gesture-required",
    ]


def speech_wav(script: Sequence[tuple[str, float]], path: Path, *, lead: float = 0.5) -> Path:
    """The offline voice saying each phrase, each followed by its silence (s), after `lead` s."""
    import numpy as np

    from concierge.offline.audio_io import write_wav
    from concierge.offline.tts import SAMPLE_RATE, offline_tts

    voice = offline_tts()
    parts = [np.zeros(int(lead * SAMPLE_RATE), dtype=np.int16)]
    for text, pause in script:
        parts.append(np.frombuffer(voice.pcm16(text), dtype=np.int16))
        parts.append(np.zeros(int(pause * SAMPLE_RATE), dtype=np.int16))
    return write_wav(path, np.concatenate(parts).tobytes(), SAMPLE_RATE)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: A page's microphone the caller speaks into on cue (add it with `page.add_init_script`):
#: `getUserMedia` answers with a WebAudio stream, silent until `window.conciergeSay(base64 int16
#: PCM, rate)` plays into it; that resolves with `Date.now()` when the last sample has been played
#: (the end of speech, on the page's clock).
PAGE_MICROPHONE = """
(() => {
  const mic = { ctx: null, dest: null };
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    if (!constraints || !constraints.audio) return real(constraints);
    mic.ctx = mic.ctx || new AudioContext({ sampleRate: 48000 });
    await mic.ctx.resume();
    mic.dest = mic.ctx.createMediaStreamDestination();
    return mic.dest.stream;
  };
  window.conciergeSay = (b64, rate) => new Promise((resolve) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const pcm = new Int16Array(bytes.buffer);
    const buffer = mic.ctx.createBuffer(1, pcm.length, rate);
    const samples = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
    const source = mic.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(mic.dest);
    source.onended = () => resolve(Date.now());
    source.start();
  });
})();
"""


def say_in_page(page: Any, text: str) -> float:
    """Speak `text` (the offline voice) into a page's `PAGE_MICROPHONE`; returns once it has been
    played, with the page's clock (ms since the epoch) at its last sample."""
    import base64

    from concierge.offline.tts import SAMPLE_RATE, offline_tts

    pcm = offline_tts().pcm16(text)
    return float(
        page.evaluate(
            "([b64, rate]) => window.conciergeSay(b64, rate)",
            [base64.b64encode(pcm).decode(), SAMPLE_RATE],
        )
    )


@contextmanager
def jupyterlab(home: Path, notebooks: Sequence[Path]) -> Iterator[str]:
    """JupyterLab serving copies of `notebooks`; yields its URL."""
    import shutil

    work = home / "notebooks"
    work.mkdir(parents=True)
    for notebook in notebooks:
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
            "--LabApp.expose_app_in_browser=True",
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
        raise RuntimeError("JupyterLab did not start within 60 s")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_notebook(
    page: Any, url: str, name: str, *, done_text: str, timeout_ms: int = 90_000
) -> None:
    """Open `name` in a fresh workspace, wait for the kernel, run all cells, wait for `done_text`."""
    from playwright.sync_api import expect

    page.goto(f"{url}/lab/workspaces/w-{uuid.uuid4().hex[:6]}/tree/{name}?reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    # The kernel is idle once the status bar says so (the toolbar indicator lies early).
    page.get_by_text("| Idle").first.wait_for()
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    expect(page.locator(".jp-OutputArea-output").filter(has_text=done_text)).to_have_count(
        1, timeout=timeout_ms
    )


def run_in_kernel(page: Any, code: str) -> None:
    """Run `code` in the open notebook's kernel, as a cell would, and wait for it to finish."""
    status = page.evaluate(
        """async (code) => {
          const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          const reply = await kernel.requestExecute({ code }).done;
          return reply.content.status;
        }""",
        code,
    )
    assert status == "ok", status


def code_notebook(path: Path, source: str) -> Path:
    """A one-cell notebook running `source`, written to `path`."""
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
    path.write_text(
        json.dumps(
            {
                "cells": [{**cell, "source": source}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    return path
