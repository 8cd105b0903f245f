"""The live panel: the migrated agent running in a notebook, with widgets that observe it.

`launch()` joins the panel's page to the agent's LiveKit room where a server is available (room
mode: the agent a worker process), else starts a session in the kernel's loop, and shows the cart,
transcript, metrics and status widgets (`widgets`). The agent never imports this package: views
are handed to the session builder as observers, or fed from what the room carries.
"""

from .launch import (
    LiveHandle,
    PanelPath,
    choose_path,
    cloud_configured,
    current,
    launch,
    resolve_mode,
    speech_status,
)

__all__ = [
    "LiveHandle",
    "PanelPath",
    "choose_path",
    "cloud_configured",
    "current",
    "launch",
    "resolve_mode",
    "speech_status",
]
