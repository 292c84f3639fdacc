// Artefacts on the nurse station, against the real vigild with the generic profile: a monitor
// (harness Monitor) sends SpO2 98, 98 and then 36 in an open session; the daemon judges the 36
// an artefact (`impossible_step`, alarms.md 3.6) and the page must keep showing 98, say in plain
// words that a 36 was ignored and why, keep it out of the trend lines, and drop the note when a
// usable SpO2 arrives. Samples the monitor flags itself (sensor off, artifact) are treated the
// same way. Run by CTest (browser_station_test) through run.sh.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Daemon, Monitor, launchBrowser, openStation, quality, screenshot, until, workDir } from './harness.mjs';

const chair = 'chair-art';

describe('artefacts on the station', { timeout: 90000 }, () => {
  let daemon;
  let browser;
  let page;
  let monitor;
  let sessionId;
  let t = 0;  // the monitor's clock: the wall clock, moved on a second per reading

  const next = () => {
    t = Math.max(t + 1000, Date.now());
    return t;
  };
  const tile = () => page.locator(`.tile[data-chair="${chair}"]`);
  const text = async (selector) => (await tile().locator(selector).textContent()) ?? '';
  /// Every coordinate the page has drawn in an SVG line or mark is a number.
  const noNaN = () => page.evaluate(() => [...document.querySelectorAll('svg polyline, svg circle')]
    .every((e) => !/NaN|Infinity/.test(`${e.getAttribute('points') ?? ''} ${e.getAttribute('cx')} ${e.getAttribute('cy')}`)));

  before(async () => {
    daemon = await new Daemon(workDir('artefacts')).start();
    browser = await launchBrowser();
    monitor = await new Monitor(daemon, chair).connect();
    ({ session_id: sessionId } = await daemon.api('POST', '/sessions', { chair_id: chair, patient_ref: 'P-ART', profile: 'generic' }));
    page = await openStation(browser, daemon, 'nurse');
  });

  after(async () => {
    monitor?.close();
    await browser?.close();
    await daemon?.stop();
  });

  test('a sample the daemon judged an artefact is not shown as the value, and the tile says why', async () => {
    await monitor.samples([{ kind: 'SPO2', value: 98, time_ms: next() }, { kind: 'HEART_RATE', value: 72, time_ms: t }]);
    await monitor.samples([{ kind: 'SPO2', value: 98, time_ms: next() }, { kind: 'HEART_RATE', value: 73, time_ms: t }]);
    await until(async () => (await text('.vital-spo2 .vital-value')) === '98', 'SpO2 98 on the tile');
    await until(async () => (await text('.vital-hr .vital-value')) === '73', 'HR 73 on the tile');

    await monitor.samples([{ kind: 'SPO2', value: 36, time_ms: next() }, { kind: 'HEART_RATE', value: 74, time_ms: t }]);
    // The daemon judged it (stored with bit 16 and reason 3, impossible_step).
    const stored = await until(async () => {
      const tl = await daemon.api('GET', `/sessions/${sessionId}/timeline.json`);
      return tl.vitals?.find((s) => s.kind === 'SPO2')?.points?.find((p) => p.value === 36);
    }, 'the judged SpO2 36 in the stored timeline');
    assert.equal(stored.quality, quality.JUDGED | (3 << 8));

    await until(async () => (await text('.vital-hr .vital-value')) === '74', 'the update with the judged SpO2 on the page');
    await until(async () => /artefact ignored: SpO₂ 36 \(impossible jump\)/.test(await text('.tile-notes')),
      'the artefact note on the tile', 5000);
    assert.equal(await text('.vital-spo2 .vital-value'), '98', 'the tile keeps the last usable SpO2');
    assert.equal(await tile().locator('.vital-spo2').getAttribute('data-ignored'), 'artefact ignored: SpO₂ 36 (impossible jump)');
    assert.doesNotMatch(`${await text('.tile-vitals')} ${await text('.tile-notes')}`, /impossible_step|spo2|_/, 'no internal names');
    // The trend keeps only usable readings: two 98s and no point at 36.
    const trend = await page.evaluate((id) => window.vigilStation.clinic.chairs.get(id).trends.spo2.map((p) => p.value), chair);
    assert.deepEqual(trend, [98, 98]);
    assert.ok(await noNaN(), 'no NaN in the sparklines');
    await screenshot(page, 'station-artefact-ignored');
  });

  test('the session detail keeps the artefact out of the line and shows it as a hollow mark', async () => {
    await page.click(`.tile[data-chair="${chair}"] a.chair-name`);
    await page.waitForSelector('.chart');
    const spo2 = page.locator('.chart-box', { hasText: 'SpO₂' });
    await until(async () => /SpO₂ 98/.test(await spo2.locator('figcaption').textContent()), 'the last usable SpO2 in the legend');
    assert.match(await spo2.locator('figcaption').textContent(), /artefact ignored: SpO₂ 36 \(impossible jump\)/);
    assert.equal(await spo2.locator('circle.artefact-mark').count(), 1, 'one hollow mark for the 36');
    // The line's lowest point is the 98s: no point of the line sits at the mark's height.
    const { line, mark } = await spo2.evaluate((box) => ({
      line: box.querySelector('polyline.line').getAttribute('points').split(' ').map((p) => Number(p.split(',')[1])),
      mark: Number(box.querySelector('circle.artefact-mark').getAttribute('cy')),
    }));
    assert.ok(line.every((y) => Math.abs(y - mark) > 5), `the 36 is not joined into the line (${line} vs ${mark})`);
    assert.ok(await noNaN(), 'no NaN in the charts');
    await screenshot(page, 'session-detail-artefact');
    await page.click('a.back');
    await page.waitForSelector('#station:not([hidden])');
  });

  test('a usable reading takes the note away', async () => {
    await monitor.samples([{ kind: 'SPO2', value: 97, time_ms: next() }, { kind: 'HEART_RATE', value: 75, time_ms: t }]);
    await until(async () => (await text('.vital-spo2 .vital-value')) === '97', 'SpO2 97 on the tile');
    assert.equal(await tile().locator('.tile-notes').textContent(), '');
    assert.equal(await tile().locator('.vital-spo2').getAttribute('data-ignored'), null);
  });

  test("samples the monitor flags itself (sensor off, artifact) are not shown as values either", async () => {
    // A sensor-off SpO2 comes as value 0, which the feed's JSON leaves out altogether.
    await monitor.samples([{ kind: 'SPO2', value: 0, time_ms: next(), quality: quality.SENSOR_OFF },
      { kind: 'HEART_RATE', value: 277, time_ms: t, quality: quality.ARTIFACT }]);
    await until(async () => /SpO₂ sensor off/.test(await text('.tile-notes')), 'the sensor-off note', 5000);
    assert.match(await text('.tile-notes'), /artefact ignored: HR 277 \(flagged by the monitor\)/);
    assert.equal(await text('.vital-spo2 .vital-value'), '97');
    assert.equal(await text('.vital-hr .vital-value'), '75');
    assert.ok(await noNaN(), 'no NaN in the sparklines');
    assert.deepEqual(page.errors ?? [], [], 'no script errors');
  });
});
