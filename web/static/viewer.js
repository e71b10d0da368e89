// viewer.js — the public page (GET /): program video and the live ranking.
// Scores come from the /scores WebSocket (snapshot, then deltas); the page
// resumes with ?since=<last id> after any disconnect.
import {
  $, h, fill, setText, formatClock, formatScore, stateBadge, formatTime, CLOCK_STATES, ScoreState,
  ReconnectingSocket, showConn, wsUrl, reorderAnimated, flash, playHls, playLiveTs, findHlsOutput,
} from './common.js';

const state = new ScoreState();
const rowEls = new Map(); // station id → <tr>
const tbody = $('#rows');

// ---------------------------------------------------------------- scoreboard

function renderRow(tr, r) {
  const rank = r.rank == null ? '–' : r.rank;
  const rankCls = r.rank == null ? 'rank rank-none' : `rank rank-${r.rank}`;
  const rk = tr.querySelector('.rank');
  setText(rk, rank);
  if (rk.className !== rankCls) rk.className = rankCls;
  setText(tr.querySelector('.name'), r.name || r.id);
  setText(tr.querySelector('.org'), [r.org, r.trade].filter(Boolean).join(' · ') || r.id);
  const sc = tr.querySelector('.score');
  setText(sc, formatScore(r.score));
  sc.classList.toggle('none', r.score == null);
  const st = tr.querySelector('.col-state');
  if (st.dataset.state !== r.state) {
    st.dataset.state = r.state || '';
    fill(st, stateBadge(r.state));
  }
  tr.classList.toggle('dq', r.state === 'disqualified');
}

function rowFor(r) {
  let tr = rowEls.get(r.id);
  if (!tr) {
    tr = h('tr', { dataset: { station: r.id } },
      h('td', null, h('span.rank')),
      h('td.who', null, h('span.name'), h('span.org')),
      h('td.r', null, h('span.score')),
      h('td.col-state'));
    rowEls.set(r.id, tr);
  }
  renderRow(tr, r);
  return tr;
}

function renderBoard(changed) {
  const els = state.rows.map(rowFor);
  for (const [id, tr] of rowEls) if (!state.byId.has(id)) { tr.remove(); rowEls.delete(id); }
  reorderAnimated(tbody, els);
  for (const id of changed) { const tr = rowEls.get(id); if (tr) flash(tr); }
  $('#empty').hidden = state.rows.length > 0;
  fill($('#board-foot'), `更新于 ${formatTime(Date.now())} · 评分实时推送 `, h('i', null, 'Scores update live'));
  setText($('#count'), state.rows.length ? `${state.rows.length} 个工位 stations` : '');
}

function renderTitle() {
  const t = state.contest.title || '比赛直播';
  const el = $('#title');
  if (el.dataset.title !== t) {
    el.dataset.title = t;
    fill(el, t, ' ', h('i', null, 'Live'));
    document.title = `${t} · 直播 Live`;
  }
}

function tickClock() {
  const c = state.clockNow();
  const el = $('#clock');
  setText($('#clock-time'), formatClock(c.remaining_ms));
  const [zh, en] = CLOCK_STATES[c.state] || [c.state, ''];
  setText($('#clock-state'), `${zh} ${en}`);
  const cls = `clock ${c.state}${c.state === 'running' && c.remaining_ms < 5 * 60000 ? ' low' : ''}`;
  if (el.className !== cls) el.className = cls;

  const text = state.announcementNow();
  const box = $('#announce');
  if (text) setText($('#announce-text'), text);
  if (box.hidden !== !text) box.hidden = !text;
}

const socket = new ReconnectingSocket(
  () => wsUrl('/scores', { since: state.snapshots ? state.id : null }),
  {
    onmessage(data) {
      let msg;
      try { msg = JSON.parse(data); } catch { return; }
      const res = state.apply(msg);
      if (!res) return;
      if (res.kind === 'snapshot') renderTitle();
      if (res.rowsChanged) renderBoard(res.kind === 'snapshot' ? new Set() : res.changed);
      if (res.clockChanged || res.announceChanged) tickClock();
    },
    onstate(s, retry) { showConn($('#conn'), s, retry); },
  });
window.addEventListener('pagehide', () => socket.stop());
setInterval(tickClock, 250);
tickClock();

// ---------------------------------------------------------------- video

const video = $('#video');
const msg = $('#video-msg');
let player = null;

function onVideoState(s, detail) {
  if (s === 'playing') msg.hidden = true;
  else if (video.currentTime === 0 || s === 'error') {
    msg.hidden = false;
    fill(msg, h('div', null,
      h('b', null, s === 'error' ? '无法播放' : '等待节目信号…'),
      s === 'error' ? `Cannot play: ${detail}` : 'Waiting for the program'));
  }
}
video.addEventListener('playing', () => { msg.hidden = true; });
// The red "直播 LIVE" tag lights while the picture moves.
let lastT = -1;
setInterval(() => {
  const moving = video.currentTime !== lastT && !video.paused;
  lastT = video.currentTime;
  $('#onair').classList.toggle('playing', moving);
}, 1000);

async function startVideo(lowLatency) {
  player?.stop();
  player = null;
  msg.hidden = false;
  if (lowLatency) {
    setText($('#video-src'), '低延迟 WebSocket · /live/program');
    player = playLiveTs(video, onVideoState);
  } else {
    const id = await findHlsOutput();
    setText($('#video-src'), `HLS · ${id}`);
    player = playHls(video, id, onVideoState);
  }
}

const lowlat = $('#lowlat');
const q = new URLSearchParams(location.search);
let ll = q.has('ll') ? q.get('ll') === '1' : false;
try { if (!q.has('ll')) ll = localStorage.getItem('skillcast.lowlat') === '1'; } catch { /* private mode */ }
lowlat.checked = ll;
lowlat.addEventListener('change', () => {
  try { localStorage.setItem('skillcast.lowlat', lowlat.checked ? '1' : '0'); } catch { /* private mode */ }
  startVideo(lowlat.checked);
});
startVideo(ll);

const ICON_MUTED = '<svg viewBox="0 0 24 24"><path d="M11 5 6 9H3v6h3l5 4z"/><path d="m22 9-6 6M16 9l6 6"/></svg>';
const ICON_SOUND = '<svg viewBox="0 0 24 24"><path d="M11 5 6 9H3v6h3l5 4z"/><path d="M15.5 8.5a5 5 0 0 1 0 7M18.5 5.5a9 9 0 0 1 0 13"/></svg>';
const unmute = $('#unmute');
function renderMute() {
  unmute.innerHTML = video.muted ? ICON_MUTED : ICON_SOUND;
  unmute.append(video.muted ? '开启声音 ' : '静音 ', h('i', null, video.muted ? 'Unmute' : 'Mute'));
}
unmute.addEventListener('click', () => { video.muted = !video.muted; if (!video.muted) video.play().catch(() => {}); renderMute(); });
renderMute();

// For tests and curious users: the page's view of the contest.
window.skillcast = { state, socket, video };
