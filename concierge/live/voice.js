// The live panel's microphone and speaker (anywidget ESM).
// Mic: getUserMedia → AudioContext at 16 kHz → AudioWorklet → 100 ms int16 chunks → the kernel.
// Speaker: "play" messages carry int16 PCM, scheduled back to back on one AudioContext;
// "stop" (barge-in: the session cleared its audio output) stops everything scheduled at once.
// Transport: a WebSocket straight to the kernel's loop when the kernel offers one (a one-use
// ticket asked for by comm, bound to this page's origin) and answers with its proof
// (concierge/live/audio_socket.py says why), else comm messages (model.send).
// Counters are synced back as traits so the kernel (and tests) see what the browser really played.

const CHUNK = 1600; // samples per message: 100 ms at 16 kHz
const CONNECT_MS = 3000; // how long the direct socket may take to answer before comm is used
const SAVE_MS = 250; // counters reach the kernel at most this often (each save is a comm message)

// What the widget shows for each transport (the `transport` trait's values).
const VIA = { direct: "audio: direct socket", comm: "audio: widget messages" };

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

// A direct-socket frame: 4-byte little-endian header length, JSON header, payload.
function frame(header, payload) {
  const head = utf8.encode(JSON.stringify(header));
  const body = payload ? new Uint8Array(payload) : new Uint8Array(0);
  const out = new Uint8Array(4 + head.length + body.length);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  out.set(body, 4 + head.length);
  return out.buffer;
}

function unframe(buf) {
  const size = new DataView(buf).getUint32(0, true);
  const header = JSON.parse(fromUtf8.decode(new Uint8Array(buf, 4, size)));
  return [header, new DataView(buf, 4 + size)];
}

const WORKLET = `
class Capture extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Int16Array(${CHUNK}); this.n = 0; this.sq = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i++) {
      const s = Math.max(-1, Math.min(1, ch[i]));
      this.sq += s * s;
      this.buf[this.n++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.n === ${CHUNK}) {
        this.port.postMessage({ pcm: this.buf.buffer, rms: Math.sqrt(this.sq / ${CHUNK}) }, [this.buf.buffer]);
        this.buf = new Int16Array(${CHUNK}); this.n = 0; this.sq = 0;
      }
    }
    return true;
  }
}
registerProcessor("concierge-capture", Capture);
`;

const MIC_ICON = `<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M8 10.5a2.5 2.5 0 0 0 2.5-2.5V3.5a2.5 2.5 0 0 0-5 0V8A2.5 2.5 0 0 0 8 10.5zM12 8h1a5 5 0 0 1-4.5 4.97V15h-1v-2.03A5 5 0 0 1 3 8h1a4 4 0 0 0 8 0z"/></svg>`;

function explain(err) {
  const name = (err && err.name) || "";
  if (!navigator.mediaDevices) return "This page is not a secure context, so the browser offers no microphone. Open JupyterLab at http://localhost or http://127.0.0.1.";
  if (name === "NotAllowedError" || name === "SecurityError") return "The browser refused the microphone. Allow it for this page (the icon in the address bar) and try again — or type below.";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "No microphone found. Plug one in and try again — or type below.";
  if (name === "NotReadableError") return "The microphone is busy in another application.";
  return `The microphone could not start (${name || err}).`;
}

