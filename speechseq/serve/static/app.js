// speechseq-serve page: microphone -> AudioWorklet (16 kHz s16le) -> WebSocket /ws; the server's
// updates drive the spectrogram, the level meter, the class bars and the detection list.
"use strict";

const $ = (id) => document.getElementById(id);
const TOP_BARS = 6;
const MAX_BUFFERED = 64000; // bytes waiting in the socket (2 s of audio): past it, drop and count
const LOG_FLOOR = Math.log(1e-6);

let ws = null, audio = null, failure = null, labels = [], detections = 0, localDropped = 0, specHigh = 5;
let heardS = 0, frameMs = 10;

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = "pill " + (kind || "idle");
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
    startAudio().catch((err) => fail("microphone: " + err.message));
  } else if (msg.type === "update") {
    drawFrames(msg.mel);
    showLevel(msg.level_dbfs);
    if (msg.probs) showBars(msg.probs);
    heardS = msg.t;
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

async function startAudio() {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
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
  if (!audio) return;
  audio.stream.getTracks().forEach((t) => t.stop());
  audio.context.close();
  audio = null;
}

// --- connection -------------------------------------------------------------------------------------
function fail(text) {
  failure = text;
  stop();
}

function start() {
  if (ws) return;
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  ws = new WebSocket(url);
  failure = null;
  setStatus("connecting", "idle");
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", format: "s16le", sample_rate: 16000, channels: 1 }));
  ws.onmessage = onServerMessage;
  ws.onclose = (e) => {
    ws = null;
    stopAudio();
    $("start").textContent = "Start";
    $("start").className = "";
    if (failure) setStatus(failure, "error");
    else if (e.code === 1000 || e.code === 1005) setStatus("stopped", "idle");
    else setStatus("closed " + e.code + (e.reason ? ": " + e.reason : ""), "error");
  };
  $("start").textContent = "Stop";
  $("start").className = "stop";
}

function stop() {
  if (ws) ws.close(1000, "stopped on the page");
  stopAudio();
}

$("start").addEventListener("click", () => (ws ? stop() : start()));
if (params.get("autostart") === "1") start();
