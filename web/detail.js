// The session detail (#/session/ID): trend charts of the whole session so far with the dose,
// the observation window and the alarms marked; the timeline with notes; adding a note; the
// session report. Reads the stored record (timeline.json) and keeps it current from the feed.

import { api, ApiError, session as auth } from './api.js';
import {
  alarmText, clinicalText, clock, clockHint, duration, eventNames, h, ignoredNote, phaseName, priorityOf,
  responderName, round, ruleTitle,
} from './format.js';
import { clockDiffersMs, priorityRank, usable, vitalKinds } from './state.js';

const charts = [
  { title: 'Heart rate', unit: 'bpm', lines: [['hr', 'Heart rate'], ['pr', 'Pulse rate']], range: [40, 140] },
  { title: 'SpO₂', unit: '%', lines: [['spo2', 'SpO₂']], range: [85, 100] },
  { title: 'Blood pressure', unit: 'mmHg', lines: [['sys', 'Systolic'], ['dia', 'Diastolic'], ['map', 'Mean']], range: [50, 170] },
  { title: 'Respiratory rate', unit: '/min', lines: [['rr', 'Resp. rate']], range: [6, 28] },
];

export class SessionDetail {
  constructor(el, id, ctx) {
    this.el = el;
    this.id = id;
    this.ctx = ctx;
    this.series = {};        // key -> [{t, v, q}]: time, value, quality bits
    this.events = [];
    this.alarms = [];        // AlarmRecord from timeline.json
    this.stored = null;      // SessionSummary
    this.reloadTimer = null;
    this.chartKey = '';
    this.onResize = () => { this.chartKey = ''; this.drawCharts(); };
    window.addEventListener('resize', this.onResize);
    el.replaceChildren(h('p', { class: 'loading' }, `Loading session ${id}…`));
  }

  close() {
    clearTimeout(this.reloadTimer);
    clearInterval(this.poll);
    window.removeEventListener('resize', this.onResize);
  }

  live() {
    for (const c of this.ctx.clinic.chairs.values()) if (c.session?.session_id === this.id) return c;
    return null;
  }

  async load() {
    try {
      const [shown, timeline] = await Promise.all([
        api(`/sessions/${this.id}`),
        api(`/sessions/${this.id}/timeline.json`).catch((e) => {
          if (e instanceof ApiError && e.code === 'no_timeline') return null;
          throw e;
        }),
      ]);
      this.stored = shown.stored ?? null;
      this.liveAtLoad = shown.live ?? null;
      this.noTimeline = timeline === null;
      this.takeTimeline(timeline);
      this.build();
      this.poll ??= setInterval(() => this.reload(), 30000);
    } catch (e) {
      this.el.replaceChildren(h('p', { class: 'error' }, `Session ${this.id}: ${e.message}`),
        h('a', { href: '#/' }, '← Back to the station'));
    }
  }

  takeTimeline(t) {
    this.series = {};
    this.events = [];
    this.alarms = [];
    if (!t) return;
    for (const s of t.vitals ?? []) {
      const key = vitalKinds[s.kind];
      if (key) {
        this.series[key] = (s.points ?? []).map((p) => ({ t: Number(p.time_ms), v: Number(p.value ?? 0), q: Number(p.quality ?? 0) }))
          .filter((p) => Number.isFinite(p.v));
      }
    }
    this.events = t.events ?? [];
    this.alarms = t.alarms ?? [];
    if (t.session) this.stored = t.session;
    this.chartKey = '';
  }

  /// The stored record again, a moment after the session's events settle.
  reload(delay = 0) {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(async () => {
      if (this.noTimeline) return;
      try {
        this.takeTimeline(await api(`/sessions/${this.id}/timeline.json`));
        this.drawTimeline();
        this.drawCharts();
      } catch { /* the feed banner says when the daemon is gone */ }
    }, delay);
  }

  onEvent(e) {
    if (e.session_id !== this.id) return;
    if (!this.events.some((x) => x.event_id && x.event_id === e.event_id)) this.events.push(e);
    this.drawTimeline();
    if (e.type.startsWith('EVENT_TYPE_ALARM') || e.type === 'EVENT_TYPE_DOSE_MARKED') this.reload(1500);
  }

