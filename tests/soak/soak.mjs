// The soak: a contest node running for SOAK_MINUTES (default 120) the way a
// contest day runs it, with faults on a schedule, sampled all along.
//
//   8 stations (3 udp:// fed by ffmpeg pushers, 5 test://), hls + record +
//   rtmp (to an nginx-rtmp "CDN") outputs, a judges' writer at ~5 events/s
//   through Redis, SOAK_CLIENTS (2,000) WebSocket viewers on /scores and a
//   commentator on /commentary (in a forked process: clients.mjs).
//   Faults: one feed killed for 5 s every SOAK_FEED_EVERY_S, Redis killed
//   for 10 s every SOAK_REDIS_EVERY_S, the CDN (nginx) killed for 10 s every
//   SOAK_CDN_EVERY_S (defaults 10/15/20 min; 60/75/90 s when SOAK_MINUTES<10).
//   A sampler every 60 s (10 s when SOAK_MINUTES < 10): RSS, CPU%, fds,
//   threads, program fps, late frames, WS clients, delivery latency
//   p50/p99, deltas missed, events applied, A/V offset of the HLS output.
//
// Writes SOAK_OUT_DIR (docs/soak)/soak-<timestamp>.{csv,md} and -rss/-memory/-fps/
// -latency PNG plots (gnuplot). Exits non-zero if a target is missed.
//
// Program settings: SOAK_WIDTH x SOAK_HEIGHT @ SOAK_FPS, SOAK_PRESET
// (default 1280x720 @ 30, veryfast: the contest's settings).
import { fork, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { harness, startRedis, startNginxRtmp, freePort, freeUdpPort, contestYaml, writeConfig, BIN, http,
  getJson, metrics, metricValue, waitHealthy, waitFor, sleep, startUdpPusher, rssKiB, rssBreakdown, fdCount, cpuTicks,
  threadCount, makeWriter, foldExpected, run } from '../faults/lib.mjs';

const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? Number(process.env[k]) : d);
const MINUTES = env('SOAK_MINUTES', 120);
const SHORT = MINUTES < 10;
const CLIENTS = env('SOAK_CLIENTS', 2000);
const WIDTH = env('SOAK_WIDTH', 1280), HEIGHT = env('SOAK_HEIGHT', 720), FPS = env('SOAK_FPS', 30);
const PRESET = process.env.SOAK_PRESET || 'veryfast';
const BITRATE = env('SOAK_BITRATE_KBPS', 1500);
const SAMPLE_S = env('SOAK_SAMPLE_S', SHORT ? 10 : 60);
const FEED_EVERY = env('SOAK_FEED_EVERY_S', SHORT ? 60 : 600);
const REDIS_EVERY = env('SOAK_REDIS_EVERY_S', SHORT ? 75 : 900);
const CDN_EVERY = env('SOAK_CDN_EVERY_S', SHORT ? 90 : 1200);
const FEED_DOWN_MS = 5000, REDIS_DOWN_MS = 10000, CDN_DOWN_MS = 10000;
const RECOVERY_MS = 5000; // after a fault window, samples still count as "fault"
// 5/s: a busy contest day (10 trades, judges scoring as tasks finish); it
// also fills the 10,000-entry resume history in ~33 min, after which the
// node's memory is judged.
const EVENTS_PER_S = env('SOAK_EVENTS_PER_S', 5);
const HISTORY_ENTRIES = 10000; // the node's resume history (scoreboard/, SC_CONTEST_HISTORY)
const fmtMin = (t_s) => (t_s / 60).toFixed(1);
const SRC = process.env.SC_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const OUT_DIR = process.env.SOAK_OUT_DIR || path.join(SRC, 'docs/soak');

const h = harness('soak');
const contestId = 'soak';
const key = `skillcast:${contestId}:events`;
const STATIONS = ['A01', 'A02', 'A03', 'A04', 'A05', 'A06', 'A07', 'A08'];
const UDP_STATIONS = ['A01', 'A04', 'A07'];
const NAMES = ['张伟', '李娜', '王芳', '刘洋', '陈静', '杨磊', '赵敏', '黄强'];
let node, nginx, redis, clientsProc;
const faults = []; // {kind, start, end, ...figures}
const samples = [];

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
const t0 = Date.now();
const tRel = (t) => (t - t0) / 1000;

