"""Teaching helpers for the notebooks, kept out of the agent.

- `notebook`: tables, transcripts and source views the notebooks display;
- `legacy`: the "before" agent, broken on purpose, and demos of each failure;
- `inprocess`: one job of the real `AgentServer` run in-process (notebook 5);
- `local_postgres`: a throwaway PostgreSQL with the Supabase schema (notebook 7 and the tests).
"""

from .notebook import (
    HTML,
    SNAPSHOT,
    cart_table,
    require_offline_speech,
    setup_notebook,
    show_source,
    side_by_side,
    table,
    transcript,
    turn,
)

__all__ = [
    "HTML",
    "SNAPSHOT",
    "cart_table",
    "require_offline_speech",
    "setup_notebook",
    "show_source",
    "side_by_side",
    "table",
    "transcript",
    "turn",
]
