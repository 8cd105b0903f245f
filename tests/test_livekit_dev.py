"""`python -m concierge dev` with no LiveKit variables: LiveKit's server on 127.0.0.1, the worker
registered with it, a printed token that brings the agent into the room, all stopped together."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from concierge.lab.room_caller import RoomCaller

from .patience import PATIENCE_S

pytestmark = pytest.mark.livekit


async def test_dev_starts_a_local_server_and_prints_how_to_join(livekit_binary: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env |= {"CONCIERGE_STORE": "memory", "CONCIERGE_LIVEKIT_SERVER": str(livekit_binary)}
    dev = subprocess.Popen(
        [sys.executable, "-m", "concierge", "dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert dev.stdout is not None
        printed = ""
        for line in dev.stdout:
            printed += line
            if "JOIN_TOKEN=" in line:
                break
        url = re.search(r"LIVEKIT_URL=(ws://127\.0\.0\.1:\d+)", printed)
        token = re.search(r"JOIN_TOKEN=(\S+)", printed)
        assert url and token, printed
        async with RoomCaller.joined(url[1], token[1]) as caller:
            await caller.wait_for_agent(timeout=PATIENCE_S)  # joining dispatched the agent
            await caller.type("two churros")
            deadline = time.monotonic() + PATIENCE_S
            while not (cart := await caller.cart())["cart"]["lines"]:
                assert time.monotonic() < deadline, "the typed order never reached the cart"
                await asyncio.sleep(0.1)
        assert [(ln["item_id"], ln["quantity"]) for ln in cart["cart"]["lines"]] == [("churros", 2)]
    finally:
        dev.send_signal(signal.SIGINT)  # Ctrl-C
        code = dev.wait(PATIENCE_S)
    assert code == 0
    with pytest.raises(OSError):  # the server stopped with the command
        urllib.request.urlopen(url[1].replace("ws://", "http://"), timeout=2)
