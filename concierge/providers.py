"""Which models a session uses: offline stand-ins by default, cloud ones when keys are set.

Nothing in the agent names a provider. This module reads the environment (and `.env`) once per
call and returns a `Models` bundle:

| variable set | LLM | STT / TTS |
|---|---|---|
| nothing (default) | `StandInLLM` (deterministic, menu-aware, offline) | offline engines in `concierge.offline` when present |
| `OPENAI_API_KEY` | `openai.LLM(model=CONCIERGE_OPENAI_MODEL or "gpt-4.1-mini")` | `openai.STT()` / `openai.TTS()` |
| `LIVEKIT_INFERENCE=1` + `LIVEKIT_API_KEY`/`LIVEKIT_API_SECRET` | LiveKit Inference (`CONCIERGE_INFERENCE_LLM`) | LiveKit Inference STT/TTS |

VAD is always Silero, run by livekit's own on-device inference (`inference.VAD(model="silero")`,
`AgentSession`'s default in 1.8.9; native, about a third of the CPU per call of the
`livekit-plugins-silero` ONNX wrapper, measured here), and turn detection the on-device
`inference.TurnDetector(version="v1-mini")`; both ship in livekit-local-inference.
Set `CONCIERGE_OFFLINE=1` to force the offline path even with keys present.

**A cloud model that cannot be reached.** With keys set, each cloud model is wrapped in livekit's
own `FallbackAdapter` (`llm.FallbackAdapter`, `stt.FallbackAdapter`, `tts.FallbackAdapter`) with the
offline stand-in behind it: a session whose cloud model fails (no network, a refused connection)
goes on offline, and says so once (`FALLBACK_NOTICE`, logged). `CONCIERGE_FALLBACK=none` turns
that off — `eval` does, so it never scores the stand-in as the real model — and then a failed turn
is one sentence (`turn_error_message`) naming `CONCIERGE_OFFLINE=1`, the cart kept.

**Load once per process.** `prewarm_models()` loads what is slow to load and safe to share — Silero,
the turn detector, the offline recogniser and voice — and `pick_models(..., prewarmed=...)` hands
each session thin wrappers around them. The worker does this in `AgentServer(setup_fnc=...)`
(`concierge.server.prewarm`): livekit calls it before a job arrives and keeps the result in
`JobProcess.userdata`, so no caller's session start pays for a model load.

**Plugins register on the main thread.** A livekit plugin (`livekit.plugins.*`) registers itself
when first imported, and livekit refuses that on any other thread ("Plugins must be registered on
the main thread") — and livekit's thread executor runs each job on a thread of its own. So
`register_plugins()`, called by `concierge.server` at import, imports the plugins the
environment's mode needs (the offline mode needs none: its VAD and turn detector are part of
livekit-agents). A plugin still missing when a job needs it fails with a sentence saying what to
do, instead of livekit's error from deep inside the job.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

from dotenv import load_dotenv
from livekit.agents import APIConnectionError, APIError, inference, llm, stt, tts, vad

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


FALLBACK_VARIABLE = "CONCIERGE_FALLBACK"
FALLBACK_NOTICE = (
    "The cloud {what} ({name}) cannot be reached; this session goes on with the offline "
    "stand-in (CONCIERGE_OFFLINE=1 starts offline; CONCIERGE_FALLBACK=none turns this off)."
)


def fallback_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether cloud models get the offline stand-in behind them (`CONCIERGE_FALLBACK`, default on)."""
    raw = (os.environ if env is None else env).get(FALLBACK_VARIABLE, "offline").strip().lower()
    return raw not in ("0", "no", "none", "off", "false")


def turn_error_message(error: BaseException) -> str:
    """A failed turn as one sentence: a cloud model that could not be reached says what to do."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, APIError):  # livekit's: a timeout is an APIConnectionError too
            what = "could not be reached" if isinstance(seen, APIConnectionError) else "refused"
            return (
                f"The cloud model {what} ({_first_line(seen)}); nothing was lost, the cart is "
                "as it was. Set CONCIERGE_OFFLINE=1 to run on the offline stand-in."
            )
        seen = seen.__cause__ or seen.__context__
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]


class _NoCloudTracebacks(logging.Filter):
    """Drops livekit's own log of a cloud call that failed (a traceback per hop, ~130 lines):
    where a person reads the output, the failed turn is said once, by `turn_error_message`."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, APIError)


