// Redis dies under a running contest node (SIGKILL, ~5 s) and comes back
// with its append-only file. The judges' writer keeps writing before, during
// (its writes fail; it retries after the restart) and after the outage.
// What a user notices: /healthz 503 and skillcast_redis_up 0 while Redis is
// away, 200/1 after; every score and penalty applied exactly once (the
// standings equal the fold of what was written); the snapshot id is the id
// of the last XADD.
import { harness, startRedis, Redis, freePort, contestYaml, writeConfig, BIN, http, getJson,
  metric, waitHealthy, waitFor, sleep, foldExpected, frameWatch, makeWriter } from './lib.mjs';

const h = harness('redis-outage');
const OUTAGE_MS = Number(process.env.SC_FAULT_REDIS_OUTAGE_MS || 5000);
const STATIONS = ['A01', 'A02', 'A03', 'A04'];
const contestId = 'fault-redis';
const key = `skillcast:${contestId}:events`;
let node, redis;

// A stream of events: scores (absolute, x.5 steps so the fold is exact in
// binary), penalties (additive: a duplicate shows), status changes.
function nextEvent(i) {
  const station = STATIONS[i % STATIONS.length];
  switch (i % 5) {
    case 0: case 2: return { type: 'score', station, total: (50 + (i % 47) + 0.5).toFixed(1), judge: `J${i % 3}` };
    case 1: return { type: 'penalty', station, points: '0.5', reason: `r${i}` };
    case 3: return { type: 'penalty', station, points: '1.25', reason: `r${i}` };
    default: return { type: 'status', station, state: 'working' };
  }
}

async function main() {
  redis = await startRedis(h, { appendonly: true });
  const port = await freePort();
  const cfg = writeConfig(h, contestYaml({
    contestId, redisUrl: redis.url, port,
    stations: STATIONS.map((id, k) => ({ id, name: `选手${k + 1}`, source: k % 2 ? 'test://ball' : 'test://smpte' })),
  }));
  node = h.start(BIN, ['run', cfg], 'node', { env: { GST_DEBUG: 'sc-*:4' } });
  h.check(await waitHealthy(port, 20000), 'node is up (/healthz 200)');
  h.check(await metric(port, 'skillcast_redis_up') === 1, 'skillcast_redis_up 1 before the outage');
  const applied0 = await metric(port, 'skillcast_events_applied_total');
  const frames = frameWatch(port, 250);

  // The judges' writer retries a failed write until Redis takes it (see lib.mjs).
  const w = makeWriter(redis.port, key);
  let i = 0;
  // Before: 30 events at ~10/s.
  for (; i < 30; i++) { await w.write(nextEvent(i)); await sleep(100); }

  // During: the writer keeps going in the background while Redis is dead.
  let writing = true;
  const bg = (async () => { while (writing) { await w.write(nextEvent(i++)); await sleep(100); } })();
  await sleep(300);
  const tKill = Date.now();
  await redis.kill();
  h.note(`redis-server SIGKILLed after ${w.written.length} events`);
  const down = await waitFor(async () => (await http(port, '/healthz')).status === 503, 3000, 50);
  const tDown = Date.now() - tKill;
  h.check(down, `/healthz turns 503 during the outage (after ${tDown} ms)`);
  h.check(await metric(port, 'skillcast_redis_up') === 0, 'skillcast_redis_up 0 during the outage');
  const st = await http(port, '/api/state');
  h.check(st.status === 200, '/api/state still answers (last known standings) during the outage');
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - tKill)));
  h.check((await http(port, '/healthz')).status === 503, `/healthz still 503 at the end of the ${OUTAGE_MS} ms outage`);
  const writtenDuringOutage = w.written.length;
  const tRestart = Date.now();
  h.check(await redis.restart(), 'redis-server restarted with its append-only file');
  const up = await waitFor(async () => (await http(port, '/healthz')).status === 200, 10000, 50);
  const tUp = Date.now() - tRestart;
  h.check(up, `/healthz back to 200 after the restart (after ${tUp} ms; reconnect backoff is capped at 2 s)`);
  h.check(tUp <= 4000, `node reconnected within 4 s of Redis coming back (${tUp} ms)`);
  h.check(await metric(port, 'skillcast_redis_up') === 1, 'skillcast_redis_up 1 after the outage');
  h.note(`writer: ${w.failures} failed attempts retried; ${w.written.length - writtenDuringOutage} events written in the ${tUp} ms until /healthz was 200 again`);

  // After: 30 more.
  const target = w.written.length + 30;
  while (w.written.length < target) await sleep(50);
  writing = false;
  await bg;
  w.close();
  const events = w.written;
  const lastId = events[events.length - 1].id;

  // The node converges on the fold of everything written.
  const snap = await waitFor(async () => { const s = await getJson(port, '/api/state'); return s && s.id === lastId ? s : null; }, 10000, 100);
  h.check(!!snap, `snapshot id equals the last XADD id ${lastId}`);
  const expected = foldExpected(events);
  const state = snap || await getJson(port, '/api/state') || { stations: [] };
  let mismatches = 0;
  for (const id of STATIONS) {
    const row = state.stations.find((r) => r.id === id);
    const e = expected[id];
    const ok = row && row.total === e.total && Math.abs(row.penalties - e.penalties) < 1e-9 && Math.abs(row.score - e.score) < 1e-9 && row.state === 'working';
    if (!ok) { mismatches++; h.note(`${id}: got ${JSON.stringify(row)}, expected ${JSON.stringify(e)}`); }
  }
  h.check(mismatches === 0, `all ${STATIONS.length} stations equal the expected fold of ${events.length} events (totals, penalties, scores)`);
  const applied = (await metric(port, 'skillcast_events_applied_total')) - applied0;
  h.check(applied === events.length, `skillcast_events_applied_total grew by exactly ${events.length} (${applied}): nothing lost, nothing applied twice`);
  const ids = new Set(events.map((e) => e.id));
  h.check(ids.size === events.length, 'every event written once (distinct ids)');

  await frames.stop();
  h.note(`program frames: ${frames.rate().toFixed(1)} fps average, longest stall ${frames.longestStallMs} ms`);
  h.check(frames.longestStallMs < 1500, `the program never stalled during the Redis outage (longest ${frames.longestStallMs} ms without a frame)`);
  h.check(node.alive, 'node never exited');
  console.log(`FIGURES redis_outage down_after_ms=${tDown} up_after_restart_ms=${tUp} events=${events.length} writer_retries=${w.failures}`);
}

try { await main(); } catch (e) { h.check(false, e.stack || String(e)); }
await h.finish([node, redis && redis.proc]);
