// lib.mjs — what the browser scripts share: chromium via playwright-core,
// and `skillcast demo` started on a free port and ended by its PID.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));
const { chromium } = require('playwright-core');

export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.SC_CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function skillcastBin() {
  const i = process.argv.indexOf('--bin');
  if (i > 0 && process.argv[i + 1]) return process.argv[i + 1];
  if (process.env.SC_SKILLCAST_BIN) return process.env.SC_SKILLCAST_BIN;
  const build = process.env.SC_BUILD_DIR || path.join(here, '..', '..', 'build');
  return path.join(build, 'app', 'skillcast');
}

/**
 * Starts `skillcast demo --port N` and waits until it printed its three URLs
 * and /healthz answers 200. Returns {base, viewer, commentator, operator,
 * commentatorToken, operatorToken, pid, stop(), log()}.
 */
export async function startDemo({ timeoutMs = 60000, port = 0 } = {}) {
  port = port || await freePort();
  const bin = skillcastBin();
  const child = spawn(bin, ['demo', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GST_DEBUG_NO_COLOR: '1' },
  });
  let out = '';
  let err = '';
  let exited = null;
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; if (err.length > 200000) err = err.slice(-100000); });
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  child.on('error', (e) => { exited = { error: e.message }; });
  const demo = {
    pid: child.pid,
    port,
    base: `http://127.0.0.1:${port}`,
    log: () => `--- demo stdout ---\n${out}\n--- demo stderr (tail) ---\n${err.slice(-4000)}`,
    async stop() {
      if (exited) return;
      process.kill(child.pid, 'SIGTERM');
      for (let i = 0; i < 100 && !exited; i++) await sleep(100);
      if (!exited) { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }
    },
  };
  const deadline = Date.now() + timeoutMs;
  const urlRe = new RegExp(`http://127\\.0\\.0\\.1:${port}/[^\\s"'<>]*`, 'g');
  for (;;) {
    if (exited) throw new Error(`skillcast demo exited early (${JSON.stringify(exited)})\n${demo.log()}`);
    if (Date.now() > deadline) { await demo.stop(); throw new Error(`skillcast demo not ready in ${timeoutMs} ms\n${demo.log()}`); }
    const urls = (out.match(urlRe) || []).map((u) => u.replace(/[.,;)]+$/, ''));
    const com = urls.find((u) => u.includes('/commentator'));
    const op = urls.find((u) => u.includes('/operator'));
    const viewer = urls.find((u) => new URL(u).pathname === '/');
    if (com && op && viewer) {
      let ok = false;
      try { ok = (await fetch(`${demo.base}/healthz`)).status === 200; } catch { /* not yet */ }
      if (ok) {
        demo.viewer = viewer;
        demo.commentator = com;
        demo.operator = op;
        demo.commentatorToken = new URL(com).searchParams.get('token');
        demo.operatorToken = new URL(op).searchParams.get('token');
        return demo;
      }
    }
    await sleep(250);
  }
}

/** An already running node (for development): SC_BASE=http://… SC_OP_TOKEN=… SC_COM_TOKEN=… */
export function existingNode() {
  const base = process.env.SC_BASE;
  if (!base) return null;
  const ct = process.env.SC_COM_TOKEN || '';
  const ot = process.env.SC_OP_TOKEN || '';
  return {
    base, pid: null, viewer: `${base}/`,
    commentator: `${base}/commentator?token=${encodeURIComponent(ct)}`,
    operator: `${base}/operator?token=${encodeURIComponent(ot)}`,
    commentatorToken: ct, operatorToken: ot,
    log: () => '', async stop() {},
  };
}
