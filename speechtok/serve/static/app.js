// speechtok demo page: talks to the service's own API (same origin), needs no other server.
"use strict";

const $ = (id) => document.getElementById(id);
const SPEC_RATE = 16000; // spectrograms are drawn at 16 kHz for every clip
let tokenizers = [];
let input = null; // {blob, name}

function setStatus(el, text, isError) {
  el.textContent = text;
  el.classList.toggle("error", !!isError);
}

async function api(path, options) {
  const r = await fetch(path, options);
  if (!r.ok) {
    let reason = r.status + " " + r.statusText;
    try { reason = (await r.json()).error || reason; } catch (e) { /* not JSON */ }
    throw new Error(reason);
  }
  return r;
}

// ---- inputs -------------------------------------------------------------------------------
async function loadTokenizers() {
  tokenizers = await (await api("v1/tokenizers")).json();
  const box = $("tokenizers");
  box.textContent = "";
  tokenizers.forEach((t, i) => {
    const label = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.value = t.name;
    cb.checked = t.can_decode && i < 3;
    cb.disabled = !t.can_decode;
    label.append(cb, ` ${t.name} (${t.kbps.toFixed(2)} kbps nominal${t.can_decode ? "" : ", encode-only"})`);
    box.append(label);
  });
  // lowest algorithmic latency first (tokenizers that state none last): the live choice
  const streamable = tokenizers.filter((t) => t.streaming)
    .sort((a, b) => (a.latency_ms ?? Infinity) - (b.latency_ms ?? Infinity));
  const sel = $("stream-tokenizer");
  streamable.forEach((t) => sel.append(new Option(t.latency_ms == null ? t.name : `${t.name} (${t.latency_ms} ms latency)`, t.name)));
  $("stream-section").hidden = streamable.length === 0;
}

async function loadClips() {
  const clips = await (await api("v1/clips")).json();
  clips.forEach((c) => $("clip").append(new Option(`${c.name}: “${c.text}”`, c.name)));
}

function setInput(blob, name) {
  input = { blob, name };
  setStatus($("input-status"), `ready: ${name} (${(blob.size / 1024).toFixed(1)} KiB)`);
  $("run").disabled = false;
  $("stream").disabled = false;
}

$("file").addEventListener("change", (e) => {
  const f = e.target.files[0];
  if (f) setInput(f, f.name);
});

$("clip").addEventListener("change", async (e) => {
  if (!e.target.value) return;
  try {
    const blob = await (await api(`v1/clips/${encodeURIComponent(e.target.value)}.wav`)).blob();
    setInput(new Blob([blob], { type: "audio/wav" }), e.target.value + ".wav");
  } catch (err) { setStatus($("input-status"), err.message, true); }
});

let recorder = null;
$("record").addEventListener("click", async () => {
  if (recorder) { recorder.stop(); return; }
  try {
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    const parts = [];
    recorder = new MediaRecorder(mic);
    recorder.ondataavailable = (e) => parts.push(e.data);
    recorder.onstop = async () => {
      mic.getTracks().forEach((t) => t.stop());
      recorder = null;
      $("record").textContent = "Record";
      // the browser records webm/ogg; the page sends wav, which every server build reads
      const samples = await decodeAt(new Blob(parts), SPEC_RATE);
      setInput(wavBlob(samples, SPEC_RATE), "recording.wav");
    };
    recorder.start();
    $("record").textContent = "Stop";
    setStatus($("input-status"), "recording… press Stop when done");
  } catch (err) { setStatus($("input-status"), "cannot record: " + err.message, true); }
});

// ---- audio helpers --------------------------------------------------------------------------
async function decodeAt(blob, rate) {
  const ctx = new OfflineAudioContext(1, 1, rate);
  const buf = await ctx.decodeAudioData(await blob.arrayBuffer());
  const out = new Float32Array(buf.length);
  for (let c = 0; c < buf.numberOfChannels; c++) {
    const ch = buf.getChannelData(c);
    for (let i = 0; i < ch.length; i++) out[i] += ch[i] / buf.numberOfChannels;
  }
  return out;
}

