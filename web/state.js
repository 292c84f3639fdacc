// The clinic as the station sees it: chairs with their session, alarms, latest vitals and a
// short trend, built from the feed's snapshot and kept current by its events and vitals.
// Plain data; app.js draws it.

// The feed's JSON leaves out fields at their default: a value of 0, a quality of 0.
const num = (v) => (v === undefined || v === null ? 0 : Number(v));

export const vitalKinds = Object.freeze({
  HEART_RATE: 'hr', PULSE_RATE: 'pr', SPO2: 'spo2', NIBP_SYSTOLIC: 'sys', NIBP_DIASTOLIC: 'dia',
  NIBP_MEAN: 'map', RESPIRATORY_RATE: 'rr',
});

/// Sample.quality bits: the device's QualityFlag (proto/vigil/v1/device.proto) and the daemon's
/// judged-artefact bit with its reason in bits 8-15 (docs/alarms.md 3.6).
export const quality = Object.freeze({
  SENSOR_OFF: 1, ARTIFACT: 2, LOW_PERFUSION: 4, IMPLAUSIBLE: 8, JUDGED: 1 << 16, REASON_SHIFT: 8,
});
const unusableBits = quality.SENSOR_OFF | quality.ARTIFACT | quality.IMPLAUSIBLE | quality.JUDGED;

/// Whether a sample may stand as its vital's value: as the engine takes it (alarms.md 3.2), low
/// perfusion alone leaves it usable.
export const usable = (q) => (num(q) & unusableBits) === 0;

/// The reason number of a sample the daemon judged an artefact (1 to 5), 0 when it did not.
export const judgedReason = (q) => ((num(q) & quality.JUDGED) ? (num(q) >>> quality.REASON_SHIFT) & 0xff : 0);

/// How long a note about an ignored sample stays up when nothing follows it, on the chair's
/// clock. A usable sample of the vital takes it away at once; another ignored one renews it.
export const ignoredNoteMs = 60000;
/// A chair's clock (its monitor's) that differs from this screen's by more than this is named
/// on the page, since every time the page shows for the chair is on that clock.
export const clockDiffersMs = 120000;
/// How long the largest difference seen is kept: a slower stream, or a sample sent late, only
/// makes the difference look smaller.
const clockOffsetKeepMs = 60000;

const trendLength = 90;  // usable values per vital kept for a tile's trend line
const rank = { PRIORITY_HIGH: 3, PRIORITY_MEDIUM: 2, PRIORITY_LOW: 1 };
export const priorityRank = (p) => rank[p] ?? 0;

export class Clinic {
  constructor() {
    this.chairs = new Map();  // chair id -> chair
    this.version = 0;         // bumped on every change, for redraws
    this.alarmVersion = 0;    // bumped when alarms change
  }

  chair(id) {
    let c = this.chairs.get(id);
    if (!c) {
      c = {
        id, session: null, advisory: null, vitals: {}, ignored: {}, trends: {}, clock: 0, clockSeenAt: 0, offset: null, offsetSeenAt: 0,
        responders: new Map(),
      };
      this.chairs.set(id, c);
    }
    return c;
  }

  /// The chair's session time now: its newest known time, moved on by the wall clock since.
  now(c) {
    return c.clock ? c.clock + (Date.now() - c.clockSeenAt) : 0;
  }

  /// How far the chair's clock is ahead of this screen's, ms (negative: behind), from the live
  /// samples of the last minute: the largest difference between a sample's time and its
  /// arrival. Null before a live sample arrived.
  clockOffset(c) {
    return c.offset;
  }

  seeLiveSample(c, ms) {
    const now = Date.now();
    const offset = num(ms) - now;
    if (c.offset === null || offset > c.offset || now - c.offsetSeenAt > clockOffsetKeepMs) {
      c.offset = offset;
      c.offsetSeenAt = now;
    }
  }

  seeTime(c, ms) {
    const t = num(ms);
    if (t > c.clock) {
      c.clock = t;
      c.clockSeenAt = Date.now();
    }
  }

  reset() {
    this.chairs.clear();
  }

