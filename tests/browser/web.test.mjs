// Unit tests of the station's plain modules (web/state.js, web/format.js) under node, without a
// browser or a daemon: which samples stand as a vital's value, and the words for those that do
// not. Run by CTest (browser_station_test) through run.sh, before the browser tests.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { env } from './harness.mjs';

// The modules are ES modules without imports of their own, outside any package marked as such:
// loaded from their text, as the page's own copies.
const load = (file) => import(`data:text/javascript;base64,${readFileSync(path.join(env.source, 'web', file)).toString('base64')}`);
const { Clinic, clockDiffersMs, ignoredNoteMs, judgedReason, quality, usable } = await load('state.js');
const format = await load('format.js');
const { ignoredNote } = format;
// The wording table, as the page gets it from vigild (/static/wording.json), and the cases the
// session report's wording must agree on (tests/unit/report/wording_test.cpp runs the same).
const readJson = (...parts) => JSON.parse(readFileSync(path.join(env.source, ...parts), 'utf8'));
format.setWording?.(readJson('web', 'wording.json'));
const cases = readJson('tests', 'common', 'wording-cases.json');

const judged = (reason) => quality.JUDGED | (reason << 8);
const update = (...values) => ({ chair_id: 'chair-1', session_id: '1', values });

describe('state.js: usable samples', () => {
  test('as the engine takes them: low perfusion alone is usable, the other flags and judged artefacts are not', () => {
    assert.equal(usable(0), true);
    assert.equal(usable(undefined), true);
    assert.equal(usable(quality.LOW_PERFUSION), true);
    for (const q of [quality.SENSOR_OFF, quality.ARTIFACT, quality.IMPLAUSIBLE | quality.ARTIFACT, judged(3),
      quality.LOW_PERFUSION | quality.ARTIFACT]) assert.equal(usable(q), false, `quality ${q}`);
    assert.equal(judgedReason(judged(3)), 3);
    assert.equal(judgedReason(judged(5)), 5);
    assert.equal(judgedReason(quality.ARTIFACT), 0);
  });

  test('a judged artefact is not the value nor a point of the trend; a usable sample ends its note', () => {
    const clinic = new Clinic();
    const t = 1_700_000_000_000;
    clinic.applyVitals(update({ kind: 'SPO2', value: 98, time_ms: String(t) }));
    clinic.applyVitals(update({ kind: 'SPO2', value: 36, time_ms: String(t + 1000), quality: judged(3) }));
    const c = clinic.chairs.get('chair-1');
    assert.equal(c.vitals.spo2.value, 98);
    assert.deepEqual(c.trends.spo2.map((p) => p.value), [98]);
    assert.deepEqual(clinic.ignoredNow(c), { spo2: { value: 36, time: t + 1000, quality: judged(3) } });
    clinic.applyVitals(update({ kind: 'SPO2', value: 97, time_ms: String(t + 2000) }));
    assert.equal(c.vitals.spo2.value, 97);
    assert.deepEqual(clinic.ignoredNow(c), {});
    assert.deepEqual(c.trends.spo2.map((p) => p.value), [98, 97]);
  });

  test('a sample flagged by the device counts the same; a value the JSON left out is 0, never NaN', () => {
    const clinic = new Clinic();
    const t = 1_700_000_000_000;
    clinic.applyVitals(update({ kind: 'HEART_RATE', value: 72, time_ms: String(t) }, { kind: 'SPO2', value: 98, time_ms: String(t) }));
    // The JSON mapping leaves out a value of 0: a sensor-off sample has no "value".
    clinic.applyVitals(update({ kind: 'SPO2', time_ms: String(t + 1000), quality: quality.SENSOR_OFF },
      { kind: 'HEART_RATE', value: 277, time_ms: String(t + 1000), quality: quality.ARTIFACT }));
    const c = clinic.chairs.get('chair-1');
    assert.equal(c.vitals.spo2.value, 98);
    assert.equal(c.vitals.hr.value, 72);
    assert.equal(c.ignored.spo2.value, 0);
    assert.equal(c.ignored.hr.value, 277);
    // A usable 0 (asystole is a heart rate) is a value, and a number.
    clinic.applyVitals(update({ kind: 'HEART_RATE', time_ms: String(t + 2000) }));
    assert.equal(c.vitals.hr.value, 0);
    assert.ok(c.trends.hr.every((p) => Number.isFinite(p.value)));
    // Low perfusion alone: shown.
    clinic.applyVitals(update({ kind: 'SPO2', value: 91, time_ms: String(t + 2000), quality: quality.LOW_PERFUSION }));
    assert.equal(c.vitals.spo2.value, 91);
  });

  test('the note goes after ignoredNoteMs of the chair clock with nothing after it; a newer ignored sample renews it', () => {
    const clinic = new Clinic();
    const t = 1_700_000_000_000;
    clinic.applyVitals(update({ kind: 'SPO2', value: 98, time_ms: String(t) }));
    clinic.applyVitals(update({ kind: 'SPO2', value: 36, time_ms: String(t + 1000), quality: judged(3) }));
    const c = clinic.chairs.get('chair-1');
    c.clock = t + 1000 + ignoredNoteMs + 1;
    c.clockSeenAt = Date.now();
    assert.deepEqual(clinic.ignoredNow(c), {});
    clinic.applyVitals(update({ kind: 'SPO2', value: 40, time_ms: String(c.clock), quality: judged(3) }));
    assert.equal(clinic.ignoredNow(c).spo2.value, 40);
    assert.equal(c.vitals.spo2.value, 98);
  });

  test('a new session forgets the previous patient\'s notes', () => {
    const clinic = new Clinic();
    clinic.applyVitals(update({ kind: 'SPO2', value: 36, time_ms: '1000', quality: judged(3) }));
    clinic.applyEvent({ type: 'EVENT_TYPE_SESSION_OPENED', chair_id: 'chair-1', session_id: '2', at_ms: '2000' });
    assert.deepEqual(clinic.chairs.get('chair-1').ignored, {});
  });
});

