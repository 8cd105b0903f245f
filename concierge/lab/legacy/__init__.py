"""The "before" picture: the concierge agent as first written, broken on purpose.

`concierge.lab.legacy.agent` is the agent itself (read its banner for what is wrong);
`concierge.lab.legacy.demos` makes each failure happen against the pinned livekit-agents.
"""
