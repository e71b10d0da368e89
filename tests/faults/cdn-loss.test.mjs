// The CDN goes away and comes back: an `rtmp` output pushing to a real
// nginx-rtmp that is SIGKILLed for 5 s and restarted. What a user notices:
// the operator console shows the output reconnecting, then running again
// within 5 s of the server coming back, with reconnects >= 1; the stream
// reaches the CDN again (ffprobe pulls H.264 from it); the program and the
// other output never stall.
import path from 'node:path';
import { harness, startRedis, startNginxRtmp, freePort, contestYaml, writeConfig, BIN, getJson, metric,
  waitHealthy, waitFor, sleep, frameWatch, run } from './lib.mjs';

const h = harness('cdn-loss');
const FPS = 10;
const OUTAGE_MS = Number(process.env.SC_FAULT_CDN_OUTAGE_MS || 5000);
let node, nginx;

const output = async (port, id) => { const o = await getJson(port, '/api/outputs'); return o ? o.find((x) => x.id === id) : null; };

async function main() {
  const redis = await startRedis(h, { appendonly: false });
  nginx = await startNginxRtmp(h);
  const port = await freePort();
  const streamUrl = `${nginx.url}/program`;
  const cfg = writeConfig(h, contestYaml({
    contestId: 'fault-cdn', redisUrl: redis.url, port, fps: FPS,
    stations: [{ id: 'A01', source: 'test://smpte' }, { id: 'A02', source: 'test://ball' }],
    outputs: [`{ id: cdn, type: rtmp, url: "${streamUrl}" }`, `{ id: hls, type: hls, dir: "${path.join(h.dir, 'hls')}", segment_s: 1 }`],
  }));
  node = h.start(BIN, ['run', cfg], 'node', { env: { GST_DEBUG: 'sc-relay:4' } });
  h.check(await waitHealthy(port, 20000), 'node is up');
  const running0 = await waitFor(async () => (await output(port, 'cdn'))?.state === 'running', 15000, 200);
  h.check(running0, 'rtmp output cdn is running');
  const b0 = (await output(port, 'cdn'))?.bytes || 0;
  await sleep(2000);
  const b1 = (await output(port, 'cdn'))?.bytes || 0;
  h.check(b1 > b0, `bytes flow to the CDN (${b0} -> ${b1} in 2 s)`);
  const probe0 = await run('ffprobe', ['-v', 'error', '-rw_timeout', '8000000', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', streamUrl], 15000);
  h.check(probe0.stdout.includes('h264'), `the CDN serves the program (ffprobe ${streamUrl}: ${probe0.stdout.trim().replace(/\n/g, ',') || probe0.stderr.trim().slice(0, 100)})`);

  const frames = frameWatch(port, 200);
  const hlsBytes0 = (await output(port, 'hls'))?.bytes || 0;
  const reconnects0 = (await output(port, 'cdn'))?.reconnects || 0;
  const tKill = Date.now();
  await nginx.kill();
  h.note('nginx SIGKILLed');
  const away = await waitFor(async () => { const o = await output(port, 'cdn'); return o && o.state !== 'running'; }, OUTAGE_MS, 50);
  const tAway = Date.now() - tKill;
  h.check(away, `output leaves running while the CDN is down (after ${tAway} ms: ${(await output(port, 'cdn'))?.state})`);
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - tKill)));
  const during = await output(port, 'cdn');
  h.check(during && (during.state === 'reconnecting' || during.state === 'error'), `output is ${during && during.state} at the end of the outage (last_error: ${during && during.last_error})`);
  h.check(await metric(port, 'skillcast_output_up', { output: 'cdn' }) === 0, 'skillcast_output_up{output="cdn"} is 0 during the outage');
  const hls = await output(port, 'hls');
  h.check(hls && hls.state === 'running' && hls.bytes > hlsBytes0, `the HLS output kept running during the CDN outage (${hlsBytes0} -> ${hls && hls.bytes} bytes)`);

  const tBack = Date.now();
  h.check(await nginx.restart(), 'nginx restarted');
  const back = await waitFor(async () => (await output(port, 'cdn'))?.state === 'running', 15000, 50);
  const tRunning = Date.now() - tBack;
  h.check(back && tRunning <= 5000, `output running again ${tRunning} ms after the CDN came back (<= 5000)`);
  const after = await output(port, 'cdn');
  h.check(after && after.reconnects >= reconnects0 + 1, `/api/outputs reconnects >= 1 (${after && after.reconnects})`);
  const mrec = await metric(port, 'skillcast_output_reconnects_total', { output: 'cdn' });
  h.check(mrec >= 1, `skillcast_output_reconnects_total{output="cdn"} >= 1 (${mrec})`);
  h.check(await waitFor(async () => (await metric(port, 'skillcast_output_up', { output: 'cdn' })) === 1, 3000, 100), 'skillcast_output_up{output="cdn"} back to 1');
  const probe1 = await run('ffprobe', ['-v', 'error', '-rw_timeout', '8000000', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', streamUrl], 15000);
  h.check(probe1.stdout.includes('h264'), 'the CDN serves the program again after the restart');
  await frames.stop();
  const rate = frames.rate();
  h.note(`program: ${rate.toFixed(2)} fps average, lowest over 2 s ${frames.minRate(2000).toFixed(1)}, longest stall ${frames.longestStallMs} ms`);
  h.check(frames.longestStallMs < 1000 && rate >= FPS * 0.9, `the program never stalled (${rate.toFixed(2)} fps, longest ${frames.longestStallMs} ms without a frame)`);
  h.check(node.alive, 'node never exited');
  console.log(`FIGURES cdn_loss leave_running_ms=${tAway} running_after_restart_ms=${tRunning} reconnects=${after && after.reconnects} fps=${rate.toFixed(2)} stall_ms=${frames.longestStallMs}`);
}

try { await main(); } catch (e) { h.check(false, e.stack || String(e)); }
await h.finish([node, nginx && nginx.proc]);
