// operator.js — GET /operator: the control room. Health, outputs and the
// program come from `status` messages on /control?token=… (every second);
// every button sends {"id":"c<n>","cmd":…,"args":{…}} on the same socket and
// shows its ack. Names and scores on the tiles come from /scores (open).
import {
  $, h, fill, setText, formatClock, formatScore, CLOCK_STATES, ScoreState, ReconnectingSocket, wsUrl,
  openAuthed, authForm, forgetToken, toast, playLiveTs,
} from './common.js';

const authEl = authForm('导播台 Operator', '请输入导播口令 Enter the operator token');

const LAYOUTS = [
  ['grid', '宫格', 'Grid', 0],
  ['focus', '主画面', 'Focus', 1],
  ['pip', '画中画', 'PiP', 1],
  ['sbs', '并排', 'Side by side', 2],
  ['single', '单画面', 'Single', 1],
];
const LAYOUT_NAMES = Object.fromEntries(LAYOUTS.map(([k, zh, en]) => [k, `${zh} ${en}`]));
const OVERLAYS = [
  ['scoreboard', '记分牌', 'Scoreboard'],
  ['clock', '计时', 'Clock'],
  ['lowerthird', '字幕条', 'Lower third'],
  ['leaderboard', '排行榜', 'Leaderboard'],
  ['live', '直播标', 'LIVE bug'],
];
const STATE_LABEL = { live: '在线 Live', lost: '信号中断 Lost', connecting: '连接中 Connecting' };
const OUT_LABEL = { running: '运行 Running', reconnecting: '重连 Reconnecting', stopped: '停止 Stopped', error: '错误 Error' };

let status = { stations: [], outputs: [], program: null };
let selection = []; // station ids, in the order they were picked (max 2)
const scores = new ScoreState();

// ---------------------------------------------------------------- commands

let seq = 0;
const pending = new Map(); // id → {label, timer, onDone}
let control = null;

function send(cmd, args, label, onDone) {
  if (!control || !control.open) {
    toast(`未连接，命令未发送 Not connected: ${label}`, 'error');
    return false;
  }
  const id = `c${++seq}`;
  const timer = setTimeout(() => {
    pending.delete(id);
    toast(`无应答 No reply: ${label}`, 'error');
    onDone?.(false);
  }, 5000);
  pending.set(id, { label, timer, onDone });
  control.send({ id, cmd, args });
  return true;
}

function onAck(msg) {
  const p = pending.get(msg.id);
  if (!p) return;
  pending.delete(msg.id);
  clearTimeout(p.timer);
  if (msg.ok) toast(`已执行 Done · ${p.label}`, 'ok');
  else toast(`失败 Failed · ${p.label}: ${msg.error || 'error'}`, 'error', 5000);
  p.onDone?.(!!msg.ok);
}

function withPending(btn, fn) {
  btn.classList.add('pending');
  btn.disabled = true;
  const done = () => { btn.classList.remove('pending'); btn.disabled = false; };
  if (!fn(done)) done();
}

// ---------------------------------------------------------------- stations

const tilesEl = $('#tiles');
const tileEls = new Map();

function stationIds() {
  const ids = status.stations.map((s) => s.id);
  for (const r of scores.rows) if (!ids.includes(r.id)) ids.push(r.id);
  return ids;
}

function nameOf(id) { return scores.byId.get(id)?.name || ''; }

function toggleSelect(id) {
  const i = selection.indexOf(id);
  if (i >= 0) selection.splice(i, 1);
  else { selection.push(id); if (selection.length > 2) selection.shift(); }
  renderTiles();
  renderLayouts();
}

