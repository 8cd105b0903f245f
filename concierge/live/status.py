"""The live panel's status as one state object, and everything the panel shows of it derived from it.

Why it exists: the panel's pills (connection, agent, microphone) and its controls (chat box,
Send, Talk) used to be set from different places — livekit's events, the browser's microphone
widget, `stop()` — and could contradict each other: "you listening" beside "Microphone off", Send
enabled on a stopped panel. Here every fact lands in one frozen `PanelState` through `step()`, and
`pills()` and `controls()` are pure functions of it, so whatever order the events come in, what
the panel shows is one consistent picture (tests/test_panel_status.py checks that with Hypothesis
over sequences of events).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

Connection = Literal["starting", "live", "stopped", "failed"]
Mic = Literal["off", "on", "blocked"]
#: The events `PanelState.step` takes, with what each carries.
Event = Literal["live", "agent", "user", "voice", "mic", "stopped", "failed"]

#: A sentence under the pills where a pill alone would not say what to do.
STOPPED_NOTE = "This panel's session has stopped — talk in the newest panel, or run launch() again."
#: The agent participant left the room (its worker stopped or crashed) while the panel was live.
AGENT_LEFT = "left"
LEFT_NOTE = "The agent left the room — click Reconnect (your cart is saved)."
#: The "where" pill: which path the panel is on.
WHERE = {
    "offline": "offline, this kernel",
    "cloud": "LiveKit Cloud",
    "room": "room (local LiveKit)",
    "room-url": "room (LIVEKIT_URL)",
}
#: The longest text a pill may hold: at the panel's default width a pill never wraps or clips.
PILL_CHARS = 22


@dataclass(frozen=True)
class PanelState:
    """Everything the status shows. `agent`/`user` are livekit's `AgentState`/`UserState`; `mic`
    is what the browser reports (`MicWidget.active`, `.error`)."""

    mode: str = (
        "offline"  # "offline" (this kernel), "cloud" (LiveKit Cloud), "room" (local LiveKit),
        # "room-url" (a room on the LIVEKIT_URL server)
    )
    connection: Connection = "starting"
    agent: str = "initializing"
    user: str = "listening"
    voice: bool = False  # the panel has its own microphone (offline voice mode)
    mic: Mic = "off"
    mic_error: str = ""  # why the browser refused the microphone, in its words

    def step(self, event: Event, value: Any = None) -> PanelState:
        """The state after `event`. Once stopped or failed a panel stays so: a late event from
        the closing session or the page changes nothing."""
        ended = self.connection in ("stopped", "failed")
        if event in ("stopped", "failed"):
            failed = event == "failed" or self.connection == "failed"
            connection: Connection = "failed" if failed else "stopped"
            return replace(self, connection=connection, mic="off", user="listening")
        if ended:
            return self
        if event == "live":
            return replace(self, connection="live", agent=str(value or "listening"))
        if event == "agent":
            return replace(self, agent=str(value))
        if event == "user":
            return replace(self, user=str(value))
        if event == "voice":
            return replace(self, voice=bool(value), mic="off" if not value else self.mic)
        if event == "mic":
            active, error = value
            mic: Mic = "blocked" if error else "on" if active and self.voice else "off"
            return replace(self, mic=mic, mic_error=str(error or ""))
        raise ValueError(f"{event!r} is not a panel event")


@dataclass(frozen=True)
class Pill:
    kind: Literal["where", "connection", "agent", "mic"]
    text: str
    dot: str = ""  # CSS class of its dot: ok, busy, talk, error, or none


_AGENT_DOT = {"listening": "ok", "idle": "ok", "thinking": "busy", "speaking": "talk"}


def pills(state: PanelState) -> list[Pill]:
    """The four pills, always in this order, each derived from the whole state."""
    live = state.connection == "live"
    where = WHERE.get(state.mode, "LiveKit room")
    connection = {
        "starting": Pill("connection", "starting…", "busy"),
        "live": Pill("connection", "live", "ok"),
        "stopped": Pill("connection", "stopped"),
        "failed": Pill("connection", "failed to start", "error"),
    }[state.connection]
    if state.connection == "starting":
        agent = Pill("agent", "agent starting", "busy")
    elif live:
        dot = "error" if state.agent == AGENT_LEFT else _AGENT_DOT.get(state.agent, "")
        agent = Pill("agent", f"agent {state.agent}", dot)
    else:
        agent = Pill("agent", "agent off")
    return [Pill("where", where), connection, agent, _mic_pill(state)]


def _mic_pill(state: PanelState) -> Pill:
    if state.mode == "cloud":
        return Pill("mic", "mic in room widget")
    if not state.voice:
        return Pill("mic", "typing only")
    if state.connection != "live" or state.mic == "off":
        return Pill("mic", "microphone off")
    if state.mic == "blocked":
        return Pill("mic", "microphone blocked", "error")
    if state.user == "speaking":
        return Pill("mic", "you're speaking", "talk")
    return Pill("mic", "microphone on", "ok")


@dataclass(frozen=True)
class Controls:
    send: bool  # the chat box and its Send button
    talk: bool  # the microphone button
    reconnect: bool = False  # the Reconnect button (room mode, once the agent has left)


def controls(state: PanelState) -> Controls:
    live = state.connection == "live"
    return Controls(
        send=live,
        talk=live and state.voice and state.mode != "cloud",
        reconnect=live and state.agent == AGENT_LEFT and state.mode.startswith("room"),
    )


def note(state: PanelState) -> str:
    """The sentence under the pills, if one is needed."""
    if state.connection == "stopped":
        return STOPPED_NOTE
    if state.connection == "live" and state.agent == AGENT_LEFT:
        return LEFT_NOTE
    if state.connection == "live" and state.mic == "blocked":
        return state.mic_error
    return ""
