"""The live panel's status never contradicts itself (issue 22, item 4): whatever sequence of events
arrives — livekit's agent and user states, the browser's microphone reports, the session going
live, stopping or failing to start — the pills, the sentence under them and the controls (chat
box, Send, Talk) show one consistent picture. Checked with Hypothesis twice: on the pure state
(`concierge.live.status`) over many sequences, and through the real panel's wiring (launch's
handle, a real livekit `AgentSession` emitting real events, the microphone widget's traits)."""

from __future__ import annotations

import re
from typing import Any, get_args

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit.agents.voice.events import (
    AgentState,
    AgentStateChangedEvent,
    UserState,
    UserStateChangedEvent,
)

from concierge.live.status import (
    AGENT_LEFT,
    LEFT_NOTE,
    PILL_CHARS,
    STOPPED_NOTE,
    Controls,
    PanelState,
    controls,
    note,
    pills,
)

AGENT_STATES = list(get_args(AgentState))
USER_STATES = list(get_args(UserState))
MIC_REPORTS = st.tuples(st.booleans(), st.sampled_from(["", "The browser refused the microphone."]))

EVENTS = st.one_of(
    st.tuples(st.just("live"), st.sampled_from(AGENT_STATES)),
    st.tuples(st.just("agent"), st.sampled_from([*AGENT_STATES, AGENT_LEFT])),
    st.tuples(st.just("user"), st.sampled_from(USER_STATES)),
    st.tuples(st.just("voice"), st.booleans()),
    st.tuples(st.just("mic"), MIC_REPORTS),
    st.tuples(st.just("stopped"), st.none()),
    st.tuples(st.just("failed"), st.none()),
)


def assert_consistent(shown: dict[str, str], allowed: Controls, said: str, talk_on: bool) -> None:
    """What a person sees, checked against itself. `shown`: pill kind → text."""
    assert list(shown) == ["where", "connection", "agent", "mic"]
    assert all(len(text) <= PILL_CHARS for text in shown.values()), shown
    live = shown["connection"] == "live"
    ended = shown["connection"] in ("stopped", "failed to start")
    # nothing can be typed, sent or said into a panel that is not live
    assert allowed.send == live
    assert not allowed.talk or live
    assert talk_on == allowed.talk
    # the agent is described only while there is one
    assert shown["agent"].removeprefix("agent ") in [*AGENT_STATES, AGENT_LEFT] if live else True
    if not live:
        assert shown["agent"] in ("agent starting", "agent off")
    # "you" are heard only through an open microphone on a live panel
    if shown["mic"] in ("microphone on", "you're speaking", "microphone blocked"):
        assert live and allowed.talk
    if shown["mic"] == "microphone blocked":
        assert said, "a blocked microphone says why"
    if ended:
        assert shown["agent"] == "agent off"
        assert shown["mic"] in ("microphone off", "typing only", "mic in room widget")
    assert (said == STOPPED_NOTE) == (shown["connection"] == "stopped")
    # an agent that left the room is said so, with what to do (room and cloud modes)
    assert (said == LEFT_NOTE) == (live and shown["agent"] == f"agent {AGENT_LEFT}")


@settings(max_examples=400)
@given(mode=st.sampled_from(["offline", "cloud", "room"]), events=st.lists(EVENTS, max_size=14))
def test_every_reachable_status_is_consistent(mode: str, events: list[tuple[str, Any]]) -> None:
    state = PanelState(mode=mode)
    ended = False
    for event, value in [("start", None), *events]:
        if event != "start":
            state = state.step(event, value)  # type: ignore[arg-type]
        shown = {p.kind: p.text for p in pills(state)}
        allowed = controls(state)
        assert_consistent(shown, allowed, note(state), allowed.talk)
        if ended:  # a stopped or failed panel never comes back by itself
            assert state.connection in ("stopped", "failed") and not allowed.send
        ended = ended or state.connection in ("stopped", "failed")


def _shown(status_html: str) -> dict[str, str]:
    """Pill kind → text, read back from the panel's HTML."""
    found = re.findall(
        r"<span class='concierge-badge' data-kind='(\w+)'>(?:<span[^>]*></span>)?([^<]*)</span>",
        status_html,
    )
    return {kind: text.replace("&#x27;", "'") for kind, text in found}


def _note(status_html: str) -> str:
    found = re.search(r"<div class='concierge-status-note'>([^<]*)</div>", status_html)
    return found.group(1).replace("&#x27;", "'") if found else ""


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(EVENTS.filter(lambda e: e[0] != "voice" and e[1] != AGENT_LEFT), max_size=10)
)
async def test_the_real_panels_pills_and_controls_agree_after_any_events(
    events: list[tuple[str, Any]],
) -> None:
    """The same, through launch's own panel: its status widget, chat box, Send button and the
    microphone widget's Talk, driven by a real `AgentSession`'s events, the microphone widget's
    reports (as the page sends them), `stop()` and `failed()`."""
    import sys

    from livekit.agents import AgentSession

    from concierge.cart import Cart
    from concierge.live.voice import BrowserVoice

    launching = sys.modules["concierge.live.launch"]
    handle = launching._new_handle("offline")
    handle.voice = BrowserVoice()
    launching._govern_voice(handle.status, handle.voice.widget, handle._loop)
    send = handle.controls.children[-1]
    session = AgentSession(userdata=object())  # no catalog: tool chips show ids
    agent, user = "initializing", "listening"
    for event, value in [("start", None), *events]:
        if event == "live":
            handle._observer.attach(session, Cart(user_id="x"))
        elif event == "agent":
            session.emit(
                "agent_state_changed", AgentStateChangedEvent(old_state=agent, new_state=value)
            )
            agent = value
        elif event == "user":
            session.emit(
                "user_state_changed", UserStateChangedEvent(old_state=user, new_state=value)
            )
            user = value
        elif event == "mic":  # the page's report, as voice.js sends it
            report = {"type": "mic", "active": value[0], "error": value[1]}
            handle.voice.widget._on_browser_msg(handle.voice.widget, report, [])
        elif event == "stopped":
            await handle.stop()
        elif event == "failed":
            await handle.failed(RuntimeError("the voice activity model could not load"))
        html = handle.status.widget.value
        allowed = Controls(send=not handle.chat.disabled, talk=handle.voice.widget.enabled)
        assert send.disabled == handle.chat.disabled
        assert_consistent(_shown(html), allowed, _note(html), handle.voice.widget.enabled)
        if _shown(html)["mic"] == "you're speaking":
            assert user == "speaking" and handle.voice.widget.active
    handle._observer.detach()
