// speechseq-serve page: microphone -> AudioWorklet (16 kHz s16le) -> WebSocket /ws; the server's
// updates drive the spectrogram, the level meter, the class bars and the detection list.
"use strict";

const $ = (id) => document.getElementById(id);
const TOP_BARS = 6;
const MAX_BUFFERED = 64000; // bytes waiting in the socket (2 s of audio): past it, drop and count
const LOG_FLOOR = Math.log(1e-6);

let ws = null, audio = null, failure = null, labels = [], detections = 0, localDropped = 0, specHigh = 5;
let heardS = 0, frameMs = 10;
let micStream = null, micAsks = 0, askingForMic = false; // micAsks: Stop while asking voids that ask

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = "pill " + (kind || "idle");
}

function showNotice(text, kind) { // the longer word under the header: what the browser waits for, what to do
  const el = $("notice");
  el.textContent = text || "";
  el.className = "notice " + (kind || "");
  el.hidden = !text;
}

function showRunning(running) {
  $("start").textContent = running ? "Stop" : "Start";
  $("start").className = running ? "stop" : "";
}

// --- spectrogram: one pixel column per 10 ms frame, low frequencies at the bottom ---------------
const canvas = $("spectrogram"), ctx2d = canvas.getContext("2d");
ctx2d.fillStyle = "#000";
ctx2d.fillRect(0, 0, canvas.width, canvas.height);

function colour(v) { // 0..1 -> a dark-blue, teal, yellow ramp (close to viridis)
  const stops = [[13, 8, 35], [59, 28, 140], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.max(0, Math.min(0.9999, v)) * (stops.length - 1), i = Math.floor(x), f = x - i;
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
}

function drawFrames(mel) {
  if (!mel.length) return;
  const n = mel.length, h = canvas.height, bands = mel[0].length;
  ctx2d.drawImage(canvas, -n, 0);
  const img = ctx2d.createImageData(n, h);
  for (const frame of mel) specHigh = Math.max(specHigh * 0.9995, ...frame);
  for (let x = 0; x < n; x++) {
    for (let y = 0; y < h; y++) {
      const band = Math.min(bands - 1, Math.floor((h - 1 - y) * bands / h));
      const [r, g, b] = colour((mel[x][band] - LOG_FLOOR) / (specHigh - LOG_FLOOR));
      const o = (y * n + x) * 4;
      img.data[o] = r; img.data[o + 1] = g; img.data[o + 2] = b; img.data[o + 3] = 255;
    }
  }
  ctx2d.putImageData(img, canvas.width - n, 0);
}

function markDetection(d) { // a tick and the word where it fired; it scrolls on with the picture
  const x = canvas.width - Math.round((heardS - d.time) * 1000 / frameMs);
  ctx2d.fillStyle = "#f6ad55";
  ctx2d.fillRect(x - 2, 0, 2, 16);
  ctx2d.font = "600 13px system-ui, sans-serif";
  ctx2d.textAlign = "right"; // left of the tick: the right edge is where new frames appear
  ctx2d.lineWidth = 3;
  ctx2d.strokeStyle = "rgba(0, 0, 0, 0.75)"; // a dark outline keeps the word readable on bright frames
  ctx2d.strokeText(d.label, x - 6, 13);
  ctx2d.fillText(d.label, x - 6, 13);
}

// --- time axis under the spectrogram: seconds since Start, scrolling with the picture --------------
const axis = $("time-axis"), axisCtx = axis.getContext("2d");

function drawTimeAxis() {
  const dpr = window.devicePixelRatio || 1, w = axis.clientWidth, h = axis.clientHeight;
  if (axis.width !== Math.round(w * dpr) || axis.height !== Math.round(h * dpr)) {
    axis.width = Math.round(w * dpr);
    axis.height = Math.round(h * dpr);
  }
  axisCtx.setTransform(dpr, 0, 0, dpr, 0, 0);
  axisCtx.clearRect(0, 0, w, h);
  const spanS = canvas.width * frameMs / 1000, pxPerS = w / spanS;
  const step = pxPerS >= 40 ? 1 : pxPerS >= 20 ? 2 : 5; // labels stay apart on a narrow screen
  axisCtx.fillStyle = "#8a93ab";
  axisCtx.font = "12px system-ui, sans-serif";
  axisCtx.textBaseline = "top";
  for (let t = Math.max(0, Math.ceil((heardS - spanS) / step) * step); t <= heardS; t += step) {
    const x = w - (heardS - t) * pxPerS;
    axisCtx.fillRect(Math.round(x) - 1, 0, 1, 5);
    axisCtx.textAlign = x > w - 16 ? "right" : x < 16 ? "left" : "center"; // keep edge labels whole
    axisCtx.fillText(t + " s", x, 7);
  }
}
drawTimeAxis();
window.addEventListener("resize", drawTimeAxis);

// --- level meter, class bars, detections --------------------------------------------------------
function showLevel(dbfs) {
  const pct = Math.max(0, Math.min(100, (dbfs + 70) / 70 * 100));
  $("level-fill").style.width = pct + "%";
  $("level-text").textContent = (dbfs <= -119 ? "-inf" : dbfs.toFixed(1)) + " dBFS";
}

function showBars(probs) {
  const order = probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, TOP_BARS);
  const bars = $("bars");
  bars.replaceChildren(...order.map(([p, i]) => {
    const row = document.createElement("div");
    row.className = "bar" + (labels[i].startsWith("_") ? " quiet" : "");
    row.innerHTML = '<span class="name"></span><div class="track"><div class="fill"></div></div><span class="value"></span>';
    row.querySelector(".name").textContent = labels[i];
    row.querySelector(".fill").style.width = (p * 100).toFixed(1) + "%";
    row.querySelector(".value").textContent = p.toFixed(2);
    return row;
  }));
}