function renderTiles() {
  const prog = status.program || {};
  const onAir = new Set(prog.stations || []);
  const health = new Map(status.stations.map((s) => [s.id, s]));
  const ids = stationIds();
  ids.forEach((id, index) => {
    let el = tileEls.get(id);
    if (!el) {
      el = h('button.tile', { type: 'button', dataset: { station: id }, onclick: () => toggleSelect(id) });
      tileEls.set(id, el);
    }
    const s = health.get(id) || { id, state: 'connecting' };
    const row = scores.byId.get(id);
    const sel = selection.indexOf(id);
    el.className = `tile ${s.state || 'connecting'}${sel >= 0 ? ' sel' : ''}`;
    el.title = `${id} ${nameOf(id)}`;
    el.setAttribute('aria-pressed', sel >= 0 ? 'true' : 'false');
    const stats = s.state === 'live' || s.fps
      ? [`${Number(s.fps || 0).toFixed(1)} fps`, `${Math.round(s.bitrate_kbps || 0)} kbps`,
        s.width ? `${s.width}×${s.height}` : null, `重连 ${s.reconnects || 0}`]
      : [`重连 Reconnects ${s.reconnects || 0}`];
    fill(el, 
      h('div.t-head', null, sel >= 0 ? h('span.t-sel', null, String(sel + 1)) : null,
        h('span.t-name', null, nameOf(id) || id), h('span.t-id', null, id)),
      h('span.t-state', null, STATE_LABEL[s.state] || s.state),
      h('div.t-stats', null, stats.filter(Boolean).map((t) => h('span', null, t))),
      s.last_error ? h('div.t-err', { title: s.last_error }, s.last_error) : null,
      h('div.t-tags', null,
        onAir.has(id) ? h('span.tag.onair', null, '在画面 ON AIR') : null,
        prog.focus === id ? h('span.tag.focus', null, '主 FOCUS') : null,
        row && row.score != null ? h('span.tag.score', null, `#${row.rank ?? '–'} · ${formatScore(row.score)}`) : null));
    if (tilesEl.children[index] !== el) tilesEl.insertBefore(el, tilesEl.children[index] || null);
  });
  for (const [id, el] of tileEls) if (!ids.includes(id)) { el.remove(); tileEls.delete(id); }
  selection = selection.filter((id) => ids.includes(id));
  const hint = $('#sel-hint');
  fill(hint, selection.length
    ? `已选 Selected: ${selection.map((id) => `${nameOf(id) || ''} ${id}`.trim()).join(' + ')}`
    : '点击选择机位 ', selection.length ? '' : h('i', null, 'Click to select'));
}

// ---------------------------------------------------------------- layout, transition

const layoutsEl = $('#layouts');
for (const [name, zh, en, needs] of LAYOUTS) {
  const b = h('button.btn', { type: 'button', dataset: { layout: name } }, zh, ' ', h('i', null, en));
  b.addEventListener('click', () => {
    const args = { name };
    if (needs === 1) {
      if (!selection.length) { toast(`请先选择一个机位 Select a station first (${en})`, 'error'); return; }
      args.station = selection[selection.length - 1];
    } else if (needs === 2) {
      if (selection.length < 2) { toast('请选择两个机位 Select two stations (Side by side)', 'error'); return; }
      args.stations = selection.slice(0, 2);
    }
    const what = args.station ? ` ${args.station}` : args.stations ? ` ${args.stations.join('+')}` : '';
    withPending(b, (done) => send('layout', args, `${zh} ${en}${what}`, done));
  });
  layoutsEl.append(b);
}

function renderLayouts() {
  const cur = status.program?.layout;
  for (const b of layoutsEl.children) {
    b.classList.toggle('on', b.dataset.layout === cur);
  }
}

let transType = 'cut';
const transBtns = [...document.querySelectorAll('#trans-type .btn')];
function renderTransType() { for (const b of transBtns) b.classList.toggle('on', b.dataset.type === transType); }
for (const b of transBtns) b.addEventListener('click', () => { transType = b.dataset.type; renderTransType(); });
renderTransType();
let transTouched = false;
$('#trans-ms').addEventListener('input', () => { transTouched = true; });
$('#trans-apply').addEventListener('click', (e) => {
  const ms = Math.max(0, Math.min(2000, Math.round(Number($('#trans-ms').value) || 0)));
  $('#trans-ms').value = ms;
  withPending(e.currentTarget, (done) => send('transition', { type: transType, ms },
    `转场 Transition ${transType} ${ms} ms`, (ok) => { if (ok) transTouched = false; done(); }));
});

// ---------------------------------------------------------------- overlays

const overlaysEl = $('#overlays');
for (const [name, zh, en] of OVERLAYS) {
  const b = h('button.btn', { type: 'button', dataset: { overlay: name }, 'aria-pressed': 'false' }, zh, ' ', h('i', null, en));
  b.addEventListener('click', () => {
    const visible = !(status.program?.overlays?.[name]);
    withPending(b, (done) => send('overlay', { name, visible },
      `${zh} ${en} ${visible ? '显示 on' : '隐藏 off'}`, done));
  });
  overlaysEl.append(b);
}
function renderOverlays() {
  const ov = status.program?.overlays || {};
  for (const b of overlaysEl.children) {
    const on = !!ov[b.dataset.overlay];
    b.classList.toggle('on', on);
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
  }
}

