"""The offline stand-in model's public names (the code lives in `concierge.offline.standin`).

Notebooks, tests and the providers import `StandInLLM`, `ScriptedLLM` and `PlannedCall` from
here; `concierge.offline.standin` explains how the stand-in is built, one module per job.
"""

from .standin import ImmediateLLM, PlannedCall, ScriptedLLM, StandInLLM

__all__ = ["ImmediateLLM", "PlannedCall", "ScriptedLLM", "StandInLLM"]