function addDetection(d) {
  detections += 1;
  const li = document.createElement("li");
  li.innerHTML = '<span class="time mono"></span><span class="label-word"></span><span class="score mono"></span>';
  li.querySelector(".time").textContent = d.time.toFixed(2) + " s";
  li.querySelector(".label-word").textContent = d.label;
  li.querySelector(".score").textContent = d.score.toFixed(3);
  $("detections").prepend(li);
  $("count").textContent = detections + " word" + (detections === 1 ? "" : "s");
  $("word").textContent = d.label;
  markDetection(d);
}

function onServerMessage(event) {
  const msg = JSON.parse(event.data);
  if (msg.type === "ready") {
    labels = msg.labels;
    frameMs = msg.frame_ms;
    startAudio(micStream).catch((err) => fail("audio: " + err.message));
  } else if (msg.type === "update") {
    drawFrames(msg.mel);
    showLevel(msg.level_dbfs);
    if (msg.probs) showBars(msg.probs);
    heardS = msg.t;
    drawTimeAxis();
    $("seconds").textContent = msg.t.toFixed(1);
    const dropped = msg.dropped_s + localDropped / 16000;
    if (dropped > 0) $("footer").textContent = dropped.toFixed(1) + " s of audio dropped (the server fell behind)";
  } else if (msg.type === "detection") {
    addDetection(msg);
  }
}

// --- audio capture --------------------------------------------------------------------------------
const params = new URLSearchParams(location.search);

async function openContext() {
  // ?resample=worklet: keep the device rate and resample in the worklet (what other browsers get)
  if (params.get("resample") === "worklet") return new AudioContext();
  try { // Chromium resamples the microphone to a 16 kHz context itself
    return new AudioContext({ sampleRate: 16000 });
  } catch (err) { // others: the worklet resamples
    return new AudioContext();
  }
}

async function startAudio(stream) {
  const context = await openContext();
  await context.audioWorklet.addModule("/static/worklet.js");
  let source;
  try {
    source = context.createMediaStreamSource(stream);
  } catch (err) { // a browser that cannot mix rates: fall back to the device rate
    await context.close();
    return startAudioAt(stream, new AudioContext());
  }
  return connectNodes(stream, context, source);
}

async function startAudioAt(stream, context) {
  await context.audioWorklet.addModule("/static/worklet.js");
  return connectNodes(stream, context, context.createMediaStreamSource(stream));
}

