// The nurse station: every chair at a glance, the alarms across chairs, acknowledgement and
// audio pause with one touch, and the session detail (detail.js). Live from the WebSocket
// feed (feed.js); commands through the REST API (api.js). See docs/station.md.

import { api, ApiError, session } from './api.js';
import { AlarmSound } from './audio.js';
import { SessionDetail } from './detail.js';
import { Feed, feedState } from './feed.js';
import {
  alarmParts, alarmText, clockHint, duration, h, ignoredNote, numberText, phaseName, priorityOf, responderName, round,
  ruleTitle, setWording,
} from './format.js';
import { Clinic, clockDiffersMs, priorityRank } from './state.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const pauseSeconds = 120;  // the generic profile's longest pause (audio.max_pause_s)

const station = {
  clinic: new Clinic(),
  sound: new AlarmSound(),
  feed: null,
  user: null,          // {name, role}
  detail: null,        // SessionDetail while one is shown
  busy: new Set(),     // commands in flight, by key, so a double tap sends one
  renderQueued: false,
  lastRender: 0,
  reconciling: null,  // events received while GET /sessions is out, or null
};
window.vigilStation = station;  // for the browser tests and for a curious nurse in the console

const canAct = () => station.user && (station.user.role === 'nurse' || station.user.role === 'admin');
/// Whether the feed is down (or not yet up): commands that act on what the screen shows are
/// hidden then, since the screen no longer shows the patients as they are.
const feedDown = () => !station.feed || station.feed.state !== feedState.live;

// ---- signing in ------------------------------------------------------------------------

async function signIn(token, signedIn = false) {
  const me = await api('/me', { token });
  session.token = token;
  session.signedIn = signedIn;
  station.user = me;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('user').textContent = `${me.name} · ${me.role}`;
  document.body.dataset.role = me.role;
  startFeed(token);
  route();
}

function showSignIn(message = '') {
  station.feed?.stop();
  station.feed = null;
  station.user = null;
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  (signInMode() === 'token' ? $('token') : $('name')).focus();
}

const signInMode = () => $('signin-form').dataset.mode;

/// Name and password (the default), or a user's token from the configuration.
function setSignInMode(mode) {
  $('signin-form').dataset.mode = mode;
  const token = mode === 'token';
  $('signin-password').hidden = $('signin-password').disabled = token;
  $('signin-token').hidden = $('signin-token').disabled = !token;
  $('signin-switch').textContent = token ? 'Use a user name and password instead' : 'Use a token instead';
  $('signin-error').textContent = '';
  (token ? $('token') : $('name')).focus();
}

$('signin-switch').addEventListener('click', () => setSignInMode(signInMode() === 'token' ? 'password' : 'token'));

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    if (signInMode() === 'token') {
      await signIn($('token').value.trim());
      $('token').value = '';
      return;
    }
    const name = $('name').value.trim();
    const password = $('password').value;
    $('password').value = '';  // never kept in the page
    const done = await api('/signin', { method: 'POST', body: { name, password }, token: null });
    await signIn(done.token, true);
  } catch (err) {
    const unknown = signInMode() === 'token' ? 'Unknown token.' : 'Unknown user name or wrong password.';
    $('signin-error').textContent = err.status === 401 ? unknown : `Cannot sign in: ${err.message}`;
  }
});

$('signout').addEventListener('click', async () => {
  const { token, signedIn } = session;
  session.token = null;
  station.clinic.reset();
  showSignIn();
  // The session token stops working on the daemon too; a configured token cannot be signed out.
  if (signedIn) await api('/signout', { method: 'POST', token }).catch(() => {});
});

// ---- the feed --------------------------------------------------------------------------

