// AudioWorklet: microphone samples → 16 kHz PCM16 chunks of `chunkMs` (the v3 protocol wants 50–1000 ms).
// When the context does not run at 16 kHz, a one-pole low-pass and linear interpolation resample here.
class PcmSender extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.target = o.targetRate || 16000;
    this.size = Math.round((this.target * (o.chunkMs || 100)) / 1000);
    this.buf = new Int16Array(this.size);
    this.n = 0;
    this.step = sampleRate / this.target; // input samples per output sample
    this.alpha = 1 - Math.exp((-2 * Math.PI * 0.45 * this.target) / sampleRate);
    this.lp = 0;
    this.prev = 0;
    this.t = 0;
    this.port.onmessage = (e) => e.data === 'flush' && this.flush();
  }

  push(x) {
    const s = Math.max(-1, Math.min(1, x));
    this.buf[this.n++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.n === this.size) this.flush();
  }

  flush() {
    if (!this.n) return;
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    this.port.postMessage(out.buffer, [out.buffer]);
  }

  process(inputs) {
    const x = inputs[0] && inputs[0][0];
    if (!x) return true;
    if (this.step === 1) {
      for (let i = 0; i < x.length; i++) this.push(x[i]);
      return true;
    }
    const f = new Float32Array(x.length);
    let y = this.lp;
    for (let i = 0; i < x.length; i++) f[i] = y += this.alpha * (x[i] - y);
    this.lp = y;
    let t = this.t; // position of the next output sample; -1 means `prev`, the last sample of the last block
    while (t < x.length - 1) {
      const i = Math.floor(t);
      const frac = t - i;
      const a = i < 0 ? this.prev : f[i];
      this.push(a + (f[i + 1] - a) * frac);
      t += this.step;
    }
    this.t = t - x.length;
    this.prev = f[x.length - 1];
    return true;
  }
}

registerProcessor('pcm-sender', PcmSender);