// ---------------------------------------------------------------- announcement

$('#announce-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('#announce-text').value.trim();
  if (!text) return;
  const ttl_ms = Math.max(1, Math.min(120, Number($('#announce-ttl').value) || 8)) * 1000;
  const btn = e.currentTarget.querySelector('button');
  withPending(btn, (done) => send('announce', { text, ttl_ms }, `公告 Announcement`, (ok) => {
    if (ok) $('#announce-text').value = '';
    done();
  }));
});

// ---------------------------------------------------------------- outputs

const outEl = $('#outputs');
function fmtBytes(n) {
  n = Number(n) || 0;
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} B`;
}
function renderOutputs() {
  const outs = status.outputs || [];
  $('#outputs-empty').hidden = outs.length > 0;
  // Rebuild only when something visible changed, so a button under the
  // pointer is not replaced every second.
  const sig = JSON.stringify(outs.map((o) => [o.id, o.type, o.state, o.last_error, fmtBytes(o.bytes), o.reconnects]));
  if (outEl.dataset.sig === sig) return;
  outEl.dataset.sig = sig;
  outEl.replaceChildren(...outs.map((o) => {
    const running = o.state === 'running' || o.state === 'reconnecting';
    const action = running ? 'stop' : 'start';
    const b = h(`button.btn.small${running ? '.danger' : ''}`, { type: 'button', dataset: { output: o.id, action } },
      running ? '停止 ' : '启动 ', h('i', null, running ? 'Stop' : 'Start'));
    b.addEventListener('click', () => {
      withPending(b, (done) => send('output', { id: o.id, action }, `输出 Output ${o.id} ${action}`, done));
    });
    return h('tr', { dataset: { output: o.id } },
      h('td', null, h('span.oid', null, o.id), h('span.otype', null, o.type || '')),
      h('td', null, h(`span.ostate.ostate-${o.state}`, null, OUT_LABEL[o.state] || o.state)),
      h('td.r.num', null, fmtBytes(o.bytes)),
      h('td.r.num', null, String(o.reconnects ?? 0)),
      h('td', null, o.last_error ? h('span.oerr', { title: o.last_error }, o.last_error) : h('span.org', null, '—')),
      h('td.r', null, b));
  }));
}

// ---------------------------------------------------------------- audio

const mixerEl = $('#mixer');
const strips = new Map(); // id → {el, gain, mute}

function strip(id, label, sub) {
  let s = strips.get(id);
  if (s) { setText(s.nameEl.firstChild, label); return s; }
  s = { gain: 0, mute: false };
  const range = h('input', { type: 'range', min: -60, max: 12, step: 1, value: 0, 'aria-label': `${label} gain dB` });
  const db = h('span.s-db', null, '0 dB');
  const mute = h('button.btn.small', { type: 'button' }, '静音 ', h('i', null, 'Mute'));
  s.nameEl = h('span.s-name', null, h('span', null, label), h('i', null, sub));
  const sendAudio = () => send('audio', { station: id, gain_db: s.gain, mute: s.mute },
    `音频 Audio ${id} ${s.mute ? '静音 muted' : `${s.gain} dB`}`);
  range.addEventListener('input', () => { s.gain = Number(range.value); setText(db, `${s.gain} dB`); });
  range.addEventListener('change', sendAudio); // on release: one command, not one per pixel
  mute.addEventListener('click', () => {
    s.mute = !s.mute;
    mute.classList.toggle('muted', s.mute);
    fill(mute, s.mute ? '已静音 ' : '静音 ', h('i', null, s.mute ? 'Muted' : 'Mute'));
    sendAudio();
  });
  s.el = h(`div.strip${id === 'program' ? '.program' : ''}`, { dataset: { audio: id } }, s.nameEl, range, db, mute);
  strips.set(id, s);
  return s;
}

function renderMixer() {
  const els = [strip('program', '节目', 'Program').el];
  for (const id of stationIds()) els.push(strip(id, nameOf(id) || id, id).el);
  // The commentary input (program.audio.commentary), when configured: its
  // own strip, with the feed's state (live / connecting / lost).
  const com = status.program && status.program.commentary;
  if (com) {
    const s = strip('commentary', '解说', 'Commentary');
    setText(s.nameEl.lastChild, `Commentary · ${com.state}`);
    s.el.classList.toggle('lost', com.state !== 'live');
    els.push(s.el);
  }
  els.forEach((el, i) => { if (mixerEl.children[i] !== el) mixerEl.insertBefore(el, mixerEl.children[i] || null); });
}

// ---------------------------------------------------------------- program

function renderProgram() {
  const p = status.program;
  if (!p) return;
  setText($('#pgm-layout'), LAYOUT_NAMES[p.layout] || p.layout || '—');
  setText($('#pgm-focus'), p.focus ? `${nameOf(p.focus)} ${p.focus}`.trim() : '—');
  const t = p.transition || {};
  setText($('#pgm-transition'), t.type ? `${t.type === 'fade' ? '淡入淡出 Fade' : '硬切 Cut'}${t.type === 'fade' ? ` ${t.ms} ms` : ''}` : '—');
  setText($('#pgm-rate'), p.fps != null ? Number(p.fps).toFixed(2) : '—');
  setText($('#pgm-late'), p.late_frames ?? '—');
  setText($('#pgm-fps'), p.fps != null ? `${Number(p.fps).toFixed(1)} fps` : '');
  const on = $('#pgm-stations');
  const sig = (p.stations || []).join(',') + '|' + (p.stations || []).map(nameOf).join(',');
  if (on.dataset.sig !== sig) {
    on.dataset.sig = sig;
    fill(on, ...(p.stations || []).map((id) => h('span.chip', null, `${nameOf(id)} ${id}`.trim())));
    if (!(p.stations || []).length) on.textContent = '—';
  }
  if (t.type && !transTouched && document.activeElement !== $('#trans-ms')) {
    if (t.type !== transType) { transType = t.type; renderTransType(); }
    if (t.ms != null) $('#trans-ms').value = t.ms;
  }
}

function renderAll() {
  renderTiles();
  renderLayouts();
  renderOverlays();
  renderOutputs();
  renderProgram();
  renderMixer();
}

// ---------------------------------------------------------------- header, clock

function tick() {
  const c = scores.clockNow();
  setText($('#clock-time'), formatClock(c.remaining_ms));
  const [zh, en] = CLOCK_STATES[c.state] || [c.state, ''];
  setText($('#clock-state'), `${zh} ${en}`);
  $('#clock').className = `clock ${c.state}`;
}
setInterval(tick, 250);
$('#signout').addEventListener('click', () => { forgetToken('operator'); location.reload(); });

// Names, scores and the clock: the open /scores feed.
const scoreSock = new ReconnectingSocket(
  () => wsUrl('/scores', { since: scores.snapshots ? scores.id : null }),
  {
    onmessage(data) {
      let msg;
      try { msg = JSON.parse(data); } catch { return; }
      const res = scores.apply(msg);
      if (!res) return;
      if (res.kind === 'snapshot') {
        const t = scores.contest.title || '技能天下';
        fill($('#title'), t, ' ', h('i', null, 'Operator'));
        document.title = `导播台 Operator · ${t}`;
      }
      if (res.rowsChanged) { renderTiles(); renderMixer(); renderProgram(); }
      tick();
    },
  });

// ---------------------------------------------------------------- control socket

control = await openAuthed({
  kind: 'operator',
  path: '/control',
  authEl,
  connEl: $('#conn'),
  handlers: {
    onmessage(data) {
      let msg;
      try { msg = JSON.parse(data); } catch { return; }
      if (msg.type === 'ack') onAck(msg);
      else if (msg.type === 'status') {
        status = {
          stations: Array.isArray(msg.stations) ? msg.stations : [],
          outputs: Array.isArray(msg.outputs) ? msg.outputs : [],
          program: msg.program || null,
        };
        renderAll();
      }
    },
    onclose() {
      // Commands in flight will never be acked on this socket.
      for (const [id, p] of pending) {
        clearTimeout(p.timer);
        toast(`连接断开，结果未知 Disconnected: ${p.label}`, 'error');
        p.onDone?.(false);
        pending.delete(id);
      }
    },
  },
});
window.addEventListener('pagehide', () => { control.stop(); scoreSock.stop(); });
renderAll();

// ---------------------------------------------------------------- preview

const video = $('#video');
video.addEventListener('playing', () => { $('#video-msg').hidden = true; });
playLiveTs(video, (s, detail) => {
  if (s === 'playing') $('#video-msg').hidden = true;
  else if (s === 'error') { $('#video-msg').hidden = false; fill($('#video-msg'), h('div', null, h('b', null, '无法播放'), `Cannot play: ${detail}`)); }
});

window.skillcast = { status: () => status, scores, control, selection: () => selection };
