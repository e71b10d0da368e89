// screenshots.mjs — renders the three pages into docs/images/ (run by hand:
// `SC_SKILLCAST_BIN=build/app/skillcast node tests/browser/screenshots.mjs`).
// Not a test: it only takes pictures for docs/pages.md.
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchBrowser, startDemo, existingNode, sleep } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = process.env.SC_SHOTS_DIR || path.join(here, '..', '..', 'docs', 'images');
fs.mkdirSync(outDir, { recursive: true });
const settle = Number(process.env.SC_SHOTS_SETTLE_MS || 12000);

const node = existingNode() || await startDemo();
const browser = await launchBrowser();
try {
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const pages = {
    viewer: await desk.newPage(),
    commentator: await desk.newPage(),
    operator: await desk.newPage(),
  };
  await pages.viewer.goto(node.viewer);
  await pages.commentator.goto(node.commentator);
  await pages.operator.goto(node.operator);
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
  });
  const phonePage = await phone.newPage();
  await phonePage.goto(node.viewer);
  await sleep(settle);
  // Select a station on the operator console so the picture shows a selection.
  await pages.operator.locator('.tile').first().click().catch(() => {});
  await sleep(500);
  for (const [name, page] of Object.entries(pages)) {
    const file = path.join(outDir, `page-${name}.png`);
    await page.screenshot({ path: file });
    console.log(`wrote ${file}`);
  }
  const file = path.join(outDir, 'page-viewer-phone.png');
  await phonePage.screenshot({ path: file, fullPage: true });
  console.log(`wrote ${file}`);
} finally {
  await browser.close();
  await node.stop();
}