  onVitals(update) {
    if (update.session_id !== this.id) return;
    for (const v of update.values ?? []) {
      const key = vitalKinds[v.kind];
      if (!key) continue;
      const list = (this.series[key] ??= []);
      const t = Number(v.time_ms);
      const value = Number(v.value ?? 0);  // the feed's JSON leaves a value of 0 out
      if (Number.isFinite(value) && (!list.length || list[list.length - 1].t < t)) list.push({ t, v: value, q: Number(v.quality ?? 0) });
    }
  }

  /// Start, dose and window end in session time, from the live state or the stored summary.
  times() {
    const c = this.live();
    const s = c?.session;
    const st = this.stored ?? {};
    const now = c ? this.ctx.clinic.now(c) : Number(st.closed_ms ?? 0) || this.lastPoint();
    return {
      chair: s?.chair_id ?? st.chair_id ?? this.liveAtLoad?.chair_id ?? '',
      patient: s?.patient_ref ?? st.patient_ref ?? this.liveAtLoad?.patient_ref ?? '',
      phase: s?.phase ?? (st.outcome === 'SESSION_OUTCOME_ABORTED' ? 'PHASE_ABORTED' : st.outcome ? 'PHASE_CLOSED' : ''),
      profile: s?.profile ?? st.profile ?? '',
      opened: Number(s?.opened_at_ms ?? st.opened_ms ?? 0),
      dose: Number(s?.dose_at_ms || st.first_dose_ms || 0),
      windowEnd: Number(s?.window_end_ms || st.window_end_ms || 0),
      now,
      clockHint: c ? clockHint(this.ctx.clinic.clockOffset(c), clockDiffersMs) : null,
      session: s,
      chairState: c,
    };
  }

  lastPoint() {
    let t = 0;
    for (const list of Object.values(this.series)) if (list.length) t = Math.max(t, list[list.length - 1].t);
    return t;
  }

  build() {
    const nurse = this.ctx.canAct();
    this.head = h('div', { class: 'detail-head' });
    this.alarmBox = h('div', { class: 'detail-alarms' });
    this.chartBox = h('div', { class: 'charts' });
    this.timelineList = h('ol', { class: 'timeline', 'aria-label': 'Timeline' });
    const note = h('textarea', { id: 'note-text', rows: 2, maxlength: 2000, placeholder: 'Add a note to the timeline…', 'aria-label': 'Note' });
    const form = h('form', { class: 'note-form' }, note,
      h('button', { type: 'submit' }, 'Add note'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = note.value.trim();
      if (!text) return;
      try {
        await api(`/sessions/${this.id}/notes`, { method: 'POST', body: { text } });
        note.value = '';
        this.ctx.toast('Note added');
      } catch (err) {
        this.ctx.toast(`Note not added: ${err.message}`, true);
      }
    });
    const report = h('button', { type: 'button', class: 'report', onclick: () => this.downloadReport() },
      '↓ Session report (HTML)');
    this.el.replaceChildren(
      h('nav', { class: 'detail-nav' }, h('a', { href: '#/', class: 'back' }, '← Station'), report),
      this.head,
      h('div', { class: 'detail-body' },
        h('section', { class: 'detail-main', 'aria-label': 'Trends' }, this.alarmBox, this.chartBox,
          h('p', { class: 'legend' }, h('span', { class: 'lg-dose' }, '│ dose'), h('span', { class: 'lg-window' }, '▒ observation window'),
            h('span', { class: 'lg-alarm' }, '▲ alarm raised (!!! high, !! medium, ! low)'))),
        h('section', { class: 'detail-side', 'aria-labelledby': 'timeline-title' },
          h('h2', { id: 'timeline-title' }, 'Timeline'),
          nurse && this.live() ? form : null,
          this.noTimeline ? h('p', { class: 'hint' }, 'vigild runs without data_dir: no stored record.') : null,
          this.timelineList)));
    this.draw();
    this.drawTimeline();
  }

