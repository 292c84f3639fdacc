// The station as the room sees it, against the real vigild, at the 1366×768 station screen and
// the 1920×1080 wall screen: no page scrolls sideways; the alarming value and vital are never cut
// short and are worded clinically (no rule or vital id on the page); the wall screen's vitals are
// at least twice the size; a latched alarm says so with the value that raised it, a value of 0
// (left out of the feed's JSON) shown as 0; a chair's alarms are acknowledged at once; the session
// page lists its alarms as the station does; FEED DOWN hides what cannot work; a station that
// cannot sound says so loudly. Test monitors (harness Monitor) send chosen samples: on chair-a a
// cuff reading of 215/125 (two high-priority alarms and the pre-dose advisory), on chair-b a heart
// rate of 0 for 12 s, then 75 (hr_critical_low, latched). The profiles are the shipped ones with
// the artefact checks off, so that a heart rate of 0 counts as a reading (alarms.md 3.6).
// Run by CTest (browser_station_test) through run.sh.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  Daemon, Monitor, env, launchBrowser, nurseName, openStation, profilesWithoutArtefactChecks, screenshot, until, workDir,
} from './harness.mjs';

const sizes = [{ width: 1366, height: 768 }, { width: 1920, height: 1080 }];
const wording = JSON.parse(readFileSync(path.join(env.source, 'web', 'wording.json'), 'utf8'));
const internalIds = [...Object.keys(wording.rules), ...Object.keys(wording.vitals)];

/// Rule and vital ids that show as words in the page's visible text.
const idsShown = (text) => internalIds.filter((id) => new RegExp(`(^|[^A-Za-z0-9_])${id}([^A-Za-z0-9_]|$)`).test(text));

/// Whether the page scrolls sideways.
const sideways = (page) => page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth ||
  document.body.scrollWidth > document.documentElement.clientWidth);

