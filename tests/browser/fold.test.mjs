// fold.test.mjs — the pages' scoreboard fold (web/static/common.js,
// ScoreState) on message sequences shaped as CONTRACTS.md §4 and as
// scoreboard/contest.c writes them. Plain node, no browser: runs in
// milliseconds, so it is a `unit` test.
import assert from 'node:assert/strict';
import { ScoreState, formatClock, formatScore, compareIds, idMillis } from '../../web/static/common.js';

const results = [];
function test(name, fn) {
  try { fn(); results.push(true); console.log(`ok   ${name}`); } catch (e) { results.push(false); console.log(`FAIL ${name}\n${e.stack}`); }
}

const row = (id, score, rank, extra = {}) => ({
  id, name: `N${id}`, org: 'O', trade: 'T', score, total: score, penalties: 0, state: 'working', rank, ...extra,
});
const snapshot = (stations, extra = {}) => ({
  type: 'snapshot', id: '100-0', contest: { id: 'c', title: '决赛' },
  clock: { state: 'running', remaining_ms: 60000 }, stations, announce: null, ...extra,
});
const ids = (s) => s.rows.map((r) => r.id).join(',');

test('snapshot replaces everything and keeps the server order', () => {
  const s = new ScoreState();
  const res = s.apply(snapshot([row('A02', 90, 1), row('A01', 80, 2), row('A03', null, null)]));
  assert.equal(res.kind, 'snapshot');
  assert.equal(ids(s), 'A02,A01,A03');
  assert.equal(s.id, '100-0');
  assert.equal(s.contest.title, '决赛');
  s.apply(snapshot([row('B01', 1, 1)], { id: '200-0' }));
  assert.equal(ids(s), 'B01');
  assert.equal(s.byId.has('A01'), false);
});

test('a delta replaces its rows, applies ranks and re-sorts', () => {
  const s = new ScoreState();
  s.apply(snapshot([row('A01', 90, 1), row('A02', 80, 2), row('A03', 70, 3)]));
  const res = s.apply({ type: 'delta', id: '101-0', stations: [row('A03', 95, 1)], ranks: { A01: 2, A02: 3, A03: 1 } });
  assert.deepEqual([...res.changed], ['A03']);
  assert.equal(ids(s), 'A03,A01,A02');
  assert.equal(s.byId.get('A03').score, 95);
  assert.equal(s.id, '101-0');
});

test('null ranks go last, keeping the server order; ties keep theirs', () => {
  const s = new ScoreState();
  s.apply(snapshot([row('A01', 90, 1), row('A02', 90, 1), row('A03', null, null), row('A04', 50, null, { state: 'disqualified' })]));
  assert.equal(ids(s), 'A01,A02,A03,A04');
  s.apply({ type: 'delta', id: '101-0', stations: [row('A02', 91, 1)], ranks: { A01: 2, A02: 1, A03: null, A04: null } });
  assert.equal(ids(s), 'A02,A01,A03,A04');
  s.apply({ type: 'delta', id: '102-0', stations: [row('A01', 91, 1)], ranks: { A01: 1, A02: 1, A03: null, A04: null } });
  assert.equal(ids(s), 'A02,A01,A03,A04', 'a tie keeps the previous order');
  // Disqualified after the stations without a score, as the server lists them.
  s.apply({ type: 'delta', id: '103-0', stations: [row('A02', 91, null, { state: 'disqualified' })], ranks: { A01: 1, A02: null, A03: null, A04: null } });
  assert.equal(ids(s), 'A01,A03,A02,A04');
});

test('a delta for an unknown station adds it', () => {
  const s = new ScoreState();
  s.apply(snapshot([row('A01', 90, 1)]));
  s.apply({ type: 'delta', id: '101-0', stations: [row('A09', null, null)], ranks: { A01: 1, A09: null } });
  assert.equal(ids(s), 'A01,A09');
});

test('clock counts down locally while running, holds when paused', () => {
  const s = new ScoreState();
  s.apply(snapshot([]));
  const at = s.clock.at;
  assert.equal(s.clockNow(at + 1500).remaining_ms, 58500);
  assert.equal(s.clockNow(at + 999999).remaining_ms, 0);
  s.apply({ type: 'delta', id: '101-0', clock: { state: 'paused', remaining_ms: 30000 } });
  assert.equal(s.clockNow(s.clock.at + 5000).remaining_ms, 30000);
  assert.equal(s.clockNow().state, 'paused');
});

test('announce with ttl_ms beside it, cleared by null, expiring', () => {
  const s = new ScoreState();
  s.apply(snapshot([]));
  assert.equal(s.announcementNow(), null);
  s.apply({ type: 'delta', id: '101-0', announce: '比赛开始', ttl_ms: 3000 });
  const until = s.announce.until;
  assert.equal(s.announcementNow(until - 10), '比赛开始');
  assert.equal(s.announcementNow(until + 10), null);
  s.apply({ type: 'delta', id: '102-0', announce: { text: 'obj form', ttl_ms: 1000 } });
  assert.equal(s.announcementNow(), 'obj form');
  s.apply({ type: 'delta', id: '103-0', announce: null, ttl_ms: 8000 });
  assert.equal(s.announcementNow(), null);
});

test('commentary events: snapshot events, new ones, no duplicates on resume', () => {
  const s = new ScoreState();
  const ev = (id, e) => ({ type: 'event', id, event: e, at: idMillis(id) });
  s.apply(snapshot([row('A01', 90, 1)], { events: [ev('90-0', { type: 'score', station: 'A01', total: 90 })] }));
  assert.equal(s.events.length, 1);
  const r = s.apply(ev('101-0', { type: 'penalty', station: 'A01', points: 1.5, reason: 'x' }));
  assert.equal(r.kind, 'event');
  assert.equal(r.event.ev.reason, 'x');
  assert.equal(s.apply(ev('101-0', { type: 'penalty', station: 'A01', points: 1.5 })).event, null);
  assert.equal(s.events.length, 2);
  assert.equal(s.id, '101-0');
});

test('an old delta repeated on resume does not move the id back', () => {
  const s = new ScoreState();
  s.apply(snapshot([row('A01', 90, 1)], { id: '200-5' }));
  s.apply({ type: 'delta', id: '200-3', stations: [row('A01', 90, 1)], ranks: { A01: 1 } });
  assert.equal(s.id, '200-5');
});

test('unknown messages are ignored', () => {
  const s = new ScoreState();
  assert.equal(s.apply({ type: 'hello' }), null);
  assert.equal(s.apply(null), null);
});

test('formatting', () => {
  assert.equal(formatClock(0), '00:00');
  assert.equal(formatClock(83000), '01:23');
  assert.equal(formatClock(3723000), '1:02:03');
  assert.equal(formatClock(1), '00:01', 'a started second shows');
  assert.equal(formatScore(87.5), '87.5');
  assert.equal(formatScore(90), '90');
  assert.equal(formatScore(71.256), '71.26');
  assert.equal(formatScore(null), '—');
  assert.equal(compareIds('1732345678901-1', '1732345678901-0'), 1);
  assert.equal(compareIds('999-0', '1000-0'), -1);
  assert.equal(compareIds('0-0', '0-0'), 0);
});

const failed = results.filter((x) => !x).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