function startFeed(token) {
  const clinic = station.clinic;
  station.feed = new Feed({
    token,
    vitalsIntervalMs: Number(params.get('vitals_ms')) || 2000,
    handlers: {
      onSnapshot: (snap) => {
        clinic.reset();
        clinic.applySnapshot(snap);
        queueRender(true);
      },
      onEvent: (e) => {
        clinic.applyEvent(e);
        station.reconciling?.push(e);
        station.detail?.onEvent(e);
        queueRender(e.type.startsWith('EVENT_TYPE_ALARM') || e.type.startsWith('EVENT_TYPE_AUDIO'));
      },
      onVitals: (v) => {
        clinic.applyVitals(v);
        station.detail?.onVitals(v);
        queueRender(false);
      },
      onResumed: () => {
        reconcile();
        queueRender(true);
      },
      onState: (state, detail) => {
        if (state === feedState.refused) showSignIn(`The feed refused the token: ${detail}`);
        drawFeedStatus();
      },
    },
  });
  station.feed.start();
}

/// Reads the live state (GET /api/v1/sessions): after a resume, and every few seconds, since the
/// feed's events do not say when a latched alarm's condition has gone (alarms.md 5.5). Events
/// that arrive while the request is out are applied again on top (applyEvent is idempotent), so
/// an older answer never hides a newer alarm.
async function reconcile() {
  if (station.reconciling) return;
  station.reconciling = [];
  try {
    const live = await api('/sessions');
    station.clinic.applySessions(live);
    for (const e of station.reconciling) station.clinic.applyEvent(e);
    queueRender(true);
  } catch { /* the feed will say if the daemon is gone */ } finally {
    station.reconciling = null;
  }
}
setInterval(() => { if (station.user && !feedDown()) reconcile(); }, 5000);

function drawFeedStatus() {
  const feed = station.feed;
  if (!feed) return;
  const status = $('feed-status');
  const banner = $('feed-banner');
  const since = feed.lastMessageAt ? Math.round((Date.now() - feed.lastMessageAt) / 1000) : null;
  let text;
  if (feed.state === feedState.live) text = 'Live';
  else if (feed.state === feedState.connecting) text = 'Connecting…';
  else text = 'FEED DOWN';
  status.textContent = text;
  status.dataset.state = feed.state;
  const down = feed.state === feedState.down || feed.state === feedState.connecting && since !== null;
  document.body.classList.toggle('stale', down);
  banner.hidden = !down;
  if (down) {
    const last = since === null ? 'no update received yet' : `last update ${since} s ago`;
    banner.textContent = `FEED DOWN — ${last}. Reconnecting… This screen is not live: check patients directly.`;
  }
}

// ---- drawing ---------------------------------------------------------------------------

/// Redraws soon: alarms at once, vitals at most four times a second.
function queueRender(urgent) {
  if (station.renderQueued) return;
  station.renderQueued = true;
  const wait = urgent ? 0 : Math.max(0, 250 - (performance.now() - station.lastRender));
  setTimeout(render, wait);
}

function render() {
  station.renderQueued = false;
  station.lastRender = performance.now();
  if (!station.user) return;
  drawChairs();
  fitChairs();
  drawAlarms();
  drawSound();
  drawClockNote();
  drawFeedStatus();
  station.detail?.draw();
}

/// Replaces `el`'s children with build()'s when `key` changed, keeping keyboard focus on the
/// element with the same data-fk.
function patch(el, key, build) {
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  const focused = el.contains(document.activeElement) ? document.activeElement.dataset.fk : undefined;
  el.replaceChildren(...[build()].flat().filter((c) => c !== null && c !== undefined && c !== false));
  if (focused) el.querySelector(`[data-fk="${CSS.escape(focused)}"]`)?.focus();
}

function drawChairs() {
  const list = $('chairs');
  const chairs = station.clinic.sortedChairs();
  const seen = new Set();
  let previous = null;
  for (const c of chairs) {
    seen.add(c.id);
    let tile = list.querySelector(`:scope > [data-chair="${CSS.escape(c.id)}"]`);
    if (!tile) {
      tile = h('article', { class: 'tile', 'data-chair': c.id },
        h('header', { class: 'tile-head' }), h('div', { class: 'tile-sub' }), h('div', { class: 'tile-times' }),
        h('div', { class: 'tile-vitals' }), h('div', { class: 'tile-notes' }), h('div', { class: 'tile-alarm' }));
    }
    if (tile.previousElementSibling !== previous || !tile.parentNode) {
      if (previous) previous.after(tile);
      else list.prepend(tile);
    }
    previous = tile;
    drawTile(tile, c);
  }
  for (const tile of [...list.children]) if (!seen.has(tile.dataset.chair)) tile.remove();
  if (chairs.length === 0) {
    list.replaceChildren(h('p', { class: 'empty' }, 'No chairs yet: monitors appear here when they stream.'));
  } else {
    list.querySelector(':scope > .empty')?.remove();
  }
}

