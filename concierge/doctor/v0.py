"""What livekit-agents 1.0 removed from the 0.x line, and where each thing went: the one table the
0.x checks (`checks_v0`) and the 0.x rewrites (`fix_v0`) both read.

Derived from the sources, not from memory: the 0.x names are those `livekit-agents@0.12.20`
exports (`livekit/agents/__init__.py`, `llm/__init__.py`, `pipeline/pipeline_agent.py`,
`multimodal/multimodal_agent.py`), each checked absent from the installed 1.8.9; the 1.x
replacements are those of LiveKit's "Agents v0.x migration guide - Python" and 1.8.9's own
signatures (`AgentSession`, `Agent`, `function_tool`, `voice/events.py: EventTypes`).
"""

from __future__ import annotations

#: Modules 1.0 deleted; importing any of them fails under 1.8.9.
REMOVED_MODULES = frozenset(
    {
        "livekit.agents.pipeline",
        "livekit.agents.multimodal",
        "livekit.agents.voice_assistant",
        "livekit.agents.transcription",
    }
)
#: The 0.x agent classes: one `AgentSession` (+ an `Agent`) replaces them all.
AGENT_CLASSES = frozenset({"VoicePipelineAgent", "MultimodalAgent", "VoiceAssistant"})
#: Names of the 0.x tool API (`llm/function_context.py`), gone in 1.x.
FUNCTION_CONTEXT_NAMES = frozenset(
    {
        "FunctionContext", "ai_callable", "TypeInfo", "FunctionArgInfo", "FunctionInfo",
        "FunctionCallInfo", "CalledFunction", "USE_DOCSTRING", "ai_functions",
    }
)  # fmt: skip
#: Other 0.x names 1.8.9 no longer has, and the module prefix they must come from (so a user's
#: own `Worker` or `VoiceAssistant` class is not mistaken for livekit's).
OTHER_REMOVED = {
    "AgentCallContext": "livekit.agents",
    "AssistantCallContext": "livekit.agents",
    "Worker": "livekit.agents",
    "ChatManager": "livekit.rtc",
    "ChatImage": "livekit.agents",
    "ChatAudio": "livekit.agents",
    "LLMCapabilities": "livekit.agents",
}
#: The 0.x agents' keyword arguments that do not carry over by name, and the 1.x way.
AGENT_KWARGS = {
    "fnc_ctx": "`Agent(tools=...)`: `@function_tool` methods on the Agent, or `llm.find_function_tools(obj)`",
    "chat_ctx": "`Agent(instructions=...)` for the system prompt, `Agent(chat_ctx=...)` for history",
    "before_llm_cb": "override `Agent.llm_node(...)`",
    "will_synthesize_assistant_reply": "override `Agent.llm_node(...)`",
    "before_tts_cb": "override `Agent.tts_node(...)` (or `Agent.transcription_node`)",
    "turn_detector": "`AgentSession(turn_handling=TurnHandlingOptions(turn_detection=...))`",
    "interrupt_speech_duration": "`TurnHandlingOptions(interruption={\"min_duration\": ...})`",
    "interrupt_min_words": "`TurnHandlingOptions(interruption={\"min_words\": ...})`",
    "max_nested_fnc_calls": "`AgentSession(max_tool_steps=...)`",
    "preemptive_synthesis": "`TurnHandlingOptions(preemptive_generation=...)`",
    "transcription": "`room_options=room_io.RoomOptions(text_output=...)`",
    "noise_cancellation": "`room_options=room_io.RoomOptions(audio_input=room_io.AudioInputOptions(noise_cancellation=...))`",
    "plotting": "no 1.x equivalent; drop it",
    "loop": "no 1.x equivalent; drop it",
    "max_text_response_retries": "no 1.x equivalent; drop it",
}  # fmt: skip
#: The keywords each 0.x agent took (0.12.20 `__init__`, all keyword-only): anything else never ran
#: under 0.x either, and only a person knows what was meant.
AGENT_SIGNATURES = {
    "VoicePipelineAgent": frozenset(
        {
            "vad", "stt", "llm", "tts", "noise_cancellation", "turn_detector", "chat_ctx",
            "fnc_ctx", "allow_interruptions", "interrupt_speech_duration", "interrupt_min_words",
            "min_endpointing_delay", "max_endpointing_delay", "max_nested_fnc_calls",
            "preemptive_synthesis", "transcription", "before_llm_cb", "before_tts_cb", "plotting",
            "loop", "will_synthesize_assistant_reply",
        }
    ),
    "MultimodalAgent": frozenset(
        {
            "model", "vad", "chat_ctx", "fnc_ctx", "transcription", "max_text_response_retries",
            "loop", "noise_cancellation",
        }
    ),
}  # fmt: skip
#: 0.x keyword -> AgentSession keyword with the same meaning (the deprecated turn keywords are
#: then folded into `turn_handling=` by the LK008 rewrite).
SESSION_KWARGS = {
    "vad": "vad", "stt": "stt", "llm": "llm", "tts": "tts", "model": "llm",
    "turn_detector": "turn_detection", "allow_interruptions": "allow_interruptions",
    "min_endpointing_delay": "min_endpointing_delay",
    "max_endpointing_delay": "max_endpointing_delay",
    "interrupt_speech_duration": "min_interruption_duration",
    "interrupt_min_words": "min_interruption_words",
    "max_nested_fnc_calls": "max_tool_steps", "preemptive_synthesis": "preemptive_generation",
}  # fmt: skip
#: What a 0.x agent takes that only a person can move (a callback becomes a node override...).
MANUAL_KWARGS = frozenset(
    {"before_llm_cb", "before_tts_cb", "will_synthesize_assistant_reply", "transcription"}
)
#: Dropped without a 1.x counterpart; they changed nothing a caller hears.
DROPPED_KWARGS = frozenset({"plotting", "loop", "max_text_response_retries"})
#: The 0.x agents' events (`pipeline_agent.py: EventTypes`) and the 1.x `AgentSession` event
#: (`voice/events.py: EventTypes`) that carries the same moment.
EVENTS = {
    "user_started_speaking": "`user_state_changed` (ev.new_state == \"speaking\")",
    "user_stopped_speaking": "`user_state_changed` (ev.new_state == \"listening\")",
    "agent_started_speaking": "`agent_state_changed` (ev.new_state == \"speaking\")",
    "agent_stopped_speaking": "`agent_state_changed` (ev.old_state == \"speaking\")",
    "user_speech_committed": "`conversation_item_added` (ev.item.role == \"user\")",
    "agent_speech_committed": "`conversation_item_added` (ev.item.role == \"assistant\")",
    "agent_speech_interrupted": "`conversation_item_added` (ev.item.interrupted)",
    "function_calls_collected": "`function_tools_executed`",
    "function_calls_finished": "`function_tools_executed`",
}  # fmt: skip
#: Events whose handler can be rewritten mechanically: 1.x event, and the role its item has.
COMMITTED_EVENTS = {
    "user_speech_committed": "user",
    "agent_speech_committed": "assistant",
}
