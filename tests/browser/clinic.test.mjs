// A whole clinic on one screen (docs/station.md 7): twenty chairs, some dosed, four with
// high-priority blood-pressure alarms, two with a latched heart-rate alarm, one with its audio
// paused, one monitor's clock ten minutes behind the screen's, on the 1366×768 station screen and
// the 1920×1080 wall screen. Every tile shows whole without scrolling, however tall its alarm
// makes it; nothing scrolls sideways; every vital's value fits across its tile; the clock that
// differs is named. Test monitors (harness Monitor) send the samples; the profiles are the
// shipped ones with the artefact checks off, so that a heart rate of 0 counts as a reading
// (alarms.md 3.6). Run by CTest (browser_station_test) through run.sh.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Daemon, Monitor, launchBrowser, openStation, profilesWithoutArtefactChecks, screenshot, until, workDir,
} from './harness.mjs';

const chairs = Array.from({ length: 20 }, (_, i) => `chair-${String(i + 1).padStart(2, '0')}`);
const hypertensive = ['chair-04', 'chair-09', 'chair-17', 'chair-19'];  // 215/125: two high alarms and an advisory each
const latched = ['chair-12', 'chair-18'];                               // heart rate 0, then 75: hr_critical_low, latched
const dosed = chairs.slice(0, 10).filter((c) => !hypertensive.includes(c));
/// Each monitor's clock: chair-20's is ten minutes behind (the station names it).
const clockOf = (chair, at) => (chair === 'chair-20' ? at - 600_000 : at);

