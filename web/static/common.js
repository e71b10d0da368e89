// common.js — what the three pages share (CONTRACTS.md §4–5):
//  - token handling for /commentator and /operator (URL ?token=, session
//    storage, a form), and the probe that tells a bad token from a dead server;
//  - a WebSocket that reconnects by itself with exponential backoff;
//  - the scoreboard fold: snapshot then deltas, exactly as the server sends them;
//  - clock and number formatting, small DOM helpers, toasts, players.

// ---------------------------------------------------------------- DOM helpers

/** h('div.row.flash', {title: 'x'}, child, 'text') — a tiny element builder. */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** el.replaceChildren() without the "null" text nodes it makes of null. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

/** Sets text only when it changed, so unchanged cells cause no layout work. */
export function setText(el, text) {
  const s = text == null ? '' : String(text);
  if (el.textContent !== s) el.textContent = s;
}

// ---------------------------------------------------------------- formatting

/** 3723000 → "1:02:03", 83000 → "01:23". Negative clamps to 0. */
export function formatClock(ms) {
  const total = Math.max(0, Math.ceil((Number(ms) || 0) / 1000));
  const hh = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  const p2 = (n) => String(n).padStart(2, '0');
  return hh > 0 ? `${hh}:${p2(mm)}:${p2(ss)}` : `${p2(mm)}:${p2(ss)}`;
}

/** Scores keep up to two decimals, without trailing zeros: 87.5, 90, 71.25. */
export function formatScore(v) {
  if (v == null || v === '' || Number.isNaN(Number(v))) return '—';
  const n = Math.round(Number(v) * 100) / 100;
  return String(n);
}