// ---- the judges ----
function judgeEvent(i) {
  const station = STATIONS[(i * 3) % STATIONS.length];
  const r = i % 20;
  if (r === 19) return { type: 'clock', state: 'running', remaining_ms: String(Math.max(0, 4 * 3600 * 1000 - i * 500)) };
  if (r === 13) return { type: 'announce', text: `第${i}号公告`, ttl_ms: '8000' };
  if (r === 7 || r === 15) return { type: 'penalty', station, points: '0.5', reason: '安全规范' };
  if (r === 3) return { type: 'status', station, state: ['working', 'paused', 'working', 'finished'][(i >> 2) % 4] };
  // The publish time rides in `item` (the commentator reads it back).
  return { type: 'score', station, total: (60 + ((i * 7) % 80) / 2).toFixed(1), judge: `J${i % 5}`, item: String(Date.now()) };
}

// ---- faults ----
async function stationState(port, id) { const s = await getJson(port, '/api/stations'); return s ? s.find((x) => x.id === id)?.state : null; }
// A lost feed shows `lost`, then `connecting` (with last_error) while the
// listener waits again: either counts as the loss being noticed.
async function stationDown(port, id) { const s = await getJson(port, '/api/stations'); const r = s && s.find((x) => x.id === id); return !!r && r.state !== 'live' && (r.state === 'lost' || !!r.last_error); }
async function outputState(port, id) { const o = await getJson(port, '/api/outputs'); return o ? o.find((x) => x.id === id) : null; }

const pushers = {};
let feedTurn = 0;
async function faultFeed(port, udpPorts) {
  const id = UDP_STATIONS[feedTurn++ % UDP_STATIONS.length];
  const f = { kind: 'feed', target: id, start: Date.now() };
  faults.push(f);
  await h.kill(pushers[id], 'SIGKILL');
  const lost = await waitFor(() => stationDown(port, id), 5000, 20);
  f.lost_ms = lost ? Date.now() - f.start : null;
  await sleep(Math.max(0, FEED_DOWN_MS - (Date.now() - f.start)));
  const tBack = Date.now();
  pushers[id] = startUdpPusher(h, udpPorts[id], { name: `pusher-${id}-${feedTurn}`, size: '640x360', fps: 25 });
  const live = await waitFor(async () => (await stationState(port, id)) === 'live', 15000, 50);
  f.live_ms = live ? Date.now() - tBack : null;
  f.end = Date.now();
  console.log(`fault feed ${id}: lost after ${f.lost_ms} ms, live ${f.live_ms} ms after the pusher restart`);
}
async function faultRedis(port, writer) {
  const f = { kind: 'redis', start: Date.now() };
  faults.push(f);
  await redis.kill();
  const down = await waitFor(async () => (await http(port, '/healthz')).status === 503, 5000, 50);
  f.down_ms = down ? Date.now() - f.start : null;
  await sleep(Math.max(0, REDIS_DOWN_MS - (Date.now() - f.start)));
  const tBack = Date.now();
  await redis.restart();
  const up = await waitFor(async () => (await http(port, '/healthz')).status === 200, 20000, 50);
  f.up_ms = up ? Date.now() - tBack : null;
  f.end = Date.now();
  console.log(`fault redis: /healthz 503 after ${f.down_ms} ms, 200 ${f.up_ms} ms after the restart (writer retried ${writer.failures} times so far)`);
}
async function faultCdn(port) {
  const f = { kind: 'cdn', start: Date.now() };
  faults.push(f);
  const before = (await outputState(port, 'cdn'))?.reconnects || 0;
  await nginx.kill();
  const away = await waitFor(async () => (await outputState(port, 'cdn'))?.state !== 'running', 5000, 50);
  f.away_ms = away ? Date.now() - f.start : null;
  await sleep(Math.max(0, CDN_DOWN_MS - (Date.now() - f.start)));
  const tBack = Date.now();
  await nginx.restart();
  const back = await waitFor(async () => (await outputState(port, 'cdn'))?.state === 'running', 40000, 50);
  f.running_ms = back ? Date.now() - tBack : null;
  f.reconnects = ((await outputState(port, 'cdn'))?.reconnects || 0) - before;
  f.end = Date.now();
  console.log(`fault cdn: output left running after ${f.away_ms} ms, running ${f.running_ms} ms after nginx came back (${f.reconnects} reconnects)`);
}
const inFault = (a, b) => faults.some((f) => a <= (f.end || Date.now()) + RECOVERY_MS && b >= f.start);

