"""`python -m concierge bench --livekit`: what the real network path costs, measured at the caller.

Through LiveKit's own server on 127.0.0.1 (`concierge.livekit_server`) and a worker started as a
deployer starts it (`python -m concierge start`: process executor, models prewarmed), callers
(`concierge.lab.room_caller`) join rooms, the agent is dispatched to each by name, and each caller
speaks orders in real time. Two figures, both on the caller's clock:

- dispatch → greeting: from the dispatch request to the first voiced frame of the greeting;
- end of speech → first agent audio: from the last voiced frame the caller's microphone sent to
  the first voiced frame of the answer it received.

Beside them, the same spoken turns in-process (`voice_session`: the same session builder and
models, no server, no WebRTC), timed the same way, so the network path's cost is one subtraction.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from .bench import _same_words
from .lab.room_caller import AgentSpeech, RoomCaller, speech_end
from .livekit_server import local_server, start_worker
from .offline.audio_io import INPUT_RATE
from .offline.tts import offline_tts
from .server import AGENT_NAME
from .session import voice_session

__all__ = ["livekit_figures", "livekit_report"]

#: Spoken orders, each a turn (the offline recogniser's grammar covers every one).
PHRASES = ["three churros", "a kombucha", "two edamame", "a tiramisu", "a falafel bowl"]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _dispatch(server: Any, room: str) -> None:
    from livekit import api

    async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lkapi:
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=AGENT_NAME, room=room)
        )


async def _one_call(server: Any, room: str, phrases: list[str], voice: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"turns": []}
    async with RoomCaller.joined(server.url, server.token(f"bench-{room}", room)) as caller:
        dispatched = time.monotonic()
        await _dispatch(server, room)
        await caller.wait_for_agent()
        greeting = await caller.next_agent_speech(after=dispatched, timeout=60)
        out["greeting_s"] = greeting.start - dispatched
        for phrase in phrases:
            before = len(caller.transcripts)
            end = await caller.say(voice.pcm16(phrase), 24000)
            try:
                answer: AgentSpeech | None = await caller.next_agent_speech(after=end)
            except TimeoutError:  # not answered: counted, not timed
                answer = None
            said = caller.transcripts[before:]
            heard = [t for who, t in said if not who.startswith("agent-")]
            replies = [t for who, t in said if who.startswith("agent-")]
            out["turns"].append(
                {
                    "said": phrase,
                    "heard": heard[-1] if heard else "",
                    "reply": replies[-1] if replies else "",
                    "first_audio_s": None if answer is None else answer.start - end,
                }
            )
    return out


async def _in_process_turns(phrases: list[str], voice: Any) -> list[float]:
    """The same turns without server or WebRTC, from the clip's last voiced frame."""
    from livekit import rtc

    from .offline.stt import to_pcm16_mono

    seconds = []
    async with voice_session() as rig:
        for phrase in phrases:
            pcm = voice.pcm16(phrase)
            at_16k = to_pcm16_mono(rtc.AudioFrame(pcm, 24000, 1, len(pcm) // 2), INPUT_RATE)
            frames = len(at_16k) // (INPUT_RATE // 100 * 2) + (len(at_16k) % 320 > 0)
            after_voice = (frames - 1 - speech_end(at_16k)) * 0.01
            segments = len(rig.speaker.segment_first_frames)
            await rig.say(pcm, 24000)
            await rig.wait_until_quiet()
            assert rig.mic.speech_ended_at is not None
            if len(rig.speaker.segment_first_frames) > segments:
                first = rig.speaker.segment_first_frames[segments]
                seconds.append(first - (rig.mic.speech_ended_at - after_voice))
    return seconds


async def livekit_figures(*, calls: int = 5, turns_per_call: int = 2) -> dict[str, Any]:
    """Measure `calls` calls of `turns_per_call` spoken turns each, and the same in-process."""
    voice = offline_tts()
    phrases = [PHRASES[i % len(PHRASES)] for i in range(calls * turns_per_call)]
    results: dict[str, Any] = {"calls": []}
    with local_server() as server:
        worker = start_worker(server, env={"CONCIERGE_STORE": "memory"})
        try:
            await asyncio.to_thread(worker.wait_ready)
            idle = len([ln for ln in worker.log_lines() if '"process initialized"' in ln])
            for n in range(calls):
                # livekit replaces each process a job used: wait until it is prewarmed again, so
                # every dispatch meets a process that has run setup_fnc (as a quiet worker would)
                await asyncio.to_thread(worker.wait_ready, idle + n)
                mine = phrases[n * turns_per_call : (n + 1) * turns_per_call]
                results["calls"].append(await _one_call(server, f"bench-{n}", mine, voice))
        finally:
            await asyncio.to_thread(worker.stop, timeout=15)
    results["in_process_s"] = await _in_process_turns(phrases, voice)
    return results


def livekit_report(results: dict[str, Any]) -> str:
    greetings = [c["greeting_s"] * 1000 for c in results["calls"]]
    turns = [t for c in results["calls"] for t in c["turns"]]
    first = [t["first_audio_s"] * 1000 for t in turns if t["first_audio_s"] is not None]
    answered = sum(1 for t in turns if t["reply"])
    heard = sum(1 for t in turns if _same_words(t["said"], t["heard"]))
    local = [s * 1000 for s in results["in_process_s"]]
    lines = [
        "Through LiveKit's server on 127.0.0.1 and WebRTC (python -m concierge start, prewarmed):",
        f"  dispatch → greeting audio      p50 {statistics.median(greetings):6.0f} ms   "
        f"p95 {_p(greetings, 0.95):6.0f} ms   ({len(greetings)} calls)",
        f"  end of speech → agent audio    p50 {statistics.median(first):6.0f} ms   "
        f"p95 {_p(first, 0.95):6.0f} ms   ({len(first)} turns)",
        f"  turns answered {answered}/{len(turns)}, heard right (articles aside) {heard}/{len(turns)}",
        "In-process (voice_session: same models, no server, no WebRTC):",
        f"  end of speech → agent audio    p50 {statistics.median(local):6.0f} ms   "
        f"p95 {_p(local, 0.95):6.0f} ms   ({len(local)} turns)",
        f"  the network path adds (p50)    {statistics.median(first) - statistics.median(local):6.0f} ms",
    ]
    return "\n".join(lines)


def main(out: Path | None = None) -> int:
    from .livekit_server import ServerUnavailable

    try:
        results = asyncio.run(livekit_figures())
    except ServerUnavailable as e:
        print(f"bench --livekit needs LiveKit's server: {e}")
        return 2
    print(livekit_report(results))
    if out is not None:
        import json

        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
        print(f"\nwritten to {out}")
    return 0
