// The live panel's room widget: this page joins the agent's LiveKit room as a participant.
//
// Built with esbuild into ../room_widget.js (`npm run build`, or scripts/build_room_widget.py),
// livekit-client bundled in, so nothing loads from a CDN. The kernel never carries audio here:
// the microphone goes up and the agent's voice comes down over WebRTC. What the panel shows
// reaches the kernel as small messages relayed from the room (concierge/live/room_mode.py):
//   page → kernel  hello · connection · mic · agent (present, attributes) · transcript · tools
//                  · turn (a turn's stages) · user (speaking: this page among the active speakers)
//   kernel → page  join {url, token} · chat {text} · leave
// The token arrives as a message, never a trait (traits are saved with the notebook).
import { Room, RoomEvent, Track, ParticipantKind } from "livekit-client";

const TRANSCRIPTION = "lk.transcription";
const CHAT = "lk.chat";
const TOOLS = "concierge.tools";
const TURN = "concierge.turn";

function render({ model, el }) {
  el.classList.add("concierge-voice", "concierge-room");
  el.innerHTML = `
    <button class="concierge-mic" type="button"><span>Mute</span></button>
    <span class="concierge-transport">audio: LiveKit room (WebRTC)</span>`;
  const button = el.querySelector(".concierge-mic");
  const label = button.querySelector("span");
  const audio = document.createElement("div");
  audio.hidden = true;
  el.appendChild(audio);

  let room = null;
  let joined = null; // the token of the last join
  let gone = false;
  const send = (msg) => { if (!gone) model.send(msg); };
  const isAgent = (p) => p && p.kind === ParticipantKind.AGENT;

  const reportMic = (active, error) => {
    el.dataset.active = String(active);
    label.textContent = active ? "Mute" : "Talk";
    button.classList.toggle("on", active);
    send({ type: "mic", active, error });
  };
  const reportAgent = (p, present) => {
    el.dataset.agent = present ? "present" : "left";
    send({ type: "agent", present, identity: p.identity, attributes: { ...p.attributes } });
  };

  // A second join (the kernel's reconnect after the agent left) moves this page to the new room.
  async function join(url, token) {
    if (token === joined) return; // the same join, sent again in answer to this view's hello
    joined = token;
    if (room) {
      const old = room;
      room = null;
      await old.disconnect();
      audio.replaceChildren();
    }
    const current = new Room({ adaptiveStream: false, dynacast: false });
    room = current;
    // events of a room this page has left for a new one are not news
    const mine = (handler) => (...args) => { if (room === current) handler(...args); };
    current.on(RoomEvent.ParticipantConnected, mine((p) => { if (isAgent(p)) reportAgent(p, true); }));
    current.on(RoomEvent.ParticipantDisconnected, mine((p) => { if (isAgent(p)) reportAgent(p, false); }));
    current.on(RoomEvent.ParticipantAttributesChanged, mine((_changed, p) => {
      if (isAgent(p)) reportAgent(p, true);
    }));
    current.on(RoomEvent.TrackSubscribed, mine((track, _pub, p) => {
      if (track.kind !== Track.Kind.Audio || !isAgent(p)) return;
      audio.appendChild(track.attach());
    }));
    // the agent has subscribed to this page's microphone: from now on it hears what is said
    el.dataset.micHeard = "false";
    current.on(RoomEvent.LocalTrackSubscribed, mine(() => { el.dataset.micHeard = "true"; }));
    current.on(RoomEvent.Disconnected, mine(() => {
      el.dataset.connection = "disconnected";
      send({ type: "connection", state: "disconnected" });
    }));
    // The agent's words arrive as they are spoken (a reply cut short by the caller ends early):
    // each chunk is relayed with the text so far, so the reply shows under the turn it answers.
    current.registerTextStreamHandler(TRANSCRIPTION, async (reader, from) => {
      const info = reader.info;
      const attributes = info.attributes || {};
      const segment = attributes["lk.segment_id"] || info.id;
      const base = { type: "transcript", identity: from.identity, segment };
      let text = "";
      if (isAgent(from)) {
        for await (const chunk of reader) {
          text += chunk;
          send({ ...base, text, final: false });
        }
        send({ ...base, text, final: true });
        return;
      }
      text = await reader.readAll();
      send({ ...base, text, final: attributes["lk.transcription_final"] !== "false" });
    });
    current.registerTextStreamHandler(TOOLS, async (reader) => {
      send({ type: "tools", calls: JSON.parse(await reader.readAll()) });
    });
    current.registerTextStreamHandler(TURN, async (reader) => {
      send({ type: "turn", payload: await reader.readAll() });
    });
    let speaking = false;
    current.on(RoomEvent.ActiveSpeakersChanged, mine((speakers) => {
      const now = speakers.some((p) => p === current.localParticipant);
      if (now !== speaking) send({ type: "user", speaking: (speaking = now) });
    }));
    try {
      await current.connect(url, token);
      el.dataset.connection = "connected";
      el.dataset.room = current.name;
      send({ type: "connection", state: "connected", identity: current.localParticipant.identity });
      for (const p of current.remoteParticipants.values()) if (isAgent(p)) reportAgent(p, true);
    } catch (err) {
      el.dataset.connection = "failed";
      send({ type: "connection", state: "failed", error: String((err && err.message) || err) });
      return;
    }
    await setMic(true);
  }

  async function setMic(on) {
    if (!room) return;
    try {
      await room.localParticipant.setMicrophoneEnabled(on, {
        echoCancellation: true, noiseSuppression: false, autoGainControl: false,
      });
      reportMic(on, "");
    } catch (err) {
      reportMic(false, `The microphone could not start (${(err && err.name) || err}).`);
    }
  }

  button.addEventListener("click", () => {
    if (room) setMic(!room.localParticipant.isMicrophoneEnabled);
  });

  model.on("msg:custom", async (msg) => {
    if (msg.type === "join") await join(msg.url, msg.token);
    else if (msg.type === "chat" && room) {
      await room.localParticipant.sendText(msg.text, { topic: CHAT });
      send({ type: "sent", id: msg.id });
    } else if (msg.type === "leave" && room) {
      await room.disconnect();
    }
  });
  model.on("change:enabled", () => { button.disabled = !model.get("enabled"); });
  button.disabled = !model.get("enabled");
  send({ type: "hello" });

  return () => {
    gone = true;
    if (room) room.disconnect();
  };
}

export default { render };
