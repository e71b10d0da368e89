// commentator.js — GET /commentator: the full table (sortable), a card per
// station with its penalties and score history, the event log and a
// low-latency preview. Data: /commentary?token=… (snapshot with the last 200
// events, then deltas and events), resumed with ?since=<last id>.
import {
  $, h, fill, setText, formatClock, formatScore, formatTime, stateBadge, STATION_STATES, CLOCK_STATES,
  EVENT_TYPES, ScoreState, openAuthed, authForm, forgetToken, reorderAnimated, flash, playLiveTs,
} from './common.js';

const state = new ScoreState();
const authEl = authForm('解说席 Commentator', '请输入解说口令 Enter the commentator token');
let sortKey = 'rank';
let sortDir = 1;
let selected = null;

// ---------------------------------------------------------------- per-station history from events

/** id → {series: [{at, score, pen}], pens: [{at, points, reason}], last: event} */
let history = new Map();

function rebuildHistory() {
  history = new Map();
  const run = new Map(); // id → {total, pens}
  for (const e of state.events) addToHistory(e, run);
  // The snapshot keeps only the last 200 events: penalties older than that
  // are in the row's sum but not in the window. Shift each series by the
  // difference so its last point is the row's score.
  for (const [id, hst] of history) {
    const row = state.byId.get(id);
    const r = run.get(id);
    if (!row || !r) continue;
    const missing = (Number(row.penalties) || 0) - r.pens;
    if (Math.abs(missing) > 1e-9) for (const p of hst.series) if (p.score != null) p.score -= missing;
  }
  historyRun = run;
}
let historyRun = new Map();

function addToHistory(e, run = historyRun) {
  const ev = e.ev;
  const id = ev.station;
  if (!id) return;
  let hst = history.get(id);
  if (!hst) { hst = { series: [], pens: [], last: null }; history.set(id, hst); }
  let r = run.get(id);
  if (!r) { r = { total: null, pens: 0 }; run.set(id, r); }
  if (ev.type === 'score') {
    r.total = Number(ev.total);
    hst.series.push({ at: e.at, score: r.total - r.pens });
    hst.last = e;
  } else if (ev.type === 'penalty') {
    const pts = Number(ev.points) || 0;
    r.pens += pts;
    hst.pens.push({ at: e.at, points: pts, reason: ev.reason || '' });
    if (r.total != null) hst.series.push({ at: e.at, score: r.total - r.pens, pen: true });
    hst.last = e;
  }
}

// ---------------------------------------------------------------- table

const tbody = $('#rows');
const rowEls = new Map();

function sortedRows() {
  if (sortKey === 'rank' && sortDir === 1) return state.rows;
  const num = ['rank', 'score', 'total', 'penalties'].includes(sortKey);
  const rows = [...state.rows];
  rows.sort((a, b) => {
    const va = a[sortKey], vb = b[sortKey];
    const na = va == null || va === '', nb = vb == null || vb === '';
    if (na !== nb) return na ? 1 : -1; // empty values last either way
    if (na) return 0;
    const c = num ? Number(va) - Number(vb) : String(va).localeCompare(String(vb), 'zh-CN');
    return c * sortDir;
  });
  return rows;
}

function renderRow(tr, r) {
  const c = tr.children;
  const rk = c[0].firstChild;
  setText(rk, r.rank == null ? '–' : r.rank);
  rk.className = r.rank == null ? 'rank rank-none' : `rank rank-${r.rank}`;
  setText(c[1].firstChild, r.id);
  setText(c[2].firstChild, r.name || '');
  setText(c[3], r.org || '');
  setText(c[4], r.trade || '');
  setText(c[5].firstChild, formatScore(r.score));
  c[5].firstChild.classList.toggle('none', r.score == null);
  setText(c[6], formatScore(r.total));
  setText(c[7], r.penalties ? `−${formatScore(r.penalties)}` : '0');
  if (c[8].dataset.state !== r.state) { c[8].dataset.state = r.state || ''; c[8].replaceChildren(stateBadge(r.state)); }
  tr.classList.toggle('dq', r.state === 'disqualified');
  tr.classList.toggle('selected', r.id === selected);
}