// ---- the whole clinic on one screen (docs/station.md 7) -----------------------------------

/// Whether every tile's name and vitals fit across it: a chair's name and a value are never cut.
function tilesWhole(list) {
  return [...list.querySelectorAll(':scope > .tile .tile-vitals, :scope > .tile .chair-name')]
    .every((v) => v.scrollWidth <= v.clientWidth + 1);
}

/// The layouts tried, from the roomiest: the dense one puts a tile's patient and times on one
/// line, its alarm's words beside its priority, and shortens the trend lines; the densest also
/// leaves the tile's Acknowledge button to the alarm list beside the chairs (style.css).
const densities = [[], ['dense'], ['dense', 'densest']];

/// How much a clinic with room to spare grows its tiles and type, at most, in steps of 0.1; and
/// the share of the chairs' panel it leaves free, so that a tile that grows with an alarm does
/// not make the whole screen shrink back at the moment the alarm comes.
const growth = { most: 1.6, spare: 0.25 };

/// Lays the tiles out so that every chair shows without scrolling when it can: for each density
/// in turn, first as many columns as the tiles' minimum width gives (CSS auto-fill), then more,
/// as long as every chair's name and vital's value still fit across its tile. What cannot fit
/// even so scrolls, top to bottom, never sideways, in the densest layout with the most columns.
/// A clinic with room to spare instead grows its tiles and type (--grow), as far as leaves a
/// quarter of the panel free, so that a few chairs fill a wall screen. Run at every render: the
/// tiles grow and shrink with their alarms, and the roomier layout comes back as soon as the
/// chairs fit in it.
function fitChairs() {
  const list = $('chairs');
  // What sizes the tiles, read without a layout: the panel's size and each tile's parts as
  // drawn (their patch keys; the vitals by the length of their text, not their value). When it
  // is as at the last fit, so is the layout: nothing is measured again.
  const shape = [list.clientWidth, list.clientHeight, ...[...list.querySelectorAll(':scope > .tile')].map((tile) =>
    [...tile.children].map((part) => (part.classList.contains('tile-vitals')
      ? [...part.querySelectorAll('.vital-value')].map((v) => v.textContent.length).join('.')
      : part.dataset.key)).join('|'))].join('\n');
  if (shape === fitChairs.shape) return;
  const apply = (classes, columns, grow = 1) => {
    list.classList.remove('dense', 'densest');
    list.classList.add(...classes);
    list.style.gridTemplateColumns = columns ? `repeat(${columns}, minmax(0, 1fr))` : '';
    if (grow === 1) list.style.removeProperty('--grow');
    else list.style.setProperty('--grow', String(grow));
  };
  apply([], 0);
  const tiles = list.querySelectorAll(':scope > .tile');
  const count = tiles.length;
  // The height the tiles take, from the top of the panel's content (scrollHeight is never less
  // than the panel's own height, so it cannot tell how much is free).
  const used = () => {
    const top = list.getBoundingClientRect().top - list.scrollTop;
    let bottom = top;
    for (const tile of tiles) bottom = Math.max(bottom, tile.getBoundingClientRect().bottom);
    return bottom - top;
  };
  const fits = (share = 1) => used() <= list.clientHeight * share + 1;
  if (count > 0 && list.clientHeight > 0 && fits(1 - growth.spare)) {
    for (let grow = growth.most; grow > 1.05; grow = Math.round((grow - 0.1) * 10) / 10) {
      apply([], 0, grow);
      if (fits(1 - growth.spare) && tilesWhole(list)) break;
      apply([], 0);
    }
  } else if (count > 1 && list.clientHeight > 0 && !fits()) {
    let best = null;  // the layout that shows the most, when none shows all
    search: for (const classes of densities) {
      apply(classes, 0);
      const natural = getComputedStyle(list).gridTemplateColumns.split(' ').length;
      for (let columns = natural; columns <= count; ++columns) {
        apply(classes, columns === natural ? 0 : columns);
        if (columns > natural && !tilesWhole(list)) break;
        if (fits()) {
          best = null;
          break search;
        }
        best = { classes, columns: columns === natural ? 0 : columns };
      }
    }
    if (best) apply(best.classes, best.columns);
  }
  list.dataset.columns = getComputedStyle(list).gridTemplateColumns.split(' ').length;
  list.dataset.grow = list.style.getPropertyValue('--grow') || '1';
  fitChairs.shape = shape;
}