def quiet_cloud_tracebacks() -> None:
    """For the console and the panel (not the worker, whose logs keep everything)."""
    livekit_logger = logging.getLogger("livekit.agents")
    if not any(isinstance(f, _NoCloudTracebacks) for f in livekit_logger.filters):
        livekit_logger.addFilter(_NoCloudTracebacks())


#: livekit's FallbackAdapter for each kind of model, and the event it emits when one changes
_ADAPTERS: dict[str, tuple[Any, str]] = {
    "model": (llm.FallbackAdapter, "llm"),
    "speech-to-text": (stt.FallbackAdapter, "stt"),
    "voice": (tts.FallbackAdapter, "tts"),
}


def _behind(primary: Any, standin: Any, what: str, **options: Any) -> Any:
    """`primary` with the offline `standin` behind it, in livekit's own FallbackAdapter, which
    logs `FALLBACK_NOTICE` the first time `primary` cannot be reached."""
    adapter_type, kind = _ADAPTERS[what]
    adapter = adapter_type([primary, standin], **options)
    first = getattr(adapter, f"_{kind}_instances")[0]  # `primary`, or livekit's wrapper around it
    said = False

    def changed(event: Any) -> None:
        nonlocal said
        if not said and not event.available and getattr(event, kind) is first:
            said = True
            name = getattr(primary, "model", None) or type(primary).__name__
            logger.warning(FALLBACK_NOTICE.format(what=what, name=name))

    adapter.on(f"{kind}_availability_changed", changed)
    return adapter


def text_models(catalog: Catalog, env: Mapping[str, str] | None = None) -> Models:
    """Models for a text-only session (notebooks, tests): `pick_models(..., speech=False)`."""
    return pick_models(catalog, env, speech=False)


PLUGIN_PACKAGES = {"openai": "livekit-plugins-openai"}


def plugin(name: str) -> ModuleType:
    """`livekit.plugins.<name>`, imported now if this is the main thread.

    Off the main thread a plugin not yet imported cannot be (livekit refuses to register it
    there): raise a sentence that says where to import it instead.
    """
    module = f"livekit.plugins.{name}"
    if module in sys.modules:
        return sys.modules[module]
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"the {name} plugin was not imported before this job started, and livekit only "
            f"registers plugins on the main thread: import {module} at the top of your worker "
            "module (concierge.server does it for the mode your environment selects)"
        )
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise RuntimeError(
            f"the {name} plugin is not installed: pip install {PLUGIN_PACKAGES.get(name, module)}"
        ) from e


def register_plugins(env: Mapping[str, str] | None = None) -> list[str]:
    """Import, on this (main) thread, the livekit plugins the environment's mode will use."""
    load_env()
    names = ["openai"] if detect_mode(env) == "openai" else []
    for name in names:
        plugin(name)
    return names


class InlineExecutor(Executor):
    """Runs each call at once, on the caller's thread.

    livekit's on-device VAD hands each 32 ms window (~0.1 ms of native work) to a one-thread
    executor per stream: 31 thread hand-offs a second per call. Among dozens of calls on one worker,
    each hand-off waits its turn for the GIL, so the VAD fell behind real time; run inline, it costs
    less than the hand-off did.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:
            future.set_exception(e)
        return future


@dataclass
class Prewarmed:
    """What a worker process loads once and every session on it shares.

    Only models: each session gets its own livekit objects around them (`pick_models`). A session
    subscribes to its VAD's, STT's and TTS's events, so one VAD object shared by the sessions of a
    thread-executor worker would hand every session every other session's metrics — on the wrong
    thread. livekit's VAD and turn detector keep their models in native singletons, loaded here;
    their per-session objects cost ~0.01 ms.
    """

    recognizer: Any = None  # concierge.offline.stt.MenuRecognizer
    voice: Any = None  # the hibari engine
    #: concierge.offline.recognition_pool.RecognitionPool: recognition in processes of its own
    pool: Any = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def session_vad() -> vad.VAD:
    """A session's VAD: Silero on livekit's on-device inference, each 32 ms window run inline."""
    return inference.VAD(model="silero", executor=InlineExecutor())


def session_turn_detector() -> Any:
    """A session's end-of-turn model (on-device, so dev mode does not try the cloud one first)."""
    return inference.TurnDetector(version="v1-mini")


