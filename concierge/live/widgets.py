"""ipywidgets that show a running concierge session: cart, transcript, turn metrics, status.

The agent knows nothing about these views. A `SessionObserver` subscribes to what the session
and the cart already publish — livekit's session events (`conversation_item_added`,
`function_tools_executed`, `metrics_collected`, `agent_state_changed`, `user_state_changed`) and
the cart's change hook — and redraws the views, the way LiveKit's frontdesk example keeps its UI
view beside the agent. Colours come from JupyterLab's CSS variables, so the light and dark themes
both read well.

Each view keeps its state in Python (`CartView.rows`, `TranscriptView.turns`, …) as well as in
HTML, so tests can check what a person would see without a browser.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w

from ..cart import Cart, CartChange
from ..menu import format_usd

STYLE = """
<style>
.concierge-panel { font-family: var(--jp-ui-font-family); color: var(--jp-ui-font-color1); }
.concierge-card { background: var(--jp-layout-color1); border: 1px solid var(--jp-border-color2);
  border-radius: 6px; padding: 8px 10px; }
.concierge-card h4 { margin: 0 0 6px 0; font-size: var(--jp-ui-font-size1); color: var(--jp-ui-font-color2);
  text-transform: uppercase; letter-spacing: .04em; }
.concierge-cart table, .concierge-metrics table { border-collapse: collapse; width: 100%; }
.concierge-cart td, .concierge-cart th, .concierge-metrics td, .concierge-metrics th {
  text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--jp-border-color3); }