describe('format.js: notes in plain words', () => {
  test('each reason the daemon gives, and each flag of the device', () => {
    assert.equal(ignoredNote('spo2', { value: 36, quality: judged(3) }), 'artefact ignored: SpO₂ 36 (impossible jump)');
    assert.equal(ignoredNote('spo2', { value: 0, quality: judged(1) }), 'artefact ignored: SpO₂ 0 (reads 0: no signal)');
    assert.equal(ignoredNote('pr', { value: 277, quality: judged(2) }), 'artefact ignored: Pulse 277 (disagrees with the other heart rate)');
    assert.equal(ignoredNote('sys', { value: 40, quality: judged(4) }), 'artefact ignored: BP systolic 40 (implausible cuff value)');
    assert.equal(ignoredNote('dia', { value: 115, quality: judged(5) }), 'artefact ignored: BP diastolic 115 (cuff parts contradict each other)');
    assert.equal(ignoredNote('hr', { value: 277, quality: quality.ARTIFACT }), 'artefact ignored: HR 277 (flagged by the monitor)');
    assert.equal(ignoredNote('hr', { value: 400, quality: quality.ARTIFACT | quality.IMPLAUSIBLE }), 'artefact ignored: HR 400 (outside the plausible range)');
    assert.equal(ignoredNote('spo2', { value: 0, quality: quality.SENSOR_OFF }), 'SpO₂ sensor off');
    for (let r = 1; r <= 5; ++r) assert.doesNotMatch(ignoredNote('map', { value: 1, quality: judged(r) }), /_|nibp|undefined/);
  });
});

describe('format.js: clinical wording, as in the session report', () => {
  test('alarm texts from the rule, the value and the engine text (tests/common/wording-cases.json)', () => {
    for (const c of cases.alarms) assert.equal(format.alarmText?.(c), c.want, `${c.rule}: ${c.text}`);
  });

  test('other engine texts (baseline, clearing reasons) and rule titles', () => {
    for (const c of cases.texts) assert.equal(format.clinicalText?.(c.text), c.want);
    for (const c of cases.titles) assert.equal(format.ruleTitle?.(c.rule), c.want);
  });

  test('phases and responders from the same table as the report (wording_test.cpp)', () => {
    assert.equal(format.phaseName('PHASE_READY'), 'Ready for discharge assessment');
    assert.equal(format.phaseName('PHASE_OBSERVATION'), 'Observation');
    assert.equal(format.responderName('charge_nurse'), 'charge nurse');
    assert.equal(format.responderName('on_call_anaesthetist'), 'on call anaesthetist');
  });

  test('a value the feed left out (proto3 JSON: 0) is worded as 0', () => {
    assert.equal(format.alarmText?.({ rule: 'hr_critical_low', text: 'heart_rate 0 bpm below 40' }), 'Heart rate 0 bpm — below 40');
    assert.equal(format.numberText?.(undefined), '0');
  });
});

describe("state.js and format.js: a monitor's clock that differs from the screen's", () => {
  const hr = (at) => ({ kind: 'HEART_RATE', value: 72, time_ms: String(at) });

  test('live samples give the difference; a late or old one does not make it smaller', () => {
    const clinic = new Clinic();
    const c = clinic.chair('chair-1');
    assert.equal(clinic.clockOffset(c), null);
    // A snapshot's samples may be old: they say nothing about the monitor's clock.
    clinic.applySnapshot({ sessions: [], vitals: [update(hr(Date.now() - 3_600_000))] });
    assert.equal(clinic.clockOffset(c), null);
    const ahead = 5 * 60_000;
    clinic.applyVitals(update(hr(Date.now() + ahead)));
    const first = clinic.clockOffset(c);
    assert.ok(first > ahead - 1000 && first <= ahead, String(first));
    clinic.applyVitals(update(hr(Date.now() + ahead - 50_000)));  // resent late
    assert.equal(clinic.clockOffset(c), first);
    assert.equal(format.clockHint(clinic.clockOffset(c), clockDiffersMs), 'monitor clock 5 min ahead of this screen');
  });

  test('named only beyond clockDiffersMs, ahead or behind', () => {
    assert.equal(clockDiffersMs, 120_000);
    assert.equal(format.clockHint(null, clockDiffersMs), null);
    assert.equal(format.clockHint(-119_000, clockDiffersMs), null);
    assert.equal(format.clockHint(120_000, clockDiffersMs), null);
    assert.equal(format.clockHint(-(2 * 3_600_000 + 3 * 60_000), clockDiffersMs), 'monitor clock 2 h 03 min behind this screen');
  });
});
