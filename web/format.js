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

export const phaseNames = {
  PHASE_BASELINE: 'Baseline',
  PHASE_OBSERVATION: 'Observation',
  PHASE_READY: 'Ready for discharge assessment',
  PHASE_CLOSED: 'Closed',
  PHASE_ABORTED: 'Aborted',
};

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

/// "14:05:09" in the station's local time.
export function clock(ms) {
  return new Date(Number(ms)).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function ruleName(rule) {
  return rule.replaceAll('_', ' ');
}

export function round(v, digits = 0) {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

/// The vitals by the station's keys (state.js vitalKinds), as a nurse names them.
export const vitalNames = {
  hr: 'HR', pr: 'Pulse', spo2: 'SpO₂', sys: 'BP systolic', dia: 'BP diastolic', map: 'BP mean', rr: 'Resp. rate',
};

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
  const name = vitalNames[key] ?? key;
  const q = Number(sample.quality ?? 0);
  if (q & 1) return `${name} sensor off`;
  let why;
  if (q & (1 << 16)) why = judgedReasons[(q >>> 8) & 0xff] ?? 'judged an artefact';
  else if (q & 8) why = 'outside the plausible range';
  else why = 'flagged by the monitor';
  return `artefact ignored: ${name} ${round(Number(sample.value))} (${why})`;
}
