"""Helpers for the lab's notebooks: one call to set up a notebook, and readable HTML tables.

Notebooks stay short and show the product's code; what they need to look tidy (quiet logs, a
status line saying offline or cloud, tables instead of reprs) lives here.
"""

from __future__ import annotations

import html
import logging
import traceback
from collections.abc import Iterable, Sequence
from typing import Any

from ..cart import Cart
from ..menu import format_usd
from ..providers import SPEECH_ENGINES, detect_mode, load_env, missing_speech_engines


class HTML:
    """A string that Jupyter renders as HTML (and prints as plain text elsewhere)."""

    def __init__(self, markup: str, text: str = "") -> None:
        self.markup, self.text = markup, text or markup

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return self.text


#: Added to a NameError raised by a notebook cell itself: the usual cause is a cell run before
#: the cells above it, which define the name.
NAME_ERROR_HINT = (
    "A cell above this one defines that name: run the cells above first "
    "(Run → Run All Above Selected Cell), then this one again."
)


def _raised_by_a_cell(tb: Any) -> bool:
    """Whether the innermost frame is a notebook cell (IPython's and ipykernel's cell files)."""
    filename = traceback.extract_tb(tb)[-1].filename if tb is not None else ""
    return filename.startswith("<ipython-input-") or "ipykernel_" in filename


def explain_name_errors(shell: Any = None) -> None:
    """Make a NameError raised by a cell say `NAME_ERROR_HINT` under its traceback (IPython only)."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
    if shell is None:  # plain Python: nothing to do
        return

    def handler(
        shell: Any, etype: type, evalue: BaseException, tb: Any, tb_offset: Any = None
    ) -> None:
        notes = getattr(evalue, "__notes__", [])
        if type(evalue) is NameError and _raised_by_a_cell(tb) and NAME_ERROR_HINT not in notes:
            evalue.add_note(NAME_ERROR_HINT)
        shell.showtraceback((etype, evalue, tb), tb_offset=tb_offset)

    shell.set_custom_exc((NameError,), handler)


def setup_notebook(*, quiet: bool = True) -> str:
    """Load `.env`, quiet livekit's logs, explain a cell run out of order, and return a one-line
    status: which mode runs."""
    load_env()
    explain_name_errors()
    if quiet:
        for name in ("livekit", "livekit.agents", "livekit.plugins", "concierge", "asyncio"):
            logging.getLogger(name).setLevel(logging.ERROR)
    mode = detect_mode()
    if mode == "offline":
        return "Mode: offline — the deterministic stand-in model, no keys needed."
    return f"Mode: {mode} — real cloud models from your environment variables."


class OfflineSpeechMissing(RuntimeError):
    """An offline speech engine is not installed. Jupyter shows only the sentence, no traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for an exception's display
        return [f"{type(self).__name__}: {self}"]


def require_offline_speech() -> str:
    """Say which offline speech engines run here; stop plainly when one is not installed."""
    missing = missing_speech_engines()
    if missing:
        raise OfflineSpeechMissing(
            "This notebook runs on audio and needs both offline speech engines. "
            + " ".join(missing.values())
        )
    engines = ", ".join(f"{pkg} ({what})" for what, pkg in SPEECH_ENGINES.items())
    return f"Offline speech: {engines} installed."


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str], *, caption: str = "") -> HTML:
    """A small HTML table (plain text when printed), with an optional caption above it."""
    rows = [list(r) for r in rows]
    head = "".join(f"<th style='text-align:left'>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in r)
        + "</tr>"
        for r in rows
    )
    text = "\n".join(" | ".join(str(c) for c in r) for r in [list(headers), *rows])
    top = (
        f"<caption style='text-align:left;font-style:italic'>{html.escape(caption)}</caption>"
        if caption
        else ""
    )
    return HTML(
        f"<table>{top}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
        f"{caption}\n{text}" if caption else text,
    )


#: Under a live panel, a table is what the cart was when its cell ran; the panel goes on changing.
SNAPSHOT = "A snapshot of the cart when this cell ran; the live panel above stays current."


def cart_table(cart: Cart, *, caption: str = "") -> HTML:
    """A cart as a table with its total (`caption=SNAPSHOT` under a live panel)."""
    rows: list[tuple[str, str, str, int, str]] = [ln.row for ln in cart.lines]
    rows.append(("Total", "", "", cart.item_count, format_usd(cart.total_cents)))
    return table(rows, ["item", "restaurant", "size", "qty", "line total"], caption=caption)


def transcript(events: Iterable[Any], user_input: str | None = None) -> HTML:
    """A `RunResult`'s events (messages, tool calls, tool outputs) as a table."""
    rows: list[tuple[str, str]] = [("user", user_input)] if user_input is not None else []
    for ev in events:
        item = ev.item
        if ev.type == "message":
            rows.append((item.role, item.text_content or ""))
        elif ev.type == "function_call":
            rows.append(("tool call", f"{item.name}({item.arguments})"))
        elif ev.type == "function_call_output":
            rows.append(("tool error" if item.is_error else "tool result", item.output))
        else:
            rows.append((ev.type, ""))
    return table(rows, ["who", "what"])


async def turn(session: Any, text: str) -> HTML:
    """Say `text` to a running session and show the whole turn as a table."""
    result = await session.run(user_input=text)
    return transcript(result.events, user_input=text)


def show_source(obj: Any, *, start: str | None = None, stop: str | None = None) -> Any:
    """The source of a function or class from the package, syntax-highlighted in Jupyter.

    `start`/`stop` cut an excerpt: from the first line containing `start` up to (not including)
    the first later line containing `stop`.
    """
    import inspect

    from IPython.display import Code

    lines = inspect.getsource(obj).splitlines()
    if start is not None:
        lines = lines[next(i for i, ln in enumerate(lines) if start in ln) :]
    if stop is not None:
        lines = lines[: next((i for i, ln in enumerate(lines) if i and stop in ln), len(lines))]
    return Code("\n".join(lines), language="python")


def side_by_side(left_title: str, left: Any, right_title: str, right: Any) -> HTML:
    """Two JSON-able values (e.g. a before and an after schema) in two columns."""
    import json

    def column(title: str, value: Any) -> str:
        body = html.escape(json.dumps(value, indent=2) if not isinstance(value, str) else value)
        return (
            "<div style='flex:1;min-width:0'>"
            f"<div style='font-weight:600;margin-bottom:4px'>{html.escape(title)}</div>"
            f"<pre style='margin:0;white-space:pre-wrap;word-break:break-word'>{body}</pre></div>"
        )

    text = f"{left_title}:\n{json.dumps(left, indent=2)}\n\n{right_title}:\n{json.dumps(right, indent=2)}"
    return HTML(
        f"<div style='display:flex;gap:16px'>{column(left_title, left)}{column(right_title, right)}</div>",
        text,
    )