function topAlarm(c) {
  const all = [...(c.session?.alarms ?? []), ...(c.advisory ? [c.advisory] : [])];
  all.sort((a, b) => priorityRank(b.priority) - priorityRank(a.priority) ||
    Number(a.acknowledged) - Number(b.acknowledged) || b.raised_at_ms - a.raised_at_ms);
  return { top: all[0] ?? null, count: all.length };
}

function drawTile(tile, c) {
  const s = c.session;
  const { top, count } = topAlarm(c);
  const p = top ? priorityOf(top.priority) : null;
  tile.className = ['tile', s ? 'has-session' : 'no-session', p ? `alarm-${p.cls}` : '',
    top && !top.acknowledged ? 'unacked' : '', s?.phase === 'PHASE_READY' ? 'ready' : ''].join(' ');
  tile.dataset.priority = top ? top.priority : '';

  const ready = s?.phase === 'PHASE_READY';
  const phase = s ? (ready ? '✓ Ready' : phaseName(s.phase)) : 'No session';
  patch(tile.querySelector('.tile-head'), `${c.id}|${s?.session_id}|${phase}`, () => [
    s ? h('a', { class: 'chair-name', href: `#/session/${s.session_id}`, 'data-fk': 'open' }, c.id)
      : h('span', { class: 'chair-name' }, c.id),
    h('span', { class: `phase phase-${(s?.phase ?? 'none').toLowerCase()}`, title: s ? phaseName(s.phase) : 'No open session' }, phase),
  ]);

  const now = station.clinic.now(c);
  let times = '';
  if (s && s.dose_at_ms) {
    const left = s.window_end_ms - now;
    times = `Dose +${duration(now - s.dose_at_ms)} · ${left > 0 ? `${duration(left)} left` : 'window complete'}`;
  } else if (s) {
    times = `Opened ${duration(now - s.opened_at_ms)} ago · no dose`;
  }
  const paused = s && s.paused_until_ms > now ? `Audio paused ${duration(s.paused_until_ms - now)}` : '';
  patch(tile.querySelector('.tile-sub'), `${s?.patient_ref}|${paused}`, () => [
    h('span', { class: 'patient' }, s ? s.patient_ref : ''),
    paused ? h('span', { class: 'paused' }, paused) : null,
  ]);
  // Every time on the tile is the monitor's clock: a marker when it differs from this screen's.
  const hint = clockHint(station.clinic.clockOffset(c), clockDiffersMs);
  patch(tile.querySelector('.tile-times'), `${times}|${hint}`, () => [h('span', {}, times),
    hint ? h('span', { class: 'clock-off', title: `Times of ${c.id} are its monitor's clock: ${hint}` }, ` ⚠ ${hint}`) : null]);

  // Values are the last usable ones (state.js); a sample flagged or judged an artefact since is
  // named beside its vital and in the tile's notes, never shown as the value.
  const v = c.vitals;
  const bp = v.sys && v.dia ? `${round(v.sys.value)}/${round(v.dia.value)}` : '–';
  const ignored = station.clinic.ignoredNow(c);
  const notes = { hr: notesOf(ignored, ['hr']), spo2: notesOf(ignored, ['spo2']), bp: notesOf(ignored, ['sys', 'dia', 'map']) };
  const key = ['hr', 'spo2', 'sys', 'dia'].map((k) => (v[k] ? `${round(v[k].value)}@${v[k].time}` : '')).join('|') +
    JSON.stringify(notes);
  patch(tile.querySelector('.tile-vitals'), key, () => [
    vital('HR', v.hr ? round(v.hr.value) : '–', 'bpm', c.trends.hr, 'hr', notes.hr),
    vital('SpO₂', v.spo2 ? round(v.spo2.value) : '–', '%', c.trends.spo2, 'spo2', notes.spo2),
    vital('BP', bp, 'mmHg', c.trends.sys, 'bp', notes.bp),
  ]);
  const noteList = [...notes.hr, ...notes.spo2, ...notes.bp];
  patch(tile.querySelector('.tile-notes'), JSON.stringify(noteList),
    () => noteList.map((n) => h('div', { class: 'ignored-note', title: n }, n)));

  const alarmKey = !top ? `none|${ready}` : `${top.alarm_id}|${top.acknowledged}|${top.acknowledged_by}|${top.tier}|${top.responder}|` +
    `${count}|${top.condition}|${Boolean(paused)}|${station.busy.size}|${feedDown()}`;
  patch(tile.querySelector('.tile-alarm'), alarmKey, () => {
    if (!top && ready) return h('span', { class: 'ready-note' }, '✓ Ready for discharge assessment');
    if (!top) return h('span', { class: 'no-alarm' }, s ? 'No active alarm' : '');
    return [
      h('div', { class: 'alarm-line' }, badge(top)),
      alarmWords(top),
      latchedMark(top, true),
      h('div', { class: 'alarm-line wrap' },
        escalation(top, true),
        top.acknowledged ? h('span', { class: 'acked' }, `✓ Ack ${top.acknowledged_by}`) : null,
        count > 1 ? h('span', { class: 'more' }, `+${count - 1} more`) : null,
        s && !top.acknowledged && !feedDown() ? ackButton(s, top, 'tile') : null),
    ];
  });
}

