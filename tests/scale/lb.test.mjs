// Relay nodes behind a load balancer, as on a contest day: nginx spreads
// 1,000 viewers over 3 `skillcast relay` nodes following one Redis Stream.
// One node is killed mid-contest; its viewers reconnect through nginx with
// ?since=<last id> and must miss no delta and see none twice.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

const BIN = process.env.SC_SKILLCAST_BIN;
const CLIENTS = Number(process.env.SC_LB_CLIENTS || 1000);
const EVENTS = 30;
const dir = mkdtempSync(path.join(os.tmpdir(), 'skillcast-lb-'));
const children = [];
let passed = 0, failed = 0;
const check = (ok, what) => { if (ok) { passed++; console.log(`ok: ${what}`); } else { failed++; console.log(`FAIL: ${what}`); } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}
function start(cmd, args, name) {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  c.name = name; c.out = '';
  c.stdout.on('data', (d) => { c.out += d; });
  c.stderr.on('data', (d) => { c.out += d; });
  children.push(c);
  return c;
}
async function waitHttp(port, p, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try { const r = await fetch(`http://127.0.0.1:${port}${p}`); if (r.status === 200) return true; } catch {}
    await sleep(100);
  }
  return false;
}
// A minimal RESP client: XADD and read the id back.
function redisCommand(port, args) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.on('data', (d) => { buf += d; if (buf.endsWith('\r\n')) { s.end(); resolve(buf); } });
    s.on('error', reject);
    s.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
  });
}

async function main() {
  const redisPort = await freePort();
  start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], 'redis');
  const relayPorts = [await freePort(), await freePort(), await freePort()];
  const relays = relayPorts.map((port, i) => {
    const cfg = path.join(dir, `r${i}.yaml`);
    writeFileSync(cfg, `contest:\n  id: lb-test\n  title: "技能天下 · 负载均衡"\nredis:\n  url: redis://127.0.0.1:${redisPort}/0\nserver:\n  listen: "127.0.0.1:${port}"\n  max_clients: 5000\n`);
    return start(BIN, ['relay', cfg], `relay${i}`);
  });
  for (const p of relayPorts) check(await waitHttp(p, '/healthz', 15000), `relay node on ${p} is up`);

  const lbPort = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, `daemon off;\nmaster_process off;\nworker_processes 1;\nworker_rlimit_nofile 8192;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx.err warn;\nevents { worker_connections 8192; }\nhttp {\n access_log off;\n client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;\n upstream relays { least_conn; ${relayPorts.map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=30s;`).join(' ')} }\n map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n server { listen 127.0.0.1:${lbPort};\n  location / { proxy_pass http://relays; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; proxy_read_timeout 60s; proxy_buffering off; proxy_connect_timeout 2s; }\n }\n}\n`);
  start('nginx', ['-p', dir, '-c', conf, '-e', 'stderr'], 'nginx');
  check(await waitHttp(lbPort, '/healthz', 10000), 'nginx in front of the relay nodes answers');

  // Viewers.
  const clients = [];
  let opened = 0;
  for (let i = 0; i < CLIENTS; i++) {
    const c = { last: null, ids: [], reconnects: 0, snapshots: 0, closed: false, ws: null };
    const connect = () => {
      const q = c.last ? `?since=${encodeURIComponent(c.last)}` : '';
      const ws = new WebSocket(`ws://127.0.0.1:${lbPort}/scores${q}`);
      c.ws = ws;
      ws.on('open', () => { if (!c.everOpen) { c.everOpen = true; opened++; } });
      ws.on('message', (data) => {
        const m = JSON.parse(data.toString());
        if (m.type === 'snapshot') { c.snapshots++; if (c.last && m.id !== c.last) c.gap = true; c.last = m.id; }
        else if (m.type === 'delta') { c.ids.push(m.id); c.last = m.id; }
      });
      ws.on('close', () => { if (!c.closed) { c.reconnects++; setTimeout(connect, 100 + Math.random() * 400); } });
      ws.on('error', () => {});
    };
    clients.push(c);
    connect();
    if (i % 100 === 99) await sleep(50);
  }
  const t0 = Date.now();
  while (opened < CLIENTS && Date.now() - t0 < 30000) await sleep(100);
  check(opened === CLIENTS, `${opened}/${CLIENTS} viewers connected through nginx`);

  // The contest goes on; one relay node dies a third of the way in.
  const written = [];
  for (let e = 0; e < EVENTS; e++) {
    const reply = await redisCommand(redisPort, ['XADD', 'skillcast:lb-test:events', '*', 'type', 'score', 'station', `A0${(e % 8) + 1}`, 'total', String(50 + e)]);
    written.push(reply.split('\r\n')[1]);
    if (e === 10) { relays[1].kill('SIGKILL'); console.log('killed relay node 1'); }
    await sleep(150);
  }
  const last = written[written.length - 1];
  const t1 = Date.now();
  while (clients.some((c) => c.last !== last) && Date.now() - t1 < 30000) await sleep(200);

  const moved = clients.filter((c) => c.reconnects > 0);
  check(moved.length > 0, `${moved.length} viewers lost their node and reconnected`);
  const complete = clients.filter((c) => c.last === last);
  check(complete.length === CLIENTS, `${complete.length}/${CLIENTS} viewers reached the last event`);
  const exact = clients.filter((c) => !c.gap && c.ids.length === written.length && c.ids.every((id, k) => id === written[k]));
  check(exact.length === CLIENTS, `${exact.length}/${CLIENTS} viewers got every delta exactly once, in order`);
  const movedExact = moved.filter((c) => exact.includes(c));
  check(movedExact.length === moved.length, `${movedExact.length}/${moved.length} reconnected viewers missed nothing (resumed with ?since=)`);
  for (const c of clients) { c.closed = true; c.ws.terminate(); }
}

try {
  await main();
} catch (e) {
  failed++;
  console.log('FAIL: ' + (e.stack || e));
} finally {
  for (const c of children) { try { c.kill('SIGTERM'); } catch {} }
  await sleep(300);
  for (const c of children) { try { c.kill('SIGKILL'); } catch {} }
  if (failed) for (const c of children) if (c.out) console.log(`--- ${c.name}\n${c.out.slice(-2000)}`);
  rmSync(dir, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