def prewarm_models(
    catalog: Catalog,
    env: Mapping[str, str] | None = None,
    *,
    decoders: int = 2,
    shared: bool = True,
) -> Prewarmed:
    """Load the models sessions share: the VAD, the turn detector, offline recogniser and voice.

    `decoders` recogniser decoders are made ahead of time (one per utterance decoded at once).
    `shared=False` loads fresh offline engines instead of the process's (to measure a load).
    """
    started = time.perf_counter()
    load_env()
    session_vad(), session_turn_detector()  # loads their native models, once per process
    models = Prewarmed()
    # offline, the engines are the session's; with keys, they stand behind the cloud ones
    if detect_mode(env) == "offline" or fallback_enabled(env):
        missing = missing_speech_engines()
        models.notes.extend(missing.values())
        try:
            if "speech-to-text" not in missing:
                from .offline.stt import load_recognizer, menu_recognizer

                recognizer = menu_recognizer(catalog) if shared else load_recognizer(catalog)
                models.recognizer = recognizer.warm(decoders)
        except Exception as e:  # a broken engine must not stop a text session
            models.notes.append(f"offline speech-to-text unavailable: {e}")
        try:
            if "text-to-speech" not in missing:
                from .offline.tts import hibari_engine, load_engine

                models.voice = hibari_engine() if shared else load_engine()
        except Exception as e:
            models.notes.append(f"offline text-to-speech unavailable: {e}")
    for note in models.notes:
        logger.info(note)
    models.seconds = time.perf_counter() - started
    return models


RECOGNITION_PROCESSES_VARIABLE = "CONCIERGE_RECOGNITION_PROCESSES"

#: What a worker needs to register with a LiveKit server (the CLI and the live panel's room mode).
LIVEKIT_VARIABLES = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