  draw() {
    if (!this.head) return;
    const t = this.times();
    const phase = phaseName(t.phase);
    const left = t.windowEnd - t.now;
    const facts = [
      ['Patient', t.patient], ['Phase', t.phase === 'PHASE_READY' ? '✓ Ready for discharge assessment' : phase],
      ['Opened', t.opened ? clock(t.opened) : '–'],
      ['Dose', t.dose ? `${clock(t.dose)} (+${duration(t.now - t.dose)})` : 'not yet'],
      ['Window', t.windowEnd ? (left > 0 ? `${duration(left)} left (ends ${clock(t.windowEnd)})` : `complete at ${clock(t.windowEnd)}`) : '–'],
      ['Profile', t.profile],
      ['Baseline', t.session?.baseline ? clinicalText(t.session.baseline) : '–'],
      // Every time on this page is the monitor's clock.
      ...(t.clockHint ? [['Clock', `⚠ ${t.clockHint}: the times on this page are the monitor's`]] : []),
    ];
    const key = JSON.stringify(facts);
    if (this.head.dataset.key !== key) {
      this.head.dataset.key = key;
      this.head.replaceChildren(h('h1', {}, `${t.chair} · session ${this.id}`),
        h('dl', { class: 'facts' }, facts.map(([k, v]) => h('div', { 'data-fact': k.toLowerCase() }, h('dt', {}, k), h('dd', {}, v)))));
    }
    // Ordered as on the station: most urgent first, then unacknowledged, then newest.
    const alarms = [...(t.session?.alarms ?? [])].sort((a, b) => priorityRank(b.priority) - priorityRank(a.priority) ||
      Number(a.acknowledged) - Number(b.acknowledged) || b.raised_at_ms - a.raised_at_ms);
    const down = this.ctx.feedDown();
    // The chair's audio: paused until when, or a Pause button while it has alarms (as on the station).
    const pausedFor = t.session && t.session.paused_until_ms > t.now ? t.session.paused_until_ms - t.now : 0;
    const alarmKey = alarms.map((a) => `${a.alarm_id}${a.acknowledged}${a.tier}${a.condition}`).join() + down +
      `|${Math.ceil(pausedFor / 1000)}`;
    if (this.alarmBox.dataset.key !== alarmKey) {
      this.alarmBox.dataset.key = alarmKey;
      const pause = pausedFor > 0 ? h('span', { class: 'paused' }, `Audio paused ${duration(pausedFor)}`)
        : alarms.length > 0 && !down ? this.ctx.pauseButton(t.session) : null;
      this.alarmBox.replaceChildren(...(pause ? [h('div', { class: 'detail-pause' }, pause)] : []),
        ...alarms.map((a) => h('div', { class: `detail-alarm alarm-${priorityOf(a.priority).cls}`, 'data-alarm-id': a.alarm_id, 'data-priority': a.priority },
        this.ctx.badge(a), h('time', { class: 'raised-at', title: 'raised at (session time)' }, clock(a.raised_at_ms)),
        this.ctx.alarmWords(a), this.ctx.latchedMark(a),
        a.acknowledged ? h('span', { class: 'acked' }, `✓ Acknowledged by ${a.acknowledged_by}`)
          : this.ctx.canAct() && !down ? h('button', { type: 'button', class: 'ack', onclick: () => this.ack(a) }, 'Acknowledge') : null)));
    }
    this.drawCharts();
  }

  async ack(a) {
    try {
      await api(`/sessions/${this.id}/alarms/${a.alarm_id}/ack`, { method: 'POST', body: {} });
      this.ctx.toast('Acknowledged');
    } catch (err) {
      this.ctx.toast(`Not done: ${err.message}`, true);
    }
  }

  drawTimeline() {
    if (!this.timelineList) return;
    const events = [...this.events].sort((a, b) => Number(b.at_ms) - Number(a.at_ms) || Number(b.event_id ?? 0) - Number(a.event_id ?? 0));
    const key = events.length + (events[0]?.event_id ?? '');
    if (this.timelineList.dataset.key === key) return;
    this.timelineList.dataset.key = key;
    this.timelineList.replaceChildren(...events.map((e) => {
      const p = e.priority ? priorityOf(e.priority) : null;
      const isNote = e.type === 'EVENT_TYPE_NOTE_ADDED';
      let what = eventNames[e.type] ?? e.type;
      if (e.type === 'EVENT_TYPE_PHASE_CHANGED') what += `: ${phaseName(e.to_phase)}`;
      if (e.rule) what += ` · ${ruleTitle(e.rule)}`;
      if (e.type === 'EVENT_TYPE_ALARM_ESCALATED' && e.responder) what += ` → ${responderName(e.responder)}`;
      return h('li', { class: `ev ${isNote ? 'ev-note' : ''} ${p && e.type === 'EVENT_TYPE_ALARM_RAISED' ? `ev-${p.cls}` : ''}`, 'data-type': e.type },
        h('time', {}, clock(e.at_ms)),
        h('span', { class: 'ev-what' }, p && e.type === 'EVENT_TYPE_ALARM_RAISED' ? `${p.marker} ` : '', what),
        e.who ? h('span', { class: 'ev-who' }, `by ${e.who}`) : null,
        e.text ? h('span', { class: 'ev-text' }, e.type === 'EVENT_TYPE_ALARM_RAISED' ? alarmText(e) : clinicalText(e.text)) : null);
    }));
  }