// ---- A/V offset of the newest complete HLS segment ----
// (When the HLS output has nothing to show, the CDN's RTMP stream is
// probed instead: first audio vs first video timestamp of a fresh pull.)
async function avOffsetMs(hlsDir, rtmpUrl) {
  let pl = '';
  try { pl = readFileSync(path.join(hlsDir, 'index.m3u8'), 'utf8'); } catch {}
  const segs = pl.split('\n').filter((l) => l.endsWith('.ts'));
  const src = segs.length ? path.join(hlsDir, segs[segs.length - 1]) : rtmpUrl;
  const r = await run('ffprobe', ['-v', 'error', '-rw_timeout', '4000000', '-analyzeduration', '2000000', '-show_entries', 'stream=codec_type,start_time', '-of', 'json', src], 10000);
  const where = segs.length ? 'HLS' : 'HLS has no segment; RTMP';
  try {
    const s = JSON.parse(r.stdout).streams || [];
    const v = s.find((x) => x.codec_type === 'video'), a = s.find((x) => x.codec_type === 'audio');
    if (!v || !a) return { v: NaN, why: `${where}: ${a ? 'no video stream' : v ? 'no audio stream in the program' : 'nothing to probe'}` };
    return { v: Math.round((Number(a.start_time) - Number(v.start_time)) * 1000), why: '' };
  } catch { return { v: NaN, why: `${where}: ffprobe failed` }; }
}

// ---- sampler ----
function askClients() {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), 5000);
    clientsProc.once('message', function on(m) { if (m.type === 'sample') { clearTimeout(t); resolve(m); } else clientsProc.once('message', on); });
    clientsProc.send({ type: 'sample' });
  });
}
let prev = null, prevMetrics = null;
async function sample(port, hlsDir, writer) {
  const rtmpUrl = `${nginx.url}/program`;
  const t = Date.now();
  const writtenNow = writer.written.length; // before /metrics, to compare with events_applied
  const text = await metrics(port);
  const m = (n, l) => metricValue(text, n, l);
  // Counters from /metrics; a sample whose /metrics did not answer (3 s)
  // leaves the previous reading as the base for the next one.
  const cur = { t, ticks: cpuTicks(node.pid), cticks: cpuTicks(clientsProc.pid), frames: m('skillcast_program_frames_total'), late: m('skillcast_program_late_frames_total') };
  const base = prevMetrics;
  const c = await askClients();
  const st = await getJson(port, '/api/stations') || [];
  const outs = await getJson(port, '/api/outputs') || [];
  const av = await avOffsetMs(hlsDir, rtmpUrl);
  const health = (await http(port, '/healthz')).status;
  const row = {
    t_s: Math.round(tRel(t)),
    fault: prev && inFault(prev.t, t) ? faults.filter((f) => prev.t <= (f.end || Date.now()) + RECOVERY_MS && t >= f.start).map((f) => f.kind).join('+') : '',
    rss_kib: rssKiB(node.pid), ...Object.fromEntries(Object.entries(rssBreakdown(node.pid)).map(([k, v]) => [`rss_${k}_kib`, v])), cpu_pct: prev ? +((cur.ticks - prev.ticks) / ((t - prev.t) / 1000)).toFixed(1) : NaN,
    clients_cpu_pct: prev ? +((cur.cticks - prev.cticks) / ((t - prev.t) / 1000)).toFixed(1) : NaN,
    fds: fdCount(node.pid), threads: threadCount(node.pid),
    dt_s: base ? +((t - base.t) / 1000).toFixed(1) : NaN,
    fps: base && !Number.isNaN(cur.frames) ? +((cur.frames - base.frames) / ((t - base.t) / 1000)).toFixed(2) : NaN,
    late_frames: base && !Number.isNaN(cur.late) ? cur.late - base.late : NaN,
    metrics_ok: text ? 1 : 0,
    ws_connected: c ? c.connected : NaN, ws_metric: m('skillcast_ws_clients', { endpoint: 'scores' }),
    lat_p50_ms: c ? c.lat_p50 : NaN, lat_p99_ms: c ? c.lat_p99 : NaN, lat_max_ms: c ? c.lat_max : NaN, lat_n: c ? c.lat_n : NaN,
    item_p50_ms: c ? c.item_p50 : NaN,
    deltas_missed: c ? c.missed : NaN, deltas_dup: c ? c.dups : NaN, ws_drops: c ? c.drops : NaN,
    events_written: writtenNow, events_applied: m('skillcast_events_applied_total'),
    redis_up: m('skillcast_redis_up'), healthz: health,
    stations_live: st.filter((s) => s.state === 'live').length, outputs_running: outs.filter((o) => o.state === 'running').length,
    av_offset_ms: av.v, load1: +os.loadavg()[0].toFixed(2),
    // app/memory.c: what the once-a-minute malloc_trim handed back so far.
    trims: m('skillcast_malloc_trims_total'), trim_released_kib: Math.round(m('skillcast_malloc_trim_released_bytes_total') / 1024),
  };
  row.av_why = av.why;
  samples.push(row);
  prev = cur;
  if (!Number.isNaN(cur.frames)) prevMetrics = cur;
  console.log(`[${(row.t_s / 60).toFixed(1)} min] rss ${(row.rss_kib / 1024).toFixed(1)} MiB cpu ${row.cpu_pct}% (viewers ${row.clients_cpu_pct}%) fds ${row.fds} fps ${row.fps} late ${row.late_frames} ws ${row.ws_connected}/${row.ws_metric} lat p50 ${row.lat_p50_ms} p99 ${row.lat_p99_ms} ms missed ${row.deltas_missed} ev ${row.events_applied}/${row.events_written} live ${row.stations_live}/8 outs ${row.outputs_running}/3 av ${Number.isNaN(row.av_offset_ms) ? av.why : row.av_offset_ms + ' ms'} load ${row.load1}${row.fault ? ' [' + row.fault + ']' : ''}`);
}

