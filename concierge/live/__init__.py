"""The live panel: the migrated agent running in a notebook, with widgets that observe it.

`launch()` starts a session (offline in the kernel's loop, or in a LiveKit room in cloud mode) and
shows the cart, transcript, metrics and status widgets (`widgets`). The agent never imports this
package: views are handed to the session builder as observers.
"""

from .launch import LiveHandle, cloud_configured, current, launch, resolve_mode, speech_status

__all__ = ["LiveHandle", "cloud_configured", "current", "launch", "resolve_mode", "speech_status"]