/// The notes of the chair's ignored samples of these vitals (state.js ignoredNow).
function notesOf(ignored, keys) {
  return keys.filter((k) => ignored[k]).map((k) => ignoredNote(k, ignored[k]));
}

function vital(label, value, unit, trend, cls, notes = []) {
  const note = notes.join('; ');
  return h('div', { class: `vital vital-${cls}`, 'data-ignored': note || null },
    h('span', { class: 'vital-label' }, label, h('small', {}, ` ${unit}`)),
    h('span', { class: 'vital-value-line' },
      h('span', { class: 'vital-value' }, value),
      note ? h('span', { class: 'ignored-mark', title: note, 'aria-label': note }, '◌') : null),
    sparkline(trend));
}

/// The trend of usable values only (state.js keeps no other): an ignored sample is never a
/// point of the line.
function sparkline(trend) {
  const w = 80;
  const hgt = 22;
  const svg = h('svg', { class: 'spark', viewBox: `0 0 ${w} ${hgt}`, 'aria-hidden': 'true', preserveAspectRatio: 'none' });
  const shown = (trend ?? []).filter((p) => Number.isFinite(p.value));
  if (shown.length < 2) return svg;
  const values = shown.map((p) => p.value);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  const points = shown.map((p, i) => `${(i / (shown.length - 1)) * w},${hgt - 2 - ((p.value - lo) / span) * (hgt - 4)}`);
  svg.append(h('polyline', { points: points.join(' ') }));
  return svg;
}