.concierge-cart .num { text-align: right; font-variant-numeric: tabular-nums; }
.concierge-cart-total td { font-weight: 600; border-bottom: none; }
@keyframes concierge-flash { from { background: var(--jp-brand-color3, #bbdefb); } to { background: transparent; } }
.concierge-flash { animation: concierge-flash 1.6s ease-out; }
.concierge-turn { margin-bottom: 6px; }
.concierge-who { font-weight: 600; color: var(--jp-ui-font-color2); margin-right: 4px; }
.concierge-tool { margin: 2px 0 2px 14px; font-family: var(--jp-code-font-family); font-size: 0.9em; }
.concierge-error { color: var(--jp-error-color1, #d32f2f); }
.concierge-badge { display: inline-block; padding: 2px 8px; border-radius: 10px; margin-right: 6px;
  background: var(--jp-layout-color2); border: 1px solid var(--jp-border-color2); font-size: 0.9em; }
.concierge-badge.on { background: var(--jp-brand-color1, #1976d2); color: var(--jp-ui-inverse-font-color1, #fff); }
.concierge-muted { color: var(--jp-ui-font-color2); }
</style>
"""


def _esc(value: object) -> str:
    return html.escape(str(value))


class CartView:
    """The cart as a table; the line that just changed flashes once."""

    def __init__(self, cart: Cart) -> None:
        self.widget = w.HTML()
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
            "<div class='concierge-card concierge-cart'><h4>Cart</h4><table>"
            "<tr><th>item</th><th>restaurant</th><th>size</th><th class='num'>qty</th><th class='num'>total</th></tr>"
            + "".join(body)
            + f"<tr class='concierge-cart-total'><td colspan=4>Total</td><td class='num'>{_esc(self.total_text)}</td></tr>"
            "</table></div>"
        )


@dataclass
class ToolCallShown:
    name: str
    arguments: str
    output: str
    is_error: bool


@dataclass
class Turn:
    """One user turn as the transcript and the metrics strip show it."""

    user: str
    started: float = field(default_factory=time.perf_counter)
    tools: list[ToolCallShown] = field(default_factory=list)
    reply: str = ""
    error: str = ""
    llm_ms: float = 0.0
    tool_ms: float = 0.0
    end_of_turn_ms: float | None = None
    tts_ms: float | None = None
    total_ms: float | None = None


class TranscriptView:
    """User and agent turns, each tool call folded under the turn that made it; errors in red."""

    def __init__(self) -> None:
        self.widget = w.HTML()
        self.turns: list[Turn] = []
        self.render()

    def render(self) -> None:
        parts = []
        for turn in self.turns[-30:]:
            tools = "".join(
                f"<details class='concierge-tool{' concierge-error' if t.is_error else ''}'>"
                f"<summary>{'⚠ ' if t.is_error else '🔧 '}{_esc(t.name)}({_esc(t.arguments)})</summary>"
                f"<div>{_esc(t.output)}</div></details>"
                for t in turn.tools
            )
            reply = (
                f"<div><span class='concierge-who'>agent</span>{_esc(turn.reply)}</div>"
                if turn.reply
                else ""
            )
            error = f"<div class='concierge-error'>{_esc(turn.error)}</div>" if turn.error else ""
            parts.append(
                f"<div class='concierge-turn'><div><span class='concierge-who'>you</span>{_esc(turn.user)}</div>"
                f"{tools}{reply}{error}</div>"
            )
        if not parts:
            parts.append(
                "<div class='concierge-muted'>Say something to start: “two classic cheeseburgers”.</div>"
            )
        self.widget.value = (
            "<div class='concierge-card'><h4>Conversation</h4>" + "".join(parts) + "</div>"
        )


class MetricsStrip:
    """Per turn: end-of-turn, LLM, tool and TTS time where known, and the whole turn."""

    def __init__(self) -> None:
        self.widget = w.HTML()
        self.turns: list[Turn] = []
        self.render()

    def render(self) -> None:
        def ms(v: float | None) -> str:
            return "—" if v is None else f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"

        rows = "".join(
            f"<tr><td>{i}</td><td>{ms(t.end_of_turn_ms)}</td><td>{ms(t.llm_ms)}</td><td>{ms(t.tool_ms)}</td>"
            f"<td>{ms(t.tts_ms)}</td><td>{ms(t.total_ms)}</td></tr>"
            for i, t in enumerate(self.turns[-6:], start=max(1, len(self.turns) - 5))
        )
        self.widget.value = (
            "<div class='concierge-card concierge-metrics'><h4>Turn metrics</h4><table>"
            "<tr><th>turn</th><th>end of turn</th><th>LLM</th><th>tools</th><th>TTS</th><th>whole turn</th></tr>"
            f"{rows}</table></div>"
        )


class StatusBadge:
    """Mode (offline / cloud), connection, and what the agent and user are doing."""

    def __init__(self, mode: str) -> None:
        self.widget = w.HTML()
        self.mode, self.connected, self.agent_state, self.user_state = (
            mode,
            False,
            "initializing",
            "listening",
        )
        self.render()

    def render(self) -> None:
        def badge(text: str, on: bool = False) -> str:
            return f"<span class='concierge-badge{' on' if on else ''}'>{_esc(text)}</span>"

        self.widget.value = (
            badge(self.mode, True)
            + badge("connected" if self.connected else "not connected", self.connected)
            + badge(f"agent: {self.agent_state}", self.agent_state in ("thinking", "speaking"))
            + badge(f"user: {self.user_state}", self.user_state == "speaking")
        )


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

        def there(handler: Callable[[Any], None]) -> Callable[[Any], None]:
            if deliver is None:
                return handler
            send = deliver
            return lambda ev: send(lambda: handler(ev))

        self._unsubscribe.append(cart.subscribe(there(self.cart_view.on_change)))
        handlers = {
            "conversation_item_added": self._on_item,
            "function_tools_executed": self._on_tools,
            "metrics_collected": self._on_metrics,
            "agent_state_changed": self._on_agent_state,
            "user_state_changed": self._on_user_state,
        }
        for event, handler in handlers.items():
            delivered = there(handler)
            session.on(event, delivered)
            self._unsubscribe.append(lambda e=event, h=delivered: session.off(e, h))
        self.status.connected = True
        self.status.render()

    def detach(self) -> None:
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe.clear()
        self.status.connected = False
        self.status.render()

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
            self.transcript.turns.append(Turn(user=item.text_content or ""))
            end_of_turn = item.metrics.get("end_of_turn_delay")
            if end_of_turn is not None:
                self.transcript.turns[-1].end_of_turn_ms = end_of_turn * 1000
        elif item.role == "assistant" and self.current is not None:
            turn = self.current
            turn.reply = (turn.reply + " " + (item.text_content or "")).strip()
            turn.total_ms = (time.perf_counter() - turn.started) * 1000
            ttfb = item.metrics.get("tts_node_ttfb")
            if ttfb is not None:
                turn.tts_ms = ttfb * 1000
        self._redraw()

    def _on_tools(self, ev: Any) -> None:
        turn = self.current
        if turn is None:
            return
        for call, out in zip(ev.function_calls, ev.function_call_outputs, strict=False):
            output = out.output if out is not None else ""
            turn.tools.append(
                ToolCallShown(call.name, call.arguments, output, bool(out and out.is_error))
            )
        outs = [o for o in ev.function_call_outputs if o is not None]
        if ev.function_calls and outs:
            turn.tool_ms += max(
                0.0,
                (max(o.created_at for o in outs) - min(c.created_at for c in ev.function_calls))
                * 1000,
            )
        self._redraw()

    def _on_metrics(self, ev: Any) -> None:
        turn, m = self.current, ev.metrics
        if turn is None:
            return
        kind = getattr(m, "type", "")
        if kind == "llm_metrics":
            turn.llm_ms += float(getattr(m, "duration", 0.0)) * 1000
        elif kind == "eou_metrics":
            turn.end_of_turn_ms = float(getattr(m, "end_of_utterance_delay", 0.0)) * 1000
        elif kind == "tts_metrics" and turn.tts_ms is None:
            turn.tts_ms = float(getattr(m, "ttfb", 0.0)) * 1000
        self._redraw()

    def _on_agent_state(self, ev: Any) -> None:
        self.status.agent_state = ev.new_state
        self.status.render()

    def _on_user_state(self, ev: Any) -> None:
        self.status.user_state = ev.new_state
        self.status.render()
