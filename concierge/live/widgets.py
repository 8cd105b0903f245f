"""ipywidgets that show a running concierge session: cart, transcript, turn metrics, status.

The agent knows nothing about these views. A `SessionObserver` subscribes to what the session
and the cart already publish — livekit's session events (`conversation_item_added`,
`function_tools_executed`, `user_input_transcribed`, `agent_state_changed`, `user_state_changed`,
`session_usage_updated`) and the cart's change hook — and redraws the views, the way LiveKit's
frontdesk example keeps its UI view beside the agent. Per-turn latency comes from the messages'
own `ChatMessage.metrics` (`concierge.timeline`), as livekit 1.8.9 recommends; usage from
`session_usage_updated`. The deprecated `metrics_collected` event is not used.

Colours come from JupyterLab's CSS variables (separators mixed from the text colour, so they show
on the light and the dark theme alike). Each view keeps its state in Python (`CartView.rows`,
`TranscriptView.turns`, …) as well as in HTML, so tests can check what a person would see without
a browser.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w

from ..cart import Cart, CartChange
from ..menu import format_usd
from ..timeline import STAGES, TurnTiming, turn_timing
from .status import Controls, Event, PanelState, Pill, controls, note, pills

_LINE = "color-mix(in srgb, var(--jp-ui-font-color1) 16%, transparent)"
STYLE = f"""
<style>
.concierge-panel {{ font-family: var(--jp-ui-font-family); color: var(--jp-ui-font-color1); }}
.concierge-panel .widget-html-content {{ line-height: 1.45; }}
.concierge-card {{ background: var(--jp-layout-color1); border: 1px solid {_LINE};
  border-radius: 8px; padding: 10px 12px; box-sizing: border-box; font-size: var(--jp-ui-font-size1); }}
.concierge-card h4 {{ margin: 0 0 8px 0; font-size: 11px; font-weight: 600; color: var(--jp-ui-font-color2);
  text-transform: uppercase; letter-spacing: .06em; }}
.concierge-tall {{ height: 300px; overflow-y: auto; }}
.concierge-panel table {{ border-collapse: collapse; width: 100%; }}
.concierge-panel td, .concierge-panel th {{ text-align: left; padding: 4px 6px; border-bottom: 1px solid {_LINE}; }}
.concierge-panel th {{ font-weight: 500; color: var(--jp-ui-font-color2); }}
.concierge-panel .num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
.concierge-cart-total td {{ font-weight: 600; border-bottom: none; }}
@keyframes concierge-flash {{ from {{ background: color-mix(in srgb, var(--jp-brand-color1) 30%, transparent); }} to {{ background: transparent; }} }}
.concierge-flash {{ animation: concierge-flash 1.6s ease-out; }}
.concierge-scroll {{ display: flex; flex-direction: column-reverse; overflow-y: auto; height: 252px; }}
.concierge-turn {{ margin: 0 0 8px 0; }}
.concierge-turn > div {{ margin: 1px 0; }}
.concierge-who {{ font-weight: 600; color: var(--jp-ui-font-color2); margin-right: 6px; font-size: 11px;
  text-transform: uppercase; letter-spacing: .04em; }}
.concierge-chip {{ display: inline-flex; align-items: center; gap: 4px; margin: 2px 4px 2px 0; padding: 1px 8px;
  border-radius: 10px; border: 1px solid {_LINE}; background: var(--jp-layout-color2); font-size: 12px; }}
.concierge-chip svg {{ width: 11px; height: 11px; fill: currentColor; opacity: .7; }}
.concierge-tools details {{ display: inline; }}
.concierge-tools summary {{ display: inline; cursor: pointer; list-style: none; }}
.concierge-tools summary::-webkit-details-marker {{ display: none; }}
.concierge-tools pre {{ margin: 4px 0; padding: 6px; background: var(--jp-layout-color2); border-radius: 4px;
  font-size: 11px; white-space: pre-wrap; }}
