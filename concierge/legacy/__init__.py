"""The "before" picture: the concierge agent as first written, broken on purpose.

`concierge.legacy.agent` is the agent itself (read its banner for what is wrong);
`concierge.legacy.demos` makes each failure happen against the pinned livekit-agents.
"""