async function connectNodes(stream, context, source) {
  const node = new AudioWorkletNode(context, "pcm16k", { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
  node.port.onmessage = (e) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED) { localDropped += e.data.byteLength / 2; return; }
    ws.send(e.data);
  };
  source.connect(node);
  node.connect(context.destination); // the worklet outputs silence; being connected keeps it running
  await context.resume();
  audio = { stream, context, node };
  setStatus(context.state === "running" ? `listening (${context.sampleRate / 1000} kHz)` : "click Start to allow audio", "live");
}

function stopAudio() {
  if (micStream) micStream.getTracks().forEach((t) => t.stop());
  micStream = null;
  if (audio) audio.context.close();
  audio = null;
}

// --- the microphone: asked for first, so the page says what it waits for ---------------------------
function askForMicrophone() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return Promise.reject(Object.assign(new Error("no navigator.mediaDevices"), { name: "InsecureContextError" }));
  }
  return navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
}

function microphoneTrouble(err) { // [short status, what to do]
  const again = " Then press Start again.";
  switch (err.name) {
    case "NotAllowedError": case "PermissionDeniedError": case "SecurityError":
      return ["microphone blocked", "The microphone is blocked for this page. Allow it in the browser's site " +
        "settings (the icon at the left of the address bar)." + again];
    case "NotFoundError": case "DevicesNotFoundError": case "OverconstrainedError":
      return ["no microphone", "The browser found no microphone. Plug one in or choose one in the system's " +
        "sound settings." + again];
    case "NotReadableError": case "TrackStartError": case "AbortError":
      return ["microphone busy", "The microphone would not start: another program may be using it. Close " +
        "that program." + again];
    case "InsecureContextError":
      return ["microphone unavailable", "Browsers give the microphone only to https:// pages and to " +
        "localhost. Open this page as http://localhost:" + (location.port || 80) + "/ on the machine " +
        "running speechseq-serve (from elsewhere: ssh -L " + (location.port || 80) + ":localhost:" +
        (location.port || 80) + " that-machine)."];
    default:
      return ["microphone failed", "The microphone could not be opened (" + err.name + ": " + err.message + ")." + again];
  }
}

// --- connection -------------------------------------------------------------------------------------
function fail(text) {
  failure = text;
  stop();
}

async function start() {
  if (ws || askingForMic) return;
  const ask = ++micAsks;
  failure = null;
  askingForMic = true;
  showRunning(true);
  setStatus("waiting for the microphone", "wait");
  showNotice("Waiting for the microphone: allow access in the browser's prompt (near the address bar). " +
    "Nothing is sent before you do.", "wait");
  let stream;
  try {
    stream = await askForMicrophone();
  } catch (err) {
    if (ask !== micAsks) return; // stopped while asking
    const [status, advice] = microphoneTrouble(err);
    showRunning(false);
    setStatus(status, "error");
    showNotice(advice, "error");
    return;
  } finally {
    if (ask === micAsks) askingForMic = false;
  }
  if (ask !== micAsks) { stream.getTracks().forEach((t) => t.stop()); return; } // stopped while asking
  micStream = stream;
  showNotice("");
  connect();
}

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  ws = new WebSocket(url);
  setStatus("connecting", "idle");
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", format: "s16le", sample_rate: 16000, channels: 1 }));
  ws.onmessage = onServerMessage;
  ws.onclose = (e) => {
    ws = null;
    stopAudio();
    showRunning(false);
    if (failure) setStatus(failure, "error");
    else if (e.code === 1000 || e.code === 1005) setStatus("stopped", "idle");
    else setStatus("closed " + e.code + (e.reason ? ": " + e.reason : ""), "error");
  };
}

function stop() {
  if (askingForMic) { // the prompt stays up, but what it grants is let go at once
    micAsks += 1;
    askingForMic = false;
    showRunning(false);
    showNotice("");
    setStatus("stopped", "idle");
  }
  if (ws) ws.close(1000, "stopped on the page");
  stopAudio();
}

$("start").addEventListener("click", () => (ws || askingForMic ? stop() : start()));
if (params.get("autostart") === "1") start();
