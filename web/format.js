// Words, durations and small DOM helpers shared by the station and the session detail.

/// Builds an element: h('div', {class: 'x', onclick: f}, child, 'text', ...). Text is always
/// set as text, never parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'polyline', 'line', 'rect', 'path', 'text', 'g', 'circle', 'polygon', 'title'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/// A session phase (the feed's PHASE_READY) in words: the wording table's, by the engine's name
/// ("ready" -> "Ready for discharge assessment"); the same words as the session report.
export function phaseName(phase) {
  const id = String(phase ?? '').replace(/^PHASE_/, '').toLowerCase();
  const words = wording.phases[id] || id.replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/// An escalation responder by a profile's id ("charge_nurse" -> "charge nurse"), as the report.
export function responderName(id) {
  return wording.responders[id] || String(id ?? '').replaceAll('_', ' ');
}

/// Priority: a word, a marker after IEC 60601-1-8 (!!!, !!, !) and a CSS class, so that
/// priority never rests on colour alone.
export const priorities = {
  PRIORITY_HIGH: { word: 'High', marker: '!!!', cls: 'high' },
  PRIORITY_MEDIUM: { word: 'Medium', marker: '!!', cls: 'medium' },
  PRIORITY_LOW: { word: 'Low', marker: '!', cls: 'low' },
};
export const priorityOf = (p) => priorities[p] ?? priorities.PRIORITY_LOW;

export const eventNames = {
  EVENT_TYPE_SESSION_OPENED: 'Session opened',
  EVENT_TYPE_PHASE_CHANGED: 'Phase',
  EVENT_TYPE_BASELINE_SET: 'Baseline set',
  EVENT_TYPE_PREDOSE_OVERRIDE: 'Pre-dose check overridden',
  EVENT_TYPE_DOSE_MARKED: 'Dose',
  EVENT_TYPE_ALARM_RAISED: 'Alarm raised',
  EVENT_TYPE_ALARM_ESCALATED: 'Alarm escalated',
  EVENT_TYPE_ALARM_ACKNOWLEDGED: 'Alarm acknowledged',
  EVENT_TYPE_ALARM_RESOUNDED: 'Alarm re-sounded',
  EVENT_TYPE_ALARM_CLEARED: 'Alarm cleared',
  EVENT_TYPE_AUDIO_PAUSED: 'Audio paused',
  EVENT_TYPE_AUDIO_RESUMED: 'Audio resumed',
  EVENT_TYPE_SESSION_CLOSED: 'Session closed',
  EVENT_TYPE_NOTE_ADDED: 'Note',
};

/// "42 min", "1 h 05 min", "35 s".
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/// "monitor clock 2 h 03 min ahead of this screen", when a chair's clock differs from the
/// screen's by more than `limitMs` (state.js clockDiffersMs); null otherwise.
export function clockHint(offsetMs, limitMs) {
  if (offsetMs === null || offsetMs === undefined || Math.abs(offsetMs) <= limitMs) return null;
  return `monitor clock ${duration(Math.abs(offsetMs))} ${offsetMs > 0 ? 'ahead of' : 'behind'} this screen`;
}

/// "14:05:09" in the station's local time.
export function clock(ms) {
  return new Date(Number(ms)).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}


export function round(v, digits = 0) {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

// ---- clinical wording ------------------------------------------------------------------
// Vitals and alarm rules as people name them, from the one table the session report also uses
// (web/wording.json, docs/station.md section 9). The engine's texts are its contract and stay as
// they are: these functions reword them for display, from the event's rule, value and text.
// daemon/report/wording.cpp does the same for the report; tests/common/wording-cases.json holds
// the cases both must agree on.

let wording = { vitals: {}, rules: {}, phases: {}, responders: {} };

/// The table (web/wording.json), given once at start by app.js (and by the tests).
export function setWording(table) {
  wording = {
    vitals: table?.vitals ?? {}, rules: table?.rules ?? {}, phases: table?.phases ?? {}, responders: table?.responders ?? {},
  };
}

/// The station's vital keys (state.js vitalKinds) to the engine's vital names.
const vitalIds = { hr: 'heart_rate', pr: 'pulse_rate', spo2: 'spo2', sys: 'nibp_systolic', dia: 'nibp_diastolic', map: 'nibp_mean', rr: 'respiratory_rate' };

/// A vital by the station's key, short ("BP systolic") or in full ("Systolic BP"), and its unit.
export const vitalShort = (key) => wording.vitals[vitalIds[key]]?.short ?? key;
export const vitalName = (key) => wording.vitals[vitalIds[key]]?.name ?? key;
export const vitalUnit = (key) => wording.vitals[vitalIds[key]]?.unit ?? '';

/// "195", "36.5": whole values without decimals, others with one. A value the feed's JSON left
/// out (proto3: 0) is 0.
export function numberText(v) {
  const n = Number(v ?? 0);
  if (!Number.isFinite(n)) return '–';
  return Math.abs(n - Math.round(n)) < 1e-9 ? n.toFixed(0) : n.toFixed(1);
}

const capitalised = (s) => (s && s[0] >= 'a' && s[0] <= 'z' ? s[0].toUpperCase() + s.slice(1) : s);

/// A rule's title ("Systolic BP high"); an unknown rule id with its underscores as spaces.
export function ruleTitle(rule) {
  return wording.rules[rule]?.title || String(rule ?? '').replaceAll('_', ' ');
}

/// Any engine text with the vitals and rules it names in clinical words, and units after the
/// vitals' values: "heart_rate 75.0 (good, ...)" -> "Heart rate 75.0 bpm (good, ...)".
export function clinicalText(text) {
  return String(text ?? '').replace(/(?<![A-Za-z0-9_])[A-Za-z0-9_]+(?: [0-9][0-9.]*)?/g, (match, at, whole) => {
    const [word, number] = match.split(' ');
    const v = wording.vitals[word];
    if (v) {
      if (number === undefined) return v.name;
      const rest = whole.slice(at + match.length);
      return v.unit && !rest.startsWith(` ${v.unit}`) ? `${v.name} ${number} ${v.unit}` : `${v.name} ${number}`;
    }
    const out = word === 'SpO2' ? 'SpO₂' : wording.rules[word]?.title || word;
    return number === undefined ? out : `${out} ${number}`;
  });
}

/// An alarm's text in clinical words ({rule, value, text}: an alarm or an alarm event): the rule's
/// template in the table, else the engine's limit text reworded, else the engine's text with the
/// vitals and rules it names in clinical words.
export function alarmText({ rule, value, text }) {
  const engine = String(text ?? '');
  const template = wording.rules[rule]?.text;
  if (template) {
    const n = engine.match(/(^|[^A-Za-z0-9_.])([0-9]+(\.[0-9]+)?)/)?.[2] ?? numberText(value);  // a number of its own, not SpO2's 2
    return template.replaceAll('{value}', numberText(value)).replaceAll('{n}', n)
      .replaceAll('{text}', clinicalText(engine)).replaceAll('{Text}', capitalised(clinicalText(engine)));
  }
  // The engine's limit texts (docs/alarms.md 5 and 13).
  let m = engine.match(/^([a-z0-9_]+) ([+-][0-9.]+) (\S+) from baseline (-?[0-9.]+)$/);
  if (m && wording.vitals[m[1]]) {
    const v = wording.vitals[m[1]];
    return `${v.name} ${m[2]} ${v.unit} — from baseline ${m[4]}`;
  }
  m = engine.match(/^([a-z0-9_]+) (-?[0-9.]+) (\S+) (above|below) (-?[0-9.]+)$/);
  if (m && wording.vitals[m[1]]) {
    const v = wording.vitals[m[1]];
    return `${v.name} ${numberText(value)} ${v.unit} — ${m[4]} ${m[5]}`;
  }
  return capitalised(clinicalText(engine)) || ruleTitle(rule);
}

/// The vital an alarm's limit text is about, and the value and words around it, for drawing the
/// value apart: {vital, value, unit, rest} or null ("Systolic BP", "195", "mmHg", "— above 180").
export function alarmParts(alarm) {
  const text = alarmText(alarm);
  for (const v of Object.values(wording.vitals)) {
    const prefix = `${v.name} `;
    if (!text.startsWith(prefix)) continue;
    const m = text.slice(prefix.length).match(/^([+-]?[0-9.]+) (\S+) (— .*)$/);
    if (m) return { vital: v.name, value: m[1], unit: m[2], rest: m[3] };
  }
  return null;
}

/// Why the daemon judged a sample an artefact (docs/alarms.md 3.6), by the reason's number, in
/// a nurse's words.
export const judgedReasons = {
  1: 'reads 0: no signal',
  2: 'disagrees with the other heart rate',
  3: 'impossible jump',
  4: 'implausible cuff value',
  5: 'cuff parts contradict each other',
};

/// The note for a sample not shown as its vital's value (a sample {value, quality}: quality
/// bits as in state.js): "artefact ignored: SpO₂ 36 (impossible jump)", "SpO₂ sensor off".
export function ignoredNote(key, sample) {
  const name = vitalShort(key);
  const q = Number(sample.quality ?? 0);
  if (q & 1) return `${name} sensor off`;
  let why;
  if (q & (1 << 16)) why = judgedReasons[(q >>> 8) & 0xff] ?? 'judged an artefact';
  else if (q & 8) why = 'outside the plausible range';
  else why = 'flagged by the monitor';
  return `artefact ignored: ${name} ${round(Number(sample.value))} (${why})`;
}