  drawCharts() {
    if (!this.chartBox) return;
    const t = this.times();
    const width = Math.max(300, this.chartBox.clientWidth || 800);
    const end = Math.max(t.now, t.windowEnd || 0, t.opened + 60000);
    const count = Object.values(this.series).reduce((n, s) => n + s.length, 0);
    const shown = charts.filter((c) => c.lines.some(([k]) => this.series[k]?.length));
    // The charts share the screen below their top (with their captions, about 2 rem each):
    // between 110 px and 260 px each, so that all of them show at once on a station screen when
    // the alarm list above them is short.
    const top = this.chartBox.getBoundingClientRect().top + window.scrollY;
    const room = window.innerHeight - top - 8 - shown.length * 2.2 * parseFloat(getComputedStyle(document.body).fontSize);
    const height = Math.round(Math.min(260, Math.max(110, room / Math.max(1, shown.length))));
    // The live chair's ignored samples (state.js), named beside the last usable value.
    const ignored = t.chairState ? this.ctx.clinic.ignoredNow(t.chairState) : {};
    const notes = Object.fromEntries(Object.entries(ignored).map(([k, sample]) => [k, ignoredNote(k, sample)]));
    const key = `${width}x${height}|${count}|${Math.floor(end / 30000)}|${this.alarms.length}|${t.dose}|${t.windowEnd}|${JSON.stringify(notes)}`;
    if (key === this.chartKey) return;
    this.chartKey = key;
    const frame = {
      start: t.opened || this.firstPoint(), end, width, height, dose: t.dose, windowEnd: t.windowEnd, now: t.now, notes,
    };
    this.chartBox.replaceChildren(...shown.map((c) => chart(c, this.series, this.alarms, frame)));
    if (!this.chartBox.children.length) this.chartBox.append(h('p', { class: 'hint' }, 'No vitals recorded yet.'));
  }

  firstPoint() {
    let t = Infinity;
    for (const list of Object.values(this.series)) if (list.length) t = Math.min(t, list[0].t);
    return Number.isFinite(t) ? t : Date.now();
  }