/// An alarm's text in clinical words, its vital and value set apart in the priority's colour and
/// never cut short: "Systolic BP 195 mmHg — above 180" (format.js, web/wording.json).
function alarmWords(alarm, cls = 'alarm-text') {
  const p = priorityOf(alarm.priority);
  const parts = alarmParts(alarm);
  if (!parts) return h('div', { class: `${cls} alarm-words` }, alarmText(alarm));
  return h('div', { class: `${cls} alarm-words` },
    h('span', { class: `alarm-vital prio-${p.cls}` }, parts.vital), ' ',
    h('span', { class: `alarm-value prio-${p.cls}` }, parts.value, h('small', {}, ` ${parts.unit}`)), ' ',
    h('span', { class: 'alarm-rest' }, parts.rest));
}

/// A latched alarm (its condition gone, kept until acknowledged): says so, with the value that
/// raised it.
function latchedMark(alarm, short = false) {
  if (alarm.condition) return null;
  const parts = alarmParts(alarm);
  const value = parts ? `${parts.value} ${parts.unit}` : numberText(alarm.value);
  const title = `Latched: the condition has gone; raised at ${value}, the alarm stays until acknowledged`;
  if (short) return h('div', { class: 'latched', title }, '⚑ Latched — raised at ', h('strong', { class: 'latched-value' }, value));
  return h('div', { class: 'latched', title }, '⚑ Latched — raised at ', h('strong', { class: 'latched-value' }, value), ', now gone');
}

function badge(alarm) {
  const p = priorityOf(alarm.priority);
  return h('span', { class: `badge badge-${p.cls}`, title: `${p.word} priority` },
    h('span', { class: 'marker', 'aria-hidden': 'true' }, p.marker), ` ${p.word}`);
}

/// "↑ Escalated: charge nurse" (the tile says "↑ charge nurse", with the rest in its title).
function escalation(alarm, short = false) {
  if (alarm.acknowledged || !(alarm.tier > 0)) return null;
  const to = alarm.responder ? responderName(alarm.responder) : `tier ${alarm.tier}`;
  return h('span', { class: 'escalated', title: `escalated to ${to} (tier ${alarm.tier})` }, short ? `↑ ${to}` : `↑ Escalated: ${to}`);
}

function ackButton(s, alarm, where) {
  if (!canAct()) return null;
  const key = `ack-${alarm.alarm_id}`;
  return h('button', {
    type: 'button', class: 'ack', 'data-fk': `${key}-${where}`, 'data-ack': alarm.alarm_id,
    disabled: station.busy.has(key),
    'aria-label': `Acknowledge ${priorityOf(alarm.priority).word.toLowerCase()} alarm ${ruleTitle(alarm.rule)} on ${s.chair_id}`,
    onclick: (e) => {
      e.stopPropagation();
      command(key, `/sessions/${s.session_id}/alarms/${alarm.alarm_id}/ack`, undefined, 'Acknowledged');
    },
  }, station.busy.has(key) ? 'Acknowledging…' : 'Acknowledge');
}

function pauseButton(s) {
  if (!canAct() || !s) return null;
  const key = `pause-${s.session_id}`;
  return h('button', {
    type: 'button', class: 'pause', 'data-fk': key, disabled: station.busy.has(key),
    'aria-label': `Pause audio on ${s.chair_id} for ${pauseSeconds / 60} minutes`,
    onclick: () => command(key, `/sessions/${s.session_id}/pause`, { duration_s: pauseSeconds }, 'Audio paused'),
  }, `Pause audio ${pauseSeconds / 60} min`);
}

/// Sends a command; the change itself comes back through the feed, for every station alike.
async function command(key, path, body, done) {
  if (station.busy.has(key)) return;
  station.busy.add(key);
  queueRender(true);
  try {
    await api(path, { method: 'POST', body: body ?? {} });
    toast(done);
  } catch (err) {
    toast(err instanceof ApiError ? `Not done: ${err.message}` : String(err), true);
  } finally {
    station.busy.delete(key);
    queueRender(true);
  }
}