  /// A snapshot, or the live list of GET /api/v1/sessions: replaces sessions and advisories,
  /// keeps trends.
  applySessions({ sessions = [], advisories = [] }) {
    for (const c of this.chairs.values()) {
      c.session = null;
      c.advisory = null;
    }
    for (const s of sessions) {
      const c = this.chair(s.chair_id);
      c.session = normalSession(s);
      this.seeTime(c, s.opened_at_ms);
    }
    for (const a of advisories) this.chair(a.chair_id).advisory = normalAlarm(a.alarm);
    this.changed(true);
  }

  applySnapshot(snapshot) {
    this.applySessions(snapshot);
    for (const v of snapshot.vitals ?? []) this.applyVitals(v, false);
  }

  /// One VitalsUpdate; `live`: just sent by the feed (a snapshot's may be old).
  applyVitals(update, live = true) {
    const c = this.chair(update.chair_id);
    for (const v of update.values ?? []) {
      const key = vitalKinds[v.kind];
      if (!key) continue;
      const value = { value: num(v.value), time: num(v.time_ms), quality: num(v.quality) };
      this.seeTime(c, v.time_ms);
      if (live) this.seeLiveSample(c, v.time_ms);
      if (!Number.isFinite(value.value)) continue;
      if (!usable(value.quality)) {
        // Flagged by the device or judged an artefact by the daemon: the engine does not use it,
        // so neither value nor trend takes it; the chair keeps it only to say it was ignored.
        if (!c.ignored[key] || c.ignored[key].time <= value.time) c.ignored[key] = value;
        continue;
      }
      if (c.ignored[key] && c.ignored[key].time <= value.time) delete c.ignored[key];
      const previous = c.vitals[key];
      c.vitals[key] = value;
      const trend = (c.trends[key] ??= []);
      if (!previous || previous.time !== value.time) {
        trend.push(value);
        if (trend.length > trendLength) trend.shift();
      }
    }
    this.changed(false);
  }

  /// One TimelineEvent. Idempotent, so that a resume or a reconciliation may repeat one.
  applyEvent(e) {
    const c = this.chair(e.chair_id);
    this.seeTime(c, e.at_ms);
    const s = c.session && c.session.session_id === (e.session_id ?? '0') ? c.session : null;
    let alarms = false;
    switch (e.type) {
      case 'EVENT_TYPE_SESSION_OPENED':
        c.session = normalSession({
          session_id: e.session_id, chair_id: e.chair_id, patient_ref: e.patient_ref, profile: e.profile,
          phase: 'PHASE_BASELINE', opened_at_ms: e.at_ms,
        });
        c.trends = {};
        c.ignored = {};
        break;
      case 'EVENT_TYPE_PHASE_CHANGED':
        if (s) s.phase = e.to_phase ?? 'PHASE_BASELINE';
        break;
      case 'EVENT_TYPE_DOSE_MARKED':
        if (s) {
          s.dose_at_ms = num(e.at_ms);
          if (e.until_ms) s.window_end_ms = num(e.until_ms);
        }
        break;
      case 'EVENT_TYPE_BASELINE_SET':
        // The baseline in force, with its quality; a re-take before the dose sets none yet.
        if (s && !(e.who && s.phase === 'PHASE_BASELINE')) s.baseline = e.text ?? '';
        break;
      case 'EVENT_TYPE_SESSION_CLOSED':
        if (s) c.session = null;
        alarms = true;
        break;
      case 'EVENT_TYPE_ALARM_RAISED': {
        const alarm = normalAlarm({
          alarm_id: e.alarm_id, rule: e.rule, kind: e.kind, priority: e.priority, raised_at_ms: e.at_ms,
          condition: true, audible: true, value: e.value, text: e.text, tier: -1,
        });
        alarm.raisedEventId = e.event_id;
        alarm.seenAt = Date.now();
        if (s) {
          if (!s.alarms.some((a) => a.alarm_id === alarm.alarm_id)) s.alarms.push(alarm);
          if (alarm.priority === 'PRIORITY_HIGH') s.paused_until_ms = 0;  // a new high alarm ends a pause
        } else if (num(e.session_id) === 0) {
          c.advisory = alarm;
        }
        alarms = true;
        break;
      }
      case 'EVENT_TYPE_ALARM_ESCALATED':
        this.updateAlarm(c, e, (a) => {
          a.tier = Math.max(a.tier, e.tier ?? 0);
          a.responder = e.responder ?? '';
        });
        alarms = true;
        break;
      case 'EVENT_TYPE_ALARM_ACKNOWLEDGED':
        this.updateAlarm(c, e, (a) => {
          a.acknowledged = true;
          a.acknowledged_by = e.who ?? '';
          a.audible = false;
          a.ackAtMs = num(e.at_ms);
        });
        alarms = true;
        break;
      case 'EVENT_TYPE_ALARM_RESOUNDED':
        this.updateAlarm(c, e, (a) => {
          a.acknowledged = false;
          a.audible = !(s && s.paused_until_ms > num(e.at_ms));
          a.tier = -1;
          a.responder = '';
          a.seenAt = Date.now();
        });
        alarms = true;
        break;
      case 'EVENT_TYPE_ALARM_CLEARED':
        if (s) s.alarms = s.alarms.filter((a) => a.alarm_id !== e.alarm_id);
        if (c.advisory && c.advisory.alarm_id === e.alarm_id) c.advisory = null;
        alarms = true;
        break;
      case 'EVENT_TYPE_AUDIO_PAUSED':
        if (s) {
          s.paused_until_ms = num(e.until_ms);
          s.paused_by = e.who ?? '';
          for (const a of s.alarms) a.audible = false;
        }
        alarms = true;
        break;
      case 'EVENT_TYPE_AUDIO_RESUMED':
        if (s) {
          s.paused_until_ms = 0;
          for (const a of s.alarms) a.audible = !a.acknowledged;
        }
        alarms = true;
        break;
      default:
        break;
    }
    this.changed(alarms);
  }

