"""Which models a session uses: offline stand-ins by default, cloud ones when keys are set.

Nothing in the agent names a provider. This module reads the environment (and `.env`) once per
call and returns a `Models` bundle:

| variable set | LLM | STT / TTS |
|---|---|---|
| nothing (default) | `StandInLLM` (deterministic, menu-aware, offline) | offline engines in `concierge.offline` when present |
| `OPENAI_API_KEY` | `openai.LLM(model=CONCIERGE_OPENAI_MODEL or "gpt-4.1-mini")` | `openai.STT()` / `openai.TTS()` |
| `LIVEKIT_INFERENCE=1` + `LIVEKIT_API_KEY`/`LIVEKIT_API_SECRET` | LiveKit Inference (`CONCIERGE_INFERENCE_LLM`) | LiveKit Inference STT/TTS |

VAD is always Silero (its ONNX ships in the plugin wheel) and turn detection the on-device
`inference.TurnDetector(version="v1-mini")` whose weights ship in livekit-local-inference.
Set `CONCIERGE_OFFLINE=1` to force the offline path even with keys present.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dotenv import load_dotenv
from livekit.agents import llm, stt, tts, vad

from .menu import Catalog

logger = logging.getLogger("concierge")

Mode = Literal["offline", "openai", "livekit-inference"]


@dataclass
class Models:
    """Everything an `AgentSession` needs from providers, and a label saying where it came from."""

    mode: Mode
    llm: llm.LLM | str
    stt: stt.STT | str | None = None
    tts: tts.TTS | str | None = None
    vad: vad.VAD | None = None
    turn_detection: Any = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        name = getattr(self.llm, "model", self.llm)
        return f"{self.mode}: llm={name}, stt={_name(self.stt)}, tts={_name(self.tts)}"


def _name(x: object) -> str:
    if x is None:
        return "none"
    return x if isinstance(x, str) else type(x).__name__


def load_env() -> None:
    """Read `.env` from the working directory (never overriding real environment variables)."""
    load_dotenv(override=False)


def detect_mode(env: Mapping[str, str] | None = None) -> Mode:
    """Which provider family the environment selects."""
    env = os.environ if env is None else env
    if env.get("CONCIERGE_OFFLINE", "").lower() in ("1", "true", "yes"):
        return "offline"
    if env.get("OPENAI_API_KEY"):
        return "openai"
    if env.get("LIVEKIT_INFERENCE", "").lower() in ("1", "true", "yes") and env.get(
        "LIVEKIT_API_KEY"
    ):
        return "livekit-inference"
    return "offline"


def text_models(catalog: Catalog, env: Mapping[str, str] | None = None) -> Models:
    """Models for a text-only session (notebooks, tests): an LLM and nothing else."""
    load_env()
    mode = detect_mode(env)
    return Models(mode=mode, llm=_llm(mode, catalog, env))


def pick_models(catalog: Catalog, env: Mapping[str, str] | None = None) -> Models:
    """Models for a voice session: LLM, STT, TTS, VAD and turn detection."""
    from livekit.agents import inference
    from livekit.plugins import silero

    load_env()
    mode = detect_mode(env)
    models = Models(
        mode=mode,
        llm=_llm(mode, catalog, env),
        vad=silero.VAD.load(),
        turn_detection=inference.TurnDetector(version="v1-mini"),
    )
    if mode == "openai":
        from livekit.plugins import openai

        key = (os.environ if env is None else env)["OPENAI_API_KEY"]
        models.stt, models.tts = openai.STT(api_key=key), openai.TTS(api_key=key)
    elif mode == "livekit-inference":
        env = os.environ if env is None else env
        models.stt = env.get("CONCIERGE_INFERENCE_STT", "deepgram/nova-3")
        models.tts = env.get("CONCIERGE_INFERENCE_TTS", "cartesia/sonic-2")
    else:
        models.stt, models.tts = offline_speech(catalog, models.notes)
    return models


#: The package each offline speech engine needs (all in the `speech` extra).
SPEECH_ENGINES = {"speech-to-text": "pocketsphinx", "text-to-speech": "hibari"}


def missing_speech_engines() -> dict[str, str]:
    """Each offline speech engine whose package is not installed, with a sentence saying why."""
    missing = {}
    for what, package in SPEECH_ENGINES.items():
        if importlib.util.find_spec(package) is not None:
            continue
        why = f"Offline {what} needs the {package} package, which is not installed"
        if package == "pocketsphinx" and sys.version_info[:2] == (3, 12):
            why += " (pocketsphinx 5.1.1 publishes no wheel for Python 3.12, so it is left out)"
        missing[what] = (
            f"{why}. Use Python 3.11 or 3.13 with `pip install 'concierge-lab[speech]'`, "
            "or set OPENAI_API_KEY for cloud speech."
        )
    return missing


def offline_speech(catalog: Catalog, notes: list[str]) -> tuple[stt.STT | None, tts.TTS | None]:
    """The offline speech engines, or None with a note saying why one is missing."""
    missing = missing_speech_engines()
    notes.extend(missing.values())
    speech_to_text: stt.STT | None = None
    text_to_speech: tts.TTS | None = None
    try:
        if "speech-to-text" not in missing:
            from .offline.stt import offline_stt

            speech_to_text = offline_stt(catalog)
    except Exception as e:  # a broken engine must not stop a text session
        notes.append(f"offline speech-to-text unavailable: {e}")
    try:
        if "text-to-speech" not in missing:
            from .offline.tts import offline_tts

            text_to_speech = offline_tts()
    except Exception as e:
        notes.append(f"offline text-to-speech unavailable: {e}")
    for note in notes:
        logger.info(note)
    return speech_to_text, text_to_speech


def _llm(mode: Mode, catalog: Catalog, env: Mapping[str, str] | None) -> llm.LLM | str:
    env = os.environ if env is None else env
    if mode == "openai":
        from livekit.plugins import openai

        return openai.LLM(
            model=env.get("CONCIERGE_OPENAI_MODEL", "gpt-4.1-mini"), api_key=env["OPENAI_API_KEY"]
        )
    if mode == "livekit-inference":
        return env.get("CONCIERGE_INFERENCE_LLM", "openai/gpt-4.1-mini")
    from .offline.llm import StandInLLM

    return StandInLLM(catalog)