describe('a clinic of twenty chairs', { timeout: 150000 }, () => {
  let dir;
  let daemon;
  let browser;
  const monitors = {};
  const sessions = {};
  let t = 0;
  const next = () => {
    t = Math.max(t + 1000, Date.now());
    return t;
  };
  /// One second of every chair's monitor: the chosen heart rate for `slow` chairs.
  const second = async (slowHeartRate) => {
    const at = next();
    await Promise.all(chairs.map((c) => monitors[c].samples([
      { kind: 'HEART_RATE', value: latched.includes(c) ? slowHeartRate : 72, time_ms: clockOf(c, at) },
      { kind: 'SPO2', value: 97, time_ms: clockOf(c, at) }])));
  };

  before(async () => {
    dir = workDir('clinic');
    daemon = await new Daemon(dir, { profilesDir: profilesWithoutArtefactChecks(dir) }).start();
    browser = await launchBrowser();
    for (const chair of chairs) monitors[chair] = await new Monitor(daemon, chair).connect();
    // Sessions on all but the last chair, which shows as a monitor without a session.
    for (const chair of chairs.slice(0, 19)) {
      sessions[chair] = (await daemon.api('POST', '/sessions', { chair_id: chair, patient_ref: `P-${chair.slice(-2)}`,
        profile: 'generic' })).session_id;
    }
    // A cuff reading on every chair: 215/125 on the hypertensive ones, 121/78 on the others.
    const at = next();
    await Promise.all(chairs.map((c) => {
      const [sys, dia, map] = hypertensive.includes(c) ? [215, 125, 155] : [121, 78, 92];
      const time = clockOf(c, at);
      return monitors[c].samples([{ kind: 'HEART_RATE', value: 72, time_ms: time }, { kind: 'SPO2', value: 97, time_ms: time },
        { kind: 'NIBP_SYSTOLIC', value: sys, time_ms: time }, { kind: 'NIBP_DIASTOLIC', value: dia, time_ms: time },
        { kind: 'NIBP_MEAN', value: map, time_ms: time }]);
    }));
    for (const chair of dosed) {
      await until(async () => {
        try {
          await daemon.api('POST', `/sessions/${sessions[chair]}/dose`, { route: 'intranasal', dose: '56 mg' });
          return true;
        } catch (e) {
          if (!/predose_gate/.test(e.message)) throw e;
          return false;
        }
      }, `the pre-dose check on ${chair}`);
    }
    // Heart rate 0 for 12 s on the latched chairs (hr_critical_low: below 40 for 10 s), then 75.
    for (let i = 0; i < 13; ++i) await second(0);
    const live = async (chair) => (await daemon.api('GET', `/sessions/${sessions[chair]}`)).live?.alarms ?? [];
    for (const chair of latched) {
      await until(async () => (await live(chair)).some((a) => a.rule === 'hr_critical_low'), `hr_critical_low on ${chair}`, 10000);
    }
    for (let i = 0; i < 3; ++i) await second(75);
    for (const chair of latched) {
      await until(async () => (await live(chair)).some((a) => a.rule === 'hr_critical_low' && !a.condition), `the alarm latched on ${chair}`);
    }
    for (const chair of hypertensive) {
      await until(async () => (await live(chair)).length >= 3, `three alarms on ${chair}`);
    }
    // One chair's audio paused: its tile says so on a line of its own.
    await daemon.api('POST', `/sessions/${sessions['chair-04']}/pause`, { duration_s: 120 }, 'nurse');
  });

  after(async () => {
    for (const m of Object.values(monitors)) m.close();
    await browser?.close();
    await daemon?.stop();
  });

  for (const size of [{ width: 1366, height: 768 }, { width: 1920, height: 1080 }]) {
    test(`${size.width}×${size.height}: every chair shows whole, without scrolling`, async () => {
      const page = await openStation(browser, daemon, 'nurse', size);
      await until(async () => (await page.locator('.tile').count()) === 20, 'twenty tiles');
      await second(75);  // a live second of every monitor: the page learns each one's clock from it
      await until(async () => (await page.locator('.tile[data-priority="PRIORITY_HIGH"]').count()) === 6, 'six alarming tiles');
      await until(async () => (await page.locator('.tile .latched').count()) === 2, 'two latched markers');
      await until(async () => /Audio paused/.test(await page.locator('.tile[data-chair="chair-04"]').textContent()), 'the pause on chair-04');
      await until(async () => (await page.locator('.tile .tile-times').allTextContents()).filter((x) => /Dose \+/.test(x)).length ===
        dosed.length, 'the dosed chairs counting');
      await until(async () => (await page.locator('.tile .clock-off').count()) > 0, "the monitor's clock named");
      // Two renders of the page (at most 250 ms apart) after the last of it arrived.
      await page.waitForTimeout(600);
      const layout = await page.evaluate(() => {
        const list = document.getElementById('chairs');
        const box = list.getBoundingClientRect();
        const tiles = [...list.querySelectorAll('.tile')];
        return {
          scrolls: list.scrollHeight > list.clientHeight + 1,
          sideways: document.documentElement.scrollWidth > document.documentElement.clientWidth,
          outside: tiles.filter((el) => {
            const r = el.getBoundingClientRect();
            return r.bottom > box.bottom + 0.5 || r.right > box.right + 0.5 || r.bottom > innerHeight;
          }).map((el) => el.dataset.chair),
          cut: tiles.filter((el) => {
            const v = el.querySelector('.tile-vitals');
            return v.scrollWidth > v.clientWidth + 1;
          }).map((el) => el.dataset.chair),
          columns: getComputedStyle(list).gridTemplateColumns.split(' ').length,
          dense: list.classList.contains('dense'),
        };
      });
      await screenshot(page, `clinic-${size.width}`);
      assert.equal(layout.sideways, false, 'the station does not scroll sideways');
      assert.deepEqual(layout.cut, [], 'no vital value cut');
      assert.deepEqual(layout.outside, [], `every tile inside the screen (${layout.columns} columns${layout.dense ? ', dense' : ''})`);
      assert.equal(layout.scrolls, false, 'the chairs do not scroll');
      // The alarming values are whole too.
      const alarms = await page.evaluate(() => [...document.querySelectorAll('.tile[data-priority] .tile-alarm .alarm-value')]
        .filter((v) => v.scrollWidth > v.clientWidth + 0.5).map((v) => v.closest('.tile').dataset.chair));
      assert.deepEqual(alarms, [], 'every alarming value whole');
      // The one monitor whose clock is not the screen's is named, on its tile and in the bar.
      assert.deepEqual(await page.locator('.tile .clock-off').evaluateAll((els) => els.map((e) => e.closest('.tile').dataset.chair)),
        ['chair-20']);
      assert.match(await page.locator('.tile[data-chair="chair-20"] .clock-off').textContent(), /monitor clock (9|10) min behind this screen/);
      assert.match(await page.locator('#clock-note').textContent(), /chair-20: monitor clock (9|10) min behind this screen/);
      assert.deepEqual(page.errors ?? [], [], 'no script or console errors');
      await page.close();
    });
  }
});
