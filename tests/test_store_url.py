"""Odd `CONCIERGE_STORE` values get one plain sentence (exit 2 from the CLI), never a traceback or
a silent temporary database; and the small leaks of issue #10.11 stay closed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from concierge.__main__ import main
from concierge.store import InvalidStoreURL, check_store_url, open_store


def _bad_urls(tmp_path: Path) -> list[str]:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    return [
        "sqlite:///",
        "sqlite:///   ",
        "~",
        "postgres://x",
        "sqlite://",
        f"sqlite:///{tmp_path}",  # a directory
        f"sqlite:///{corrupt}",
        f"sqlite:///{fifo}",
        f"sqlite:///{tmp_path / 'x.db'}?mode=ro",
    ]


def test_bad_store_urls_are_refused_in_one_sentence(tmp_path: Path) -> None:
    for url in _bad_urls(tmp_path):
        with pytest.raises(InvalidStoreURL) as refused:
            check_store_url(url)
        message = str(refused.value)
        assert "\n" not in message and "CONCIERGE_STORE" in message, (url, message)


async def test_open_store_refuses_them_too(tmp_path: Path) -> None:
    for url in _bad_urls(tmp_path):
        with pytest.raises(InvalidStoreURL):
            await open_store(url)


def test_tilde_is_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert check_store_url("sqlite:///~/lab/c.db") == f"sqlite:///{tmp_path}/lab/c.db"


@pytest.mark.parametrize("command", ["seed", "start"])
def test_the_cli_says_it_plainly_and_exits_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    monkeypatch.setenv("CONCIERGE_STORE", f"sqlite:///{tmp_path}")
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and "Traceback" not in err


def test_credentials_never_print_the_secret() -> None:
    from concierge.live.cloud import Credentials

    creds = Credentials("wss://x.livekit.cloud", "APIkey", "s3cr3t-value")
    assert "s3cr3t-value" not in repr(creds) and "s3cr3t-value" not in str(creds)


def test_env_file_variants_are_ignored_but_the_example_is_not() -> None:
    root = Path(__file__).resolve().parent.parent
    for name, ignored in (
        (".env", True),
        (".env.local", True),
        (".env.production", True),
        (".env.example", False),
    ):
        done = subprocess.run(["git", "check-ignore", "-q", name], cwd=root)
        assert (done.returncode == 0) == ignored, name