/// The alarm list, grouped per chair: the chairs in the order of their most urgent alarm, each
/// chair's alarms most urgent first (state.js alarms()), and one "Acknowledge all" per chair.
function drawAlarms() {
  const rows = station.clinic.alarms();
  $('alarm-count').textContent = rows.length ? `(${rows.length})` : '';
  const groups = new Map();
  for (const row of rows) {
    if (!groups.has(row.chair.id)) groups.set(row.chair.id, []);
    groups.get(row.chair.id).push(row);
  }
  const list = $('alarm-list');
  const down = feedDown();
  const key = rows.map(({ chair, alarm, session: s }) => [chair.id, alarm.alarm_id, alarm.acknowledged,
    alarm.acknowledged_by, alarm.tier, alarm.responder, alarm.audible, alarm.condition, s?.paused_until_ms,
    Math.floor((station.clinic.now(chair) - alarm.raised_at_ms) / 60000)].join(':')).join('|') + station.busy.size + down;
  patch(list, key, () => {
    if (!rows.length) return h('li', { class: 'empty' }, 'No active alarm');
    return [...groups.values()].map((group) => {
      const { chair, session: s } = group[0];
      const unacked = group.filter(({ alarm, session: x }) => x && !alarm.acknowledged);
      return h('li', { class: `chair-group alarm-${priorityOf(group[0].alarm.priority).cls}`, 'data-group': chair.id },
        h('div', { class: 'group-head' },
          s ? h('a', { class: 'row-chair', href: `#/session/${s.session_id}` }, chair.id) : h('span', { class: 'row-chair' }, chair.id),
          h('span', { class: 'row-patient' }, s?.patient_ref ?? 'no session'),
          unacked.length > 1 && !down ? ackAllButton(chair, s, unacked.map((r) => r.alarm)) : null),
        h('ol', { class: 'group-alarms' }, group.map(({ alarm, session: x }) => alarmRow(chair, x, alarm, down))));
    });
  });
}

function alarmRow(chair, s, alarm, down) {
  const p = priorityOf(alarm.priority);
  const age = station.clinic.now(chair) - alarm.raised_at_ms;
  return h('li', {
    class: `alarm-row alarm-${p.cls} ${alarm.acknowledged ? 'is-acked' : 'unacked'}`,
    'data-alarm-id': alarm.alarm_id, 'data-priority': alarm.priority, 'data-chair': chair.id,
  },
  h('div', { class: 'row-top' }, badge(alarm),
    h('span', { class: 'row-title' }, ruleTitle(alarm.rule)),
    h('span', { class: 'row-age' }, `${duration(age)} ago`)),
  alarmWords(alarm, 'row-text'),
  latchedMark(alarm),
  h('div', { class: 'row-state' },
    escalation(alarm),
    alarm.acknowledged ? h('span', { class: 'acked' }, `✓ Acknowledged by ${alarm.acknowledged_by}`) : null,
    !alarm.audible && !alarm.acknowledged ? h('span', { class: 'silent' }, 'silent (audio paused)') : null),
  h('div', { class: 'row-actions' },
    s && !alarm.acknowledged && !down ? ackButton(s, alarm, 'list') : null,
    s && s.paused_until_ms === 0 && alarm.audible && !down ? pauseButton(s) : null));
}

/// Acknowledges every unacknowledged alarm of one chair, one request per alarm (the same
/// endpoint as a single acknowledgement; each lands in the timeline with the nurse's name).
function ackAllButton(chair, s, alarms) {
  if (!canAct() || !s) return null;
  const key = `ackall-${chair.id}`;
  return h('button', {
    type: 'button', class: 'ack ack-all', 'data-fk': key, 'data-ack-all': chair.id, disabled: station.busy.has(key),
    'aria-label': `Acknowledge all ${alarms.length} alarms on ${chair.id}`,
    onclick: async () => {
      if (station.busy.has(key)) return;
      station.busy.add(key);
      queueRender(true);
      const results = await Promise.allSettled(alarms.map((a) =>
        api(`/sessions/${s.session_id}/alarms/${a.alarm_id}/ack`, { method: 'POST', body: {} })));
      station.busy.delete(key);
      const failed = results.filter((r) => r.status === 'rejected');
      toast(failed.length ? `Not all acknowledged: ${failed[0].reason.message}` : `Acknowledged ${alarms.length} alarms on ${chair.id}`,
        failed.length > 0);
      queueRender(true);
    },
  }, station.busy.has(key) ? 'Acknowledging…' : `Acknowledge all ${alarms.length}`);
}

