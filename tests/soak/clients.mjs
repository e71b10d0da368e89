// The soak's viewers, in their own process (forked by soak.mjs, so their
// event loop does not skew the sampler): N WebSocket clients on /scores,
// each reconnecting with ?since=<last id> when dropped, and one commentator
// on /commentary. Latency of a delta = receive time - the ms part of its
// Redis entry id (XADD * stamps the entry with Redis' clock, the same
// machine's wall clock), i.e. judges' write -> viewer's screen. The
// commentator also reads the publish time the writer put in the event's
// `item` field (Date.now() at XADD) as a cross-check.
//
// Messages from the parent: {type:'ids', ids:[...]} (entry ids written, in
// order), {type:'sample'} -> replies {type:'sample', ...figures since the
// last sample}, {type:'stop'}.
import WebSocket from 'ws';

const port = Number(process.env.SOAK_PORT);
const N = Number(process.env.SOAK_CLIENTS || 2000);
const token = process.env.SOAK_COMMENTATOR_TOKEN || 'com-secret';

const idIndex = new Map(); // entry id -> position in the written sequence
let written = 0;
const hist = new Uint32Array(60001); // latency histogram, 1 ms buckets, last = overflow
let histN = 0, latMax = 0;
const itemLat = [];
let opened = 0, connected = 0, drops = 0, reconnects = 0, snapshots = 0, messages = 0, badJson = 0;
const closeCodes = {};
let stopping = false;

function addLatency(ms) {
  const b = Math.max(0, Math.min(hist.length - 1, Math.round(ms)));
  hist[b]++; histN++;
  if (ms > latMax) latMax = ms;
}
function percentile(p) {
  if (!histN) return NaN;
  const target = Math.ceil(p * histN);
  let acc = 0;
  for (let i = 0; i < hist.length; i++) { acc += hist[i]; if (acc >= target) return i; }
  return hist.length - 1;
}
const idMs = (id) => Number(String(id).split('-')[0]);

// Per client: segments of the delta sequence it saw, each from a snapshot
// (or a resume) to its last delta, with the number of deltas received.
// Missed = deltas the sequence had between start and last that it did not get.
const clients = [];
function makeClient(k) {
  const c = { k, ws: null, lastId: null, segs: [], missed: 0, dups: 0 };
  const connect = () => {
    const q = c.lastId ? `?since=${encodeURIComponent(c.lastId)}` : '';
    const ws = new WebSocket(`ws://127.0.0.1:${port}/scores${q}`, { perMessageDeflate: false });
    c.ws = ws;
    let wasOpen = false;
    ws.on('open', () => { wasOpen = true; connected++; if (!c.everOpen) { c.everOpen = true; opened++; } });
    ws.on('message', (data) => {
      messages++;
      let m;
      try { m = JSON.parse(data.toString()); } catch { badJson++; return; }
      if (m.type === 'snapshot') {
        snapshots++;
        c.segs.push({ start: m.id, last: m.id, count: 0 });
        c.lastId = m.id;
      } else if (m.type === 'delta') {
        addLatency(Date.now() - idMs(m.id));
        let seg = c.segs[c.segs.length - 1];
        if (!seg) { seg = { start: c.lastId, last: c.lastId, count: 0 }; c.segs.push(seg); }
        seg.last = m.id; seg.count++;
        c.lastId = m.id;
      }
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      if (wasOpen) connected--;
      if (stopping) return;
      drops++;
      closeCodes[code] = (closeCodes[code] || 0) + 1;
      // A resume without a snapshot continues from lastId: a new segment.
      c.segs.push({ start: c.lastId, last: c.lastId, count: 0 });
      setTimeout(() => { reconnects++; connect(); }, 300 + Math.random() * 700);
    });
  };
  c.connect = connect;
  return c;
}

// Folds resolvable segments into missed/dups; keeps the open one.
function settle(c) {
  const keep = [];
  for (let i = 0; i < c.segs.length; i++) {
    const s = c.segs[i];
    const a = s.start === '0-0' || s.start === null ? -1 : idIndex.get(s.start);
    const b = s.last === '0-0' || s.last === null ? -1 : idIndex.get(s.last);
    if (a === undefined || b === undefined) { keep.push(s); continue; }
    const expected = b - a;
    const diff = expected - s.count;
    if (i === c.segs.length - 1) {
      // The open segment: count what is missing so far, carry on from its last id.
      if (diff > 0) c.missed += diff; else if (diff < 0) c.dups += -diff;
      keep.push({ start: s.last, last: s.last, count: 0 });
    } else {
      if (diff > 0) c.missed += diff; else if (diff < 0) c.dups += -diff;
    }
  }
  c.segs = keep;
}

// The commentator.
let commentator = null;
function connectCommentator() {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/commentary?token=${token}`);
  commentator = ws;
  ws.on('message', (data) => {
    let m;
    try { m = JSON.parse(data.toString()); } catch { return; }
    if (m.type === 'event' && m.event && /^\d{13}$/.test(String(m.event.item || ''))) itemLat.push(Date.now() - Number(m.event.item));
  });
  ws.on('error', () => {});
  ws.on('close', () => { if (!stopping) setTimeout(connectCommentator, 1000); });
}

async function main() {
  for (let k = 0; k < N; k++) {
    const c = makeClient(k);
    clients.push(c);
    c.connect();
    if (k % 100 === 99) await new Promise((r) => setTimeout(r, 100));
  }
  connectCommentator();
  process.send({ type: 'ready', opened });
}

process.on('message', (msg) => {
  if (msg.type === 'ids') {
    for (const id of msg.ids) idIndex.set(id, written++);
  } else if (msg.type === 'sample') {
    let missed = 0, dups = 0, pending = 0, behind = 0;
    const lastKnown = written - 1;
    for (const c of clients) {
      settle(c);
      missed += c.missed; dups += c.dups; pending += c.segs.length > 1 ? 1 : 0;
      const li = c.lastId ? idIndex.get(c.lastId) : undefined;
      if (li === undefined || li < lastKnown - 10) behind++;
    }
    const il = itemLat.splice(0).sort((a, b) => a - b);
    process.send({
      type: 'sample', connected, opened, drops, reconnects, snapshots, messages, badJson, closeCodes,
      lat_n: histN, lat_p50: percentile(0.5), lat_p99: percentile(0.99), lat_max: histN ? Math.round(latMax) : NaN,
      item_p50: il.length ? il[Math.floor(il.length / 2)] : NaN, item_p99: il.length ? il[Math.min(il.length - 1, Math.floor(il.length * 0.99))] : NaN,
      missed, dups, behind, written,
    });
    hist.fill(0); histN = 0; latMax = 0;
  } else if (msg.type === 'stop') {
    stopping = true;
    for (const c of clients) { try { c.ws.terminate(); } catch {} }
    try { commentator.terminate(); } catch {}
    setTimeout(() => process.exit(0), 200);
  }
});
process.on('disconnect', () => process.exit(0));
main();
