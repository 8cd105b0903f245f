"""`StandInLLM`: the lab's deterministic, menu-aware stand-in for a language model. Not an AI model.

It implements livekit's `llm.LLM`, so the real `AgentSession` drives it exactly as it would drive
GPT: it receives the chat context and the tools, and answers with real tool calls (JSON arguments
valid under each tool's strict schema) or a short spoken reply. One module per job:

| module | job |
|---|---|
| `adapter` | the livekit `llm.LLM` / `LLMStream` side; one plan per customer message |
| `numbers` | quantities as people say them ("twenty one", "x2", "a dozen") |
| `parser` | one customer message → an `Intent` (order, correction, removal, question, yes…), self-repairs applied first |
| `selector` | items named by kind, place, price or restaurant, over the cart, the dishes offered or the menu |
| `history` | what the conversation so far holds, from the calls and the tools' result codes |
| `planner` | `Intent` + conversation → the tool calls (`Plan`) |
| `wording` | tool results and the stand-in's own questions, as sentences a person hears |
| `validation` | only arguments the offered tools' strict schemas accept |

Use a real model by setting `OPENAI_API_KEY` (see `concierge.providers`).
"""

from .adapter import ImmediateLLM, ScriptedLLM, StandInLLM
from .parser import Intent, IntentParser, ItemRequest
from .planner import Plan, PlannedCall

__all__ = [
    "ImmediateLLM",
    "Intent",
    "IntentParser",
    "ItemRequest",
    "Plan",
    "PlannedCall",
    "ScriptedLLM",
    "StandInLLM",
]
