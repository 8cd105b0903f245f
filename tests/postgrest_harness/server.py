"""TEST HARNESS — serve the PostgREST look-alike on 127.0.0.1 in a background thread.

supabase-py's async client then talks to it over real HTTP on a real socket, so connection
refusals and client timeouts in the failure tests are real ones, not simulated exceptions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .app import PostgrestHarness


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a request stuck in an injected delay never blocks shutdown


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@contextmanager
def serve(app: PostgrestHarness) -> Iterator[str]:
    """Run `app` on a free port; yields the base URL to give supabase-py (http://127.0.0.1:PORT)."""
    server = make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
