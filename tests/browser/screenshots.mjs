// Makes docs/station.png (a busy clinic: 18 chairs, sessions in every phase, alarms of every
// priority, one escalated, one acknowledged, one paused) and docs/session-detail.png, with
// the built vigild, vigil-sim at 60x and headless Chromium. Run by
// scripts/station-screenshots.sh; not part of the test suite.
//
// Alarms come from demonstration profiles with limits the simulated patients cross: the
// simulator's patients are healthy, and the picture should show what an alarm looks like.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Daemon, Sim, launchBrowser, openStation, until, workDir } from './harness.mjs';

const out = path.resolve(process.argv[2] ?? 'docs');
const dir = workDir('screenshots');
const profiles = path.join(dir, 'profiles');
mkdirSync(profiles, { recursive: true });
const limit = (id, vital, bound, priority) => `name: Demonstration (${id})
limits:
  - { id: ${id}, vital: ${vital}, ${bound}, priority: ${priority}, delay_s: 0, hysteresis: 1, latching: true, phases: [observation, ready] }
`;
writeFileSync(path.join(profiles, 'generic.yaml'), 'name: Generic ketamine/esketamine session\n');
writeFileSync(path.join(profiles, 'demo-high.yaml'), limit('systolic_high', 'nibp_systolic', 'high: 100', 'high'));
writeFileSync(path.join(profiles, 'demo-medium.yaml'), limit('spo2_low', 'spo2', 'low: 99.5', 'medium'));
writeFileSync(path.join(profiles, 'demo-low.yaml'), limit('hr_high', 'heart_rate', 'high: 55', 'low'));
writeFileSync(path.join(profiles, 'demo-short.yaml'), 'name: Short observation (demonstration)\ndischarge: { observation_min: 30, hold_min: 2 }\ntechnical: { post_dose_check_min: 10 }\n');

const daemon = await new Daemon(dir, { profilesDir: profiles }).start();
const sim = new Sim(daemon, ['--devices', '18', '--speed', '60', '--seed', '7']);
const browser = await launchBrowser();
try {
  await until(async () => (await daemon.api('GET', '/sessions')).advisories?.length === 18, 'eighteen chairs streaming', 20000);
  const plan = {
    'chair-1': 'generic', 'chair-2': 'demo-short', 'chair-3': 'demo-high', 'chair-4': 'generic', 'chair-5': 'generic',
    'chair-6': 'demo-medium', 'chair-7': 'generic', 'chair-8': 'demo-low', 'chair-9': 'generic', 'chair-10': 'generic',
    'chair-11': 'demo-high', 'chair-12': 'generic', 'chair-13': 'generic', 'chair-14': 'generic',
  };
  const ids = {};
  let n = 0;
  for (const [chair, profile] of Object.entries(plan)) {
    n += 1;
    ids[chair] = (await daemon.api('POST', '/sessions', { chair_id: chair, patient_ref: `P-${2031 + n * 7}`, profile })).session_id;
  }
  for (const chair of ['chair-15', 'chair-16']) {
    await daemon.api('POST', '/sessions', { chair_id: chair, patient_ref: `P-${3000 + Number(chair.slice(6))}` });
  }
  // Doses a few simulated minutes apart (at 60x, a second is a minute), so the chairs are at
  // different points of their observation window.
  for (const chair of Object.keys(plan)) {
    await until(async () => {
      try {
        await daemon.api('POST', `/sessions/${ids[chair]}/dose`, { route: 'intranasal', dose: '56 mg' });
        return true;
      } catch (e) {
        if (!/predose_gate/.test(e.message)) throw e;
        return false;
      }
    }, `the dose on ${chair}`, 20000, 200);
    await new Promise((r) => setTimeout(r, 3000));
  }
  const active = async (chair) => (await daemon.api('GET', `/sessions/${ids[chair]}`)).live?.alarms ?? [];
  await daemon.api('POST', `/sessions/${ids['chair-3']}/notes`, { text: 'Patient reports mild dizziness; lying back.' }, 'nurse');
  await until(async () => (await daemon.api('GET', `/sessions/${ids['chair-2']}`)).live?.phase === 'PHASE_READY',
    'chair-2 ready for discharge assessment', 60000, 500);
  await daemon.api('POST', `/sessions/${ids['chair-3']}/notes`, { text: 'BP rechecked manually: 176/98. Dr Lee informed.' }, 'nurse');

  const page = await openStation(browser, daemon, 'nurse', { width: 1366, height: 768 }, '?vitals_ms=10000');
  await until(async () => (await page.locator('.tile').count()) === 18, 'eighteen tiles');
  await until(async () => (await page.locator('.tile .spark polyline').count()) >= 40, 'trend lines', 20000);
  // One alarm acknowledged and one chair's audio paused, as a nurse would have done.
  const [acked] = await until(() => active('chair-11'), 'the alarm on chair-11', 20000);
  await daemon.api('POST', `/sessions/${ids['chair-11']}/alarms/${acked.alarm_id}/ack`, {}, 'nurse');
  await until(() => active('chair-8'), 'the alarm on chair-8', 20000);
  await daemon.api('POST', `/sessions/${ids['chair-8']}/pause`, { duration_s: 120 }, 'nurse');
  await until(async () => /Audio paused/.test(await page.textContent('.tile[data-chair="chair-8"]')) &&
    /Ack/.test(await page.textContent('.tile[data-chair="chair-11"]')), 'the acknowledgement and the pause on the page');
  await page.screenshot({ path: path.join(out, 'station.png') });

  await page.click(`.tile[data-chair="chair-3"] a.chair-name`);
  await page.waitForSelector('.chart .alarm-mark');
  await until(async () => /rechecked manually/.test(await page.textContent('.timeline')), 'the notes');
  await page.screenshot({ path: path.join(out, 'session-detail.png') });
  console.log(`wrote ${path.join(out, 'station.png')} and ${path.join(out, 'session-detail.png')}`);
} finally {
  await browser.close();
  await sim.stop();
  await daemon.stop();
}