/** Milliseconds since the epoch → "14:05:09" local time. */
export function formatTime(ms) {
  if (!ms) return '';
  const d = new Date(Number(ms));
  const p2 = (n) => String(n).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

/** Redis entry id "1732345678901-0" → 1732345678901 (its milliseconds). */
export function idMillis(id) {
  const n = parseInt(String(id || '').split('-')[0], 10);
  return Number.isFinite(n) ? n : 0;
}

/** Compares two Redis entry ids; "0-0" is the smallest. */
export function compareIds(a, b) {
  const [am, as] = String(a || '0-0').split('-').map((x) => BigInt(x || 0));
  const [bm, bs] = String(b || '0-0').split('-').map((x) => BigInt(x || 0));
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

export const STATION_STATES = {
  ready: ['就绪', 'Ready'],
  working: ['比赛中', 'Working'],
  finished: ['已完成', 'Finished'],
  paused: ['暂停', 'Paused'],
  disqualified: ['取消资格', 'DQ'],
};

export const CLOCK_STATES = {
  running: ['进行中', 'Running'],
  paused: ['暂停', 'Paused'],
  stopped: ['未计时', 'Stopped'],
};

export const EVENT_TYPES = {
  competitor: ['选手', 'Competitor'],
  score: ['评分', 'Score'],
  penalty: ['扣分', 'Penalty'],
  status: ['状态', 'Status'],
  clock: ['计时', 'Clock'],
  announce: ['公告', 'Notice'],
};

/** A state badge: <span class="state state-working">比赛中 <i>Working</i></span>. */
export function stateBadge(state) {
  const [zh, en] = STATION_STATES[state] || [state || '—', ''];
  return h(`span.state.state-${state || 'none'}`, null, zh, en ? h('i', null, en) : null);
}

// ---------------------------------------------------------------- URLs, tokens

export function wsUrl(path, params = {}) {
  const u = new URL(path, location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') u.searchParams.set(k, v);
  return u.toString();
}

const tokenKey = (kind) => `skillcast.token.${kind}`;

/**
 * The token for KIND ("operator" or "commentator"): from ?token= in the
 * page's own URL (then kept in sessionStorage and removed from the address
 * bar, so it does not end up in screenshots, history or a shared link), else
 * from sessionStorage, else null (the page asks with a form).
 */
export function takeToken(kind) {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try { sessionStorage.setItem(tokenKey(kind), fromUrl); } catch { /* private mode */ }
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try { return sessionStorage.getItem(tokenKey(kind)); } catch { return null; }
}

export function storeToken(kind, token) {
  try { sessionStorage.setItem(tokenKey(kind), token); } catch { /* private mode */ }
}

export function forgetToken(kind) {
  try { sessionStorage.removeItem(tokenKey(kind)); } catch { /* private mode */ }
}

/**
 * A browser cannot read the HTTP status of a failed WebSocket upgrade, so
 * when a token socket closes before it ever opened, find out why:
 *  1. GET PATH?token=T without an upgrade. A server that checks the token
 *     on plain requests too answers 401 (bad token) or 429 (too many
 *     failures) here.
 *  2. Otherwise (e.g. 426 Upgrade Required, token not looked at): for
 *     /control, POST /api/control with "Authorization: Bearer T" and an empty
 *     body: 401/429 as above, 400 means the token is good (and nothing runs).
 *     For /commentary, which has no plain-HTTP twin, open the token-free
 *     /scores: if the same server accepts that upgrade right now, only the
 *     token can have been refused.
 * Returns 'invalid', 'limited' or 'unknown' (server down, full or restarting:
 * keep retrying). Each probe with a bad token counts as one more failure
 * towards the server's limit of 10 a minute.
 */
export async function probeToken(path, token) {
  let status = 0;
  try {
    const u = new URL(path, location.href);
    u.searchParams.set('token', token);
    status = (await fetch(u, { cache: 'no-store', credentials: 'omit' })).status;
  } catch {
    return 'unknown'; // no answer at all: the server is down
  }
  if (status === 401 || status === 403) return 'invalid';
  if (status === 429) return 'limited';
  if (path === '/control') {
    try {
      const r = await fetch(new URL('/api/control', location.href), {
        method: 'POST', cache: 'no-store', credentials: 'omit',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '',
      });
      if (r.status === 401 || r.status === 403) return 'invalid';
      if (r.status === 429) return 'limited';
      return 'unknown';
    } catch {
      return 'unknown';
    }
  }
  return new Promise((resolve) => {
    let done = false;
    const ws = new WebSocket(wsUrl('/scores'));
    const finish = (v) => { if (done) return; done = true; clearTimeout(t); try { ws.close(1000); } catch { /* closed */ } resolve(v); };
    const t = setTimeout(() => finish('unknown'), 5000);
    ws.onopen = () => finish('invalid');
    ws.onclose = () => finish('unknown');
  });
}

/**
 * Shows the token form in ROOT (a <form> with an <input name=token>) and
 * resolves with the token typed. MESSAGE (optional) is shown as an error.
 */
export function askToken(root, message) {
  return new Promise((resolve) => {
    root.hidden = false;
    const form = root.querySelector('form');
    const input = form.querySelector('input[name=token]');
    const err = root.querySelector('.auth-error');
    if (err) { err.textContent = message || ''; err.hidden = !message; }
    input.value = '';
    setTimeout(() => input.focus(), 0);
    const onSubmit = (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      form.removeEventListener('submit', onSubmit);
      root.hidden = true;
      resolve(t);
    };
    form.addEventListener('submit', onSubmit);
  });
}

// ---------------------------------------------------------------- reconnecting WebSocket

/**
 * A WebSocket that comes back by itself. URL is a function, called before
 * every attempt, so the caller can add ?since=<last id> to resume.
 * Backoff: 500 ms doubling to 15 s, ±25 % jitter so a restarted node is not
 * hit by every client at the same instant; reset once a connection opens.
 *
 * Handlers: onmessage(data, ev), onopen(), onclose(ev, {opened}),
 * onstate('connecting'|'open'|'waiting'|'stopped', retryInMs).
 * onclose may return false to stop reconnecting (e.g. bad token).
 */
export class ReconnectingSocket {
  constructor(url, handlers = {}, opts = {}) {
    this.url = url;
    this.h = handlers;
    this.minDelay = opts.minDelay ?? 500;
    this.maxDelay = opts.maxDelay ?? 15000;
    this.binaryType = opts.binaryType;
    this.delay = this.minDelay;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    this.attempts = 0;
    this._onOnline = () => { if (!this.ws && !this.stopped) this.connectNow(); };
    window.addEventListener('online', this._onOnline);
    this.connect();
  }

  get open() { return this.ws?.readyState === WebSocket.OPEN; }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = null;
    let ws;
    try {
      ws = new WebSocket(typeof this.url === 'function' ? this.url() : this.url);
    } catch (e) {
      this.schedule();
      return;
    }
    if (this.binaryType) ws.binaryType = this.binaryType;
    this.ws = ws;
    this.attempts++;
    let opened = false;
    this.h.onstate?.('connecting');
    ws.onopen = () => {
      opened = true;
      this.delay = this.minDelay;
      this.attempts = 0;
      this.h.onstate?.('open');
      this.h.onopen?.();
    };
    ws.onmessage = (ev) => this.h.onmessage?.(ev.data, ev);
    ws.onerror = () => { /* onclose follows and decides */ };
    ws.onclose = async (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const again = await this.h.onclose?.(ev, { opened });
      if (again === false) { this.stop(); return; }
      this.schedule();
    };
  }

  schedule() {
    if (this.stopped) return;
    const jitter = 0.75 + Math.random() * 0.5;
    const wait = Math.round(this.delay * jitter);
    this.delay = Math.min(this.maxDelay, this.delay * 2);
    this.h.onstate?.('waiting', wait);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  /** Try again right away (the user pressed "reconnect", the network came back). */
  connectNow() {
    if (this.stopped || this.ws) return;
    this.delay = this.minDelay;
    this.connect();
  }

  send(obj) {
    if (!this.open) return false;
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
    return true;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this._onOnline);
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.close(1000); }
    this.h.onstate?.('stopped');
  }
}

/** Connection indicator text for the header dot. */
export function connLabel(state, retryMs) {
  switch (state) {
    case 'open': return ['已连接', 'Live'];
    case 'connecting': return ['连接中', 'Connecting'];
    case 'waiting': return ['重连中', `Retry in ${Math.max(1, Math.round(retryMs / 1000))} s`];
    case 'auth': return ['口令无效', 'Invalid token'];
    default: return ['已断开', 'Offline'];
  }
}

export function showConn(el, state, retryMs) {
  if (!el) return;
  const [zh, en] = connLabel(state, retryMs);
  el.className = `conn conn-${state}`;
  el.replaceChildren(h('b'), zh, ' ', h('i', null, en));
}

// ---------------------------------------------------------------- scoreboard fold

const NULL_RANK = Number.POSITIVE_INFINITY;

/**
 * The contest as a viewer sees it, folded from /scores or /commentary
 * messages: a snapshot replaces everything; a delta replaces the rows it
 * carries (by id), updates ranks, and sets clock / announce when present.
 * Rows are kept sorted by rank, null ranks last; ties and null ranks keep the
 * server's order (the order of the last snapshot, new rows at the end), which
 * is the order the server itself lists them in.
 *
 * apply(msg) returns {kind, changed: Set<station id whose score changed>,
 * rowsChanged, clockChanged, announceChanged, event} or null for messages it
 * does not know (they are ignored, as a light client should).
 */
export class ScoreState {
  constructor() {
    this.id = '0-0';
    this.contest = { id: '', title: '' };
    this.rows = [];          // sorted
    this.byId = new Map();
    this.order = new Map();  // id → server order index, for stable ties
    this.clock = { state: 'stopped', remaining_ms: 0, at: performance.now() };
    this.announce = null;    // {text, until (performance.now ms)}
    this.events = [];        // commentary only: newest last, {id, at, ev}
    this.eventIds = new Set();
    this.maxEvents = 1000;
    this.snapshots = 0;
  }

  apply(msg) {
    if (!msg || typeof msg !== 'object') return null;
    if (msg.type === 'snapshot') return this._snapshot(msg);
    if (msg.type === 'delta') return this._delta(msg);
    if (msg.type === 'event') return this._event(msg);
    return null;
  }

  /** The clock now: remaining_ms counted down locally while running. */
  clockNow(now = performance.now()) {
    const c = this.clock;
    let rem = Number(c.remaining_ms) || 0;
    if (c.state === 'running') rem -= now - c.at;
    return { state: c.state, remaining_ms: Math.max(0, rem) };
  }

  /** The announcement text while its ttl runs, else null. */
  announcementNow(now = performance.now()) {
    if (!this.announce) return null;
    if (now > this.announce.until) return null;
    return this.announce.text;
  }

  _snapshot(msg) {
    const before = new Map(this.rows.map((r) => [r.id, r.score]));
    this.snapshots++;
    this.id = msg.id || '0-0';
    if (msg.contest) this.contest = { ...this.contest, ...msg.contest };
    this.rows = [];
    this.byId.clear();
    this.order.clear();
    (msg.stations || []).forEach((r, i) => {
      const row = { ...r };
      this.rows.push(row);
      this.byId.set(row.id, row);
      this.order.set(row.id, i);
    });
    this._sort();
    if (msg.clock) this._setClock(msg.clock);
    this._setAnnounce(msg.announce ?? null, true);
    const changed = new Set();
    if (before.size) for (const r of this.rows) if (before.has(r.id) && before.get(r.id) !== r.score) changed.add(r.id);
    if (Array.isArray(msg.events)) {
      this.events = [];
      this.eventIds.clear();
      for (const e of msg.events) this._pushEvent(e);
    }
    return { kind: 'snapshot', changed, rowsChanged: true, clockChanged: true, announceChanged: true };
  }

  _delta(msg) {
    if (msg.id) {
      // A resumed stream may repeat what we already have; applying a row
      // twice is harmless, but keep the newest id for ?since=.
      if (compareIds(msg.id, this.id) > 0) this.id = msg.id;
    }
    const changed = new Set();
    let rowsChanged = false;
    if (Array.isArray(msg.stations)) {
      for (const r of msg.stations) {
        const old = this.byId.get(r.id);
        if (old) {
          if (old.score !== r.score) changed.add(r.id);
          Object.assign(old, r);
        } else {
          const row = { ...r };
          this.rows.push(row);
          this.byId.set(row.id, row);
          this.order.set(row.id, this.order.size + 1000);
          changed.add(r.id);
        }
        rowsChanged = true;
      }
    }
    if (msg.ranks && typeof msg.ranks === 'object') {
      for (const [id, rank] of Object.entries(msg.ranks)) {
        const row = this.byId.get(id);
        if (row && row.rank !== rank) { row.rank = rank; rowsChanged = true; }
      }
    }
    if (rowsChanged) this._sort();
    let clockChanged = false;
    let announceChanged = false;
    if (msg.clock) { this._setClock(msg.clock); clockChanged = true; }
    if ('announce' in msg) {
      // The server sends "announce":TEXT with the ttl beside it ("ttl_ms").
      const a = typeof msg.announce === 'string' && msg.ttl_ms != null ? { text: msg.announce, ttl_ms: msg.ttl_ms } : msg.announce;
      this._setAnnounce(a, false);
      announceChanged = true;
    }
    return { kind: 'delta', changed, rowsChanged, clockChanged, announceChanged };
  }

  _event(msg) {
    // Every applied entry also comes as a delta with the same id; taking the
    // id here too keeps ?since= right if a server ever sends only the event.
    if (msg.id && compareIds(msg.id, this.id) > 0) this.id = msg.id;
    const e = this._pushEvent(msg);
    return { kind: 'event', changed: new Set(), event: e };
  }

  _pushEvent(raw) {
    // Snapshot events may be whole event messages or bare field objects.
    const ev = raw.event && typeof raw.event === 'object' ? raw.event : raw;
    const id = raw.id || ev.id || '';
    if (id && this.eventIds.has(id)) return null;
    const e = { id, at: Number(raw.at) || idMillis(id), ev };
    if (id) this.eventIds.add(id);
    this.events.push(e);
    if (this.events.length > this.maxEvents) {
      const gone = this.events.splice(0, this.events.length - this.maxEvents);
      for (const g of gone) this.eventIds.delete(g.id);
    }
    return e;
  }

  _setClock(c) {
    this.clock = { state: c.state || 'stopped', remaining_ms: Number(c.remaining_ms) || 0, at: performance.now() };
  }

  _setAnnounce(a, fromSnapshot) {
    if (a == null || a === '') { this.announce = null; return; }
    // The contract gives TEXT; accept {text, ttl_ms} too.
    const text = typeof a === 'string' ? a : a.text;
    if (!text) { this.announce = null; return; }
    const ttl = typeof a === 'object' && a.ttl_ms != null ? Number(a.ttl_ms) : 8000;
    // A snapshot does not say how much of the ttl is left; show it for a full ttl.
    this.announce = { text, until: performance.now() + (fromSnapshot ? Math.min(ttl, 8000) : ttl) };
  }

  _sort() {
    // As the server orders them: ranked, then no score, then disqualified.
    const group = (r) => (r.rank != null ? 0 : r.state === 'disqualified' ? 2 : 1);
    const key = (r) => (r.rank == null ? NULL_RANK : Number(r.rank));
    this.rows.sort((a, b) => {
      const ga = group(a), gb = group(b);
      if (ga !== gb) return ga - gb;
      const ka = key(a), kb = key(b);
      if (ka !== kb) return ka - kb;
      return (this.order.get(a.id) ?? 0) - (this.order.get(b.id) ?? 0);
    });
    // What the server lists now becomes the order ties keep next time.
    this.rows.forEach((r, i) => this.order.set(r.id, i));
  }
}

// ---------------------------------------------------------------- toasts

export function toast(text, kind = 'ok', ms = 2600) {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const t = h(`div.toast.toast-${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, text);
  box.prepend(t);
  setTimeout(() => t.classList.add('toast-out'), ms);
  setTimeout(() => t.remove(), ms + 400);
  return t;
}

// ---------------------------------------------------------------- players

const scripts = new Map();
/** Loads a classic script once (the npm players are UMD bundles). */
export function loadScript(src) {
  if (!scripts.has(src)) {
    scripts.set(src, new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = () => { scripts.delete(src); reject(new Error(`cannot load ${src}`)); };
      document.head.append(s);
    }));
  }
  return scripts.get(src);
}

/**
 * Low-latency program video from /live/program (MPEG-TS over WebSocket) with
 * mpegts.js, restarted with backoff when it fails or stalls.
 * Returns {stop()}. onstate('playing'|'waiting'|'error', detail).
 */
export function playLiveTs(video, onstate = () => {}) {
  let player = null;
  let stopped = false;
  let delay = 1000;
  let retry = null;
  let watchdog = null;
  let lastTime = -1;
  let stuck = 0;

  const teardown = () => {
    clearInterval(watchdog);
    if (player) {
      try { player.pause(); player.unload(); player.detachMediaElement(); player.destroy(); } catch { /* gone */ }
      player = null;
    }
  };
  const again = (why) => {
    if (stopped) return;
    teardown();
    onstate('waiting', why);
    clearTimeout(retry);
    retry = setTimeout(start, delay);
    delay = Math.min(4000, delay * 2);
  };
  async function start() {
    if (stopped) return;
    try {
      await loadScript('/vendor/mpegts.js');
    } catch (e) { onstate('error', e.message); again('script'); return; }
    const mpegts = window.mpegts;
    if (!mpegts || !mpegts.getFeatureList().mseLivePlayback) {
      onstate('error', 'MSE unsupported');
      return;
    }
    player = mpegts.createPlayer(
      { type: 'mpegts', isLive: true, url: wsUrl('/live/program') },
      {
        enableWorker: false,
        lazyLoad: false,
        liveBufferLatencyChasing: true,
        liveBufferLatencyMaxLatency: 1.5,
        liveBufferLatencyMinRemain: 0.3,
        autoCleanupSourceBuffer: true,
      });
    player.on(mpegts.Events.ERROR, (type, detail) => again(`${type} ${detail}`));
    player.on(mpegts.Events.LOADING_COMPLETE, () => again('ended'));
    player.attachMediaElement(video);
    player.load();
    const p = player.play();
    if (p && p.catch) p.catch(() => { /* autoplay blocked: muted video plays anyway */ });
    // The socket can stay open while nothing arrives (program stopped):
    // restart when the picture has not moved for 8 s.
    lastTime = -1; stuck = 0;
    watchdog = setInterval(() => {
      if (video.currentTime !== lastTime) {
        if (lastTime >= 0 && video.currentTime > lastTime) { delay = 1000; onstate('playing'); }
        lastTime = video.currentTime; stuck = 0;
      } else if (++stuck >= 8) again('stalled');
    }, 1000);
  }
  start();
  return { stop() { stopped = true; clearTimeout(retry); teardown(); } };
}

/**
 * HLS program video from /hls/{id}/index.m3u8 with hls.js (or natively where
 * the browser plays HLS itself). The playlist may not exist yet right after
 * a start: keep asking with backoff. Returns {stop()}.
 */
export function playHls(video, id, onstate = () => {}) {
  const src = `/hls/${encodeURIComponent(id)}/index.m3u8`;
  let hls = null;
  let stopped = false;
  let retry = null;
  let delay = 1000;
  let watchdog = null;
  let lastTime = -1;
  let stuck = 0;

  const teardown = () => {
    clearInterval(watchdog);
    if (hls) { try { hls.destroy(); } catch { /* gone */ } hls = null; }
  };
  const again = (why) => {
    if (stopped) return;
    teardown();
    onstate('waiting', why);
    clearTimeout(retry);
    retry = setTimeout(start, delay);
    delay = Math.min(4000, delay * 2);
  };
  const watch = () => {
    lastTime = -1; stuck = 0;
    watchdog = setInterval(() => {
      if (video.currentTime !== lastTime) {
        if (lastTime >= 0 && video.currentTime > lastTime) { delay = 1000; onstate('playing'); }
        lastTime = video.currentTime; stuck = 0;
      } else if (!video.paused && ++stuck >= 20) again('stalled');
    }, 1000);
  };
  async function start() {
    if (stopped) return;
    onstate('waiting', 'loading');
    try {
      await loadScript('/vendor/hls.js');
    } catch { /* fall through to native */ }
    const Hls = window.Hls;
    if (Hls && Hls.isSupported()) {
      hls = new Hls({
        liveSyncDurationCount: 3,
        liveMaxLatencyDurationCount: 6,
        manifestLoadingMaxRetry: 2,
        levelLoadingMaxRetry: 4,
        fragLoadingMaxRetry: 4,
        backBufferLength: 30,
      });
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
        else again(data.details);
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        const p = video.play();
        if (p && p.catch) p.catch(() => {});
      });
      hls.loadSource(src);
      hls.attachMedia(video);
      watch();
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = src;
      video.onerror = () => again('native error');
      const p = video.play();
      if (p && p.catch) p.catch(() => {});
      watch();
    } else {
      onstate('error', 'HLS unsupported');
    }
  }
  start();
  return { stop() { stopped = true; clearTimeout(retry); teardown(); video.removeAttribute('src'); } };
}

/** The first hls output's id: ?hls=ID, else /api/outputs (absent on relay nodes), else "hls". */
export async function findHlsOutput() {
  const q = new URLSearchParams(location.search).get('hls');
  if (q) return q;
  try {
    const r = await fetch('/api/outputs', { cache: 'no-store' });
    if (r.ok) {
      const outs = await r.json();
      const o = Array.isArray(outs) && outs.find((x) => x.type === 'hls');
      if (o) return o.id;
    }
  } catch { /* relay node or offline */ }
  return 'hls';
}

// ---------------------------------------------------------------- rows

/**
 * Reorders CONTAINER's children to match ELEMENTS, animating moves (FLIP):
 * a row that climbs the table slides up instead of jumping.
 */
export function reorderAnimated(container, elements) {
  const first = new Map();
  for (const el of container.children) first.set(el, el.getBoundingClientRect().top);
  let changed = false;
  elements.forEach((el, i) => {
    if (container.children[i] !== el) { container.insertBefore(el, container.children[i] || null); changed = true; }
  });
  for (const el of [...container.children]) if (!elements.includes(el)) { el.remove(); changed = true; }
  if (!changed || matchMedia('(prefers-reduced-motion: reduce)').matches) return;
  for (const el of elements) {
    const top = first.get(el);
    if (top == null) continue;
    const dy = top - el.getBoundingClientRect().top;
    if (!dy) continue;
    el.animate([{ transform: `translateY(${dy}px)` }, { transform: 'translateY(0)' }],
      { duration: 450, easing: 'cubic-bezier(.2,.8,.2,1)' });
  }
}

/** Adds CLS for MS, restarting the animation if it is already running. */
export function flash(el, cls = 'flash', ms = 1800) {
  el.classList.remove(cls);
  void el.offsetWidth; // restart the CSS animation
  el.classList.add(cls);
  clearTimeout(el._flashTimer);
  el._flashTimer = setTimeout(() => el.classList.remove(cls), ms);
}

// ---------------------------------------------------------------- token-guarded sockets

/**
 * Opens PATH (/commentary or /control) with the KIND token, asking for one
 * with the form in AUTH_EL when there is none or it was refused.
 * A socket that closes before it ever opened is checked with probeToken():
 * 401 → the form comes back with "口令无效 Invalid token" and the stored token
 * is forgotten; 429 → a message, and the next try waits a minute; anything
 * else (server restarting, network) → ordinary backoff.
 * PARAMS() adds query parameters per attempt (since=…). Returns the socket.
 */
export async function openAuthed({ kind, path, authEl, connEl, params = () => ({}), handlers = {} }) {
  let token = takeToken(kind);
  if (!token) { token = await askToken(authEl); storeToken(kind, token); }
  const status = authEl.querySelector('.auth-status');
  const sock = new ReconnectingSocket(
    () => wsUrl(path, { ...params(), token }),
    {
      ...handlers,
      onstate(s, retry) { showConn(connEl, s, retry); handlers.onstate?.(s, retry); },
      onopen() { storeToken(kind, token); handlers.onopen?.(); },
      async onclose(ev, info) {
        handlers.onclose?.(ev, info);
        if (info.opened) return true;
        const verdict = await probeToken(path, token);
        if (verdict === 'invalid') {
          forgetToken(kind);
          showConn(connEl, 'auth');
          token = await askToken(authEl, '口令无效 Invalid token');
          storeToken(kind, token);
          sock.delay = sock.minDelay;
        } else if (verdict === 'limited') {
          showConn(connEl, 'auth');
          toast('尝试次数过多，请一分钟后再试 Too many attempts: wait a minute', 'error', 8000);
          sock.delay = 60000;
        }
        if (status) status.textContent = '';
        return true;
      },
    });
  return sock;
}

/** The token form markup both token pages use (hidden until needed). */
export function authForm(titleZh, titleEn) {
  const root = h('div.auth', { id: 'auth', hidden: true },
    h('form', { autocomplete: 'off' },
      h('h1', null, titleZh, h('i', null, titleEn)),
      h('div.auth-error', { role: 'alert', hidden: true }),
      // A hidden user name lets password managers file the token properly.
      h('input', { type: 'text', name: 'username', autocomplete: 'username', value: 'skillcast', hidden: true, tabindex: '-1' }),
      h('label', null, '访问口令 Access token',
        h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true })),
      h('button.btn.primary', { type: 'submit' }, '进入 ', h('i', null, 'Enter')),
      h('p.auth-hint', null, '口令由赛事技术组提供，仅保存在本标签页。 The token comes from the technical team and is kept in this tab only.'),
      h('span.auth-status')));
  document.body.append(root);
  return root;
}