def recognition_pool_size(env: Mapping[str, str] | None = None) -> int:
    """How many recognition processes a thread-executor worker starts:
    `CONCIERGE_RECOGNITION_PROCESSES`, else half the cores (1 on 2 cores: the other core is the
    worker's own). 0 decodes in the worker's process."""
    load_env()
    raw = (os.environ if env is None else env).get(RECOGNITION_PROCESSES_VARIABLE, "").strip()
    if raw:
        try:
            return max(0, int(raw))
        except ValueError:
            logger.warning(
                "%s=%r is not a whole number; using the default",
                RECOGNITION_PROCESSES_VARIABLE,
                raw,
            )
    return max(1, (os.cpu_count() or 2) // 2)


_shared: dict[Mode, Prewarmed] = {}
_shared_lock = threading.Lock()


def process_models(
    catalog: Catalog | None = None,
    env: Mapping[str, str] | None = None,
    *,
    recognition_processes: int = 0,
) -> Prewarmed:
    """This process's `Prewarmed` models for the environment's mode, loaded on first call.

    livekit's thread executor calls `setup_fnc` once per job *thread*, all in one process: the
    cache makes that one load per process, as the process executor gets naturally.
    `recognition_processes` > 0 also starts (once) a pool of that many recognition processes
    (`concierge.offline.recognition_pool`), which the sessions' recognisers then use: what a
    thread-executor worker, where all calls share one process and its GIL, needs.
    """
    load_env()
    mode = detect_mode(env)
    with _shared_lock:
        if mode not in _shared:
            from .menu import default_catalog

            _shared[mode] = prewarm_models(catalog or default_catalog(), env)
        models = _shared[mode]
        wants_pool = recognition_processes > 0 and models.recognizer is not None
        if wants_pool and (models.pool is None or models.pool.closed):
            try:
                models.pool = models.recognizer.pool(recognition_processes)
            except Exception as e:  # recognition still works, in this process
                models.pool = None
                logger.error("recognition processes did not start (%s); decoding inline", e)
        return models


def close_process_models() -> None:
    """Stop what `process_models` started that outlives a session (the recognition pool)."""
    with _shared_lock:
        for models in _shared.values():
            if models.pool is not None:
                models.pool.close()
                models.pool = None


def pick_models(
    catalog: Catalog,
    env: Mapping[str, str] | None = None,
    *,
    prewarmed: Prewarmed | None = None,
    speech: bool = True,
) -> Models:
    """The one place that picks a session's models, for every way a session starts (the worker's
    job, `offline_session`, `voice_session`, the live panel): LLM, STT, TTS, VAD and turn
    detection, or with `speech=False` the LLM alone (a text-only session).

    With `prewarmed` (the worker's `JobProcess.userdata`), the session shares the process's models
    and starts without loading any; without, they are loaded now.
    """
    load_env()
    mode = detect_mode(env)
    if not speech:
        return Models(mode=mode, llm=_llm(mode, catalog, env))
    if prewarmed is None:
        prewarmed = prewarm_models(catalog, env, decoders=0)
    models = Models(
        mode=mode,
        llm=_llm(mode, catalog, env),
        vad=session_vad(),
        turn_detection=session_turn_detector(),
        notes=list(prewarmed.notes),
    )
    offline_stt, offline_tts = offline_speech(prewarmed)
    if mode == "offline":
        models.stt, models.tts = offline_stt, offline_tts
        return models
    env = os.environ if env is None else env
    if mode == "openai":
        openai = plugin("openai")
        key = env["OPENAI_API_KEY"]
        models.stt, models.tts = openai.STT(api_key=key), openai.TTS(api_key=key)
    else:
        models.stt = inference.STT(env.get("CONCIERGE_INFERENCE_STT", "deepgram/nova-3"))
        models.tts = inference.TTS(env.get("CONCIERGE_INFERENCE_TTS", "cartesia/sonic-2"))
    if fallback_enabled(env) and offline_stt is not None:
        models.stt = _behind(models.stt, offline_stt, "speech-to-text", vad=models.vad)
    if fallback_enabled(env) and offline_tts is not None:
        models.tts = _behind(models.tts, offline_tts, "voice")
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


def offline_speech(prewarmed: Prewarmed) -> tuple[stt.STT | None, tts.TTS | None]:
    """Per-session wrappers around the process's offline engines (None where one is missing)."""
    speech_to_text: stt.STT | None = None
    text_to_speech: tts.TTS | None = None
    if prewarmed.recognizer is not None:
        from .offline.stt import GrammarSTT

        pool = prewarmed.pool if prewarmed.pool is not None and not prewarmed.pool.closed else None
        speech_to_text = GrammarSTT(pool or prewarmed.recognizer)
    if prewarmed.voice is not None:
        from .offline.tts import HibariTTS

        text_to_speech = HibariTTS(prewarmed.voice)
    return speech_to_text, text_to_speech


def _llm(mode: Mode, catalog: Catalog, env: Mapping[str, str] | None) -> llm.LLM | str:
    from .offline.llm import StandInLLM

    env = os.environ if env is None else env
    cloud: llm.LLM
    if mode == "openai":
        cloud = plugin("openai").LLM(
            model=env.get("CONCIERGE_OPENAI_MODEL", "gpt-4.1-mini"), api_key=env["OPENAI_API_KEY"]
        )
    elif mode == "livekit-inference":
        cloud = inference.LLM(env.get("CONCIERGE_INFERENCE_LLM", "openai/gpt-4.1-mini"))
    else:
        return StandInLLM(catalog)
    if not fallback_enabled(env):
        return cloud
    return _behind(cloud, StandInLLM(catalog), "model")
