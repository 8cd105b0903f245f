"""concierge.livekit_server: finding or building LiveKit's server, and running it on loopback only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from concierge import livekit_server
from concierge.livekit_server import ServerUnavailable, server_binary, start_server


def test_without_go_or_a_server_it_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CONCIERGE_LIVEKIT_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no go, no livekit-server
    monkeypatch.setattr(livekit_server, "cache_dir", lambda: tmp_path / "cache")
    with pytest.raises(ServerUnavailable) as refused:
        server_binary()
    message = str(refused.value)
    for way in ("Go", "get.livekit.io", "brew install livekit", "livekit/livekit-server"):
        assert way in message
    assert "\n" not in message


def test_a_named_binary_that_is_not_there_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_LIVEKIT_SERVER", "/nonexistent/livekit-server")
    with pytest.raises(ServerUnavailable, match="CONCIERGE_LIVEKIT_SERVER"):
        server_binary()


def test_the_config_keeps_the_server_on_loopback() -> None:
    config = livekit_server.server_config(7880, 7882, "devkey", "s" * 32)
    assert 'bind_addresses: ["127.0.0.1"]' in config
    assert "tcp_port: 0" in config  # its TCP listener would bind every interface
    assert "use_external_ip: false" in config and "node_ip: 127.0.0.1" in config


def listening(pid: int) -> list[str]:
    """Local addresses of `pid`'s sockets, from `ss` (Linux)."""
    out = subprocess.run(["ss", "-tunapH"], capture_output=True, text=True, check=True).stdout
    return [line.split()[4] for line in out.splitlines() if f"pid={pid}," in line]


def test_the_server_starts_answers_binds_only_loopback_and_stops(livekit_binary: Path) -> None:
    with livekit_server.local_server(binary=livekit_binary) as lk:
        assert lk.running and lk.url.startswith("ws://127.0.0.1:")
        assert lk.process is not None
        addresses = listening(lk.process.pid)
        assert addresses, "ss shows no sockets for the server"
        assert all(a.startswith("127.0.0.1:") for a in addresses), addresses
        assert any('"nodeIP": "127.0.0.1"' in line for line in lk.log_lines())
    assert not lk.running


def test_a_restarted_server_keeps_its_address_and_keys(livekit_binary: Path) -> None:
    lk = start_server(binary=livekit_binary)
    try:
        url, secret = lk.url, lk.api_secret
        lk.stop()
        lk.start()
        assert lk.running and (lk.url, lk.api_secret) == (url, secret)
    finally:
        lk.stop()
