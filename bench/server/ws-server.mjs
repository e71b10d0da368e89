// ws-server — the baseline: a minimal Node `ws` broadcast server that
// follows the same Redis Stream as a skillcast relay node (XREAD BLOCK from
// the last id) and sends each entry to every client as a small delta.
// No snapshot, no rings, no auth: the least a Node server can do.
//
//   node ws-server.mjs WS_PORT REDIS_URL STREAM_KEY      (prints READY)
import { WebSocketServer } from 'ws';
import { createClient } from 'redis';

const [port, url, key] = process.argv.slice(2);
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(port), backlog: 4096 });
const redis = createClient({ url });
await redis.connect();

const MAX_BUFFERED = 1024 * 1024; // same rule as skillcast: drop a client past 1 MiB
let last = '$';
if (!wss.address()) await new Promise((res) => wss.once('listening', res));
console.log('READY');
for (;;) {
  const res = await redis.xRead({ key, id: last }, { BLOCK: 0, COUNT: 100 });
  if (!res) continue;
  for (const entry of res[0].messages) {
    last = entry.id;
    const msg = JSON.stringify({ type: 'delta', id: entry.id, announce: entry.message.text ?? null });
    for (const ws of wss.clients) {
      if (ws.bufferedAmount > MAX_BUFFERED) ws.terminate();
      else ws.send(msg);
    }
  }
}
