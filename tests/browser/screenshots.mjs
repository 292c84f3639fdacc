// Makes docs/station.png and docs/station-wall.png (1366×768 and 1920×1080; a busy clinic: the 20-chair clinic day of config/scenarios, with its
// hypertensive response, desaturation, tachycardia and oximeter off, chairs in every phase)
// and docs/session-detail.png, with the built vigild, vigil-sim at 100x and headless
// Chromium. Run by scripts/station-screenshots.sh; not part of the test suite. Takes about
// a minute and a half: the picture is taken once the first chair is ready for discharge
// assessment (two hours after its dose, simulated).

import path from 'node:path';
import { Daemon, Sim, env, launchBrowser, openStation, tokens, until, workDir } from './harness.mjs';

const out = path.resolve(process.argv[2] ?? 'docs');
const dir = workDir('screenshots');
const daemon = await new Daemon(dir).start();
const sim = new Sim(daemon, ['--scenario', path.join(env.source, 'config', 'scenarios', 'clinic-day.yaml'),
  '--speed', '100', '--api-token', tokens.admin]);
const browser = await launchBrowser();
try {
  const sessionOf = async (chair) => (await daemon.api('GET', '/sessions')).sessions?.find((s) => s.chair_id === chair);
  const active = async (chair) => {
    const s = await sessionOf(chair);
    return s ? (await daemon.api('GET', `/sessions/${s.session_id}`)).live?.alarms ?? [] : [];
  };
  // Once the first chair is ready for discharge assessment, the hypertensive response on
  // chair-17 is under way: a nurse notes it and acknowledges its first alarm, and pauses the
  // audio of another chair with an alarm (latched ones stay until acknowledged).
  await until(async () => (await sessionOf('chair-1'))?.phase === 'PHASE_READY',
    'chair-1 ready for discharge assessment', 120000, 500);
  await until(async () => (await active('chair-17')).length > 0, 'the alarm on chair-17', 60000, 500);
  const page = await openStation(browser, daemon, 'nurse', { width: 1366, height: 768 }, '?vitals_ms=10000');
  await until(async () => (await page.locator('.tile').count()) === 20, 'twenty tiles');
  await until(async () => (await page.locator('.tile .spark polyline').count()) >= 40, 'trend lines', 20000);
  const hypertensive = await sessionOf('chair-17');
  await daemon.api('POST', `/sessions/${hypertensive.session_id}/notes`,
    { text: 'Patient reports mild dizziness; lying back.' }, 'nurse');
  const [current] = await until(async () => {
    const alarms = await active('chair-17');
    return alarms.length > 0 && alarms;
  }, 'an alarm on chair-17 to acknowledge', 20000, 50);
  await daemon.api('POST', `/sessions/${hypertensive.session_id}/alarms/${current.alarm_id}/ack`, {}, 'nurse');
  await daemon.api('POST', `/sessions/${hypertensive.session_id}/notes`,
    { text: 'BP rechecked manually: 186/104. Dr Lee informed.' }, 'nurse');
  let paused;
  for (const chair of ['chair-18', 'chair-19', 'chair-20']) {
    if ((await active(chair)).length > 0) {
      paused = chair;
      // Session time runs 100 times faster: the longest pause (120 s) lasts 1.2 s here.
      await daemon.api('POST', `/sessions/${(await sessionOf(chair)).session_id}/pause`, { duration_s: 120 }, 'nurse');
      break;
    }
  }

  // The pause lasts 1.2 s of wall time: the picture is taken as soon as the page shows it.
  await until(async () => !paused || /Audio paused/.test(await page.textContent(`.tile[data-chair="${paused}"]`)),
    'the pause on the page', 1000, 20);
  await page.screenshot({ path: path.join(out, 'station.png') });
  // The same clinic on the room's wall screen.
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(out, 'station-wall.png') });
  await page.setViewportSize({ width: 1366, height: 768 });

  await page.click('.tile[data-chair="chair-17"] a.chair-name');
  await page.waitForSelector('.chart .alarm-mark');
  await until(async () => /rechecked manually/.test(await page.textContent('.timeline')), 'the notes');
  await page.screenshot({ path: path.join(out, 'session-detail.png') });
  console.log(`wrote station.png, station-wall.png and session-detail.png in ${out}`);
} finally {
  await browser.close();
  await sim.stop();
  await daemon.stop();
}
