"""One turn's stages, cut from livekit's own timestamps measured from one origin.

The one place a turn is cut into stages: the live panel's metrics strip (notebook 9) and
`VoiceTurn.stages()` (notebook 6, the bench) both call `turn_timing`, so the same turn reads the
same everywhere.

livekit-agents 1.8.9 deprecates the `metrics_collected` event ("Use session_usage_updated for usage
tracking and ChatMessage.metrics for per-turn latency"). A turn's latency lives on its messages:

| where | what livekit records (wall clock, `time.time()`) |
|---|---|
| user `ChatMessage.metrics` | `stopped_speaking_at`, `end_of_turn_delay`, `transcription_delay` (voice turns) |
| user `ChatMessage.created_at` | when a typed turn was sent |
| `FunctionCall.created_at` / `FunctionCallOutput.created_at` | when the model asked for a tool / it answered |
| assistant `ChatMessage.metrics` | `started_speaking_at` (first audio, or first text), `tts_node_ttfb`, `llm_node_ttft`, `e2e_latency` |

The panel once added durations from different events (an LLM's whole generation time next to a
turn measured from when the widget saw it), so a part could exceed the whole. Here every stage is
the gap between two boundaries on one clock, in order:

    origin ── transcript ── end of turn ── (model) ── tools ── (model) ── TTS ── first reply
    end of speech (voice) / sent (typed)                                        audio or text

"speech-to-text" runs from the end of speech to the final transcript, so it includes the silence
the VAD waits for before it calls the speech finished; "end of turn" is the rest of livekit's
end-of-turn decision (the turn detector) after the transcript.

so the stages add up to the whole exactly, and the whole equals livekit's `e2e_latency` for a
voice turn. A boundary livekit reports out of order (never seen, but the clocks are separate
calls) is pulled forward to the one before it so no stage is negative; `skew_ms` says by how much,
and the tests hold it under `TOLERANCE_MS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: How far livekit's own figures may disagree with the boundaries cut here (clock reads, rounding).
TOLERANCE_MS = 5.0

STAGES = ("speech-to-text", "end of turn", "model", "tools", "TTS first audio")


@dataclass(frozen=True)
class TurnTiming:
    """A turn cut into stages (ms); only the stages the turn had (a typed turn has no end of turn
    and, without a voice, no TTS). `stages` add up to `whole_ms`."""

    spoken: bool
    stages: dict[str, float]
    whole_ms: float
    origin: float = 0.0  # wall clock (s): end of speech, or when a typed turn was sent
    skew_ms: float = 0.0
    livekit_e2e_ms: float | None = None  # livekit's own end of speech → first audio, voice turns
    transcription_ms: float | None = None  # end of speech → final transcript (= "speech-to-text")

    @property
    def parts_ms(self) -> float:
        return sum(self.stages.values())


def turn_timing(
    user_created_at: float,
    user_metrics: Mapping[str, Any],
    tool_spans: Iterable[tuple[float, float]],
    reply_metrics: Mapping[str, Any],
    reply_created_at: float,
) -> TurnTiming:
    """Cut one turn into stages.

    `tool_spans` holds (call created, output created) per tool call; `reply_*` are the first
    assistant message's. A voice turn starts where livekit says the user stopped speaking; a typed
    turn where its message was created.
    """
    stopped = user_metrics.get("stopped_speaking_at")
    spoken = stopped is not None
    origin = float(stopped) if stopped is not None else user_created_at
    end_of_turn = origin + float(user_metrics.get("end_of_turn_delay", 0.0) or 0.0)
    transcription = user_metrics.get("transcription_delay")
    heard = origin + float(transcription) if spoken and transcription is not None else origin
    first_reply = float(reply_metrics.get("started_speaking_at", reply_created_at))
    tts_ttfb = reply_metrics.get("tts_node_ttfb")
    tts_start = first_reply - float(tts_ttfb) if tts_ttfb is not None else first_reply
    # With preemptive generation (on by default in 1.8.9) the model may start, and even ask for a
    # tool, while the end of turn is still being decided: that overlap is real, not clock skew,
    # so the part of a tool call before the decision counts as end of turn.
    spans = sorted((max(start, end_of_turn), max(end, end_of_turn)) for start, end in tool_spans)

    # A transcript livekit dates after its own end-of-turn decision cannot be: clamp it.
    bounds = [origin, min(heard, end_of_turn), end_of_turn]
    if spans:
        bounds += [spans[0][0], max(end for _start, end in spans)]
    bounds += [tts_start, first_reply]
    ordered, skew = _monotone(bounds)

    stages: dict[str, float] = {}
    if spoken:
        if transcription is not None:
            stages["speech-to-text"] = ordered[1] - ordered[0]
        stages["end of turn"] = ordered[2] - ordered[1]
    if spans:
        stages["model"] = (ordered[3] - ordered[2]) + (ordered[5] - ordered[4])
        stages["tools"] = ordered[4] - ordered[3]
    else:
        stages["model"] = ordered[3] - ordered[2]
    if tts_ttfb is not None:
        stages["TTS first audio"] = ordered[-1] - ordered[-2]
    e2e = reply_metrics.get("e2e_latency")
    return TurnTiming(
        spoken=spoken,
        origin=ordered[0],
        stages={k: v * 1000 for k, v in stages.items()},
        whole_ms=(ordered[-1] - ordered[0]) * 1000,
        skew_ms=skew * 1000,
        livekit_e2e_ms=float(e2e) * 1000 if e2e is not None else None,
        transcription_ms=float(transcription) * 1000 if transcription is not None else None,
    )


def _monotone(bounds: list[float]) -> tuple[list[float], float]:
    """Each boundary at least the one before it; and the largest correction made."""
    ordered, skew = [bounds[0]], 0.0
    for b in bounds[1:]:
        if b < ordered[-1]:
            skew = max(skew, ordered[-1] - b)
        ordered.append(max(b, ordered[-1]))
    return ordered, skew