describe('the station in the room', { timeout: 150000 }, () => {
  let dir;
  let daemon;
  let browser;
  let quiet;  // a browser on a desk: no autoplay
  const monitors = {};
  const sessions = {};
  const fontSizes = {};
  let t = 0;
  const next = () => {
    t = Math.max(t + 1000, Date.now());
    return t;
  };

  before(async () => {
    dir = workDir('room');
    daemon = await new Daemon(dir, { profilesDir: profilesWithoutArtefactChecks(dir) }).start();
    browser = await launchBrowser();
    for (const chair of ['chair-a', 'chair-b']) {
      monitors[chair] = await new Monitor(daemon, chair).connect();
      sessions[chair] = (await daemon.api('POST', '/sessions', { chair_id: chair, patient_ref: `P-${chair.slice(-1).toUpperCase()}`, profile: 'generic' })).session_id;
    }
    // chair-a: a cuff reading of 215/125 (mean 155): systolic_severe and diastolic_severe (high,
    // at once) and predose_bp (low advisory).
    await monitors['chair-a'].samples([{ kind: 'HEART_RATE', value: 82, time_ms: next() }, { kind: 'SPO2', value: 97, time_ms: t },
      { kind: 'NIBP_SYSTOLIC', value: 215, time_ms: t }, { kind: 'NIBP_DIASTOLIC', value: 125, time_ms: t },
      { kind: 'NIBP_MEAN', value: 155, time_ms: t }]);
    // chair-b: heart rate 0 for 12 s of the monitor's clock: hr_critical_low (< 40 for 10 s, latching).
    for (let i = 0; i < 13; ++i) {
      await monitors['chair-b'].samples([{ kind: 'HEART_RATE', value: 0, time_ms: next() }, { kind: 'SPO2', value: 97, time_ms: t }]);
    }
    const live = async (chair) => (await daemon.api('GET', `/sessions/${sessions[chair]}`)).live?.alarms ?? [];
    await until(async () => (await live('chair-a')).length >= 3, 'three alarms on chair-a', 10000);
    await until(async () => (await live('chair-b')).some((a) => a.rule === 'hr_critical_low'), 'hr_critical_low on chair-b', 10000);
    // Back to 75: the condition goes, the latched alarm stays until acknowledged.
    for (let i = 0; i < 3; ++i) {
      await monitors['chair-b'].samples([{ kind: 'HEART_RATE', value: 75, time_ms: next() }, { kind: 'SPO2', value: 97, time_ms: t }]);
    }
    await until(async () => (await live('chair-b')).some((a) => a.rule === 'hr_critical_low' && !a.condition), 'the alarm latched', 10000);
  });

  after(async () => {
    for (const m of Object.values(monitors)) m.close();
    await quiet?.close();
    await browser?.close();
    await daemon?.stop();
  });

  for (const size of sizes) {
    test(`${size.width}×${size.height}: alarming values whole and worded clinically, no sideways scroll`, async () => {
      const page = await openStation(browser, daemon, 'nurse', size);
      const tile = (chair) => page.locator(`.tile[data-chair="${chair}"]`);
      await until(async () => (await tile('chair-a').getAttribute('data-priority')) === 'PRIORITY_HIGH', 'the high alarm on chair-a');
      await until(async () => /Latched/.test(await tile('chair-b').textContent()), 'the latched marker on chair-b', 10000);
      await page.waitForTimeout(500);
      assert.equal(await sideways(page), false, 'the station does not scroll sideways');
      // Every alarming tile shows its alarm's vital and value whole, in the priority's colour.
      const tiles = await page.evaluate(() => [...document.querySelectorAll('.tile')].filter((el) => el.dataset.priority).map((el) => {
        const value = el.querySelector('.tile-alarm .alarm-value');
        const vital = el.querySelector('.tile-alarm .alarm-vital');
        const box = el.getBoundingClientRect();
        const inside = (x) => x && x.getBoundingClientRect().right <= box.right + 0.5 && x.getBoundingClientRect().left >= box.left - 0.5;
        return {
          chair: el.dataset.chair,
          value: value?.textContent,
          whole: Boolean(value && vital && value.scrollWidth <= value.clientWidth + 0.5 && vital.scrollWidth <= vital.clientWidth + 0.5 &&
            inside(value) && inside(vital)),
          colour: value ? getComputedStyle(value).color : null,
          text: el.querySelector('.tile-alarm').innerText,
        };
      }));
      assert.ok(tiles.length >= 2, 'both chairs are alarming');
      // Every vital's value, however large the type, stays within its tile.
      const cut = await page.evaluate(() => [...document.querySelectorAll('.tile .vital-value')].filter((v) => {
        const box = v.closest('.tile').getBoundingClientRect();
        const r = v.getBoundingClientRect();
        return v.scrollWidth > v.clientWidth + 0.5 || r.right > box.right - 2 || r.left < box.left;
      }).map((v) => `${v.closest('.tile').dataset.chair}: ${v.textContent} (${v.scrollWidth}/${v.clientWidth}, ` +
        `${v.getBoundingClientRect().right} in ${v.closest('.tile').getBoundingClientRect().right}; ` +
        `${[...v.closest('.tile-vitals').children].map((x) => x.getBoundingClientRect().width).join(',')} of ${v.closest('.tile-vitals').getBoundingClientRect().width})`));
      assert.deepEqual(cut, [], 'no vital value cut or spilling out of its tile');
      for (const x of tiles) assert.ok(x.whole, `the alarming value is whole on ${x.chair}: ${JSON.stringify(x)}`);
      const a = tiles.find((x) => x.chair === 'chair-a');
      assert.match(a.text, /Systolic BP 215 mmHg — above 200|Diastolic BP 125 mmHg — above 120/);
      assert.equal(a.colour, 'rgb(255, 138, 128)', 'the value in the high priority colour');
      // The latched marker, with the value that raised it: 0, which the feed's JSON leaves out.
      assert.match(await tile('chair-b').locator('.latched').textContent(), /Latched — raised at 0 bpm/);
      assert.match(await tile('chair-b').locator('.tile-alarm').textContent(), /Heart rate 0 bpm — below 40/);
      const list = await page.locator('#alarm-list').innerText();
      assert.match(list, /Systolic BP 215 mmHg — above 200/);
      assert.match(list, /Diastolic BP 125 mmHg — above 120/);
      assert.match(list, /Pre-dose Systolic BP 215 mmHg above 140/);
      assert.deepEqual(idsShown(await page.locator('body').innerText()), [], 'no rule or vital id on the station');
      fontSizes[size.width] = await page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('.tile .vital-value')).fontSize));
      await screenshot(page, `room-station-${size.width}`);

      // The session page: fits the screen, its alarms ordered as on the station, with raise times.
      await page.click('.tile[data-chair="chair-a"] a.chair-name');
      await page.waitForSelector('.detail-alarm');
      await until(async () => (await page.locator('.detail-alarm').count()) >= 3, 'the alarms of chair-a on its page');
      await page.waitForSelector('.timeline li');
      await page.waitForTimeout(300);
      assert.equal(await sideways(page), false, 'the session page does not scroll sideways');
      const order = await page.locator('.detail-alarm').evaluateAll((els) => els.map((e) => e.dataset.priority));
      assert.deepEqual(order, [...order].sort((x, y) => ['PRIORITY_HIGH', 'PRIORITY_MEDIUM', 'PRIORITY_LOW'].indexOf(x) -
        ['PRIORITY_HIGH', 'PRIORITY_MEDIUM', 'PRIORITY_LOW'].indexOf(y)), 'high before low');
      assert.equal(order[order.length - 1], 'PRIORITY_LOW');
      for (const time of await page.locator('.detail-alarm time.raised-at').allTextContents()) assert.match(time, /^\d\d:\d\d:\d\d$/);
      assert.equal(await page.locator('.detail-pause button.pause').count(), 1, 'the session page pauses the audio, as the station');
      assert.deepEqual(idsShown(await page.locator('body').innerText()), [], 'no rule or vital id on the session page');
      await screenshot(page, `room-session-${size.width}`);
      assert.deepEqual(page.errors ?? [], [], 'no script or console errors');
      await page.close();
    });
  }

  test("the wall screen's vitals are at least twice the size of the station screen's", () => {
    assert.ok(fontSizes[1920] >= 2 * fontSizes[1366], `${fontSizes[1920]} px against ${fontSizes[1366]} px`);
  });

  test("acknowledging all of a chair's alarms at once", async () => {
    const page = await openStation(browser, daemon, 'nurse');
    const button = page.locator('#alarm-list [data-ack-all="chair-a"]');
    await button.waitFor();
    assert.match(await button.textContent(), /Acknowledge all 3/);
    await button.click();
    await until(async () => {
      const alarms = (await daemon.api('GET', `/sessions/${sessions['chair-a']}`)).live?.alarms ?? [];
      return alarms.every((a) => a.acknowledged);
    }, 'every alarm of chair-a acknowledged in the daemon');
    // The stored timeline is written by its own thread, a moment after the daemon's state.
    const acks = await until(async () => {
      const events = (await daemon.api('GET', `/sessions/${sessions['chair-a']}/timeline.json`)).events ?? [];
      const found = events.filter((e) => e.type === 'EVENT_TYPE_ALARM_ACKNOWLEDGED');
      return found.length >= 3 && found;
    }, 'the three acknowledgements in the stored timeline', 5000);
    assert.equal(acks.length, 3, 'one acknowledgement per alarm in the timeline');
    for (const e of acks) assert.equal(e.who, nurseName);
    await until(async () => (await page.locator('#alarm-list [data-ack-all="chair-a"]').count()) === 0, 'the button gone');
    assert.equal(await page.locator('#alarm-list [data-chair="chair-a"] button.ack').count(), 0, 'no acknowledge button left on chair-a');
    assert.deepEqual(page.errors ?? [], []);
    await page.close();
  });

  test('FEED DOWN hides Acknowledge and Pause', async () => {
    const page = await openStation(browser, daemon, 'nurse');
    await until(async () => (await page.locator('#alarm-list button.ack').count()) > 0, 'an acknowledge button while live');
    daemon.signal('SIGSTOP');
    try {
      await page.waitForSelector('#feed-banner:not([hidden])', { timeout: 8000 });
      await until(async () => (await page.locator('button.ack, button.pause').count()) === 0, 'no acknowledge or pause button', 3000);
    } finally {
      daemon.signal('SIGCONT');
    }
    await page.waitForSelector('#feed-status[data-state="live"]', { timeout: 15000 });
    await until(async () => (await page.locator('#alarm-list button.ack').count()) > 0, 'the buttons back once live');
    await page.close();
  });

  test('a station that cannot sound says so loudly; a kiosk-mode one sounds without a click', async () => {
    quiet = await launchBrowser({ kiosk: false });
    const desk = await openStation(quiet, daemon, 'nurse');
    const banner = desk.locator('#sound-banner');
    await until(() => banner.isVisible(), 'the no-sound warning');
    assert.match(await banner.textContent(), /NO SOUND/);
    const box = await banner.boundingBox();
    assert.ok(box.width >= 1300 && box.height >= 30, `the warning spans the screen (${JSON.stringify(box)})`);
    await screenshot(desk, 'room-no-sound');
    await banner.click();
    await until(async () => !(await banner.isVisible()), 'the warning gone once sound is on');
    const kiosk = await openStation(browser, daemon, 'nurse');
    await kiosk.waitForTimeout(500);
    assert.equal(await kiosk.locator('#sound-banner').isVisible(), false, 'kiosk mode: sound on without a click');
    assert.equal(await kiosk.evaluate(() => window.vigilStation.sound.enabled), true);
    await desk.close();
    await kiosk.close();
  });
});
