"""The one way to build and run a concierge session, used by every caller.

The worker's entrypoint (`concierge.server`), `offline_session()` (text, in-process),
`voice_session()` (the whole voice pipeline offline, on audio) and the live panel all go through
`start_session()`: one place decides the models, the turn handling, `max_tool_steps`, the agent,
and which views observe the session. Views (the live panel's widgets, a test's recorder) are
*passed in*, the way LiveKit's frontdesk example hands its `ui` view to the session: the agent
never imports or registers a UI.

    async with offline_session() as session:
        result = await session.run(user_input="two classic cheeseburgers")
        print(session.userdata.cart.summary())

When a block ends the session is closed and the cart saved, as `on_session_end` does for a room.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession, TurnHandlingOptions, llm
from livekit.agents.voice import io, room_io

from .agent import MAX_TOOL_STEPS, FoodConciergeAgent
from .offline.audio_io import RecordingOutput, SpeechInput
from .offline.voice import VoiceRig
from .providers import Models, pick_models, process_models, text_models
from .state import UserState, new_userdata
from .store import Store, open_store

__all__ = [
    "SessionView",
    "build_session",
    "close_session",
    "offline_session",
    "room_options",
    "running_session",
    "start_session",
    "voice_session",
]

logger = logging.getLogger("concierge")

#: Something that wants to observe a session once it has started (a widget panel, a recorder).
#: Called with the started session; what it raises is logged and never stops the session.
SessionView = Callable[[AgentSession[UserState]], None]


def build_session(
    userdata: UserState,
    models: Models | None = None,
    *,
    max_tool_steps: int = MAX_TOOL_STEPS,
) -> AgentSession[UserState]:
    """An `AgentSession[UserState]` with the models `providers` picked (offline or cloud).

    Without `models`, the session shares this process's loaded models (`process_models`).
    """
    models = models or pick_models(userdata.catalog, prewarmed=process_models())
    turn_handling = TurnHandlingOptions(
        turn_detection=models.turn_detection,
        endpointing={"min_delay": 0.4, "max_delay": 3.0},
        interruption={"enabled": True},
    )
    speech: dict[str, Any] = {}
    if models.stt is not None:
        speech["stt"] = models.stt
    if models.tts is not None:
        speech["tts"] = models.tts
    return AgentSession[UserState](
        llm=models.llm,
        vad=models.vad,
        turn_handling=turn_handling,
        max_tool_steps=max_tool_steps,
        userdata=userdata,
        **speech,
    )


#: `CONCIERGE_SYNC_TRANSCRIPTION=0`: the agent's transcript goes to the room as soon as it is
#: written, not word by word in time with its voice. livekit 1.8.9's synchroniser estimates the
#: speaking rate with a short-time Fourier transform of each reply's audio on the session's event
#: loop (blocks of 0.4–1 s seen with 8 calls over WebRTC on 2 cores; README, "Calls per machine").
SYNC_TRANSCRIPTION_VARIABLE = "CONCIERGE_SYNC_TRANSCRIPTION"


def transcript_synced(env: Mapping[str, str] | None = None) -> bool:
    """False when `CONCIERGE_SYNC_TRANSCRIPTION` is 0/false/no/off; livekit's default (synced)
    otherwise."""
    raw = (os.environ if env is None else env).get(SYNC_TRANSCRIPTION_VARIABLE, "")
    return raw.strip().lower() not in ("0", "false", "no", "off")


def room_options(env: Mapping[str, str] | None = None) -> room_io.RoomOptions:
    """How a session meets its LiveKit room: livekit's defaults, except two.

    - The caller's microphone reaches the recogniser as the caller sent it: no agent-side
      automatic gain control. livekit's `RoomIO` runs WebRTC's adaptive AGC on every input track
      by default; it starts each track at a fixed gain (about +12 dB, measured on these voices)
      and only adapts during speech, so the first utterance of every call arrived 4x louder and
      clipped (peak 32767 vs 11 000 sent), and the grammar recogniser misheard it ("a tiramisu"
      as "ten miso soup") while the second turn, after the AGC had adapted, was heard right.
      Callers' own clients already level their microphones (browsers' `autoGainControl`,
      livekit-client's default), and the offline recogniser is measured on audio as sent.
    - `CONCIERGE_SYNC_TRANSCRIPTION=0` (`transcript_synced`).
    """
    options = room_io.RoomOptions(audio_input=room_io.AudioInputOptions(auto_gain_control=False))
    if not transcript_synced(env):
        options.text_output = room_io.TextOutputOptions(sync_transcription=False)
    return options


async def start_session(
    userdata: UserState,
    models: Models | None = None,
    *,
    room: rtc.Room | None = None,
    views: Sequence[SessionView] = (),
    audio_input: io.AudioInput | None = None,
    audio_output: io.AudioOutput | None = None,
    max_tool_steps: int = MAX_TOOL_STEPS,
) -> AgentSession[UserState]:
    """Build the session, start `FoodConciergeAgent` in it, then tell each view.

    `room=None` starts it without a room (text, or the audio I/O given here).
    """
    session = build_session(userdata, models, max_tool_steps=max_tool_steps)
    if audio_input is not None:
        session.input.audio = audio_input
    if audio_output is not None:
        session.output.audio = audio_output
    agent = FoodConciergeAgent(userdata.catalog)
    if room is None:  # livekit treats an explicit room=None as "a room", so leave it out
        await session.start(agent=agent)
    else:
        await session.start(agent=agent, room=room, room_options=room_options())
    for view in views:
        try:
            view(session)
        except Exception:  # a view that fails must never take the conversation down
            logger.exception("a session view failed to attach; the session goes on without it")
    return session


async def close_session(session: AgentSession[UserState]) -> None:
    """Close the session and save the cart. Never raises: what fails is logged."""
    try:
        await session.aclose()
    except Exception:
        logger.exception("closing the session failed")
    try:
        await session.userdata.save_cart()
    except Exception:
        logger.exception("saving the cart at the end of the session failed")


@asynccontextmanager
async def running_session(
    userdata: UserState, models: Models | None = None, **options: Any
) -> AsyncIterator[AgentSession[UserState]]:
    """`start_session()` as a context manager: closed and saved when the block ends."""
    session = await start_session(userdata, models, **options)
    try:
        yield session
    finally:
        await close_session(session)


@asynccontextmanager
async def _own_store(store: Store | None) -> AsyncIterator[Store]:
    """The given store, or a fresh in-memory one closed at the end (nothing leaks between uses)."""
    if store is not None:
        yield store
        return
    fresh = await open_store("memory")
    try:
        yield fresh
    finally:
        await fresh.close()


@asynccontextmanager
async def offline_session(
    store: Store | None = None,
    user_id: str = "demo",
    *,
    model: llm.LLM | None = None,
    max_tool_steps: int = MAX_TOOL_STEPS,
    views: Sequence[SessionView] = (),
) -> AsyncIterator[AgentSession[UserState]]:
    """Yield a started text-only `AgentSession[UserState]` for `user_id`.

    `store` defaults to a fresh in-memory SQLite store (seeded from the menu), so nothing a test
    does leaks into the next. `model` defaults to the provider the environment selects: the
    offline `StandInLLM` unless keys are set.
    """
    async with _own_store(store) as opened:
        userdata = await new_userdata(opened, user_id)
        models = (
            Models(mode="offline", llm=model)
            if model is not None
            else text_models(userdata.catalog)
        )
        async with running_session(
            userdata, models, views=views, max_tool_steps=max_tool_steps
        ) as session:
            yield session


@asynccontextmanager
async def voice_session(
    store: Store | None = None,
    user_id: str = "demo",
    *,
    models: Models | None = None,
    playback_speed: float = 1.0,
    views: Sequence[SessionView] = (),
) -> AsyncIterator[VoiceRig]:
    """The whole voice pipeline offline: a `SpeechInput` microphone, a `RecordingOutput` speaker.

    Speech goes through Silero VAD, the on-device end-of-turn model, the menu-grammar
    speech-to-text, the agent and its tools, and comes out of the offline text-to-speech:

        async with voice_session() as rig:
            turn = await rig.say(pcm16, sample_rate=24000)
            print(turn.heard, turn.reply, turn.voice_turn_ms)
    """
    async with _own_store(store) as opened:
        userdata = await new_userdata(opened, user_id)
        models = models or pick_models(userdata.catalog, env={}, prewarmed=process_models(env={}))
        if models.stt is None or models.tts is None:
            raise RuntimeError("offline speech engines unavailable: " + "; ".join(models.notes))
        mic, speaker = SpeechInput(), RecordingOutput(playback_speed=playback_speed)
        rigs: list[VoiceRig] = []

        def listen(session: AgentSession[UserState]) -> None:
            rigs.append(VoiceRig.listening_to(session, mic, speaker, models))

        async with running_session(
            userdata, models, views=[listen, *views], audio_input=mic, audio_output=speaker
        ):
            try:
                yield rigs[0]
            finally:
                mic.close()
