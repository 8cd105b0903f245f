"""The doctor's rules: one catalogue entry per thing worth changing in a LiveKit agent.

Severities have one meaning each, so a finding's level says what happens if it is left alone:

- **error** — it fails at run time, or a model provider rejects the request;
- **warning** — it runs but behaves badly: a deprecation livekit-agents 1.8.9 warns about (and
  will remove), a setting silently ignored, state shared between callers;
- **info** — a recommendation.

Rules marked `lab` are this lab's opinions about a good agent (typed state, enum ids, a session
report...). They are off unless asked for (`--lab`), because a correct agent may do without them.
Every deprecation rule cites where 1.8.9 announces it (`source`) and names the replacement (`fix`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
SEVERITY_MEANING = {
    "error": "fails at run time or is rejected by a model provider",
    "warning": "runs, but behaves badly (deprecated in 1.8.9, ignored, or shared between callers)",
    "info": "a recommendation",
}


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    why: str
    fix: str
    source: str = ""  # where livekit-agents 1.8.9 says so (deprecations)
    lab: bool = False  # an opinion of this lab: reported only with --lab
    fixable: bool = False  # `doctor --fix` rewrites it


_R = Rule
V0_SOURCE = "livekit-agents 0.12.20 exports it; 1.8.9 does not (v0 migration guide)"
RULES: dict[str, Rule] = {
    r.id: r
    for r in [
        _R("LK001", "worker-options", "info",
           "`WorkerOptions(entrypoint_fnc=...)` is the pre-1.8 server pattern; 1.8 converts it to an AgentServer behind your back.",
           "`server = AgentServer()` and `@server.rtc_session()` on the entrypoint.",
           source="worker.py: WorkerOptions = ServerOptions; AgentServer.from_server_options", fixable=True),
        _R("LK002", "tool-param-default", "info",
           "The strict schema makes a defaulted parameter required and nullable: the model never sees the default (a null is mapped back to it).",
           "Say the default in the docstring, or make the choice explicit with `Literal[..., \"null\"]`.",
           lab=True),
        _R("LK003", "optional-null-text", "warning",
           "Models often send the string \"null\" for an absent value; a `str | None` tool receives the text 'null', not None.",
           "Map \"null\" (and \"\") to None in the tool, or use `Literal[\"a\", \"b\", \"null\"]`."),
        _R("LK004", "untyped-parameter", "error",
           "A bare list/dict or Any gives a schema without item or value types, which OpenAI's strict mode rejects (HTTP 400).",
           "Type it fully: `list[ItemRequest]`, a pydantic model, or separate tool calls."),
        _R("LK005", "free-text-id", "info",
           "A free-text id lets the model invent values that do not exist when the valid ids are known.",
           "Constrain it: `Annotated[str, Field(json_schema_extra={\"enum\": ids})]`, and re-check it in the tool.",
           lab=True),
        _R("LK006", "global-session-state", "warning",
           "Module-level state changed by a tool or entrypoint is shared by every session the worker runs: two callers write one cart.",
           "Keep per-session state in a userdata dataclass: `AgentSession[UserState](userdata=...)`, `ctx: RunContext[UserState]`."),
        _R("LK007", "no-max-tool-steps", "info",
           "With tools, the default cap of 3 tool steps per turn can cut a multi-step request short (the model is then made to answer).",
           "Pass `max_tool_steps=` sized for your longest legitimate tool chain.",
           lab=True, fixable=True),
        _R("LK008", "deprecated-turn-kwargs", "warning",
           "These keyword arguments are deprecated in 1.8.9 and will be removed in v2.0.",
           "`turn_handling=TurnHandlingOptions(turn_detection=..., endpointing={...}, interruption={...}, preemptive_generation=...)`.",
           source="voice/agent_session.py: @deprecate_params on AgentSession.__init__; voice/agent.py: Agent(# deprecated)", fixable=True),
        _R("LK009", "untyped-run-context", "info",
           "A bare `RunContext` makes `ctx.userdata` Any: your editor and type checker cannot see what it holds.",
           "`ctx: RunContext[UserState]`, and `AgentSession[UserState](userdata=...)`.",
           lab=True),
        _R("LK010", "no-on-session-end", "info",
           "This agent keeps per-session state, but nothing runs when the room closes: it is not saved and no session report is kept.",
           "`@server.rtc_session(on_session_end=...)` (or `ctx.add_shutdown_callback`) to save state and `ctx.make_session_report()`.",
           lab=True),
        _R("LK011", "strict-schema", "error",
           "OpenAI rejects the whole request (HTTP 400) when one tool schema breaks its strict-mode rules.",
           "Give every property and every array `items` a type; no defaults or unsupported keywords."),
        _R("LK012", "builtin-cli", "warning",
           "`cli.run_app` starts the built-in Python CLI, deprecated in 1.8.9 (DeprecationWarning) and to be removed.",
           "Run the module's `server` with `python -m livekit.agents start agent.py` or the LiveKit CLI (`lk agent dev`, `lk agent console`).",
           source="cli/_legacy.py: run_app warns 'the built-in Python CLI is deprecated'"),
        _R("LK013", "metrics-collected", "warning",
           "The `metrics_collected` event is deprecated in 1.8.9 (logged on every `on()`).",
           "`session_usage_updated` for usage, `ChatMessage.metrics` for per-turn latency.",
           source="voice/agent_session.py: AgentSession.on"),
        _R("LK014", "room-io-options", "warning",
           "`RoomInputOptions` / `RoomOutputOptions` are deprecated in 1.8.9 (logged when passed).",
           "`room_options=room_io.RoomOptions(audio_input=..., text_output=..., ...)`.",
           source="voice/room_io/types.py: RoomOptions._ensure_options", fixable=True),
        _R("LK015", "usage-collector", "warning",
           "`UsageCollector` / `UsageSummary` are deprecated in 1.8.9 (DeprecationWarning).",
           "`metrics.ModelUsageCollector` (per-model `LLMModelUsage`, `TTSModelUsage`, ...), or `session.usage` / `session_usage_updated`.",
           source="metrics/usage_collector.py"),
        _R("LK016", "mcp-servers", "warning",
           "Passing MCP servers to `AgentSession` or `Agent` is deprecated in 1.8.9 (logged).",
           "`tools=[mcp.MCPToolset(id=..., mcp_server=...)]`.",
           source="voice/agent_session.py, voice/agent.py: mcp_servers"),
        _R("LK017", "async-run-context", "warning",
           "`AsyncRunContext` is a deprecated alias kept for one release (logged on import).",
           "`from livekit.agents import RunContext`.",
           source="llm/async_toolset.py: __getattr__"),
        _R("LK018", "async-toolset-on-duplicate-call", "error",
           "`AsyncToolset(on_duplicate_call=...)` raises TypeError in 1.8.9.",
           "Set `on_duplicate=...` on each `@function_tool(...)` instead.",
           source="llm/async_toolset.py: AsyncToolset.__init__"),
        _R("LK019", "keyterms-options", "warning",
           "`AgentSession(keyterms_options=...)` is deprecated in 1.8.9 and will be removed in v2.0.",
           "`stt_context_options=STTContextOptions(...)`.",
           source="voice/agent_session.py: @deprecate_params"),
        _R("LK020", "ignored-turn-kwargs", "warning",
           "When `turn_handling=` is passed, the deprecated turn keyword arguments beside it are silently ignored.",
           "Move them into `turn_handling` (e.g. `TurnHandlingOptions(preemptive_generation=...)`).",
           source="voice/agent_session.py: _migrate_turn_handling only runs without turn_handling"),
        _R("LK021", "update-options-endpointing", "warning",
           "`update_options(min_endpointing_delay=/max_endpointing_delay=)` is deprecated in 1.8.9 (logged).",
           "`update_options(endpointing_opts=EndpointingOptions(min_delay=..., max_delay=...))`.",
           source="voice/agent_session.py, voice/agent_activity.py: update_options"),
        _R("LK022", "warm-transfer-phone-number", "warning",
           "`WarmTransferTask(target_phone_number=...)` is deprecated in 1.8.9 (logged).",
           "`WarmTransferTask(sip_call_to=...)`.",
           source="beta/workflows/warm_transfer.py", fixable=True),
        _R("LK023", "workflow-extra-instructions", "warning",
           "`extra_instructions=` is deprecated on this workflow task in 1.8.9, and ignored when `instructions=` is passed too.",
           "`instructions=WorkflowInstructions(extra=...)`.",
           source="beta/workflows/email_address.py, address.py, warm_transfer.py"),
        _R("LK024", "turn-detector-plugin", "warning",
           "`livekit.plugins.turn_detector` (`MultilingualModel`, `EnglishModel`) is deprecated in 1.8.9 (DeprecationWarning on import) and fetches weights at run time.",
           "`turn_handling=TurnHandlingOptions(turn_detection=inference.TurnDetector())` (on-device weights in the wheel).",
           source="livekit/plugins/turn_detector/__init__.py"),
        _R("LK025", "connect-e2ee", "warning",
           "`ctx.connect(e2ee=...)` is deprecated in 1.8.9 (logged).",
           "`ctx.connect(encryption=...)`.",
           source="job.py: @deprecate_params on JobContext.connect", fixable=True),
        _R("LK026", "false-interruption-event-fields", "warning",
           "`AgentFalseInterruptionEvent.message` / `.extra_instructions` are deprecated in 1.8.9: automatic resume is now supported (logged on access).",
           "Use `ev.resumed`; configure resuming with `TurnHandlingOptions(interruption={...})`.",
           source="voice/events.py: AgentFalseInterruptionEvent"),
        _R("LK027", "deprecated-alias", "info",
           "A name 1.8.9 keeps only as a deprecated alias.",
           "`stt.RecognizeStream`; `rtc.combine_audio_frames`.",
           source="stt/stt.py: SpeechStream; utils/audio.py: deprecated aliases"),
        _R("LK028", "deprecated-realtime-option", "warning",
           "A realtime model id, `inference_class=` or `api_version=` that 1.8.9 logs as deprecated (`api_version` is removed on 2026-04-30; `inference_class` has no effect).",
           "The model id named in the message; drop `inference_class=` and `api_version=`.",
           source="inference/_realtime_models.py: DEPRECATED_REALTIME_MODELS; inference/realtime/openai.py; llm/_realtime/openai.py: RealtimeModel, with_azure"),
        _R("LK029", "agent-script-command", "warning",
           "Running `python agent.py dev|console|start|download-files` goes through the deprecated built-in CLI (download-files that way is deprecated since 1.5.10).",
           "`python -m livekit.agents start agent.py` / `python -m livekit.agents download-files`, or `lk agent dev` / `lk agent console`.",
           source="cli/_legacy.py: dev, console, download_files"),
        _R("LK030", "unconfirmed-irreversible-tool", "info",
           "A tool that places, pays or cancels acts on the model's word alone: a misheard word becomes a real order.",
           "Read the order back and take an explicit `confirmed: bool` (or a confirmation step) before acting.",
           lab=True),
        _R("LK031", "removed-module", "error",
           "livekit-agents 1.0 removed `livekit.agents.pipeline`, `.multimodal`, `.voice_assistant` and `.transcription`: the import fails under 1.8.9.",
           "`from livekit.agents import Agent, AgentSession` (one session runs a pipeline or a realtime model).",
           source=V0_SOURCE, fixable=True),
        _R("LK032", "removed-agent-class", "error",
           "`VoicePipelineAgent`, `MultimodalAgent` and `VoiceAssistant` are gone in 1.x.",
           "`session = AgentSession(vad=..., stt=..., llm=..., tts=...)` (a realtime model goes in `llm=`), then `await session.start(agent=Agent(instructions=..., tools=...), room=ctx.room)`.",
           source=V0_SOURCE, fixable=True),
        _R("LK033", "removed-agent-kwarg", "error",
           "A keyword argument of a 0.x agent that has no place of that name in 1.x.",
           "The 1.x place is named in the message (`Agent(tools=...)`, `Agent(instructions=...)`, an `Agent.llm_node` override...).",
           source=V0_SOURCE, fixable=True),
        _R("LK034", "removed-agent-method", "error",
           "`agent.start(room, participant)` belongs to the 0.x agents; 1.x starts a session, with the agent, asynchronously.",
           "`await session.start(agent=Agent(...), room=ctx.room)`; `session.say(...)` takes the same arguments as before.",
           source=V0_SOURCE, fixable=True),
        _R("LK035", "removed-agent-event", "error",
           "A 0.x agent event that 1.x never emits: the handler silently stops running.",
           "The 1.x `AgentSession` event named in the message (`conversation_item_added`, `user_state_changed`, ...).",
           source=V0_SOURCE + "; voice/events.py: EventTypes", fixable=True),
        _R("LK036", "function-context", "error",
           "`llm.FunctionContext`, `@llm.ai_callable` and `llm.TypeInfo` are gone in 1.x (the import fails under 1.8.9).",
           "`@function_tool()` methods with `Annotated[T, Field(description=...)]` parameters, passed as `Agent(tools=...)` (or defined on the Agent).",
           source="livekit-agents 0.12.20 llm/function_context.py; 1.8.9 llm/tool_context.py: function_tool", fixable=True),
        _R("LK037", "agent-call-context", "error",
           "`AgentCallContext.get_current()` is gone in 1.x.",
           "Take `context: RunContext` as a tool parameter: `context.session`, `context.speech_handle`, `context.userdata`.",
           source=V0_SOURCE),
        _R("LK038", "chat-context-0x", "error",
           "The 0.x chat context API (`ChatContext().append(text=...)`, `ChatMessage.create(...)`, `ChatContext(messages=...)`, `ChatImage`) is gone in 1.x.",
           "`chat_ctx.add_message(role=..., content=...)`, `llm.ChatMessage(role=..., content=[...])`, `llm.ImageContent`; a system prompt becomes `Agent(instructions=...)`.",
           source="livekit-agents 0.12.20 llm/chat_context.py; 1.8.9 llm/chat_context.py", fixable=True),
        _R("LK039", "realtime-session-0x", "error",
           "The 0.x realtime session API (`model.sessions[0]`, `session.conversation.item.create(...)`, `session.response.create()`) is gone in 1.x.",
           "`await session.generate_reply(instructions=...)` or `session.generate_reply(user_input=...)` on the `AgentSession`; edit history with `agent.update_chat_ctx(...)`.",
           source="livekit-agents 0.12.20 livekit-plugins-openai realtime; 1.8.9 voice/agent_session.py: generate_reply"),
        _R("LK040", "worker-run-directly", "error",
           "`Worker(...)` is no longer exported by livekit-agents 1.x.",
           "`server = AgentServer(...)` with `@server.rtc_session()`, run by `python -m livekit.agents start` (or `await server.run()`).",
           source=V0_SOURCE + "; 1.8.9 worker.py: AgentServer"),
        _R("LK041", "chat-manager", "error",
           "`rtc.ChatManager` is gone from livekit-rtc 1.x.",
           "Text streams: `room.register_text_stream_handler(\"lk.chat\", ...)`, or the session's text input (`room_io.RoomOptions(text_input=...)`).",
           source="livekit-rtc 0.x chat.py; absent from the livekit-rtc 1.8.9 installs"),
    ]
}  # fmt: skip

#: The deprecated `AgentSession` keyword arguments that `turn_handling` replaces (1.8.9 source).
SESSION_TURN_KWARGS = frozenset(
    {
        "turn_detection", "min_endpointing_delay", "max_endpointing_delay", "allow_interruptions",
        "min_interruption_duration", "min_interruption_words", "false_interruption_timeout",
        "resume_false_interruption", "discard_audio_if_uninterruptible",
        "agent_false_interruption_timeout", "preemptive_generation",
    }
)  # fmt: skip
#: The deprecated `Agent` / `AgentTask` keyword arguments that `turn_handling` replaces.
AGENT_TURN_KWARGS = frozenset(
    {"turn_detection", "min_endpointing_delay", "max_endpointing_delay", "allow_interruptions"}
)
#: Workflow tasks whose `extra_instructions=` is marked deprecated in 1.8.9.
EXTRA_INSTRUCTIONS_TASKS = frozenset({"GetEmailTask", "GetAddressTask", "WarmTransferTask"})
DEPRECATED_REALTIME_MODELS = {
    "openai/gpt-realtime-2": "openai/gpt-realtime-2.1",
    "openai/gpt-realtime-1.5": "openai/gpt-realtime-2.1",
    "xai/grok-voice-think-fast-2.0": "xai/grok-voice-3.0",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    message: str
    column: int = 0

    @property
    def severity(self) -> Severity:
        return RULES[self.rule].severity

    @property
    def why(self) -> str:
        return RULES[self.rule].why

    @property
    def fix(self) -> str:
        return RULES[self.rule].fix


def at_least(severity: Severity, minimum: Severity) -> bool:
    return SEVERITIES.index(severity) <= SEVERITIES.index(minimum)
