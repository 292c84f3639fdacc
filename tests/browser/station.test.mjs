// The nurse station page in a real headless Chromium, against the real vigild fed by the real
// vigil-sim running config/scenarios/demo.yaml at 60x (six chairs; the simulated nurse opens
// and doses them; chair-3 has a hypertensive response): the page loads and shows the chairs; a hypertensive episode shows a high-priority
// alarm on the page within 2 s of the daemon raising it; acknowledging on the page reaches the
// daemon, lands in the timeline with the nurse's name and shows on every station; a session's
// detail shows its charts and timeline and takes a note; a dead feed shows FEED DOWN within
// 5 s, and the page comes back by itself when the daemon does. Screenshots go to
// VIGIL_ARTIFACTS. Run by CTest (browser_station_test) through run.sh.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  Daemon, Sim, env, launchBrowser, nurseName, openStation, screenshot, tokens, until, workDir,
} from './harness.mjs';

/// The daemon's own record of when it raised a high-priority alarm: clinic logs every
/// high-priority alarm_raised at warn, stamped with the wall clock in UTC milliseconds. The page
/// runs on the same machine and clock, so "on the page within 2 s of the daemon raising it" is
/// the page's Date.now() when the alarm row appeared minus that stamp.
function raisedAt(daemon, chair) {
  const re = new RegExp(`^(\\S+Z) warn(?:ing)? .*chair ${chair} session \\d+: alarm_raised #(\\d+) (\\S+) \\(high`);
  for (const [, line] of daemon.lines) {
    const m = line.match(re);
    if (m) return { at: Date.parse(m[1]), alarmId: m[2], rule: m[3] };
  }
  return null;
}