/// The chairs whose monitor's clock differs from this screen's (their times are the monitor's).
function drawClockNote() {
  const off = station.clinic.sortedChairs()
    .map((c) => [c.id, clockHint(station.clinic.clockOffset(c), clockDiffersMs)]).filter(([, hint]) => hint);
  const note = $('clock-note');
  note.hidden = off.length === 0;
  const text = off.length === 1 ? `⚠ ${off[0][0]}: ${off[0][1]}` : `⚠ ${off.length} monitors' clocks differ from this screen's`;
  const title = `Times shown for a chair are its monitor's clock. ${off.map(([id, hint]) => `${id}: ${hint}`).join('; ')}`;
  if (note.textContent !== text) note.textContent = text;
  if (note.title !== title) note.title = title;
}

function drawSound() {
  const button = $('sound');
  // A station that cannot sound says so loudly, alarms or not (docs/station.md 4).
  const mute = $('sound-banner');
  mute.hidden = station.sound.enabled;
  // The most urgent alarm that should sound: not acknowledged, not paused (the daemon's flag).
  let loudest = null;
  for (const { alarm } of station.clinic.alarms()) {
    if (alarm.audible && (!loudest || priorityRank(alarm.priority) > priorityRank(loudest))) loudest = alarm.priority;
  }
  // A feed that is down is itself an alarm: the screen no longer shows the patients.
  if (station.feed && station.feed.state !== feedState.live && station.feed.lastMessageAt &&
      priorityRank(loudest) < priorityRank('PRIORITY_MEDIUM')) loudest = 'PRIORITY_MEDIUM';
  station.sound.set(loudest);
  const on = station.sound.enabled;
  button.setAttribute('aria-pressed', String(on));
  button.classList.toggle('needed', !on && loudest !== null);
  button.textContent = on ? (loudest ? `♪ Sounding: ${priorityOf(loudest).word}` : '♪ Sound on')
    : loudest ? 'Alarms are silent: enable sound' : 'Enable sound';
}

for (const id of ['sound', 'sound-banner']) {
  $(id).addEventListener('click', async () => {
    await station.sound.enable();
    queueRender(true);
  });
}

function toast(message, error = false) {
  const t = $('toast');
  t.textContent = message;
  t.classList.toggle('error', error);
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, error ? 6000 : 2500);
}

// ---- routing: the station (#/) or a session (#/session/ID) --------------------------------

function route() {
  if (!station.user) return;
  const m = location.hash.match(/^#\/session\/(\d+)$/);
  station.detail?.close();
  station.detail = null;
  $('station').hidden = Boolean(m);
  $('detail').hidden = !m;
  if (m) {
    station.detail = new SessionDetail($('detail'), m[1], {
      clinic: station.clinic, canAct, toast, badge, alarmWords, latchedMark, feedDown, pauseButton,
    });
    station.detail.load();
  }
  queueRender(true);
}
window.addEventListener('hashchange', route);

// Keyboard: Escape goes back to the station from a session.
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && station.detail && !e.target.closest('textarea, input')) location.hash = '#/';
});

setInterval(() => queueRender(false), 1000);  // clocks and "last update" counters

// Start: the wording table first (web/wording.json; without it the engine's own words show).
try {
  setWording(await (await fetch('/static/wording.json')).json());
} catch { /* the daemon's words, unchanged */ }
// A wall screen started in kiosk mode may sound without a click (docs/station.md 4); anywhere
// else this leaves the audio suspended until someone clicks Enable sound.
station.sound.enable().finally(() => queueRender(true));

// A token kept for this tab signs in again without asking.
if (session.token) {
  signIn(session.token, session.signedIn).catch((err) => {
    const expired = session.signedIn ? 'Your sign-in has expired: sign in again.' : 'Your token is no longer valid.';
    showSignIn(err.status === 401 ? expired : err.message);
  });
} else {
  showSignIn();
}
