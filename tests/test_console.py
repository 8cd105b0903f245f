"""`python -m concierge console` and `start/dev --help`, run the way a newcomer runs them.

The console is driven through a pseudo-terminal (pexpect): a real TTY, a real prompt, typed
lines, with no keys, no LiveKit server and no audio device.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from concierge.console import portaudio_problem

from .conftest import refusing_port
from .patience import PATIENCE_S

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    """A newcomer's environment: no keys, this checkout's package first, an in-memory store."""
    env = {k: v for k, v in os.environ.items() if "KEY" not in k and "SECRET" not in k}
    env.pop("LIVEKIT_URL", None)
    env.update(PYTHONPATH=str(ROOT), CONCIERGE_STORE="memory", CONCIERGE_OFFLINE="1")
    return env


def _cli(
    args: list[str], extra_env: dict[str, str], stdin: str = "", timeout: float = PATIENCE_S
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "concierge", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**_env(), **extra_env},
        cwd=ROOT,
        timeout=timeout,
    )


def _interruptible() -> None:
    """Ctrl-C interrupts, as in a terminal, even when these tests run in a background job (whose
    children inherit SIGINT ignored: the console then never sees the Ctrl-C at all)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _spawn_console(extra_env: dict[str, str] | None = None) -> pexpect.spawn:
    """The console in a pseudo-terminal (a real TTY, a real prompt)."""
    return pexpect.spawn(
        sys.executable,
        ["-m", "concierge", "console"],
        cwd=str(ROOT),
        env={**_env(), **(extra_env or {})},
        encoding="utf-8",
        timeout=PATIENCE_S,  # per expected line; a loaded machine takes seconds to import livekit
        preexec_fn=_interruptible,
    )


def test_console_in_a_terminal_takes_an_order_and_shows_the_cart() -> None:
    child = _spawn_console()
    try:
        child.expect("text mode")
        child.expect_exact("you> ")
        child.sendline("two classic cheeseburgers and a large coke")
        child.expect(r"tool\s+add_to_cart\(")
        child.expect(r"agent> ")
        child.expect(r"cart\s+Your cart: 2 × Classic Cheeseburger.*large Coke.*Total \$")
        child.expect_exact("you> ")
        child.sendline("remove the coke")
        child.expect(r"cart\s+Your cart: 2 × Classic Cheeseburger — \$19\.98\. Total \$19\.98\.")
        child.expect_exact("you> ")
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before


def test_console_ends_cleanly_at_end_of_input() -> None:
    proc = _cli(["console"], {}, stdin="three churros\n")
    assert proc.returncode == 0, proc.stderr
    assert "3 × Churros" in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.skipif(portaudio_problem() is None, reason="this machine can play and record audio")
def test_audio_console_that_cannot_run_says_why_in_a_sentence() -> None:
    """No PortAudio, or PortAudio and no sound device (CI): a sentence and exit code 2."""
    proc = _cli(["console", "--audio"], {})
    assert proc.returncode == 2
    assert (portaudio_problem() or "") in proc.stderr
    assert "python -m concierge console" in proc.stderr and "Traceback" not in proc.stderr


def test_audio_mode_without_devices_or_package_is_a_sentence(monkeypatch) -> None:
    import types

    class NoDevices(types.ModuleType):
        def query_devices(self, kind: str) -> None:
            raise ValueError("No input device matching ''")

    monkeypatch.setitem(sys.modules, "sounddevice", NoDevices("sounddevice"))
    assert "microphone and a speaker" in (portaudio_problem() or "")
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    assert "pip install sounddevice" in (portaudio_problem() or "")


def test_console_help_teaches_lk_agent_console() -> None:
    proc = _cli(["console", "--help"], {})
    assert proc.returncode == 0 and "lk agent console" in proc.stdout


@pytest.mark.parametrize("command", ["start", "dev"])
def test_server_commands_print_help_without_credentials(command: str) -> None:
    proc = _cli([command, "--help"], {})
    assert proc.returncode == 0, proc.stderr
    assert f"python -m concierge {command}" in proc.stdout
    assert "usage: python -m livekit.agents start" in proc.stdout
    assert "needs LIVEKIT_URL" not in proc.stderr