.concierge-error, .concierge-chip.concierge-error {{ color: var(--jp-error-color1, #d32f2f); }}
.concierge-chip.concierge-error {{ border-color: var(--jp-error-color1, #d32f2f); }}
.concierge-interim {{ color: var(--jp-ui-font-color2); font-style: italic; }}
.concierge-muted {{ color: var(--jp-ui-font-color2); }}
.concierge-status {{ display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }}
.concierge-badge {{ display: inline-flex; align-items: center; gap: 6px; padding: 2px 10px; border-radius: 12px;
  border: 1px solid {_LINE}; font-size: 12px; color: var(--jp-ui-font-color1); background: transparent;
  white-space: nowrap; }}
.concierge-status-note {{ margin-top: 4px; font-size: 12px; color: var(--jp-ui-font-color2); }}
.concierge-dot {{ width: 8px; height: 8px; border-radius: 50%; background: var(--jp-ui-font-color3); }}
.concierge-dot.ok {{ background: var(--jp-success-color1, #388e3c); }}
.concierge-dot.busy {{ background: var(--jp-warn-color1, #f57c00); }}
.concierge-dot.talk {{ background: var(--jp-brand-color1, #1976d2); }}
.concierge-dot.error {{ background: var(--jp-error-color1, #d32f2f); }}
.concierge-bar {{ display: flex; height: 8px; min-width: 80px; border-radius: 4px; overflow: hidden;
  background: var(--jp-layout-color2); }}
.concierge-bar span {{ display: block; height: 100%; }}
.concierge-key {{ display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin: 0 4px 0 10px; }}
.concierge-foot {{ margin-top: 6px; font-size: 11px; color: var(--jp-ui-font-color2); }}
</style>
"""

#: Stage colours: one hue each, readable on light and dark backgrounds.
STAGE_COLOURS = {
    "speech-to-text": "#c27ba0",
    "end of turn": "#8e7cc3",
    "model": "#4a90d9",
    "tools": "#e69138",
    "TTS first audio": "#6aa84f",
}
#: A wrench drawn inline: renders in every browser, unlike an emoji a system may lack a font for.
TOOL_ICON = (
    "<svg viewBox='0 0 16 16' aria-hidden='true'><path d='M14.7 3.6l-2.3 2.3-2.1-.5-.5-2.1 "
    "2.3-2.3A4.5 4.5 0 0 0 6.4 6.5L1.3 11.6a1.6 1.6 0 0 0 2.3 2.3l5.1-5.1a4.5 4.5 0 0 0 6-5.2z'/></svg>"
)


def full_width() -> w.Layout:
    """A view as wide as the panel and no wider: ipywidgets' default margin on top of a 100% width
    pushed each card's right edge past the panel, which cut it off."""
    return w.Layout(width="100%", margin="0")


def _esc(value: object) -> str:
    return html.escape(str(value))


class CartView:
    """The cart as a table; the line that just changed flashes once."""

    def __init__(self, cart: Cart) -> None:
        self.widget = w.HTML(layout=full_width())
        self.highlighted: tuple[str, str | None, str] | None = None
        self.bind(cart)

    def bind(self, cart: Cart) -> None:
        self.cart = cart
        self.render()

    @property
    def rows(self) -> list[tuple[str, str, str, int, str]]:
        """(name, restaurant, size, quantity, line total) per line, as shown."""
        return [ln.row for ln in self.cart.lines]

    @property
    def total_text(self) -> str:
        return format_usd(self.cart.total_cents)

    def on_change(self, change: CartChange) -> None:
        self.highlighted = (
            change.line.key if change.line is not None and change.kind == "add" else None
        )
        self.render()

    def render(self) -> None:
        body = []
        for line, row in zip(self.cart.lines, self.rows, strict=True):
            flash = " concierge-flash" if line.key == self.highlighted else ""
            cells = "".join(f"<td>{_esc(c)}</td>" for c in row[:3])
            body.append(
                f"<tr class='concierge-cart-row{flash}' data-item='{_esc(line.item_id)}'>{cells}"
                f"<td class='num'>{row[3]}</td><td class='num'>{_esc(row[4])}</td></tr>"
            )
        if not body:
            body.append("<tr><td colspan=5 class='concierge-muted'>The cart is empty.</td></tr>")
        self.widget.value = (
            "<div class='concierge-card concierge-cart concierge-tall'><h4>Cart</h4><table>"
            "<tr><th>item</th><th>restaurant</th><th>size</th><th class='num'>qty</th>"
            "<th class='num'>total</th></tr>"
            + "".join(body)
            + "<tr class='concierge-cart-total'><td colspan=4>Total</td>"
            f"<td class='num'>{_esc(self.total_text)}</td></tr></table></div>"
        )


@dataclass
class ToolCallShown:
    name: str
    arguments: str
    output: str
    is_error: bool
    label: str = ""  # "add_to_cart · Classic Cheeseburger (classic_cheeseburger) × 2 · large"


@dataclass
class Turn:
    """One user turn as the transcript and the metrics strip show it."""

    user: str
    spoken: bool = False
    tools: list[ToolCallShown] = field(default_factory=list)
    reply: str = ""
    interrupted: bool = False
    error: str = ""
    timing: TurnTiming | None = None
    # what the timing is cut from (livekit's timestamps)
    user_created_at: float = 0.0
    user_metrics: dict[str, Any] = field(default_factory=dict)
    user_item: Any = None  # livekit may finish the message later (preemptive generation)
    tool_spans: list[tuple[float, float]] = field(default_factory=list)


def tool_label(name: str, arguments: str, item_name: Callable[[str], str] = str) -> str:
    """A compact chip text for a tool call: tool · item (its id) × qty · size, other values after."""
    try:
        args = json.loads(arguments) if arguments else {}
    except ValueError:
        return name
    if not isinstance(args, dict):
        return name
    parts = [name]
    shown = {k: v for k, v in args.items() if v not in (None, "", "null", [])}
    if "item_id" in shown:
        item_id = str(shown.pop("item_id"))
        named = item_name(item_id)
        item = f"{named} ({item_id})" if named != item_id else item_id
        quantity = shown.pop("quantity", None)
        parts.append(f"{item} × {quantity}" if quantity is not None else item)
    if "size" in shown:
        parts.append(str(shown.pop("size")))
    parts += [str(v) for v in shown.values()]
    return " · ".join(parts)


class TranscriptView:
    """User and agent turns, each tool call a chip under the turn that made it; errors in red.

    While the user speaks, the recogniser's interim text shows in italics."""

    def __init__(self) -> None:
        self.widget = w.HTML(layout=full_width())
        self.turns: list[Turn] = []
        self.interim = ""
        self.render()

    @staticmethod
    def _chip(t: ToolCallShown) -> str:
        error = " concierge-error" if t.is_error else ""
        icon = "!" if t.is_error else TOOL_ICON
        try:
            pretty = json.dumps(json.loads(t.arguments), indent=1)
        except ValueError:
            pretty = t.arguments
        return (
            f"<details class='concierge-toolcall'><summary class='concierge-chip{error}'>{icon}"
            f"{_esc(t.label or t.name)}</summary><pre>{_esc(pretty)}\n→ {_esc(t.output)}</pre>"
            "</details>"
        )

    def _turn_html(self, turn: Turn) -> str:
        who = "you (heard)" if turn.spoken else "you"
        tools = "".join(self._chip(t) for t in turn.tools)
        tools = f"<div class='concierge-tools'>{tools}</div>" if tools else ""
        cut = " <span class='concierge-muted'>(interrupted)</span>" if turn.interrupted else ""
        reply = (
            f"<div><span class='concierge-who'>agent</span>{_esc(turn.reply)}{cut}</div>"
            if turn.reply
            else ""
        )
        error = f"<div class='concierge-error'>{_esc(turn.error)}</div>" if turn.error else ""
        said = (  # an agent's greeting has nobody's words above it
            f"<div><span class='concierge-who'>{who}</span>"
            f"<span class='concierge-user'>{_esc(turn.user)}</span></div>"
            if turn.user
            else ""
        )
        return f"<div class='concierge-turn'>{said}{tools}{reply}{error}</div>"

    def render(self) -> None:
        parts = [self._turn_html(t) for t in self.turns[-30:]]
        if self.interim:
            parts.append(
                "<div class='concierge-turn concierge-interim'><span class='concierge-who'>"
                f"hearing</span>{_esc(self.interim)}…</div>"
            )
        if not parts:
            parts.append(
                "<div class='concierge-muted'>Say or type something to start: "
                "“two classic cheeseburgers”.</div>"
            )
        self.widget.value = (
            "<div class='concierge-card concierge-transcript'><h4>Conversation</h4>"
            "<div class='concierge-scroll'><div>" + "".join(parts) + "</div></div></div>"
        )


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f} ms"


class MetricsStrip:
    """Per turn: its stages (only those any shown turn had), a stacked bar, and the whole.

    Stages come from `timeline.turn_timing`: they add up to the whole, from one origin."""

    def __init__(self) -> None:
        self.widget = w.HTML(layout=full_width())
        self.turns: list[Turn] = []
        self.usage = ""
        self.render()

    def shown(self) -> list[tuple[int, Turn]]:
        timed = [(i, t) for i, t in enumerate(self.turns, start=1) if t.timing is not None]
        return timed[-6:]

    def render(self) -> None:
        shown = self.shown()
        cols = [s for s in STAGES if any(s in t.timing.stages for _i, t in shown if t.timing)]
        if not shown:
            body = "<div class='concierge-muted'>No turns yet: each reply adds a row here.</div>"
        else:
            body = self._table(shown, cols)
        legend = "".join(
            f"<span class='concierge-key' style='background:{STAGE_COLOURS[c]}'></span>{_esc(c)}"
            for c in cols
        )
        foot = (
            f"<div class='concierge-foot'>{legend + '<br>' if legend else ''}Stages add up to the whole turn: from the end "
            "of your speech (or from sending a typed turn) to the agent's first audio (or text), "
            "cut from livekit's ChatMessage.metrics timestamps."
            + (
                " spoken*: livekit recorded no end of speech for that turn (it ran into the "
                "previous one), so it is timed from its message."
                if any(t.spoken and t.timing and not t.timing.spoken for _i, t in shown)
                else ""
            )
            + (f"<br>Usage (session_usage_updated): {_esc(self.usage)}" if self.usage else "")
            + "</div>"
        )
        origins = ",".join(
            f"{t.timing.origin:.3f}" for t in self.turns if t.timing is not None and t.timing.spoken
        )  # every spoken turn's end of speech, for tools that time the page (bench_live --voice)
        self.widget.value = (
            f"<div class='concierge-card concierge-metrics' data-origins='{origins}'>"
            f"<h4>Turn metrics</h4>{body}{foot}</div>"
        )

    @staticmethod
    def _table(shown: list[tuple[int, Turn]], cols: list[str]) -> str:
        head = "".join(f"<th class='num'>{_esc(c)}</th>" for c in cols)
        rows = []
        for i, t in shown:
            assert t.timing is not None
            timing = t.timing
            cells = "".join(f"<td class='num'>{_ms(timing.stages.get(c))}</td>" for c in cols)
            whole = max(timing.whole_ms, 1e-9)
            bar = "".join(
                f"<span title='{_esc(k)} {_ms(v)}' style='width:{100 * v / whole:.2f}%;"
                f"background:{STAGE_COLOURS[k]}'></span>"
                for k, v in timing.stages.items()
            )
            kind = "spoken" if timing.spoken else "typed"
            if t.spoken and not timing.spoken:  # no end-of-speech time from livekit this turn
                kind = "spoken*"
            rows.append(
                f"<tr class='concierge-metrics-row' data-whole='{timing.whole_ms:.3f}' "
                f"data-parts='{timing.parts_ms:.3f}' data-origin='{timing.origin:.3f}' "
                f"data-kind='{kind}'><td>{i} <span class='concierge-muted'>"
                f"{kind}</span></td>{cells}<td class='num'>{_ms(timing.whole_ms)}</td>"
                f"<td style='width:30%'><div class='concierge-bar'>{bar}</div></td></tr>"
            )
        return (
            f"<table><tr><th>turn</th>{head}<th class='num'>whole turn</th><th></th></tr>"
            + "".join(rows)
            + "</table>"
        )


class StatusBadge:
    """The status pills (where the agent runs, connection, agent, microphone) and the controls
    they govern, all derived from one `PanelState` (see `.status`): events go in through
    `apply`, and the pills, the sentence under them and every governed control are redrawn from
    the whole state, so none of them can disagree with another."""

    def __init__(self, mode: str) -> None:
        self.widget = w.HTML(layout=full_width())
        self.state = PanelState(mode=mode)
        self._governed: list[Callable[[Controls], None]] = []
        self.render()

    @property
    def mode(self) -> str:
        return self.state.mode

    @property
    def connected(self) -> bool:
        return self.state.connection == "live"

    @property
    def agent_state(self) -> str:
        return self.state.agent

    def apply(self, event: Event, value: Any = None) -> None:
        new = self.state.step(event, value)
        if new != self.state:
            self.state = new
            self.render()

    def reset(self, mode: str) -> None:
        """Start over on another path (room mode fell back to the in-kernel session)."""
        self.state = PanelState(mode=mode)
        self.render()

    def govern(self, follow: Callable[[Controls], None]) -> None:
        """`follow(controls)` now and after every change: what a control may do comes from here."""
        self._governed.append(follow)
        follow(controls(self.state))

    def render(self) -> None:
        def badge(pill: Pill) -> str:
            mark = f"<span class='concierge-dot {pill.dot}'></span>" if pill.kind != "where" else ""
            return (
                f"<span class='concierge-badge' data-kind='{pill.kind}'>{mark}{_esc(pill.text)}"
                "</span>"
            )

        said = note(self.state)
        below = f"<div class='concierge-status-note'>{_esc(said)}</div>" if said else ""
        self.widget.value = (
            f"<div class='concierge-status' data-connection='{self.state.connection}'>"
            + "".join(badge(p) for p in pills(self.state))
            + f"</div>{below}"
        )
        for follow in self._governed:
            follow(controls(self.state))


def _usage_text(usage: Any) -> str:
    parts = []
    for u in getattr(usage, "model_usage", []):
        kind = getattr(u, "type", "")
        if kind == "llm_usage" and (u.input_tokens or u.output_tokens):  # the stand-in counts none
            parts.append(f"LLM {u.input_tokens:,} tokens in, {u.output_tokens:,} out")
        elif kind == "tts_usage":
            parts.append(f"TTS {u.characters_count:,} characters")
        elif kind == "stt_usage":
            parts.append(f"STT {getattr(u, 'audio_duration', 0.0):.1f} s of audio")
    return " · ".join(parts)


class SessionObserver:
    """Binds the views to a session and its cart through their public events and hooks."""

    def __init__(
        self,
        cart_view: CartView,
        transcript: TranscriptView,
        metrics: MetricsStrip,
        status: StatusBadge,
    ) -> None:
        self.cart_view, self.transcript, self.metrics, self.status = (
            cart_view,
            transcript,
            metrics,
            status,
        )
        self._unsubscribe: list[Any] = []
        self._item_name: Callable[[str], str] = str

    @property
    def current(self) -> Turn | None:
        return self.transcript.turns[-1] if self.transcript.turns else None

    def attach(
        self,
        session: Any,
        cart: Cart,
        deliver: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        """Observe `session` and `cart`. `deliver` runs each update where the widgets live: pass
        one when the session runs on another thread (the live notebook's cloud mode)."""
        self.detach()
        self.cart_view.bind(cart)
        catalog = getattr(getattr(session, "userdata", None), "catalog", None)
        self._item_name = _namer(catalog)

        def there(handler: Callable[[Any], None]) -> Callable[[Any], None]:
            if deliver is None:
                return handler
            send = deliver
            return lambda ev: send(lambda: handler(ev))

        self._unsubscribe.append(cart.subscribe(there(self.cart_view.on_change)))
        handlers = {
            "conversation_item_added": self._on_item,
            "function_tools_executed": self._on_tools,
            "user_input_transcribed": self._on_transcribed,
            "agent_state_changed": self._on_agent_state,
            "user_state_changed": self._on_user_state,
            "session_usage_updated": self._on_usage,
        }
        for event, handler in handlers.items():
            delivered = there(handler)
            session.on(event, delivered)
            self._unsubscribe.append(lambda e=event, h=delivered: session.off(e, h))
        self.status.apply("live", getattr(session, "agent_state", "listening"))

    def detach(self) -> None:
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe.clear()

    def _redraw(self) -> None:
        self.transcript.render()
        self.metrics.turns = self.transcript.turns
        self.metrics.render()

    # --- event handlers -----------------------------------------------------------------------

    def _on_item(self, ev: Any) -> None:
        item = ev.item
        if getattr(item, "type", "") != "message":
            return
        if item.role == "user":
            self.transcript.interim = ""
            self.transcript.turns.append(Turn(user=item.text_content or "", user_item=item))
            _refresh_user(self.transcript.turns[-1])
        elif item.role == "assistant" and self.current is not None:
            turn = self.current
            turn.reply = (turn.reply + " " + (item.text_content or "")).strip()
            turn.interrupted = turn.interrupted or bool(getattr(item, "interrupted", False))
            if turn.timing is None:  # the first reply of the turn ends its latency
                _refresh_user(turn)
                turn.timing = turn_timing(
                    turn.user_created_at,
                    turn.user_metrics,
                    turn.tool_spans,
                    dict(item.metrics),
                    item.created_at,
                )
        self._redraw()

    def _on_tools(self, ev: Any) -> None:
        turn = self.current
        if turn is None:
            return
        for call, out in zip(ev.function_calls, ev.function_call_outputs, strict=False):
            output = out.output if out is not None else ""
            turn.tools.append(
                ToolCallShown(
                    call.name,
                    call.arguments,
                    output,
                    bool(out and out.is_error),
                    tool_label(call.name, call.arguments, self._item_name),
                )
            )
            if out is not None and turn.timing is None:
                turn.tool_spans.append((call.created_at, out.created_at))
        self._redraw()

    def _on_transcribed(self, ev: Any) -> None:
        self.transcript.interim = "" if ev.is_final else ev.transcript
        self.transcript.render()

    def _on_usage(self, ev: Any) -> None:
        self.metrics.usage = _usage_text(ev.usage)
        self.metrics.render()

    def _on_agent_state(self, ev: Any) -> None:
        self.status.apply("agent", ev.new_state)

    def _on_user_state(self, ev: Any) -> None:
        self.status.apply("user", ev.new_state)


def _refresh_user(turn: Turn) -> None:
    """Read the user's message as livekit has it now: with preemptive generation the message is
    announced first and its final text and metrics (end of speech, end of turn) set afterwards."""
    item = turn.user_item
    if item is None:
        return
    turn.user = item.text_content or turn.user
    turn.user_metrics = dict(item.metrics)
    turn.user_created_at = item.created_at
    # livekit sets a transcript confidence on every transcribed message, never on typed text
    turn.spoken = getattr(item, "transcript_confidence", None) is not None or bool(
        {"started_speaking_at", "stopped_speaking_at"} & set(turn.user_metrics)
    )


def _namer(catalog: Any) -> Callable[[str], str]:
    def name(item_id: str) -> str:
        try:
            return str(catalog.item(item_id).name)
        except Exception:  # an id the model made up: show it as sent
            return item_id

    return name if catalog is not None else str
