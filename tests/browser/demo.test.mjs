// The README's demo from its first chair to its last closed session (config/scenarios/demo.yaml,
// run by vigil-sim at 240x here), watched by a 1366×768 station, a 1920×1080 wall screen and the
// sign-in page at both sizes: no script error and no console error on any of them from start to
// end, and at every look (each half second) neither the station nor the sign-in page scrolls
// sideways and every alarming tile shows its value whole. Run by CTest (browser_station_test)
// through run.sh.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Daemon, Sim, env, launchBrowser, openStation, screenshot, tokens, until, workDir } from './harness.mjs';

/// What is wrong with the page now: sideways scroll, alarming values cut.
const lookAt = (page) => page.evaluate(() => {
  const wrong = [];
  if (document.documentElement.scrollWidth > document.documentElement.clientWidth) wrong.push('scrolls sideways');
  for (const v of document.querySelectorAll('.tile[data-priority] .tile-alarm .alarm-value')) {
    if (v.scrollWidth > v.clientWidth + 0.5) wrong.push(`${v.closest('.tile').dataset.chair}: alarm value cut`);
  }
  return wrong;
});

describe('the whole demo', { timeout: 180000 }, () => {
  let dir;
  let daemon;
  let browser;
  let sim;

  before(async () => {
    dir = workDir('demo');
    daemon = await new Daemon(dir).start();
    browser = await launchBrowser();
  });

  after(async () => {
    await sim?.stop();
    await browser?.close();
    await daemon?.stop();
  });

  test('no script or console error, no sideways scroll, no cut alarm value, from start to end', async () => {
    const pages = [await openStation(browser, daemon, 'nurse', { width: 1366, height: 768 }),
      await openStation(browser, daemon, 'viewer', { width: 1920, height: 1080 })];
    for (const viewport of [{ width: 1366, height: 768 }, { width: 1920, height: 1080 }]) {
      const signin = await browser.newPage({ viewport });
      signin.on('pageerror', (e) => { signin.errors = [...(signin.errors ?? []), String(e)]; });
      signin.on('console', (m) => { if (m.type() === 'error') signin.errors = [...(signin.errors ?? []), `console: ${m.text()}`]; });
      await signin.goto(`${daemon.url}/`);
      pages.push(signin);
    }

    sim = new Sim(daemon, ['--scenario', path.join(env.source, 'config', 'scenarios', 'demo.yaml'), '--speed', '240',
      '--api-token', tokens.admin]);
    let finished = false;
    const exit = sim.exited.then((code) => { finished = true; return code; });
    const wrong = new Set();
    let looks = 0;
    let alarmsSeen = 0;
    while (!finished) {
      for (const page of pages) for (const w of await lookAt(page)) wrong.add(`${page.viewportSize().width}: ${w}`);
      const alarming = await pages[0].locator('.tile[data-priority]').count();
      if (alarming > 0 && alarmsSeen === 0) {
        await screenshot(pages[0], 'demo-1366');  // kept in the build's browser-artifacts, to look at
        await screenshot(pages[1], 'demo-1920');
      }
      alarmsSeen = Math.max(alarmsSeen, alarming);
      ++looks;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(await exit, 0, `vigil-sim ran the demo to its end: ${sim.err}`);
    // The last sessions close: the station shows no open session once the feed has said so.
    await until(async () => (await pages[0].locator('.tile.has-session').count()) === 0, 'every session closed on the station', 10000);
    assert.ok(looks > 20, `looked at the pages ${looks} times`);
    assert.ok(alarmsSeen > 0, 'the demo raised alarms while the pages watched');
    assert.deepEqual([...wrong], [], 'nothing wrong at any look');
    for (const page of pages) assert.deepEqual(page.errors ?? [], [], `no script or console error at ${page.viewportSize().width}`);
  });
});
