// pages.test.mjs — the three pages in a real browser against a real
// `skillcast demo` (started here on a free port, ended by its PID).
//
// What a user would notice:
//  - the viewer plays the program video and shows the live ranking, which
//    changes as the demo's judges score and then agrees with /api/state;
//  - the commentator's event log grows as events arrive;
//  - an operator picks a station and a layout, sees "已执行 Done", and the
//    program (/api/program) really switched;
//  - a wrong operator token gives a clear "口令无效 Invalid token".
// Prints "N passed, N failed"; exits 1 on any failure.
import { launchBrowser, startDemo, existingNode, sleep } from './lib.mjs';

const results = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${e.message}`);
  }
}

async function waitFor(what, fn, timeoutMs, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e.message; }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }

/** The viewer's table as [{id, rank, score}] (score null for "—"). */
const readBoard = (page) => page.$$eval('#rows tr', (trs) => trs.map((tr) => {
  const s = tr.querySelector('.score').textContent.trim();
  const r = tr.querySelector('.rank').textContent.trim();
  return { id: tr.dataset.station, rank: /^\d+$/.test(r) ? Number(r) : null, score: /^-?[\d.]+$/.test(s) ? Number(s) : null };
}));

const getJson = async (base, path) => {
  const r = await fetch(base + path, { cache: 'no-store' });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
};

/** Same stations with the same ranks and scores, in the same rank order. */
function boardMatches(board, api) {
  const rows = api.stations || [];
  if (board.length !== rows.length) return `page has ${board.length} rows, /api/state ${rows.length}`;
  for (const r of rows) {
    const b = board.find((x) => x.id === r.id);
    if (!b) return `station ${r.id} missing on the page`;
    if ((b.rank ?? null) !== (r.rank ?? null)) return `${r.id}: rank ${b.rank} on the page, ${r.rank} in /api/state`;
    if ((r.score == null) !== (b.score == null) || (r.score != null && Math.abs(b.score - r.score) > 0.006)) {
      return `${r.id}: score ${b.score} on the page, ${r.score} in /api/state`;
    }
  }
  for (let i = 1; i < board.length; i++) {
    const a = board[i - 1].rank ?? Infinity, b = board[i].rank ?? Infinity;
    if (a > b) return `page rows not in rank order at ${board[i].id}`;
  }
  // The top station: same score, and a station /api/state also ranks first.
  const top = board[0], apiTop = rows[0];
  if (top && apiTop && top.rank === 1 && !(rows.find((r) => r.id === top.id)?.rank === 1)) return `top ${top.id} is not rank 1 in /api/state`;
  if (top && apiTop && (top.score ?? null) !== (apiTop.score ?? null) && Math.abs(top.score - apiTop.score) > 0.006) return `top score ${top.score} vs ${apiTop.score}`;
  return true;
}

let node;
try {
  node = existingNode() || await startDemo();
} catch (e) {
  console.log(`FAIL skillcast demo did not come up: ${e.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
console.log(`skillcast at ${node.base} (pid ${node.pid ?? 'external'})`);

// Never leave the demo behind: stop it on a signal, and give up on our own
// before ctest's 240 s timeout would kill this process (and orphan it).
const bail = async (why) => {
  console.log(`FAIL ${why}`);
  await node.stop().catch(() => {});
  console.log(`${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length + 1} failed`);
  process.exit(1);
};
setTimeout(() => bail('the whole run took over 210 s'), 210000).unref();
process.on('SIGINT', () => bail('interrupted (SIGINT)'));
process.on('SIGTERM', () => bail('terminated (SIGTERM)'));
const browser = await launchBrowser();
const pageErrors = [];
const watch = (page, name) => {
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  return page;
};

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });

  // ---- viewer
  const viewer = watch(await ctx.newPage(), 'viewer');
  await viewer.goto(node.viewer);

  await check('viewer shows the live ranking', async () => {
    await waitFor('rows on the viewer', async () => (await readBoard(viewer)).length > 0, 15000);
    const title = await viewer.textContent('#title');
    const api = await getJson(node.base, '/api/state');
    assert(title.includes(api.contest.title), `title "${title}" lacks "${api.contest.title}"`);
    const clock = await viewer.textContent('#clock-time');
    assert(/^\d+(:\d\d){1,2}$/.test(clock.trim()), `clock shows "${clock}"`);
  });

  await check('viewer plays the program video (currentTime +1 s within 25 s)', async () => {
    const start = await waitFor('the video to start', () => viewer.evaluate(() => {
      const v = document.querySelector('#video');
      return v.currentTime > 0 ? v.currentTime : 0;
    }), 25000);
    await waitFor('currentTime to advance by 1 s', () => viewer.evaluate(
      (t0) => document.querySelector('#video').currentTime > t0 + 1, start), 10000);
  });

  await check('viewer plays low-latency video from /live/program (mpegts.js)', async () => {
    await viewer.click('label.toggle');
    await waitFor('the low-latency player', () => viewer.evaluate(() => document.querySelector('#lowlat').checked
      && document.querySelector('#video-src').textContent.includes('/live/program')), 3000);
    const start = await waitFor('the video to start', () => viewer.evaluate(() => {
      const v = document.querySelector('#video');
      return v.currentTime > 0 ? v.currentTime : 0;
    }), 20000);
    await waitFor('currentTime to advance by 1 s', () => viewer.evaluate(
      (t0) => document.querySelector('#video').currentTime > t0 + 1, start), 10000);
    await viewer.click('label.toggle'); // back to HLS, remembered in localStorage
  });

  await check('viewer table changes with the judges and then matches /api/state', async () => {
    const before = JSON.stringify(await readBoard(viewer));
    await waitFor('the ranking to change', async () => JSON.stringify(await readBoard(viewer)) !== before, 20000);
    // Events keep coming: compare page and API until they agree at one moment.
    await waitFor('page = /api/state', async () => {
      const api = await getJson(node.base, '/api/state');
      const board = await readBoard(viewer);
      const m = boardMatches(board, api);
      if (m !== true) throw new Error(m);
      return true;
    }, 15000, 300);
  });

  // ---- commentator
  const com = watch(await ctx.newPage(), 'commentator');
  await com.goto(node.commentator);

  await check('commentator connects with its token and the event log grows', async () => {
    await waitFor('the commentator table', async () => (await com.$$('#rows tr')).length > 0, 15000);
    assert(!(await com.isVisible('#auth')), 'the token form is shown although the URL had a token');
    assert(!(await com.url()).includes('token='), 'the token stays in the address bar');
    const n0 = await com.$$eval('#log li', (l) => l.length);
    await waitFor('a new event in the log', async () => (await com.$$eval('#log li', (l) => l.length)) > n0, 20000);
    const cards = await com.$$eval('.card', (c) => c.length);
    assert(cards > 0, 'no station cards');
  });

  await check('commentator table sorts by a clicked header', async () => {
    await com.click('#board th[data-key="id"]');
    const ids = await com.$$eval('#rows tr', (trs) => trs.map((t) => t.dataset.station));
    const sorted = [...ids].sort((a, b) => a.localeCompare(b));
    assert(JSON.stringify(ids) === JSON.stringify(sorted), `not sorted by station: ${ids}`);
    await com.click('#board th[data-key="rank"]');
  });

  // ---- operator
  const op = watch(await ctx.newPage(), 'operator');
  await op.goto(node.operator);

  await check('operator switches the program to PiP and sees the ack', async () => {
    await waitFor('station tiles with health', async () => (await op.$$('.tile.live, .tile.lost, .tile.connecting')).length > 0
      && (await op.textContent('#pgm-layout')).trim() !== '—', 15000);
    const tile = op.locator('.tile').first();
    const station = await tile.getAttribute('data-station');
    await tile.click();
    await op.click('#layouts button[data-layout="pip"]');
    await waitFor('the ack toast', () => op.isVisible('.toast-ok:has-text("已执行")'), 5000, 100);
    const prog = await waitFor('/api/program layout pip', async () => {
      const p = await getJson(node.base, '/api/program');
      return p.layout === 'pip' ? p : null;
    }, 5000);
    assert(!prog.focus || prog.focus === station, `focus ${prog.focus}, selected ${station}`);
    await waitFor('the page to show the new layout', async () => (await op.textContent('#pgm-layout')).includes('画中画'), 5000);
  });

  await check('operator sees a failed command as an error', async () => {
    // A station id the node does not know: the server answers ok:false.
    await op.evaluate(() => {
      const b = document.querySelector('#layouts button[data-layout="single"]');
      window.skillcast.selection().splice(0, 2, 'ZZ99');
      b.click();
    });
    await waitFor('the error toast', () => op.isVisible('.toast-error'), 5000, 100);
  });

  // ---- bad token, in a fresh context (no stored token)
  const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const bad = watch(await ctx2.newPage(), 'operator-bad-token');
  await check('operator with a wrong token says 口令无效 Invalid token', async () => {
    await bad.goto(`${node.base}/operator?token=not-the-token`);
    await waitFor('the invalid-token message', async () => {
      const el = await bad.$('.auth-error');
      return el && (await el.isVisible()) && (await el.textContent()).includes('口令无效');
    }, 20000);
    assert(await bad.isVisible('#auth input[name=token]'), 'no token field to try again');
  });

  if (node.pid) {
    await check('viewer reconnects by itself after the node restarts', async () => {
      const port = node.port;
      await node.stop();
      await waitFor('the viewer to notice', async () => /conn-(waiting|connecting)/.test(await viewer.getAttribute('#conn', 'class')), 10000);
      node = await startDemo({ port });
      await waitFor('the viewer to be live again', async () => (await viewer.getAttribute('#conn', 'class')).includes('conn-open'), 20000);
      await waitFor('page = /api/state of the new node', async () => {
        const m = boardMatches(await readBoard(viewer), await getJson(node.base, '/api/state'));
        if (m !== true) throw new Error(m);
        return true;
      }, 30000, 300);
    });
  }

  await check('commentator with a wrong token says 口令无效 Invalid token', async () => {
    const page = watch(await ctx2.newPage(), 'commentator-bad-token');
    await page.goto(`${node.base}/commentator?token=not-the-token`);
    await waitFor('the invalid-token message', async () => {
      const el = await page.$('.auth-error');
      return el && (await el.isVisible()) && (await el.textContent()).includes('口令无效');
    }, 20000);
    // Typing the right token connects without reloading the page.
    await page.fill('#auth input[name=token]', node.commentatorToken);
    await page.press('#auth input[name=token]', 'Enter');
    await waitFor('the commentator table', async () => (await page.$$('#rows tr')).length > 0, 20000);
  });

  await check('no uncaught errors in the pages', async () => {
    assert(pageErrors.length === 0, pageErrors.join('; '));
  });
} catch (e) {
  results.push({ name: 'harness', ok: false });
  console.log(`FAIL harness: ${e.stack || e}`);
} finally {
  await browser.close().catch(() => {});
  const failed = results.filter((r) => !r.ok).length;
  if (failed) console.log(node.log());
  await node.stop();
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
