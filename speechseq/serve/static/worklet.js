// AudioWorklet: microphone audio -> mono signed 16-bit PCM at 16 kHz, posted in 100 ms chunks.
// When the AudioContext already runs at 16 kHz (Chromium resamples the microphone itself) the
// samples pass straight through; otherwise a windowed-sinc low-pass and linear interpolation
// bring them down to 16 kHz here.

const TARGET_RATE = 16000;
const CHUNK = 1600; // 100 ms: one model hop per message
const TAPS = 127;

function lowPass(cutoff) { // cutoff as a fraction of the input rate; Blackman-windowed sinc, unit gain
  const half = (TAPS - 1) / 2, h = new Float32Array(TAPS);
  let sum = 0;
  for (let k = 0; k < TAPS; k++) {
    const n = k - half;
    const sinc = n === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * n) / (Math.PI * n);
    const w = 0.42 - 0.5 * Math.cos(2 * Math.PI * k / (TAPS - 1)) + 0.08 * Math.cos(4 * Math.PI * k / (TAPS - 1));
    h[k] = sinc * w;
    sum += h[k];
  }
  for (let k = 0; k < TAPS; k++) h[k] /= sum;
  return h;
}

class Pcm16kProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / TARGET_RATE;
    this.chunk = new Int16Array(CHUNK);
    this.fill = 0;
    if (this.ratio !== 1) {
      this.taps = lowPass(7000 / sampleRate);
      this.half = (TAPS - 1) / 2;
      this.buf = new Float32Array(0); // input not yet consumed, with the filter's history
      this.pos = this.half;           // next output position, in input samples into buf
    }
  }

  emit(x) {
    const s = Math.max(-1, Math.min(1, x));
    this.chunk[this.fill++] = s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);
    if (this.fill === CHUNK) {
      this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);
      this.chunk = new Int16Array(CHUNK);
      this.fill = 0;
    }
  }

  filtered(at) {
    const buf = this.buf, taps = this.taps, start = at - this.half;
    let acc = 0;
    for (let k = 0; k < TAPS; k++) acc += taps[k] * buf[start + k];
    return acc;
  }

  resample(mono) {
    const joined = new Float32Array(this.buf.length + mono.length);
    joined.set(this.buf);
    joined.set(mono, this.buf.length);
    this.buf = joined;
    while (Math.floor(this.pos) + 1 + this.half < joined.length) {
      const i = Math.floor(this.pos), frac = this.pos - i;
      const a = this.filtered(i), b = this.filtered(i + 1);
      this.emit(a + (b - a) * frac);
      this.pos += this.ratio;
    }
    const drop = Math.floor(this.pos) - this.half;
    this.buf = joined.slice(drop);
    this.pos -= drop;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const n = channels[0].length, mono = new Float32Array(n);
    for (const ch of channels) for (let i = 0; i < n; i++) mono[i] += ch[i] / channels.length;
    if (this.ratio === 1) {
      for (let i = 0; i < n; i++) this.emit(mono[i]);
    } else {
      this.resample(mono);
    }
    return true;
  }
}

registerProcessor("pcm16k", Pcm16kProcessor);