// ---- report ----
const COLS = ['t_s', 'dt_s', 'fault', 'rss_kib', 'cpu_pct', 'clients_cpu_pct', 'fds', 'threads', 'fps', 'late_frames', 'ws_connected', 'ws_metric', 'lat_p50_ms', 'lat_p99_ms', 'lat_max_ms', 'lat_n', 'item_p50_ms', 'deltas_missed', 'deltas_dup', 'ws_drops', 'events_written', 'events_applied', 'redis_up', 'healthz', 'stations_live', 'outputs_running', 'av_offset_ms', 'load1', 'metrics_ok', 'trims', 'trim_released_kib', 'rss_heap_kib', 'rss_arenas_kib', 'rss_anon_kib', 'rss_file_kib'];
const cell = (v) => (typeof v === 'number' && Number.isNaN(v) ? '' : String(v));
function slopePerHour(points) { // least squares, x in hours
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p[0], 0) / n, my = points.reduce((a, p) => a + p[1], 0) / n;
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0), sxy = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  return sxx ? sxy / sxx : NaN;
}
function plots(base) {
  const csv = `${base}.csv`;
  const rects = faults.map((f) => `set object rect from ${(tRel(f.start) / 60).toFixed(3)}, graph 0 to ${(tRel(f.end || Date.now()) / 60).toFixed(3)}, graph 1 fc rgb '${{ feed: '#ffe0b0', redis: '#ffc0c0', cdn: '#c0d8ff' }[f.kind]}' fs solid 0.6 noborder behind`).join('\n');
  const common = `set terminal pngcairo size 960,360 font 'sans,9'\nset datafile separator ','\nset key bottom right opaque\nset grid\nset xlabel 'minutes (shaded: fault windows; orange feed, red Redis, blue CDN)'\n${rects}\n`;
  const col = (n) => COLS.indexOf(n) + 1;
  const scripts = {
    rss: `set output '${base}-rss.png'\nset ylabel 'MiB'\nset title 'skillcast RSS'\nplot '${csv}' every ::1 using ($1/60):($${col('rss_kib')}/1024) with linespoints pt 7 ps 0.4 title 'RSS'`,
    memory: `set output '${base}-memory.png'\nset ylabel 'MiB'\nset title 'where the RSS is'\nplot '${csv}' every ::1 using ($1/60):($${col('rss_heap_kib')}/1024) with lines title 'main malloc heap', '' every ::1 using ($1/60):($${col('rss_arenas_kib')}/1024) with lines title 'other malloc arenas', '' every ::1 using ($1/60):($${col('rss_anon_kib')}/1024) with lines title 'other anonymous', '' every ::1 using ($1/60):($${col('rss_file_kib')}/1024) with lines title 'file-backed'`,
    fps: `set output '${base}-fps.png'\nset ylabel 'frames/s'\nset title 'program frame rate (configured ${FPS})'\nset yrange [0:${Math.ceil(FPS * 1.2)}]\nplot '${csv}' every ::1 using ($1/60):${col('fps')} with linespoints pt 7 ps 0.4 title 'program fps', ${FPS} with lines dt 2 title 'configured', '${csv}' every ::1 using ($1/60):${col('late_frames')} with impulses title 'late frames'`,
    latency: `set output '${base}-latency.png'\nset ylabel 'ms'\nset title 'score delivery latency, judges XADD -> ${CLIENTS} viewers'\nset logscale y\nplot '${csv}' every ::1 using ($1/60):${col('lat_p50_ms')} with linespoints pt 7 ps 0.4 title 'p50', '' every ::1 using ($1/60):${col('lat_p99_ms')} with linespoints pt 7 ps 0.4 title 'p99', '' every ::1 using ($1/60):${col('lat_max_ms')} with lines dt 3 title 'max'`,
  };
  for (const [name, body] of Object.entries(scripts)) {
    const r = spawnSync('gnuplot', [], { input: common + body + '\n', encoding: 'utf8' });
    if (r.status !== 0) console.log(`gnuplot ${name}: ${r.stderr || r.error}`);
  }
}

