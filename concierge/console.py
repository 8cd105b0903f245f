"""`python -m concierge console`: talk to the agent in this terminal.

Text mode (the default) needs no keys, no LiveKit server and no audio device: each line you type
is a user turn through the real `AgentSession`, built by `concierge.session.offline_session` —
the same session builder the worker's entrypoint uses — on this process's main thread and event
loop. You see the agent's tool calls, its reply and the cart after every turn.

Audio mode (`--audio`) hands over to livekit-agents' built-in console, which needs PortAudio
(`apt-get install libportaudio2`) and a sound device. livekit 1.8.9 deprecates that console: the
supported one is the LiveKit CLI's `lk agent console` (it runs
`python -m livekit.agents console concierge/server.py` for you and owns the microphone). Ours
says so before it starts, and says in a sentence why it cannot run where it cannot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .replies import Reply

__all__ = ["LK_CONSOLE_ADVICE", "main", "portaudio_problem", "run_text_console", "strip_control"]

LK_CONSOLE_ADVICE = (
    "livekit-agents 1.8.9 deprecates its built-in Python console; the supported one is the "
    "LiveKit CLI: `lk agent console` (install: https://docs.livekit.io/home/cli/), run from "
    "this repository so it finds concierge/server.py."
)

QUIT = {"quit", "exit", "bye", ":q"}


def portaudio_problem() -> str | None:
    """Why audio mode cannot run here, as a sentence; None when PortAudio and devices are there."""
    try:
        import sounddevice  # livekit's console plays and records through it
    except OSError:
        return (
            "Audio mode needs the PortAudio library, which is not installed "
            "(Debian/Ubuntu: sudo apt-get install libportaudio2; macOS: brew install portaudio)."
        )
    except ImportError:
        return "Audio mode needs the sounddevice package: pip install sounddevice."
    try:
        sounddevice.query_devices(kind="input")
        sounddevice.query_devices(kind="output")
    except Exception as e:  # PortAudioError, ValueError: no default device
        return f"Audio mode needs a microphone and a speaker, and PortAudio found none ({e})."
    return None


def _describe_events(result: Any) -> list[str]:
    """The tool calls of one turn and the agent's words, as console lines."""
    lines: list[str] = []
    for event in result.events:
        item = event.item
        if event.type == "function_call":
            lines.append(f"  tool   {item.name}({item.arguments})")
        elif event.type == "function_call_output":
            mark = "error" if item.is_error else "->"
            reply = Reply.parse(item.output)
            # what the tool says to the user; its note to the model and result code stay hidden
            lines.append(f"  {mark:6} {reply.say if reply is not None else item.output}")
        elif event.type == "message" and item.role == "assistant":
            lines.append(f"agent> {item.text_content or ''}")
    return lines


#: What a terminal sends that is not text (ECMA-48): CSI sequences (`ESC [ 2 J`, the arrow keys
#: where no line editor reads them), OSC strings (`ESC ] 0 ; title BEL`), the other escapes, and
#: the remaining C0 and C1 control characters. Typed or pasted, they are not part of an order.
_CONTROL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, to BEL or ST
    r"|\x1bO[ -~]"  # SS3: the arrow and function keys in application mode
    r"|\x1b[ -/]*[0-~]"  # other escape sequences
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # what is left: lone controls (tab, newline kept)
)


def strip_control(text: str) -> str:
    """`text` as the person meant it: terminal control sequences removed, tabs as spaces."""
    return _CONTROL.sub("", text).replace("\t", " ")


