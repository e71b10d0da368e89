// 1,000 operator commands in ~20 s over 60 parallel /control connections:
// layouts (grid/focus/pip/sbs/single), fades 0–300 ms, overlay toggles, and
// stop/start of the HLS output. What a user notices: every command is
// answered; the node never locks up (/healthz answers, the program keeps
// its frame rate); memory and file descriptors come back to where they
// were. The 20 requests/s per connection limit is exercised on purpose by
// one connection bursting 30 at once: the node answers those with
// {"ok":false,"error":"rate limited"} and the console retries them.
import path from 'node:path';
import WebSocket from 'ws';
import { harness, startRedis, freePort, contestYaml, writeConfig, BIN, http, getJson, waitHealthy,
  waitFor, sleep, rssKiB, fdCount, frameWatch, SANITIZED } from './lib.mjs';

const h = harness('control-storm');
const N = Number(process.env.SC_STORM_COMMANDS || 1000);
const CONNS = Number(process.env.SC_STORM_CONNECTIONS || 60);
const SPREAD_MS = Number(process.env.SC_STORM_SPREAD_MS || 18000);
const FPS = 10;
const STATIONS = ['A01', 'A02', 'A03', 'A04'];
let node;

function command(i) {
  const st = (k) => STATIONS[(i + k) % STATIONS.length];
  const r = i % 20;
  if (r < 7) {
    const name = ['grid', 'focus', 'pip', 'sbs', 'single', 'focus', 'grid'][r];
    const args = { name };
    if (name === 'focus' || name === 'pip' || name === 'single') args.station = st(0);
    if (name === 'sbs') args.stations = [st(0), st(1)];
    return { cmd: 'layout', args };
  }
  if (r < 12) return { cmd: 'transition', args: r === 11 ? { type: 'cut', ms: 0 } : { type: 'fade', ms: (i * 37) % 301 } };
  if (r < 17) return { cmd: 'overlay', args: { name: ['scoreboard', 'clock', 'lowerthird', 'leaderboard', 'live'][r - 12], visible: (i >> 3) % 2 === 0 } };
  return { cmd: 'output', args: { id: 'hls', action: r === 19 ? 'start' : 'stop' } };
}