function wavBlob(samples, rate) {
  const view = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const str = (o, s) => { for (let i = 0; i < s.length; i++) view.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); str(8, "WAVE");
  str(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); str(36, "data"); view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    view.setInt16(44 + i * 2, Math.max(-1, Math.min(1, samples[i])) * 32767, true);
  }
  return new Blob([view], { type: "audio/wav" });
}

function fft(re, im) { // in place, radix 2; length a power of two
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = -2 * Math.PI / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(ang * k), wi = Math.sin(ang * k);
        const a = i + k, b = a + len / 2;
        const tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr;
        re[b] = re[a] - tr; im[b] = im[a] - ti; re[a] += tr; im[a] += ti;
      }
    }
  }
}

function heat(v) { // 0..1 -> dark blue .. yellow
  const r = Math.min(255, Math.max(0, 255 * (1.8 * v - 0.4)));
  const g = Math.min(255, Math.max(0, 255 * (1.6 * v - 0.6)));
  const b = Math.min(255, Math.max(0, 255 * (v < 0.5 ? 0.3 + v : 1.3 - v)));
  return [r, g, b];
}

function drawSpectrogram(canvas, samples) {
  const nfft = 512, hop = 160, bins = nfft / 2;
  const frames = Math.max(1, Math.floor((samples.length - nfft) / hop) + 1);
  canvas.width = frames; canvas.height = bins;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(frames, bins);
  const win = Float32Array.from({ length: nfft }, (_, i) => 0.5 - 0.5 * Math.cos(2 * Math.PI * i / nfft));
  const re = new Float32Array(nfft), im = new Float32Array(nfft);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < nfft; i++) { re[i] = (samples[f * hop + i] || 0) * win[i]; im[i] = 0; }
    fft(re, im);
    for (let k = 0; k < bins; k++) {
      const db = 10 * Math.log10(re[k] * re[k] + im[k] * im[k] + 1e-10);
      const [r, g, b] = heat(Math.min(1, Math.max(0, (db + 60) / 80)));
      const p = ((bins - 1 - k) * frames + f) * 4;
      img.data[p] = r; img.data[p + 1] = g; img.data[p + 2] = b; img.data[p + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

function drawCodes(canvas, codes, sizes) { // one row per codebook, one column per frame
  const K = codes.length, F = K ? codes[0].length : 0;
  canvas.width = Math.max(1, F); canvas.height = Math.max(1, K);
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let k = 0; k < K; k++) {
    for (let f = 0; f < F; f++) {
      const [r, g, b] = heat(codes[k][f] / Math.max(1, sizes[k] - 1));
      const p = (k * F + f) * 4;
      img.data[p] = r; img.data[p + 1] = g; img.data[p + 2] = b; img.data[p + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

// ---- results ---------------------------------------------------------------------------------
function card(title) {
  const div = document.createElement("div");
  div.className = "card";
  const h = document.createElement("h3");
  h.textContent = title;
  div.append(h);
  $("results").append(div);
  return div;
}

function figures(rows) {
  const table = document.createElement("table");
  table.className = "figures";
  rows.forEach(([k, v]) => {
    const tr = table.insertRow();
    tr.insertCell().textContent = k;
    const td = tr.insertCell();
    td.textContent = v;
    td.dataset.figure = k;
  });
  return table;
}

async function showAudio(div, blob, label) {
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.src = URL.createObjectURL(blob);
  audio.dataset.role = label;
  const canvas = document.createElement("canvas");
  canvas.className = "spectrogram";
  canvas.title = "spectrogram (0-8 kHz)";
  div.append(audio, canvas);
  try {
    drawSpectrogram(canvas, await decodeAt(blob, SPEC_RATE));
  } catch (err) { // the server may still read what the browser cannot (or refuse it, and say why)
    const p = document.createElement("p");
    p.className = "status";
    p.textContent = "no spectrogram: this browser cannot decode the file";
    div.append(p);
  }
}

async function runOne(name) {
  const div = card(name);
  try {
    const t0 = performance.now();
    const enc = await (await api(`v1/encode?tokenizer=${encodeURIComponent(name)}`, {
      // the server reads the format from the bytes; a browser's guess (e.g. video/webm) only gets in the way
      method: "POST", body: input.blob,
      headers: { "Content-Type": input.blob.type.startsWith("audio/") ? input.blob.type : "application/octet-stream" },
    })).json();
    const t1 = performance.now();
    const wav = await (await api("v1/decode", {
      method: "POST", body: JSON.stringify(enc), headers: { "Content-Type": "application/json" },
    })).blob();
    const t2 = performance.now();
    div.append(figures([
      ["measured kbps", enc.kbps.toFixed(3)],
      ["tokens/s", enc.tokens_per_second.toFixed(1)],
      ["codes", `${enc.codebook_sizes.length} × ${enc.frames} at ${enc.frame_rate} Hz`],
      ["encode", `${(t1 - t0).toFixed(0)} ms (server ${enc.compute_ms.toFixed(0)} ms)`],
      ["decode", `${(t2 - t1).toFixed(0)} ms`],
    ]));
    await showAudio(div, wav, "decoded");
    const codes = document.createElement("canvas");
    codes.className = "codes";
    codes.title = "codes: one row per codebook, one column per frame";
    div.append(codes);
    drawCodes(codes, enc.codes, enc.codebook_sizes);
    div.dataset.done = "1";
  } catch (err) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = err.message;
    div.append(p);
    div.dataset.done = "error";
  }
}

$("run").addEventListener("click", async () => {
  const names = [...document.querySelectorAll("#tokenizers input:checked")].map((c) => c.value);
  if (!input || names.length === 0) {
    setStatus($("run-status"), "choose speech and at least one tokenizer", true);
    return;
  }
  $("run").disabled = true;
  $("results").textContent = "";
  setStatus($("run-status"), "working…");
  try {
    const orig = card(`original: ${input.name}`);
    await showAudio(orig, input.blob, "original");
    orig.dataset.done = "1";
    for (const name of names) await runOne(name); // one at a time: the server has few cores
    setStatus($("run-status"), "done");
  } catch (err) {
    setStatus($("run-status"), err.message, true);
  } finally {
    $("run").disabled = false;
  }
});

// ---- streaming ---------------------------------------------------------------------------------
function b64ToFloat(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const pcm = new Int16Array(bytes.buffer);
  return Float32Array.from(pcm, (v) => v / 32768);
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

$("stream").addEventListener("click", async () => {
  const name = $("stream-tokenizer").value;
  const tok = tokenizers.find((t) => t.name === name);
  const status = $("stream-status");
  if (!input || !tok) return;
  $("stream").disabled = true;
  $("stream-result").textContent = "";
  try {
    const samples = await decodeAt(input.blob, tok.sample_rate);
    const chunk = Math.round(tok.sample_rate * 0.02);
    const url = new URL(`v1/stream?tokenizer=${encodeURIComponent(name)}&sample_rate=${tok.sample_rate}&format=s16le`, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    const out = [], latencies = [], compute = [];
    let frames = 0, pos = 0, sentAt = 0;
    const lags = [];
    const sendNext = () => { // one chunk in flight at a time: latency without queueing
      if (pos >= samples.length) { sentAt = performance.now(); ws.send(JSON.stringify({ type: "end" })); return; }
      const part = samples.subarray(pos, pos + chunk);
      pos += chunk;
      const pcm = Int16Array.from(part, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
      sentAt = performance.now();
      ws.send(pcm.buffer);
    };
    await new Promise((resolve, reject) => {
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === "ready") { setStatus(status, "streaming…"); sendNext(); }
        else if (m.type === "chunk") {
          latencies.push(performance.now() - sentAt);
          compute.push(m.compute_ms);
          frames += m.frames;
          if (!m.last) lags.push(m.lag_ms);
          out.push(b64ToFloat(m.audio));
          if (!m.last) sendNext();
        } else if (m.type === "done") resolve();
        else if (m.type === "error") reject(new Error(m.error));
      };
      ws.onerror = () => reject(new Error("WebSocket failed"));
      ws.onclose = (e) => { if (e.code !== 1000) reject(new Error(`closed (${e.code}) ${e.reason}`)); };
    });
    const total = out.reduce((n, a) => n + a.length, 0);
    const audio = new Float32Array(total);
    out.reduce((o, a) => { audio.set(a, o); return o + a.length; }, 0);
    const div = document.createElement("div");
    div.className = "card";
    div.append(figures([
      ["chunks", String(latencies.length)],
      ["frames", String(frames)],
      ["latency p50", `${quantile(latencies, 0.5).toFixed(1)} ms`],
      ["latency p95", `${quantile(latencies, 0.95).toFixed(1)} ms`],
      ["server compute p50", `${quantile(compute, 0.5).toFixed(1)} ms`],
      ["audio held back p50", `${(lags.length ? quantile(lags, 0.5) : 0).toFixed(1)} ms`],
    ]));
    $("stream-result").append(div);
    await showAudio(div, wavBlob(audio, tok.sample_rate), "streamed");
    div.dataset.done = "1";
    setStatus(status, "done");
  } catch (err) {
    setStatus(status, err.message, true);
  } finally {
    $("stream").disabled = false;
  }
});

Promise.all([loadTokenizers(), loadClips()]).catch((err) => setStatus($("run-status"), err.message, true));

// ---- text to speech (POST v1/tts) ------------------------------------------------------------
let ttsBlob = null;

async function loadVoices() {
  let voices = {};
  try { voices = await (await api("v1/voices")).json(); } catch (e) { return; }
  const names = Object.keys(voices);
  $("tts-section").hidden = names.length === 0;
  names.forEach((n) => {
    const v = voices[n];
    v.speakers.forEach((s) => $("tts-voice").append(
      new Option(`${n}: ${s} (${(v.languages[s] || []).join(", ")})`, JSON.stringify({ model: n, voice: s }))));
  });
}

function fixWavSizes(buf) { // the streamed header announces an open length: set the real one
  const view = new DataView(buf);
  if (buf.byteLength >= 44 && view.getUint32(0, false) === 0x52494646) {
    view.setUint32(4, buf.byteLength - 8, true);
    view.setUint32(40, buf.byteLength - 44, true);
  }
  return buf;
}

$("tts-speak").addEventListener("click", async () => {
  const status = $("tts-status");
  const out = $("tts-result");
  out.textContent = "";
  setStatus(status, "speaking…");
  try {
    const choice = JSON.parse($("tts-voice").value);
    const t0 = performance.now();
    const r = await api("v1/tts", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: $("tts-text").value, model: choice.model, voice: choice.voice }),
    });
    const buf = fixWavSizes(await r.arrayBuffer());
    const ms = performance.now() - t0;
    ttsBlob = new Blob([buf], { type: "audio/wav" });
    const seconds = (buf.byteLength - 44) / 2 / 16000;
    setStatus(status, `${seconds.toFixed(2)} s of speech in ${ms.toFixed(0)} ms`);
    await showAudio(out, ttsBlob, "tts");
    $("tts-use").disabled = false;
    out.dataset.done = "1";
  } catch (err) {
    setStatus(status, err.message, true);
    out.dataset.done = "error";
  }
});

$("tts-use").addEventListener("click", () => {
  if (ttsBlob) setInput(ttsBlob, "text to speech");
});

loadVoices();