  updateAlarm(c, e, f) {
    const all = [...(c.session?.alarms ?? []), ...(c.advisory ? [c.advisory] : [])];
    for (const a of all) if (a.alarm_id === e.alarm_id) f(a);
  }

  changed(alarms) {
    this.version++;
    if (alarms) this.alarmVersion++;
  }

  /// Every active alarm across chairs: most urgent first, then newest first.
  alarms() {
    const out = [];
    for (const c of this.chairs.values()) {
      for (const a of c.session?.alarms ?? []) out.push({ chair: c, session: c.session, alarm: a });
      if (c.advisory) out.push({ chair: c, session: null, alarm: c.advisory });
    }
    out.sort((x, y) => priorityRank(y.alarm.priority) - priorityRank(x.alarm.priority) ||
      Number(x.alarm.acknowledged) - Number(y.alarm.acknowledged) ||
      y.alarm.raised_at_ms - x.alarm.raised_at_ms || Number(y.alarm.alarm_id) - Number(x.alarm.alarm_id));
    return out;
  }

  /// The chair's ignored samples still worth a note: {key: sample}, newest per vital, at most
  /// ignoredNoteMs old on the chair's clock.
  ignoredNow(c) {
    const now = this.now(c);
    const out = {};
    for (const [key, sample] of Object.entries(c.ignored)) if (now - sample.time <= ignoredNoteMs) out[key] = sample;
    return out;
  }

  /// The chairs in a stable order: natural order of their ids (chair-2 before chair-10).
  sortedChairs() {
    return [...this.chairs.values()].sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  }
}

function normalSession(s) {
  return {
    session_id: s.session_id,
    chair_id: s.chair_id,
    patient_ref: s.patient_ref ?? '',
    profile: s.profile ?? '',
    phase: s.phase ?? 'PHASE_BASELINE',
    opened_at_ms: num(s.opened_at_ms),
    dose_at_ms: num(s.dose_at_ms),
    window_end_ms: num(s.window_end_ms),
    paused_until_ms: num(s.paused_until_ms),
    baseline: s.baseline ?? '',
    alarms: (s.alarms ?? []).map(normalAlarm),
  };
}

function normalAlarm(a) {
  return {
    alarm_id: a.alarm_id,
    rule: a.rule ?? '',
    kind: a.kind ?? 'ALARM_KIND_PHYSIOLOGICAL',
    priority: a.priority ?? 'PRIORITY_LOW',
    raised_at_ms: num(a.raised_at_ms),
    condition: Boolean(a.condition),
    acknowledged: Boolean(a.acknowledged),
    acknowledged_by: a.acknowledged_by ?? '',
    tier: a.tier ?? 0,
    audible: Boolean(a.audible),
    value: Number(a.value ?? 0),
    text: a.text ?? '',
    responder: a.responder ?? '',
    seenAt: a.seenAt ?? Date.now(),
  };
}
