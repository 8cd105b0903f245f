"""What the live panel's page does to reach the kernel's audio socket, done from Python: ask for a
ticket over the widget's comm channel (reporting the page's origin), then open the WebSocket with
that origin, as a browser would send it."""

from __future__ import annotations

from typing import Any

import aiohttp

from concierge.live.voice import MicWidget

#: The Jupyter page's origin in these tests.
ORIGIN = "http://127.0.0.1:8888"


def ask(widget: MicWidget, origin: Any = ORIGIN, ask_id: str = "test") -> dict[str, Any]:
    """The kernel's one-off answer to a view's `connect` request, as the comm would carry it."""
    sent: list[dict[str, Any]] = []
    patched = widget.__dict__.get("send")  # a test may have replaced send already: keep it
    widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    try:
        widget._on_browser_msg(widget, {"type": "connect", "origin": origin, "ask": ask_id}, [])
    finally:
        if patched is None:
            del widget.send
        else:
            widget.send = patched  # type: ignore[method-assign]
    (answer,) = [m for m in sent if m.get("type") == "socket"]
    return answer


def ticket(widget: MicWidget, origin: Any = ORIGIN) -> str:
    """A one-use socket URL for a page of `origin`."""
    url: str = ask(widget, origin)["url"]
    return url


def dial(
    http: aiohttp.ClientSession, widget: MicWidget, origin: str = ORIGIN
) -> Any:  # aiohttp's _WSRequestContextManager: usable with `await` and `async with`
    """Open the socket as the panel's page does: a fresh ticket, the page's Origin header."""
    return http.ws_connect(ticket(widget, origin), origin=origin)