async function main() {
  console.log(`soak: ${MINUTES} min, ${CLIENTS} viewers, program ${WIDTH}x${HEIGHT} @ ${FPS} ${PRESET}, sample every ${SAMPLE_S} s, faults: feed every ${FEED_EVERY} s, Redis every ${REDIS_EVERY} s, CDN every ${CDN_EVERY} s`);
  redis = await startRedis(h, { appendonly: true });
  nginx = await startNginxRtmp(h);
  const port = await freePort();
  const udpPorts = {};
  for (const id of UDP_STATIONS) { udpPorts[id] = await freeUdpPort(); pushers[id] = startUdpPusher(h, udpPorts[id], { name: `pusher-${id}`, size: '640x360', fps: 25 }); }
  const hlsDir = path.join(h.dir, 'hls');
  const patterns = ['smpte', 'ball', 'snow', 'colors', 'pinwheel'];
  const cfg = writeConfig(h, contestYaml({
    contestId, redisUrl: redis.url, port, width: WIDTH, height: HEIGHT, fps: FPS, preset: PRESET, bitrateKbps: BITRATE, keyintS: 2,
    stations: STATIONS.map((id, k) => ({ id, name: NAMES[k], source: UDP_STATIONS.includes(id) ? `udp://:${udpPorts[id]}` : `test://${patterns[k % patterns.length]}` })),
    outputs: [`{ id: hls, type: hls, dir: "${hlsDir}", segment_s: 2 }`, `{ id: rec, type: record, dir: "${path.join(h.dir, 'rec')}", split_min: 30 }`, `{ id: cdn, type: rtmp, url: "${nginx.url}/program" }`],
  }));
  node = h.start(BIN, ['run', cfg], 'node', { env: { GST_DEBUG: 'sc-*:2' } });
  h.check(await waitHealthy(port, 30000), 'node is up');
  const allLive = await waitFor(async () => { const s = await getJson(port, '/api/stations'); return s && s.filter((x) => x.state === 'live').length === 8; }, 20000, 200);
  h.check(allLive, 'all 8 stations live (3 udp:// pushers, 5 test://)');

  // Viewers.
  clientsProc = fork(path.join(path.dirname(new URL(import.meta.url).pathname), 'clients.mjs'), [], { env: { ...process.env, SOAK_PORT: String(port), SOAK_CLIENTS: String(CLIENTS) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  clientsProc.on('error', () => {});
  await new Promise((r) => clientsProc.once('message', r));
  const connected = await waitFor(async () => (await metric2(port)) >= CLIENTS, 60000, 500);
  h.check(connected, `${CLIENTS} viewers connected to /scores`);

  // Judges: ~EVENTS_PER_S, paced by wall clock so an outage is caught up.
  let idBatch = [];
  const writer = makeWriter(redis.port, key, (e) => idBatch.push(e.id));
  const flushIds = setInterval(() => { if (idBatch.length) { clientsProc.send({ type: 'ids', ids: idBatch }); idBatch = []; } }, 250);
  let writing = true, nEvents = 0;
  const judges = (async () => {
    await writer.write({ type: 'clock', state: 'running', remaining_ms: String(4 * 3600 * 1000) });
    while (writing) {
      await writer.write(judgeEvent(nEvents++));
      await sleep(Math.max(10, 1000 / EVENTS_PER_S * (0.5 + Math.random())));
    }
  })();

  // Faults on their schedules (first one a third of a period in), one at a time.
  let faultChain = Promise.resolve();
  const timers = [];
  const schedule = (every, offset, fn) => {
    for (let t = offset; t < MINUTES * 60 - 20; t += every) timers.push(setTimeout(() => { faultChain = faultChain.then(fn).catch((e) => console.log('fault error: ' + e)); }, t * 1000));
  };
  schedule(FEED_EVERY, FEED_EVERY / 3, () => faultFeed(port, udpPorts));
  schedule(REDIS_EVERY, (REDIS_EVERY * 3) / 5, () => faultRedis(port, writer));
  schedule(CDN_EVERY, (CDN_EVERY * 2) / 3, () => faultCdn(port));

  // Sampler.
  const tFirst = Date.now();
  const endAt = tFirst + MINUTES * 60000;
  await sample(port, hlsDir, writer);
  while (Date.now() + SAMPLE_S * 1000 <= endAt + 1000) {
    await sleep(Math.max(0, tFirst + samples.length * SAMPLE_S * 1000 - Date.now()));
    await sample(port, hlsDir, writer);
  }
  for (const t of timers) clearTimeout(t);
  await faultChain;
  writing = false;
  await judges;
  writer.close();
  await sleep(500);
  clearInterval(flushIds);
  if (idBatch.length) clientsProc.send({ type: 'ids', ids: idBatch });

  // Convergence: every event applied once, standings equal the fold.
  const lastId = writer.written[writer.written.length - 1].id;
  const snap = await waitFor(async () => { const s = await getJson(port, '/api/state'); return s && s.id === lastId ? s : null; }, 20000, 200);
  h.check(!!snap, `the node applied the last event written (${lastId})`);
  const exp = foldExpected(writer.written);
  const wrong = STATIONS.filter((id) => { const r = snap && snap.stations.find((x) => x.id === id); const e = exp[id]; return !r || !e || r.total !== e.total || Math.abs(r.penalties - e.penalties) > 1e-6; });
  h.check(wrong.length === 0, `standings equal the fold of all ${writer.written.length} events written${wrong.length ? ' (wrong: ' + wrong.join(',') + ')' : ''}`);
  await sleep(1000);
  await sample(port, hlsDir, writer); // final figures incl. missed deltas
  const applied = samples[samples.length - 1].events_applied;
  h.check(applied === writer.written.length, `skillcast_events_applied_total ${applied} = events written ${writer.written.length}`);
  clientsProc.send({ type: 'stop' });
  clientsProc.stopped = true;

  // ---- verdicts ----
  const body = samples.slice(1);
  const fin = (a) => a.filter((v) => typeof v === 'number' && Number.isFinite(v));
  // Judged on full sample intervals: the last, short one (after the
  // convergence wait) has ±1 frame over ~2 s of jitter.
  const clean = body.filter((s) => !s.fault && Number.isFinite(s.fps) && s.dt_s >= SAMPLE_S * 0.8);
  const minFps = clean.length ? Math.min(...clean.map((s) => s.fps)) : NaN;
  const fpsOk = clean.length > 0 && clean.every((s) => s.fps >= FPS * 0.98);
  const warm = Math.min(MINUTES * 60 * 0.1, 600);
  // The node's bounded buffers fill at the event rate: the resume history
  // (HISTORY_ENTRIES applied entries, ~1 KiB each) takes 83 min at 2
  // events/s, the WebSocket rings (1 MiB each) ~15 min. Growth while they
  // fill is bounded by design; a leak is growth after they are full. So
  // the judged slope starts when the history is full, if that leaves at
  // least 30 min of the run; otherwise after the warm-up.
  const fullAt = body.find((s) => s.events_applied >= HISTORY_ENTRIES)?.t_s;
  const judgeFrom = fullAt !== undefined && MINUTES * 60 - fullAt >= 1800 ? Math.max(fullAt, warm) : warm;
  const slopeFrom = (t0) => slopePerHour(body.filter((s) => s.t_s >= t0 && s.rss_kib > 0).map((s) => [s.t_s / 3600, s.rss_kib / 1024]));
  const rssSlope = slopeFrom(judgeFrom);
  const partSlope = (k) => slopePerHour(body.filter((s) => s.t_s >= judgeFrom && s[`rss_${k}_kib`] >= 0).map((s) => [s.t_s / 3600, s[`rss_${k}_kib`] / 1024]));
  const rssSlopeWarm = slopeFrom(warm);
  const rssWindow = judgeFrom > warm ? `from ${fmtMin(judgeFrom)} min, when the resume history was full (${HISTORY_ENTRIES} entries); ${rssSlopeWarm.toFixed(2)} MiB/hour after the ${fmtMin(warm)} min warm-up, while it filled` : `after ${fmtMin(warm)} min warm-up`;
  const avs = body.map((s) => s.av_offset_ms).filter((v) => !Number.isNaN(v));
  const avWhy = [...new Set(body.filter((s) => Number.isNaN(s.av_offset_ms)).map((s) => s.av_why))].join('; ');
  const last = samples[samples.length - 1];
  const p50s = body.map((s) => s.lat_p50_ms).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const p99s = body.map((s) => s.lat_p99_ms).filter((v) => !Number.isNaN(v));
  h.check(fpsOk, `program fps never below ${FPS} (-2 %) outside fault windows (lowest ${minFps} over ${clean.length} clean samples)`);
  if (MINUTES >= 30) h.check(rssSlope < 1, `RSS growth ${rssSlope.toFixed(2)} MiB/hour < 1 MiB/hour (${rssWindow})`);
  else h.note(`RSS slope ${rssSlope.toFixed(2)} MiB/hour over a ${MINUTES} min run: not judged (needs >= 30 min)`);
  if (avs.length) h.check(avs.every((v) => Math.abs(v) <= 40), `A/V offset within ±40 ms (${Math.min(...avs)}..${Math.max(...avs)} ms over ${avs.length} samples)`);
  else h.check(false, `A/V offset measurable from the HLS segments (not measured: ${avWhy})`);
  h.check(last.deltas_missed === 0 && last.deltas_dup === 0, `viewers missed no delta and saw none twice (missed ${last.deltas_missed}, duplicated ${last.deltas_dup})`);
  h.check(node.alive, 'node never exited');

  // ---- report ----
  mkdirSync(OUT_DIR, { recursive: true });
  const base = path.join(OUT_DIR, `soak-${stamp}`);
  writeFileSync(`${base}.csv`, COLS.join(',') + '\n' + samples.map((s) => COLS.map((c) => cell(s[c])).join(',')).join('\n') + '\n');
  plots(base);
  const fmt = (v, d = 0) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : Number(v).toFixed(d));
  const byKind = (k) => faults.filter((f) => f.kind === k);
  const rng = (a0) => { const a = fin(a0); return a.length ? `${Math.min(...a)}–${Math.max(...a)}` : 'n/a'; };
  const md = `# Soak ${stamp}

${MINUTES} min${SHORT ? ' (short check run; the contest soak is `make soak`, 120 min)' : ''}, \`skillcast run\` on ${spawnSync('nproc').stdout.toString().trim()} cores (machine load average 1 min: ${rng(body.map((s) => s.load1))} during the run; it is in the CSV).
Program ${WIDTH}x${HEIGHT} @ ${FPS} fps, x264 ${PRESET}, ${BITRATE} kbit/s; 8 stations (3 udp:// ffmpeg pushers 640x360@25, 5 test://);
outputs hls (2 s segments), record (fMP4), rtmp to nginx-rtmp; judges writing ~${EVENTS_PER_S} events/s through Redis (appendonly);
${CLIENTS} WebSocket viewers on /scores + 1 commentator. Sample every ${SAMPLE_S} s: [CSV](soak-${stamp}.csv).

## Targets

| target | result | |
|---|---|---|
| RSS growth < 1 MiB/hour | ${fmt(rssSlope, 2)} MiB/hour (least squares ${rssWindow}; ${fmt(samples[1]?.rss_kib / 1024, 1)} → ${fmt(last.rss_kib / 1024, 1)} MiB) | ${MINUTES >= 30 ? (rssSlope < 1 ? 'pass' : '**FAIL**') : 'not judged: run < 30 min'} |
| program fps never below ${FPS} outside fault windows | lowest ${fmt(minFps, 2)} fps over ${clean.length} clean samples (fps = frames counter delta / sample interval; ±1 frame of jitter per sample); late frames total ${body.reduce((a, s) => a + (Number.isNaN(s.late_frames) ? 0 : s.late_frames), 0)} | ${fpsOk ? 'pass' : '**FAIL**'} |
| A/V within ±40 ms | ${avs.length ? `${Math.min(...avs)} .. ${Math.max(...avs)} ms (audio start − video start of the newest HLS segment)` : `not measured: ${avWhy}`} | ${avs.length ? (avs.every((v) => Math.abs(v) <= 40) ? 'pass' : '**FAIL**') : '**not measured**'} |
| every event applied once | ${applied} applied / ${writer.written.length} written; standings = fold: ${wrong.length ? 'no' : 'yes'} | ${applied === writer.written.length && !wrong.length ? 'pass' : '**FAIL**'} |
| no delta missed by viewers | missed ${last.deltas_missed}, duplicated ${last.deltas_dup}, drops ${last.ws_drops} | ${last.deltas_missed === 0 && last.deltas_dup === 0 ? 'pass' : '**FAIL**'} |

## Figures

- RSS ${rng(body.map((s) => +(s.rss_kib / 1024).toFixed(1)))} MiB; fds ${rng(body.map((s) => s.fds))}; threads ${rng(body.map((s) => s.threads))}; CPU ${fmt(fin(body.map((s) => s.cpu_pct)).reduce((a, v) => a + v, 0) / Math.max(1, fin(body.map((s) => s.cpu_pct)).length), 0)} % average (100 % = one core), max ${fmt(Math.max(...fin(body.map((s) => s.cpu_pct))), 0)} %; the viewers' process ${rng(body.map((s) => s.clients_cpu_pct))} %; /metrics unanswered within 3 s in ${body.filter((s) => !s.metrics_ok).length} of ${body.length} samples.
- Where the RSS growth is, least squares over the same window (MiB/hour): ${['heap', 'arenas', 'anon', 'file'].map((k) => `${k} ${fmt(partSlope(k), 2)}`).join(', ')} (heap = main malloc heap; arenas = the other malloc arenas; anon = other anonymous mappings: large malloc chunks, thread stacks; file = code and fonts).
- Memory handed back by the node's once-a-minute malloc_trim (app/memory.c): ${fmt((last.trim_released_kib || 0) / 1024, 1)} MiB over ${last.trims ?? 0} trims.
- Program fps ${rng(body.map((s) => s.fps))} (all samples, faults included).
- Delivery latency judges → viewers (XADD time → receive): p50 per sample ${rng(p50s)} ms (median ${p50s.length ? p50s[Math.floor(p50s.length / 2)] : 'n/a'}), p99 per sample ${rng(p99s)} ms; commentator cross-check (\`item\` = Date.now() when the judge created the event, so it includes the writer's retries through a Redis outage) p50 ${rng(body.map((s) => s.item_p50_ms).filter((v) => !Number.isNaN(v)))} ms.
- Events applied lagging behind events written, per sample: ${rng(body.map((s) => s.events_written - s.events_applied))} events.
- Viewers connected ${rng(body.map((s) => s.ws_connected))} (server's skillcast_ws_clients ${rng(body.map((s) => s.ws_metric).filter((v) => !Number.isNaN(v)))}).
- Faults (${faults.length}):
  - feed killed 5 s (${byKind('feed').length}×): lost after ${rng(byKind('feed').map((f) => f.lost_ms).filter((v) => v !== null))} ms, live ${rng(byKind('feed').map((f) => f.live_ms).filter((v) => v !== null))} ms after the pusher restart${byKind('feed').some((f) => f.lost_ms === null || f.live_ms === null) ? ' (**some never changed state**)' : ''}.
  - Redis killed 10 s (${byKind('redis').length}×): /healthz 503 after ${rng(byKind('redis').map((f) => f.down_ms).filter((v) => v !== null))} ms, 200 ${rng(byKind('redis').map((f) => f.up_ms).filter((v) => v !== null))} ms after the restart.
  - CDN (nginx) killed 10 s (${byKind('cdn').length}×): output left running after ${rng(byKind('cdn').map((f) => f.away_ms).filter((v) => v !== null))} ms, running ${rng(byKind('cdn').map((f) => f.running_ms).filter((v) => v !== null))} ms after nginx came back${byKind('cdn').some((f) => f.running_ms === null) ? ' (**some never came back within 40 s**)' : ''}; reconnects ${byKind('cdn').map((f) => f.reconnects).join(', ')}.

![RSS](soak-${stamp}-rss.png)
![where the RSS is](soak-${stamp}-memory.png)
![fps](soak-${stamp}-fps.png)
![latency](soak-${stamp}-latency.png)

## Checks

${h.results.map((r) => `- ${r}`).join('\n')}
`;
  writeFileSync(`${base}.md`, md);
  console.log(`report: ${base}.md`);
}

async function metric2(port) { return metricValue(await metrics(port), 'skillcast_ws_clients', { endpoint: 'scores' }); }

try { await main(); } catch (e) { h.check(false, e.stack || String(e)); }
if (clientsProc && clientsProc.exitCode === null) {
  if (!clientsProc.stopped) { try { clientsProc.send({ type: 'stop' }); } catch {} }
  await Promise.race([new Promise((r) => clientsProc.once('exit', r)), sleep(3000)]);
  if (clientsProc.exitCode === null) clientsProc.kill('SIGKILL');
}
await h.finish([node]);