function rowFor(r) {
  let tr = rowEls.get(r.id);
  if (!tr) {
    tr = h('tr', { dataset: { station: r.id }, onclick: () => select(r.id) },
      h('td', null, h('span.rank')), h('td', null, h('span.sid')), h('td', null, h('span.name')),
      h('td.org'), h('td.org'), h('td.r', null, h('span.score')), h('td.r.num'), h('td.r.num.pen'), h('td'));
    rowEls.set(r.id, tr);
  }
  renderRow(tr, r);
  return tr;
}

function renderTable(changed = new Set()) {
  const els = sortedRows().map(rowFor);
  for (const [id, tr] of rowEls) if (!state.byId.has(id)) { tr.remove(); rowEls.delete(id); }
  reorderAnimated(tbody, els);
  for (const id of changed) { const tr = rowEls.get(id); if (tr) flash(tr); }
  $('#empty').hidden = state.rows.length > 0;
}

for (const th of document.querySelectorAll('#board th[data-key]')) {
  th.tabIndex = 0;
  th.setAttribute('role', 'button');
  th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); th.click(); } });
  th.addEventListener('click', () => {
    const k = th.dataset.key;
    if (sortKey === k) sortDir = -sortDir;
    else { sortKey = k; sortDir = ['score', 'total'].includes(k) ? -1 : 1; }
    for (const o of document.querySelectorAll('#board th')) o.classList.remove('sorted', 'asc', 'desc');
    th.classList.add('sorted', sortDir === 1 ? 'asc' : 'desc');
    renderTable();
  });
}

// ---------------------------------------------------------------- cards

const cardsEl = $('#cards');
const cardEls = new Map();

function spark(hst) {
  const pts = (hst?.series || []).filter((p) => p.score != null && Number.isFinite(p.score));
  if (pts.length < 2) return h('div.spark-empty', null, pts.length ? '仅一次评分 One score so far' : '暂无评分 No scores yet');
  const W = 260, H = 56, P = 5;
  const t0 = pts[0].at, t1 = pts[pts.length - 1].at || t0 + 1;
  let lo = Math.min(...pts.map((p) => p.score)), hi = Math.max(...pts.map((p) => p.score));
  if (hi - lo < 1) { hi += 0.5; lo -= 0.5; }
  const x = (t) => P + ((t - t0) / Math.max(1, t1 - t0)) * (W - 2 * P);
  const y = (s) => H - P - ((s - lo) / (hi - lo)) * (H - 2 * P);
  const xy = pts.map((p) => [x(p.at), y(p.score)]);
  const line = xy.map(([a, b], i) => `${i ? 'L' : 'M'}${a.toFixed(1)},${b.toFixed(1)}`).join('');
  const area = `${line}L${xy[xy.length - 1][0].toFixed(1)},${H}L${xy[0][0].toFixed(1)},${H}Z`;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `成绩走势 Score history: ${pts.map((p) => formatScore(p.score)).join(', ')}`);
  const path = (d, cls) => { const e = document.createElementNS(ns, 'path'); e.setAttribute('d', d); e.setAttribute('class', cls); svg.append(e); };
  path(area, 'area');
  path(line, 'line');
  const title = document.createElementNS(ns, 'title');
  title.textContent = `最高 High ${formatScore(hi)} · 最低 Low ${formatScore(lo)}`;
  svg.append(title);
  const last = pts[pts.length - 1];
  const c = document.createElementNS(ns, 'circle');
  c.setAttribute('cx', x(last.at)); c.setAttribute('cy', y(last.score)); c.setAttribute('r', 3);
  c.setAttribute('class', last.pen ? 'pdot' : 'dot');
  svg.append(c);
  return svg;
}