  /// The report needs the token, so it is fetched here and saved as a file (a page opened
  /// from a blob would inherit this page's strict CSP and lose the report's own styles).
  async downloadReport() {
    try {
      const response = await api(`/sessions/${this.id}/report.html`, { raw: true, token: auth.token });
      const url = URL.createObjectURL(await response.blob());
      const a = h('a', { href: url, download: `vigil-session-${this.id}-report.html` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      this.ctx.toast('Report downloaded');
    } catch (err) {
      this.ctx.toast(`No report: ${err.message}`, true);
    }
  }
}

/// One SVG chart: its lines of usable samples (min/max per pixel column, so a spike is never
/// lost), the samples flagged or judged artefacts as hollow marks apart from the lines, the dose,
/// the observation window, the alarms and a time axis.
function chart(spec, series, alarms, f) {
  const { height } = f;
  const pad = { l: 44, r: 10, t: 10, b: 22 };
  const w = f.width;
  const x = (t) => pad.l + ((t - f.start) / Math.max(1, f.end - f.start)) * (w - pad.l - pad.r);
  const good = {};
  const flagged = {};
  for (const [k] of spec.lines) {
    good[k] = (series[k] ?? []).filter((p) => usable(p.q));
    flagged[k] = (series[k] ?? []).filter((p) => !usable(p.q));
  }
  // The scale is the usable values' (an artefact of 0 would flatten the line): a mark off it
  // sits on the chart's edge, its value in its title.
  let [lo, hi] = spec.range;
  for (const [k] of spec.lines) for (const p of good[k]) { lo = Math.min(lo, p.v); hi = Math.max(hi, p.v); }
  const y = (v) => pad.t + (1 - (v - lo) / (hi - lo || 1)) * (height - pad.t - pad.b);
  const svg = h('svg', { class: 'chart', width: w, height, viewBox: `0 0 ${w} ${height}`, role: 'img',
    'aria-label': `${spec.title} over the session` });

  if (f.dose && f.windowEnd) {
    svg.append(h('rect', { class: 'window', x: x(f.dose), y: pad.t, width: Math.max(0, x(f.windowEnd) - x(f.dose)), height: height - pad.t - pad.b }));
  }
  for (const v of ticks(lo, hi, Math.floor((height - pad.t - pad.b) / 16))) {
    svg.append(h('line', { class: 'grid', x1: pad.l, x2: w - pad.r, y1: y(v), y2: y(v) }),
      h('text', { class: 'axis', x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
  }
  const step = timeStep(f.end - f.start, w);
  for (let t = Math.ceil(f.start / step) * step; t <= f.end; t += step) {
    svg.append(h('text', { class: 'axis', x: x(t), y: height - 6, 'text-anchor': 'middle' }, clock(t).slice(0, 5)));
  }
  spec.lines.forEach(([k, label], i) => {
    const points = envelope(good[k], x, y);
    if (points.length > 1) svg.append(h('polyline', { class: `line line-${i}`, points: points.join(' ') }, h('title', {}, label)));
    // One hollow mark per pixel column and vital: never a point of the line.
    const columns = new Set();
    for (const p of flagged[k]) {
      const cx = Math.round(x(p.t));
      if (columns.has(cx)) continue;
      columns.add(cx);
      const off = p.v < lo || p.v > hi;
      svg.append(h('circle', {
        class: `artefact-mark mark-line-${i}${off ? ' off-scale' : ''}`, cx, cy: y(Math.min(hi, Math.max(lo, p.v))), r: 3.5,
      }, h('title', {}, `${ignoredNote(k, { value: p.v, quality: p.q })} at ${clock(p.t)}`)));
    }
  });
  if (f.dose) svg.append(h('line', { class: 'dose', x1: x(f.dose), x2: x(f.dose), y1: pad.t - 4, y2: height - pad.b }));
  for (const a of alarms) {
    const p = priorityOf(a.priority);
    const ax = x(Number(a.raised_ms));
    svg.append(h('g', { class: `alarm-mark mark-${p.cls}` },
      h('line', { x1: ax, x2: ax, y1: pad.t, y2: height - pad.b }),
      h('polygon', { points: `${ax - 5},${pad.t + 9} ${ax + 5},${pad.t + 9} ${ax},${pad.t}` }),
      h('title', {}, `${p.word}: ${alarmText(a)} at ${clock(a.raised_ms)}`)));
  }
  // The last usable value of each line, and a note of a sample ignored since (live sessions).
  const legend = spec.lines.flatMap(([k, label], i) => (series[k]?.length ? [
    h('span', { class: `key key-${i}` }, `${label} ${good[k].length ? round(good[k][good[k].length - 1].v) : '–'}`),
    f.notes[k] ? h('span', { class: 'ignored-note' }, `◌ ${f.notes[k]}`) : null,
  ] : []));
  return h('figure', { class: 'chart-box' }, h('figcaption', {}, h('strong', {}, spec.title), ` (${spec.unit}) `, legend), svg);
}

function envelope(points, x, y) {
  const out = [];
  let column = null;
  let min = null;
  let max = null;
  const flush = () => {
    if (column === null) return;
    out.push(`${column},${y(min)}`);
    if (max !== min) out.push(`${column},${y(max)}`);
  };
  for (const p of points) {
    const c = Math.round(x(p.t));
    if (c !== column) {
      flush();
      column = c;
      min = max = p.v;
    } else {
      min = Math.min(min, p.v);
      max = Math.max(max, p.v);
    }
  }
  flush();
  return out;
}

/// Round values from `lo` to `hi` for the value axis, at most `most` of them (labels 16 px apart).
function ticks(lo, hi, most) {
  const span = hi - lo;
  let step = span > 100 ? 40 : span > 40 ? 20 : span > 15 ? 5 : 2;
  while (span / step + 1 > Math.max(2, most)) step *= step === 2 ? 2.5 : 2;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
  return out;
}

function timeStep(span, width) {
  const minute = 60000;
  for (const m of [1, 2, 5, 10, 15, 30, 60, 120]) if (span / (m * minute) <= width / 70) return m * minute;
  return 240 * minute;
}