describe('nurse station', { timeout: 200000 }, () => {
  let dir;
  let daemon;
  let sim;
  let browser;
  let page;
  let alarm;  // {at, alarmId, rule} of the hypertensive alarm
  let sessionId;

  before(async () => {
    dir = workDir('station');
    daemon = await new Daemon(dir).start();
    sim = new Sim(daemon, ['--scenario', path.join(env.source, 'config', 'scenarios', 'demo.yaml'), '--speed', '60',
      '--api-token', tokens.admin]);
    browser = await launchBrowser();
    await until(async () => (await daemon.api('GET', '/sessions')).sessions?.length >= 3, 'the simulated nurse opening sessions', 30000);
  });

  after(async () => {
    await browser?.close();
    await sim?.stop();
    await daemon?.stop();
  });

  test('the page is served by vigild itself, with a strict CSP and nothing from elsewhere', async () => {
    const response = await fetch(`${daemon.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/html/);
    assert.match(response.headers.get('content-security-policy'), /default-src 'self'/);
    const html = await response.text();
    assert.doesNotMatch(html, /https?:\/\//, 'no URL to another host in the page');
  });

  test('the page loads with the simulator feeding the daemon', async () => {
    const requests = [];
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on('pageerror', (e) => { page.errors = [...(page.errors ?? []), String(e)]; });
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${daemon.url}/`);
    await page.click('#signin-switch');  // "Use a token instead"
    await page.fill('#token', tokens.nurse);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#feed-status[data-state="live"]');
    assert.match(await page.textContent('#user'), new RegExp(`${nurseName} · nurse`));
    await until(async () => (await page.locator('.tile').count()) >= 3, 'the chair tiles');
    const tile = page.locator('.tile[data-chair="chair-1"]');
    await until(async () => /\d/.test(await tile.locator('.vital-hr .vital-value').textContent()), 'a live heart rate', 10000);
    assert.match(await tile.locator('.patient').textContent(), /\S/);
    assert.match(await tile.locator('.phase').textContent(), /Baseline|Observation/);
    await until(async () => /Dose \+.*left/.test(await tile.locator('.tile-times').textContent()), 'the time since the dose', 30000);
    await until(async () => (await tile.locator('.vital-hr polyline').count()) === 1, 'a heart-rate trend line');
    for (const url of requests) assert.ok(url.startsWith(daemon.url), `only vigild is asked: ${url}`);
    await screenshot(page, 'station-loaded');
    // A tablet held upright: the alarm list moves above the chairs, nothing is cut off sideways.
    await page.setViewportSize({ width: 768, height: 1024 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 768), 'no sideways scrolling');
    await screenshot(page, 'station-tablet');
    await page.setViewportSize({ width: 1366, height: 768 });
  });

  test('a hypertensive episode shows a high-priority alarm within 2 s of the daemon raising it', async () => {
    // The page notes the moment the alarm row appears, on its own clock.
    await page.evaluate(() => {
      window.highSeenAt = null;
      const seen = () => {
        if (!window.highSeenAt && document.querySelector('#alarm-list [data-chair="chair-3"][data-priority="PRIORITY_HIGH"]')) window.highSeenAt = Date.now();
      };
      new MutationObserver(seen).observe(document.getElementById('alarm-list'), { childList: true, subtree: true });
      seen();
    });
    assert.equal(await page.evaluate(() => window.highSeenAt), null, 'no high alarm on chair-3 before the episode');
    await page.click('#sound');  // the user gesture that lets the page make sound
    alarm = await until(() => raisedAt(daemon, 'chair-3'), 'the daemon raising the hypertensive alarm', 120000, 100);
    sessionId = (await daemon.api('GET', '/sessions')).sessions.find((x) => x.chair_id === 'chair-3').session_id;
    const seenAt = await until(() => page.evaluate(() => window.highSeenAt), 'the alarm on the page', 5000);
    const delay = seenAt - alarm.at;
    console.log(`# high-priority alarm ${alarm.alarmId} on the page ${delay} ms after the daemon raised it`);
    assert.ok(delay < 2000, `shown ${delay} ms after it was raised`);
    const row = page.locator(`#alarm-list [data-alarm-id="${alarm.alarmId}"]`);
    assert.match(await row.textContent(), /!!!\s*High/);
    // The list is grouped per chair: the chair is named once, at the head of its group.
    assert.equal(await row.getAttribute('data-chair'), 'chair-3');
    assert.match(await page.locator('#alarm-list [data-group="chair-3"] .group-head').textContent(), /chair-3/);
    const tile = page.locator('.tile[data-chair="chair-3"]');
    assert.equal(await tile.getAttribute('data-priority'), 'PRIORITY_HIGH');
    assert.match(await tile.locator('.tile-alarm').textContent(), /High/);
    // The high-priority pattern sounds (the no_session advisories are low).
    await until(() => page.evaluate(() => window.vigilStation.sound.current === 'PRIORITY_HIGH'), 'the high-priority tone');
    assert.match(await page.textContent('#sound'), /Sounding: High/);
    await screenshot(page, 'station-high-alarm');
  });

  test('acknowledging on the page reaches the daemon, the timeline and every other station', async () => {
    // A second station, signed in as a viewer, watches the same alarm.
    const other = await openStation(browser, daemon, 'viewer');
    const otherRow = other.locator(`#alarm-list [data-alarm-id="${alarm.alarmId}"]`);
    await otherRow.waitFor();
    assert.equal(await other.locator('button.ack').count(), 0, 'a viewer cannot acknowledge');

    await page.locator(`#alarm-list [data-alarm-id="${alarm.alarmId}"] button.ack`).click();
    const timeline = await until(async () => {
      const t = await daemon.api('GET', `/sessions/${sessionId}/timeline.json`);
      return t.events?.find((e) => e.type === 'EVENT_TYPE_ALARM_ACKNOWLEDGED' && e.alarm_id === alarm.alarmId) ? t : null;
    }, 'the acknowledgement in the stored timeline', 5000);
    const ack = timeline.events.find((e) => e.type === 'EVENT_TYPE_ALARM_ACKNOWLEDGED');
    assert.equal(ack.who, nurseName);

    await until(async () => /Acknowledged by nurse-ana/.test(await otherRow.textContent()), 'the acknowledgement on the other station', 3000);
    await until(async () => /Acknowledged by nurse-ana/.test(await page.locator(`#alarm-list [data-alarm-id="${alarm.alarmId}"]`).textContent()),
      'the acknowledgement on this station', 3000);
    await screenshot(other, 'station-viewer-sees-ack');
    // Acknowledged, it no longer sounds (other alarms of the scenario may).
    await until(() => page.evaluate((id) => window.vigilStation.clinic.alarms()
      .some(({ alarm: a }) => a.alarm_id === id && !a.audible), alarm.alarmId), 'the acknowledged alarm to fall silent');
    await other.close();
  });

  test('the session detail shows the charts and timeline, and takes a note', async () => {
    await page.click(`.tile[data-chair="chair-3"] a.chair-name`);
    await page.waitForSelector('.chart');
    assert.ok(await page.locator('.chart .dose').count() > 0, 'the dose is marked');
    assert.ok(await page.locator('.chart .window').count() > 0, 'the observation window is shaded');
    assert.ok(await page.locator('.chart .alarm-mark').count() > 0, 'the alarm is marked');
    await until(async () => /Baseline.*\((good|weak), \d+ readings?, spread/s.test(await page.textContent('.facts')),
      'the baseline with its quality', 5000);
    await until(async () => /Alarm acknowledged.*by nurse-ana/s.test(await page.textContent('.timeline')),
      'the acknowledgement in the page\'s timeline', 5000);
    await page.fill('#note-text', 'Patient calm, BP rechecked manually.');
    await page.click('.note-form button');
    await until(async () => /Patient calm, BP rechecked manually\./.test(await page.textContent('.timeline')), 'the note in the timeline', 5000);
    const stored = await daemon.api('GET', `/sessions/${sessionId}/timeline.json`);
    assert.ok(stored.events.some((e) => e.type === 'EVENT_TYPE_NOTE_ADDED' && e.who === nurseName));
    await screenshot(page, 'session-detail');
    const download = page.waitForEvent('download');
    await page.click('button.report');
    assert.match((await download).suggestedFilename(), /report\.html$/);
    await page.click('a.back');
    await page.waitForSelector('#station:not([hidden])');
  });

  test('a dead feed shows FEED DOWN within 5 s, and the page comes back with the daemon', async () => {
    const banner = page.locator('#feed-banner');
    assert.equal(await banner.isHidden(), true);

    // A daemon that stops answering without closing anything: only the heartbeat tells.
    daemon.signal('SIGSTOP');
    let stopped = Date.now();
    await banner.waitFor({ state: 'visible', timeout: 5000 });
    console.log(`# silent feed: FEED DOWN shown after ${Date.now() - stopped} ms`);
    assert.match(await banner.textContent(), /FEED DOWN — last update \d+ s ago/);
    await screenshot(page, 'feed-down');
    daemon.signal('SIGCONT');
    await page.waitForSelector('#feed-status[data-state="live"]', { timeout: 10000 });
    assert.equal(await banner.isHidden(), true);

    // A daemon that dies: the connection closes.
    const httpPort = daemon.ports.http;
    daemon.signal('SIGKILL');
    stopped = Date.now();
    await banner.waitFor({ state: 'visible', timeout: 5000 });
    console.log(`# killed daemon: FEED DOWN shown after ${Date.now() - stopped} ms`);
    await daemon.exited;

    // The same daemon again, on the same HTTP port; the page resumes after its last event.
    daemon.pinHttpPort(httpPort);
    await daemon.start();
    await page.waitForSelector('#feed-status[data-state="live"]', { timeout: 15000 });
    assert.equal(await banner.isHidden(), true);
    await page.locator('.tile[data-chair="chair-3"]').waitFor();
    assert.match(await page.locator('.tile[data-chair="chair-3"] .patient').textContent(), /\S/);
    assert.deepEqual(page.errors ?? [], [], 'no script errors');
  });
});