function renderCard(r) {
  let el = cardEls.get(r.id);
  if (!el) {
    el = h('article.card', { dataset: { station: r.id }, onclick: () => select(r.id) });
    cardEls.set(r.id, el);
  }
  const hst = history.get(r.id);
  const pens = (hst?.pens || []).slice(-4).reverse();
  const last = hst?.last?.ev;
  fill(el, 
    h('div.card-head', null,
      h(`span.rank${r.rank == null ? '.rank-none' : `.rank-${r.rank}`}`, null, r.rank == null ? '–' : r.rank),
      h('div.who', null, h('span.name', null, r.name || r.id), h('span.sid', null, r.id),
        h('span.org', null, [r.org, r.trade].filter(Boolean).join(' · '))),
      stateBadge(r.state)),
    h('div.card-figs', null,
      h(`span.big${r.score == null ? '.none' : ''}`, null, formatScore(r.score)),
      h('span.fig', null, '评分 Total', h('b', null, formatScore(r.total))),
      h('span.fig.pen', null, '扣分 Penalties', h('b', null, r.penalties ? `−${formatScore(r.penalties)}` : '0'))),
    spark(hst),
    pens.length ? h('ul.pens', null, pens.map((p) => h('li', null,
      h('span.pts', null, `−${formatScore(p.points)}`), h('span', null, p.reason || '—'), h('span.t', null, formatTime(p.at))))) : null,
    last?.type === 'score' ? h('div.last', null,
      `最近评分 Last: ${formatScore(last.total)}`,
      last.judge ? ` · 裁判 Judge ${last.judge}` : '', last.item ? ` · ${last.item}` : '') : null);
  el.classList.toggle('selected', r.id === selected);
  return el;
}

function renderCards(changed = new Set()) {
  const els = state.rows.map(renderCard);
  for (const [id, el] of cardEls) if (!state.byId.has(id)) { el.remove(); cardEls.delete(id); }
  reorderAnimated(cardsEl, els);
  for (const id of changed) { const el = cardEls.get(id); if (el) flash(el, 'flash-card'); }
}

