"""TEST HARNESS: a PostgREST-compatible HTTP layer over psycopg, for testing supabase-py.

Not PostgREST, not for production: it covers exactly the requests the Supabase store sends and
refuses everything else with HTTP 501. See app.py for what it reproduces and why it exists.
"""

from .app import Fault, HarnessError, PostgrestHarness, RecordedRequest, verify_jwt
from .server import serve

__all__ = ["Fault", "HarnessError", "PostgrestHarness", "RecordedRequest", "serve", "verify_jwt"]
