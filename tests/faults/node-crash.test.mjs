// The contest node itself is SIGKILLed mid-contest (power cut, OOM killer)
// and started again with the same config. What a user notices: the
// standings come back exactly as they were (the node refolds the stream:
// same stations, same snapshot id, same announcement); the recording made
// before the crash plays to its end without errors (fragmented MP4); the
// HLS output carries on with new segments.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { harness, startRedis, Redis, freePort, contestYaml, writeConfig, BIN, http, getJson,
  waitHealthy, waitFor, sleep, run } from './lib.mjs';

const h = harness('node-crash');
const contestId = 'fault-crash';
const key = `skillcast:${contestId}:events`;
let node, redis;

const segments = (text) => (text.match(/^[^#\s].*\.ts$/gm) || []);
const mediaSeq = (text) => { const m = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text); return m ? Number(m[1]) : NaN; };
const readText = (p) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } };
// What must survive a restart: everything but the clock's remaining_ms,
// which is computed from the stream and the wall clock.
const durable = (s) => s && JSON.stringify({ id: s.id, contest: s.contest, stations: s.stations, announce: s.announce, clock_state: s.clock && s.clock.state });

async function main() {
  redis = await startRedis(h, { appendonly: true });
  const port = await freePort();
  const recDir = path.join(h.dir, 'rec'), hlsDir = path.join(h.dir, 'hls');
  const cfg = writeConfig(h, contestYaml({
    contestId, redisUrl: redis.url, port,
    stations: [{ id: 'A01', name: '张伟', source: 'test://smpte' }, { id: 'A02', name: '李娜', source: 'test://ball' }, { id: 'A03', name: '王芳', source: 'test://colors' }],
    outputs: [`{ id: hls, type: hls, dir: "${hlsDir}", segment_s: 1 }`, `{ id: rec, type: record, dir: "${recDir}", split_min: 30 }`],
  }));
  const startNode = (n) => h.start(BIN, ['run', cfg], `node${n}`, { env: { GST_DEBUG: 'sc-*:4' } });
  node = startNode(1);
  h.check(await waitHealthy(port, 20000), 'node is up');

  const r = new Redis(redis.port);
  await r.connect();
  const xadd = (...f) => r.command(['XADD', key, '*', ...f]);
  await xadd('type', 'competitor', 'station', 'A01', 'name', '张伟', 'org', '株洲中车', 'trade', '数控车工');
  await xadd('type', 'score', 'station', 'A01', 'total', '87.5', 'judge', 'J1', 'item', '尺寸精度', 'detail', '{"a":1}');
  await xadd('type', 'score', 'station', 'A02', 'total', '91', 'judge', 'J2');
  await xadd('type', 'penalty', 'station', 'A02', 'points', '2.5', 'reason', '安全');
  await xadd('type', 'score', 'station', 'A03', 'total', '88.5');
  await xadd('type', 'status', 'station', 'A03', 'state', 'disqualified');
  await xadd('type', 'clock', 'state', 'running', 'remaining_ms', '3600000');
  const lastId = await xadd('type', 'announce', 'text', '第二轮开始', 'ttl_ms', '3600000');
  r.close();

  const before = await waitFor(async () => { const s = await getJson(port, '/api/state'); return s && s.id === lastId ? s : null; }, 10000);
  h.check(!!before, `the node applied all events (snapshot id ${lastId})`);

  // Let the outputs write: a few HLS segments and some seconds of recording.
  const playlist = path.join(hlsDir, 'index.m3u8');
  h.check(await waitFor(() => segments(readText(playlist)).length >= 3, 30000, 200), 'HLS playlist has 3 segments before the crash');
  await sleep(3000);
  const plBefore = readText(playlist);
  const seqBefore = mediaSeq(plBefore) + segments(plBefore).length - 1; // last segment's sequence number
  const recBefore = existsSync(recDir) ? readdirSync(recDir).filter((f) => f.endsWith('.mp4')) : [];
  h.check(recBefore.length >= 1, `recording file(s) exist before the crash: ${recBefore.join(', ')}`);

  await h.kill(node, 'SIGKILL');
  h.note('node SIGKILLed');

  // The recording as the crash left it: every byte decodable, no error.
  for (const f of recBefore) {
    const p = path.join(recDir, f);
    const size = statSync(p).size;
    const res = await run('ffmpeg', ['-v', 'error', '-i', p, '-f', 'null', '-'], 60000);
    const dur = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', p]);
    h.check(res.code === 0 && res.stderr.trim() === '', `recording ${f} (${size} bytes, ${Number(dur.stdout).toFixed(1)} s) decodes with empty stderr after SIGKILL${res.stderr ? ': ' + res.stderr.trim().split('\n').slice(0, 3).join(' | ') : ''}`);
  }
  h.check(!plBefore.includes('#EXT-X-ENDLIST'), 'the crashed node left a live playlist (no ENDLIST)');

  const tRestart = Date.now();
  node = startNode(2);
  h.check(await waitHealthy(port, 20000), `node restarted with the same config (healthy after ${Date.now() - tRestart} ms)`);
  const after = await waitFor(async () => { const s = await getJson(port, '/api/state'); return s && s.id === lastId ? s : null; }, 10000);
  h.check(!!after && durable(after) === durable(before), 'after the restart /api/state is identical (id, contest, stations, announce, clock state)');
  if (after && durable(after) !== durable(before)) { h.note('before: ' + durable(before)); h.note('after:  ' + durable(after)); }
  if (after && before) h.note(`clock remaining_ms ${before.clock.remaining_ms} -> ${after.clock.remaining_ms}`);

  // HLS resumes: new segments appear, served over HTTP and playable.
  const tHls = Date.now();
  const resumed = await waitFor(() => { const t = readText(playlist); return t !== plBefore && segments(t).length >= 2 && !t.includes('#EXT-X-ENDLIST') ? t : null; }, 20000, 200);
  h.check(!!resumed, `HLS output resumed (playlist rewritten after ${Date.now() - tHls} ms)`);
  await sleep(2500);
  const plAfter = readText(playlist);
  const seqAfter = mediaSeq(plAfter);
  h.note(`media sequence: last before crash ${seqBefore}, first after restart ${seqAfter}`);
  h.check(seqAfter > seqBefore || plAfter.includes('#EXT-X-DISCONTINUITY'),
    `playlist after the restart continues the media sequence (${seqAfter} > ${seqBefore}) or marks a discontinuity, so players that were watching are not handed old sequence numbers`);
  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'compact', `http://127.0.0.1:${port}/hls/hls/index.m3u8`], 30000);
  h.check(probe.code === 0 && probe.stdout.includes('codec_name=h264') && probe.stdout.includes('width=320'), 'the resumed HLS stream probes as 320x180 H.264 over /hls/hls/index.m3u8');

  // The new recording does not overwrite the old one.
  const recAfter = readdirSync(recDir).filter((f) => f.endsWith('.mp4'));
  h.check(recBefore.every((f) => recAfter.includes(f)) && recAfter.length > recBefore.length, `a new recording file was started, the old one kept (${recAfter.length} files)`);

  // Clean stop after all: the new recording is finalized.
  const st = await h.kill(node, 'SIGTERM', 20000);
  h.check(st && st.code === 0, `SIGTERM: clean exit (code ${st && st.code})`);
  for (const f of recAfter.filter((f) => !recBefore.includes(f))) {
    const res = await run('ffmpeg', ['-v', 'error', '-i', path.join(recDir, f), '-f', 'null', '-'], 60000);
    h.check(res.code === 0 && res.stderr.trim() === '', `recording ${f} after a clean stop decodes with empty stderr`);
  }
  h.check(readText(playlist).includes('#EXT-X-ENDLIST'), 'HLS playlist has #EXT-X-ENDLIST after the clean stop');
}

try { await main(); } catch (e) { h.check(false, e.stack || String(e)); }
await h.finish([node]);
