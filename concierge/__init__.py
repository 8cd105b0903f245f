"""Concierge Lab's agent: a LiveKit voice food concierge, written the livekit-agents 1.8 way.

Start with `concierge.session.offline_session()` for a text conversation with no keys, or
`python -m concierge --help` for the command line.
"""

__version__ = "0.1.0"