def test_a_store_that_cannot_be_reached_is_one_sentence_not_a_traceback() -> None:
    unreachable = {
        "CONCIERGE_STORE": "supabase",
        "SUPABASE_URL": "http://127.0.0.1:9",
        "SUPABASE_ANON_KEY": "not-a-real-key",
        "SUPABASE_USER_JWT": "not-a-real-token",
    }
    proc = _cli(["console"], unreachable)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "concierge console: Supabase load_catalog: it cannot be reached (after 3 tries)"
    ]


BROKEN_MENUS = {
    "is not valid TOML": "[[restaurant]\nname = ",
    "is not a valid menu: duplicate item id 'churros'": (
        '[[restaurants]]\nid = "r"\nname = "R"\n'
        + '[[restaurants.items]]\nid = "churros"\nname = "Churros"\nprice = "5.00"\n' * 2
    ),
}


@pytest.mark.parametrize("store", ["memory", "sqlite file"])
@pytest.mark.parametrize("problem", list(BROKEN_MENUS))
@pytest.mark.parametrize("command", ["console", "eval"])
def test_a_bad_menu_file_is_one_sentence_naming_the_file(
    command: str, problem: str, store: str, tmp_path: Path
) -> None:
    broken = tmp_path / "menu.toml"
    broken.write_text(BROKEN_MENUS[problem])
    url = "memory" if store == "memory" else f"sqlite:///{tmp_path / 'concierge.db'}"
    proc = _cli([command], {"CONCIERGE_MENU": str(broken), "CONCIERGE_STORE": url})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"The menu file {broken} {problem}" in proc.stderr


def test_a_refusing_tool_shows_what_it_tells_the_user_and_nothing_on_stderr() -> None:
    proc = _cli(["console"], {}, stdin="two cokes\n")
    assert proc.returncode == 0
    assert "error  Coke comes in small, medium, large: which size would you like?" in proc.stdout
    assert "(result:" not in proc.stdout and "(for you" not in proc.stdout
    assert "ToolError while executing tool" not in proc.stderr


def test_ctrl_c_leaves_at_once_and_keeps_the_cart(tmp_path: Path) -> None:
    """Ctrl-C at the prompt ends the console now (it used to wait for, and swallow, one more
    line), and the cart typed before it is there the next time."""
    store = {"CONCIERGE_STORE": f"sqlite:///{tmp_path / 'console.db'}"}

    def console() -> pexpect.spawn:
        child = _spawn_console(store)
        child.expect_exact("you> ")
        return child

    child = console()
    try:
        child.sendline("two churros")
        child.expect(r"cart\s+Your cart: 2 × Churros")
        child.expect_exact("you> ")
        child.sendintr()
        # "at once" means without another line typed, not within some seconds: the wait is the
        # spawn's generous one (closing the session takes longer on a loaded machine)
        child.expect("Bye")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    child = console()
    try:
        child.sendline("cart")
        child.expect(r"cart\s+Your cart: 2 × Churros")
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


@pytest.mark.parametrize("fallback", ["offline", "none"])
def test_a_key_with_no_network_is_a_sentence_not_a_traceback(tmp_path: Path, fallback: str) -> None:
    """OPENAI_API_KEY set, the network refusing: the stand-in takes over and says so once, or
    (fallback off) each failed turn is one sentence naming CONCIERGE_OFFLINE=1; the cart stays."""
    store = {"CONCIERGE_STORE": f"sqlite:///{tmp_path / 'console.db'}"}
    assert _cli(["console"], store, stdin="two churros\n").returncode == 0
    cloud = {
        **store,
        "OPENAI_API_KEY": "sk-test-not-real",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{refusing_port()}/v1",
        "CONCIERGE_OFFLINE": "",
        "CONCIERGE_FALLBACK": fallback,
    }
    proc = _cli(["console"], cloud, stdin="three churros\none more churro\ncart\n")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    if fallback == "offline":
        assert proc.stderr.count("goes on with the offline stand-in") == 1, proc.stderr
        assert "Your cart: 6 × Churros" in proc.stdout, proc.stdout
    else:
        failed = [ln for ln in proc.stdout.splitlines() if "could not be reached" in ln]
        assert len(failed) == 2 and all("CONCIERGE_OFFLINE=1" in ln for ln in failed)
        assert "cart   Your cart: 2 × Churros" in proc.stdout, proc.stdout