// One operator console: opens /control, sends its commands on SCHEDULE
// (ms offsets), resends rate-limited ones after a second.
function consoleConn(port, cmds, schedule, stats) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/control?token=op-secret`);
    const pending = new Map();
    let done = 0;
    const send = (c) => { c.sentAt = Date.now(); c.sends++; ws.send(JSON.stringify({ id: c.id, cmd: c.cmd, args: c.args })); };
    const finish = () => { ws.close(); resolve(); };
    ws.on('open', () => {
      stats.opened++;
      cmds.forEach((c, k) => { pending.set(c.id, c); setTimeout(() => send(c), schedule[k]); });
      if (!cmds.length) finish();
    });
    ws.on('message', (d) => {
      let m;
      try { m = JSON.parse(d.toString()); } catch { stats.garbage++; return; }
      if (m.type !== 'ack') return; // status pushes every second
      const c = pending.get(m.id);
      if (!c) { stats.unknownAcks++; return; }
      if (m.ok === false && m.error === 'rate limited') { stats.rateLimited++; setTimeout(() => send(c), 1000); return; }
      stats.latencies.push(Date.now() - c.sentAt);
      pending.delete(m.id);
      if (m.ok === true) stats.ok++; else { stats.errors++; if (stats.errorSamples.length < 5) stats.errorSamples.push(`${c.cmd} ${JSON.stringify(c.args)}: ${m.error}`); }
      if (++done === cmds.length) finish();
    });
    ws.on('error', () => { stats.connErrors++; });
    ws.on('close', (code) => { if (done < cmds.length) { stats.closedEarly++; stats.closeCodes.push(code); stats.unanswered += cmds.length - done; resolve(); } });
  });
}

const pct = (a, p) => { if (!a.length) return NaN; const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

async function main() {
  const redis = await startRedis(h, { appendonly: false });
  const port = await freePort();
  const cfg = writeConfig(h, contestYaml({
    contestId: 'fault-storm', redisUrl: redis.url, port, fps: FPS,
    stations: STATIONS.map((id, k) => ({ id, source: ['test://smpte', 'test://ball', 'test://snow', 'test://colors'][k] })),
    outputs: [`{ id: hls, type: hls, dir: "${path.join(h.dir, 'hls')}", segment_s: 1 }`],
  }));
  node = h.start(BIN, ['run', cfg], 'node', { env: { GST_DEBUG: 'sc-*:3' } });
  h.check(await waitHealthy(port, 20000), 'node is up');
  // Warm up (first pipeline builds, first WS connections) before the baseline.
  await sleep(3000);
  await Promise.all([0, 1].map((k) => consoleConn(port, [command(3), command(7), command(19)].map((c, j) => ({ ...c, id: `warm${k}-${j}`, sends: 0 })), [0, 100, 200], { opened: 0, ok: 0, errors: 0, rateLimited: 0, latencies: [], errorSamples: [], closeCodes: [] })));
  await sleep(1500);
  const rss0 = rssKiB(node.pid), fd0 = fdCount(node.pid);
  h.note(`baseline: RSS ${(rss0 / 1024).toFixed(1)} MiB, ${fd0} fds`);

  const frames = frameWatch(port, 250);
  const health = { n: 0, bad: 0, maxMs: 0, running: true };
  const healthLoop = (async () => {
    while (health.running) {
      const t = Date.now();
      const r = await http(port, '/healthz', { timeout: 5000 });
      health.n++; if (r.status !== 200) health.bad++;
      health.maxMs = Math.max(health.maxMs, Date.now() - t);
      await sleep(250);
    }
  })();

  // Deal N commands over the connections; connection 0 bursts 30 at once
  // (over the 20/s limit), the others spread theirs in small bursts.
  const stats = { opened: 0, ok: 0, errors: 0, rateLimited: 0, unknownAcks: 0, garbage: 0, connErrors: 0, closedEarly: 0, unanswered: 0, latencies: [], errorSamples: [], closeCodes: [] };
  const perConn = Array.from({ length: CONNS }, () => []);
  const burst = Math.min(30, N);
  for (let i = 0; i < N; i++) {
    const c = { ...command(i), id: `s${i}`, sends: 0 };
    if (i < burst) perConn[0].push(c); else perConn[1 + ((i - burst) % (CONNS - 1))].push(c);
  }
  const schedules = perConn.map((cmds, k) => {
    if (k === 0) return cmds.map(() => 2000);
    const out = [];
    let t = Math.random() * 500;
    for (let j = 0; j < cmds.length; j++) {
      out.push(t);
      if (Math.random() < 0.6) t += 2 * SPREAD_MS / cmds.length * Math.random(); // else same burst
    }
    return out.map((x) => Math.min(x, SPREAD_MS));
  });
  const t0 = Date.now();
  await Promise.race([Promise.all(perConn.map((cmds, k) => consoleConn(port, cmds, schedules[k], stats))), sleep(SPREAD_MS + 30000)]);
  const elapsed = Date.now() - t0;
  health.running = false;
  await healthLoop;
  await frames.stop();

  const answered = stats.ok + stats.errors;
  h.note(`${N} commands over ${CONNS} connections in ${(elapsed / 1000).toFixed(1)} s: ${stats.ok} ok, ${stats.errors} refused, ${stats.rateLimited} rate-limited answers (resent), ack latency p50 ${pct(stats.latencies, 0.5)} ms p99 ${pct(stats.latencies, 0.99)} ms max ${pct(stats.latencies, 1)} ms`);
  for (const e of stats.errorSamples) h.note(`refused: ${e}`);
  h.check(stats.opened === CONNS, `${stats.opened}/${CONNS} operator connections opened`);
  h.check(answered === N && stats.unanswered === 0, `every command got an ack (${answered}/${N}; ${stats.closedEarly} connections closed early${stats.closeCodes.length ? ' with ' + [...new Set(stats.closeCodes)] : ''})`);
  h.check(stats.ok === N, `every command was applied (ok:true ${stats.ok}/${N})`);
  // The limit is judged on the node's clock as it reads the frames: a burst
  // of 30 normally gets ~10 "rate limited" answers (fewer if the node reads
  // it slowly); more than 20 would mean the limit is below 20/s.
  h.check(stats.rateLimited <= 20, `the 30-command burst on one connection met the 20/s limit: ${stats.rateLimited} "rate limited" acks, all resent and applied`);
  h.check(elapsed < SPREAD_MS + 15000, `the storm was over in ${(elapsed / 1000).toFixed(1)} s`);
  h.check(health.bad === 0 && health.maxMs < 2000, `/healthz answered 200 throughout (${health.n} polls, slowest ${health.maxMs} ms)`);
  const rate = frames.rate(), minRate = frames.minRate(2000);
  h.note(`program: ${rate.toFixed(2)} fps average, lowest over 2 s ${minRate.toFixed(1)} fps, longest stall ${frames.longestStallMs} ms`);
  h.check(rate >= FPS * 0.9, `program frames kept the configured rate (${rate.toFixed(2)} fps, configured ${FPS})`);
  h.check(frames.longestStallMs < 1000, `no deadlock: the frame counter never stood still for 1 s (longest ${frames.longestStallMs} ms)`);

  // The node still obeys: a final layout and the HLS output back on.
  const last = await new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/control?token=op-secret`);
    const acks = {};
    ws.on('open', () => {
      ws.send(JSON.stringify({ id: 'final1', cmd: 'layout', args: { name: 'sbs', stations: ['A03', 'A01'] } }));
      ws.send(JSON.stringify({ id: 'final2', cmd: 'output', args: { id: 'hls', action: 'start' } }));
    });
    ws.on('message', (d) => { const m = JSON.parse(d.toString()); if (m.type === 'ack') { acks[m.id] = m.ok; if (Object.keys(acks).length === 2) { ws.close(); resolve(acks); } } });
    ws.on('error', () => resolve(acks)); setTimeout(() => resolve(acks), 5000);
  });
  h.check(last.final1 === true && last.final2 === true, 'a last layout and output start are acked ok');
  const prog = await getJson(port, '/api/program');
  h.check(prog && prog.layout === 'sbs' && JSON.stringify(prog.stations) === '["A03","A01"]', `/api/program shows the last layout (${prog && prog.layout} ${prog && JSON.stringify(prog.stations)})`);
  const hlsUp = await waitFor(async () => { const o = await getJson(port, '/api/outputs'); return o && o.find((x) => x.id === 'hls')?.state === 'running'; }, 15000, 250);
  h.check(hlsUp, 'the HLS output is running again after the last start');

  await sleep(3000); // closed connections and rebuilt pipelines settle
  const rss1 = rssKiB(node.pid), fd1 = fdCount(node.pid);
  h.note(`after: RSS ${(rss1 / 1024).toFixed(1)} MiB (${((rss1 - rss0) / 1024).toFixed(1)} MiB), ${fd1} fds (${fd1 - fd0 >= 0 ? '+' : ''}${fd1 - fd0})`);
  if (!SANITIZED) h.check(rss1 > 0 && rss1 - rss0 <= 30 * 1024, `RSS after <= before + 30 MiB (${((rss1 - rss0) / 1024).toFixed(1)} MiB)`);
  h.check(fd1 > 0 && fd1 <= fd0 + 4, `fd count not growing (${fd0} -> ${fd1})`);
  h.check(node.alive, 'node never exited');
  console.log(`FIGURES control_storm commands=${N} seconds=${(elapsed / 1000).toFixed(1)} ack_p50_ms=${pct(stats.latencies, 0.5)} ack_p99_ms=${pct(stats.latencies, 0.99)} rate_limited=${stats.rateLimited} fps=${rate.toFixed(2)} stall_ms=${frames.longestStallMs} healthz_max_ms=${health.maxMs} rss_delta_kib=${rss1 - rss0} fd_before=${fd0} fd_after=${fd1}`);
}

try { await main(); } catch (e) { h.check(false, e.stack || String(e)); }
await h.finish([node]);