function select(id) {
  selected = selected === id ? null : id;
  for (const [sid, tr] of rowEls) tr.classList.toggle('selected', sid === selected);
  for (const [sid, el] of cardEls) el.classList.toggle('selected', sid === selected);
  if (selected) cardEls.get(selected)?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

// ---------------------------------------------------------------- event log

const logEl = $('#log');
const MAX_LOG = 300;

function stationName(id) {
  const r = state.byId.get(id);
  return r?.name ? `${r.name} ${id}` : id;
}

function describe(ev) {
  const who = ev.station ? h('b', null, stationName(ev.station), ' ') : null;
  switch (ev.type) {
    case 'score':
      return [[who, '评分 ', h('span.v', null, formatScore(ev.total))],
        [ev.judge && `裁判 Judge ${ev.judge}`, ev.item && `项目 Item ${ev.item}`,
          ev.detail && `细项 ${typeof ev.detail === 'string' ? ev.detail : JSON.stringify(ev.detail)}`]];
    case 'penalty':
      return [[who, '扣分 ', h('span.v', null, `−${formatScore(ev.points)}`)], [ev.reason && `原因 Reason: ${ev.reason}`, ev.judge && `裁判 Judge ${ev.judge}`]];
    case 'status': {
      const [zh, en] = STATION_STATES[ev.state] || [ev.state, ''];
      return [[who, '→ ', h('span.v', null, zh), ' ', h('i', null, en)], []];
    }
    case 'clock': {
      const [zh, en] = CLOCK_STATES[ev.state] || [ev.state, ''];
      return [[h('span.v', null, zh), ' ', h('i', null, en), ` · 剩余 ${formatClock(ev.remaining_ms)}`], []];
    }
    case 'announce':
      return [[h('span.v', null, ev.text || '')], [ev.ttl_ms && `显示 ${Math.round(Number(ev.ttl_ms) / 1000)} s`]];
    case 'competitor':
      return [[h('b', null, ev.station, ' '), ev.name || ''], [ev.org, ev.trade]];
    default:
      return [[who, JSON.stringify(ev)], []];
  }
}

function logItem(e, fresh) {
  const ev = e.ev;
  const [zh, en] = EVENT_TYPES[ev.type] || [ev.type, ''];
  const [main, meta] = describe(ev);
  const metaText = meta.filter(Boolean).join(' · ');
  return h(`li${fresh ? '.new' : ''}`, { dataset: { id: e.id, type: ev.type } },
    h('span.t', { title: e.id }, formatTime(e.at)),
    h(`span.ty.ty-${ev.type}`, { title: en }, zh),
    h('span.what', null, main),
    metaText ? h('span.meta', { title: metaText }, metaText) : null);
}

function renderLog() {
  const items = state.events.slice(-MAX_LOG).reverse().map((e) => logItem(e, false));
  logEl.replaceChildren(...items);
  renderLogCount();
}

function prependLog(e) {
  logEl.prepend(logItem(e, true));
  while (logEl.children.length > MAX_LOG) logEl.lastChild.remove();
  renderLogCount();
}

function renderLogCount() {
  setText($('#log-count'), state.events.length ? `${state.events.length} 条 events` : '');
  $('#log-empty').hidden = state.events.length > 0;
}

// ---------------------------------------------------------------- header

function renderTitle() {
  const t = state.contest.title || '技能天下';
  const el = $('#title');
  if (el.dataset.title !== t) {
    el.dataset.title = t;
    fill(el, t, ' ', h('i', null, 'Commentator'));
    document.title = `解说席 Commentator · ${t}`;
  }
}

function tick() {
  const c = state.clockNow();
  setText($('#clock-time'), formatClock(c.remaining_ms));
  const [zh, en] = CLOCK_STATES[c.state] || [c.state, ''];
  setText($('#clock-state'), `${zh} ${en}`);
  const cls = `clock ${c.state}${c.state === 'running' && c.remaining_ms < 5 * 60000 ? ' low' : ''}`;
  if ($('#clock').className !== cls) $('#clock').className = cls;
  const text = state.announcementNow();
  if (text) setText($('#announce-text'), text);
  $('#announce').hidden = !text;
}
setInterval(tick, 250);
tick();

$('#signout').addEventListener('click', () => { forgetToken('commentator'); location.reload(); });

// ---------------------------------------------------------------- data

const socket = await openAuthed({
  kind: 'commentator',
  path: '/commentary',
  authEl,
  connEl: $('#conn'),
  params: () => ({ since: state.snapshots ? state.id : null }),
  handlers: {
    onmessage(data) {
      let msg;
      try { msg = JSON.parse(data); } catch { return; }
      const res = state.apply(msg);
      if (!res) return;
      if (res.kind === 'snapshot') {
        renderTitle();
        rebuildHistory();
        renderTable();
        renderCards();
        renderLog();
      } else if (res.kind === 'delta') {
        if (res.rowsChanged) { renderTable(res.changed); renderCards(res.changed); }
      } else if (res.kind === 'event' && res.event) {
        addToHistory(res.event);
        prependLog(res.event);
        const sid = res.event.ev.station;
        if (sid && state.byId.has(sid)) renderCard(state.byId.get(sid));
      }
      if (res.clockChanged || res.announceChanged) tick();
    },
  },
});
window.addEventListener('pagehide', () => socket.stop());

// ---------------------------------------------------------------- preview

const video = $('#video');
let preview = null;
function startPreview() {
  preview = playLiveTs(video, (s, detail) => {
    const msg = $('#video-msg');
    if (s === 'playing') msg.hidden = true;
    else if (s === 'error') { msg.hidden = false; fill(msg, h('div', null, h('b', null, '无法播放'), `Cannot play: ${detail}`)); }
  });
}
video.addEventListener('playing', () => { $('#video-msg').hidden = true; });
$('#preview-on').addEventListener('change', (e) => {
  if (e.target.checked) startPreview();
  else { preview?.stop(); preview = null; $('#video-msg').hidden = false; }
});
startPreview();

window.skillcast = { state, socket, video, history: () => history };