function render({ model, el }) {
  el.classList.add("concierge-voice");
  el.dataset.transport = "comm"; // until the kernel's socket answers (see connect)
  el.innerHTML = `
    <button class="concierge-mic" type="button">${MIC_ICON}<span>Talk</span></button>
    <div class="concierge-meter" title="microphone level"><div></div></div>
    <span class="concierge-transport" title="how audio travels between this page and the kernel">${VIA.comm}</span>`;
  const button = el.querySelector(".concierge-mic");
  const label = button.querySelector("span");
  const meter = el.querySelector(".concierge-meter div");
  const via = el.querySelector(".concierge-transport");

  let mic = null; // { ctx, stream, node }
  let out = null; // playback AudioContext
  let next = 0; // when the next buffer starts, in out.currentTime
  let live = new Set(); // scheduled sources
  let seenSeg = -1;
  let direct = null; // the WebSocket to the kernel, once it proved itself
  let pending = null; // a WebSocket still waiting for the kernel's hello
  let gone = false; // this view was removed: it must not take the kernel's audio any more
  let saving = null; // a pending save of counters

  // Counters go to the kernel as traits, and onto the element for anyone inspecting the page:
  // state changes at once, running counters (`later`) at most every SAVE_MS.
  const sync = (fields, later = false) => {
    for (const [k, v] of Object.entries(fields)) { model.set(k, v); el.dataset[k] = String(v); }
    if (!later) {
      clearTimeout(saving);
      saving = null;
      model.save_changes();
    } else if (saving === null) {
      saving = setTimeout(() => { saving = null; model.save_changes(); }, SAVE_MS);
    }
  };
  const useTransport = (kind) => {
    via.textContent = VIA[kind];
    sync({ transport: kind });
  };
  // The microphone's state goes to the kernel as a message, not a trait update: the kernel sets
  // `active`/`error` itself, and the panel's status pill follows. (Trait updates from the page
  // wait behind ipywidgets' throttle for the kernel's idle status; after a busy cell, notebook 9
  // saw them never arrive, and the pill said "microphone off" beside a live microphone.)
  const reportMic = (active, error) => {
    el.dataset.active = String(active);
    el.dataset.error = error;
    toKernel({ type: "mic", active, error });
  };
  const toKernel = (header, pcm) => {
    // a socket the kernel is closing drops what is sent on it: comm carries it instead
    if (direct && direct.readyState === WebSocket.OPEN) direct.send(frame(header, pcm));
    else model.send(header, undefined, pcm ? [pcm] : []);
  };

  // The socket, in two steps (concierge/live/audio_socket.py says why): ask the kernel by comm
  // for a one-use ticket bound to this page's origin, then open it; the kernel's hello must carry
  // the proof that came with the ticket. Nothing secret is ever a trait (traits are saved).
  let asking = null; // the id of this view's open request for a ticket
  let askTimer = null;
  function connect() {
    if (!model.get("direct") || direct || pending || asking || gone) return;
    asking = `${Date.now()}-${Math.random().toString(36).slice(2)}`; // other views ignore it
    askTimer = setTimeout(() => { asking = null; }, CONNECT_MS); // a busy kernel: Talk asks again
    model.send({ type: "connect", origin: location.origin, ask: asking });
  }
  function onTicket(msg) {
    if (!asking || msg.ask !== asking) return;
    clearTimeout(askTimer);
    asking = null;
    if (msg.url && !gone) dial(msg.url, msg.proof); // no url: the kernel offers comm only
  }
  function dial(url, proof) {
    let ws;
    try { ws = new WebSocket(url); } catch (e) { return; } // a page that forbids it: comm
    ws.binaryType = "arraybuffer";
    pending = ws;
    const giveUp = setTimeout(() => ws.close(), CONNECT_MS);
    ws.onmessage = ({ data }) => {
      let header, payload;
      try { [header, payload] = unframe(data); } catch (e) { return; }
      if (header.type === "hello") {
        if (header.proof !== proof) { ws.close(); return; }
        clearTimeout(giveUp);
        pending = null;
        direct = ws;
        useTransport("direct");
      } else if (direct === ws) onMsg(header, [payload]);
    };
    ws.onclose = () => {
      clearTimeout(giveUp);
      if (pending === ws) pending = null;
      if (direct === ws) { direct = null; useTransport("comm"); }
    };
  }
  function playback() {
    if (!out) out = new AudioContext();
    if (out.state === "suspended") out.resume();
    return out;
  }

  async function start() {
    if (!model.get("enabled")) return;
    connect(); // again: a kernel busy in a blocking cell may have missed the first hello
    try {
      if (!navigator.mediaDevices) throw new Error("insecure");
      const stream = await navigator.mediaDevices.getUserMedia({
        // echo cancellation keeps the agent's own voice (from speakers) from interrupting it
        audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: false },
      });
      const ctx = new AudioContext({ sampleRate: 16000 });
      const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
      await ctx.audioWorklet.addModule(url);
      const node = new AudioWorkletNode(ctx, "concierge-capture");
      node.port.onmessage = ({ data }) => {
        meter.style.width = `${Math.min(100, data.rms * 400)}%`;
        toKernel({ type: "audio", t: Date.now() }, data.pcm);
      };
      const mute = ctx.createGain();
      mute.gain.value = 0; // the worklet must be pulled by the graph, silently
      ctx.createMediaStreamSource(stream).connect(node).connect(mute).connect(ctx.destination);
      mic = { ctx, stream, node };
      playback();
      button.classList.add("on");
      label.textContent = "Stop";
      reportMic(true, "");
    } catch (err) {
      reportMic(false, explain(err)); // the panel's status says it, in words
    }
  }

  function stopMic() {
    if (!mic) return;
    mic.node.port.onmessage = null;
    mic.stream.getTracks().forEach((t) => t.stop());
    mic.ctx.close();
    mic = null;
    meter.style.width = "0%";
    button.classList.remove("on");
    label.textContent = "Talk";
    reportMic(false, "");
  }

  button.addEventListener("click", () => (mic ? stopMic() : start()));

  // Talk follows the panel's status (the kernel derives `enabled` from it, with every pill): off
  // while its session is not live, and then no microphone stays open for nobody to hear.
  function showEnabled() {
    button.disabled = !model.get("enabled");
    if (button.disabled) stopMic();
  }

  function play(msg, buffers) {
    const ctx = playback();
    const view = buffers[0];
    const samples = view.byteOffset % 2 // Int16Array needs an even offset: copy if it is odd
      ? new Int16Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength))
      : new Int16Array(view.buffer, view.byteOffset, view.byteLength >> 1);
    if (!samples.length) return;
    const buf = ctx.createBuffer(1, samples.length, msg.sr);
    const ch = buf.getChannelData(0);
    for (let i = 0; i < samples.length; i++) ch[i] = samples[i] / 0x8000;
    const src = ctx.createBufferSource();
    src.buffer = buf;
    src.connect(ctx.destination);
    const when = Math.max(ctx.currentTime, next); // at once, or right after what is scheduled
    next = when + buf.duration;
    src.startAt = when;
    src.onended = () => {
      live.delete(src);
      sync({ played_samples: model.get("played_samples") + samples.length, playing: live.size > 0 }, live.size > 0);
    };
    live.add(src);
    src.start(when);
    if (msg.seg !== seenSeg) {
      seenSeg = msg.seg;
      const now = Date.now();
      const latency = (ctx.outputLatency || 0) * 1000; // the device's, as the browser reports it
      const at = now + (when - ctx.currentTime) * 1000 + latency;
      toKernel({ type: "started", seg: msg.seg, at, transit: msg.t ? now - msg.t : null, latency });
    }
    sync({ received_samples: model.get("received_samples") + samples.length, playing: true }, true);
  }

  function stopPlayback() {
    let played = 0;
    let cut = 0;
    const now = out ? out.currentTime : 0;
    for (const src of live) {
      src.onended = null;
      const done = now > src.startAt ? Math.min(src.buffer.length, Math.round((now - src.startAt) * src.buffer.sampleRate)) : 0;
      played += done;
      cut += src.buffer.length - done;
      try { src.stop(); } catch (e) { /* never started */ }
    }
    live = new Set();
    next = 0;
    sync({
      played_samples: model.get("played_samples") + played,
      cut_samples: model.get("cut_samples") + cut,
      stops: model.get("stops") + 1,
      playing: false,
    });
  }

  const onMsg = (msg, buffers) => {
    if (msg.type === "play") play(msg, buffers);
    else if (msg.type === "stop") stopPlayback();
  };
  const onComm = (msg, buffers) => (msg.type === "socket" ? onTicket(msg) : onMsg(msg, buffers));
  model.on("msg:custom", onComm);
  model.on("change:mic_delay_ms", () => { el.dataset.mic_delay_ms = String(model.get("mic_delay_ms")); });
  model.on("change:direct", connect);
  model.on("change:enabled", showEnabled);
  connect();
  showEnabled();
  return () => {
    model.off("msg:custom", onComm);
    model.off("change:direct", connect);
    clearTimeout(askTimer);
    model.off("change:enabled", showEnabled);
    gone = true;
    stopMic();
    if (pending) pending.close(); // else its hello, arriving later, would revive a removed view
    if (direct) direct.close();
    if (out) out.close();
  };
}

export default { render };