def _read_on_daemon_thread(read_line: Callable[[str], str], prompt: str) -> asyncio.Future[str]:
    """`read_line(prompt)` off the loop, on a daemon thread: after Ctrl-C the process exits at
    once instead of waiting (as `asyncio.to_thread`'s worker would) for one more line."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def settle(how: Callable[[Any], None], value: Any) -> None:
        if not answer.done():
            how(value)

    def read() -> None:
        try:
            line = read_line(prompt)
        except BaseException as e:  # EOFError (Ctrl-D) included: the console's loop handles it
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle, answer.set_exception, e)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, answer.set_result, line)

    threading.Thread(target=read, daemon=True, name="concierge-console-input").start()
    return answer


async def run_text_console(
    read_line: Callable[[str], str] = input,
    out: TextIO = sys.stdout,
    *,
    user_id: str = "demo",
    store_url: str | None = None,
) -> int:
    """Read turns with `read_line` until EOF or "quit"; print tools, reply and cart per turn."""
    from .providers import turn_error_message
    from .session import offline_session
    from .store import open_store

    store = await open_store(store_url)
    items_left = 0
    try:
        async with offline_session(store=store, user_id=user_id) as session:
            model = getattr(session.llm, "model", type(session.llm).__name__)
            print(
                f"Concierge console, text mode: user {user_id!r}, model {model}, "
                f"store {store.description}.\n"
                'Type an order ("two classic cheeseburgers"), "cart", or "quit".',
                file=out,
                flush=True,
            )
            while True:
                try:
                    line = await _read_on_daemon_thread(read_line, "you> ")
                    text = strip_control(line).strip()
                except EOFError:
                    break
                if text.lower() in QUIT:
                    break
                if not text:
                    continue
                if text.lower() != "cart":
                    try:
                        result: Any = await session.run(user_input=text)
                    except Exception as e:  # the turn failed; the session and the cart stay
                        print(f"  error  {turn_error_message(e)}", file=out)
                    else:
                        print("\n".join(_describe_events(result)), file=out)
                print(f"  cart   {session.userdata.cart.summary()}", file=out, flush=True)
            items_left = session.userdata.cart.item_count
    finally:
        kept = ":memory:" not in store.description
        await store.close()
    if not items_left:
        farewell = "Bye."
    elif kept:
        farewell = "Bye. The cart is saved; run the console again to pick it up."
    else:
        farewell = "Bye. This store was in memory: the cart goes with it."
    print(farewell, file=out, flush=True)
    return 0


def _audio_console(extra: Sequence[str]) -> int:
    problem = portaudio_problem()
    if problem is None and not sys.stdin.isatty():
        problem = "Audio mode needs an interactive terminal (livekit's console reads keys)."
    if problem:
        print(
            f"{problem}\nText mode works without it: python -m concierge console", file=sys.stderr
        )
        return 2
    print(f"Note: {LK_CONSOLE_ADVICE}", file=sys.stderr)
    from livekit.agents import cli

    # importing the server registers, on this main thread, the plugins the job will need
    from .server import server

    sys.argv = [sys.argv[0], "console", *extra]
    cli.run_app(server)
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m concierge console",
        description="Talk to the food concierge in this terminal. "
        "Text mode needs no keys and no audio device. " + LK_CONSOLE_ADVICE,
    )
    parser.add_argument("--audio", action="store_true", help="speak (livekit's console, PortAudio)")
    parser.add_argument("--user", default="demo", help="whose cart and profile (default: demo)")
    parser.add_argument("--store", help="store URL (default: CONCIERGE_STORE or the user data dir)")
    args, extra = parser.parse_known_args(argv)
    if args.audio:
        return _audio_console(extra)
    if extra:
        parser.error(
            f"unrecognized arguments: {' '.join(extra)} (text mode takes --user and --store; "
            "other arguments go to livekit's console with --audio)"
        )
    from .providers import load_env, quiet_cloud_tracebacks

    load_env()
    quiet_cloud_tracebacks()
    # A refusing tool is part of the conversation here (shown as an `error` line): livekit's own
    # "ToolError while executing tool" warning would only repeat it on stderr.
    logging.getLogger("livekit.agents").setLevel(logging.ERROR)
    try:
        return asyncio.run(run_text_console(user_id=args.user, store_url=args.store))
    except KeyboardInterrupt:
        print("\nBye.")
        return 0
