// Runs the real programs for the browser tests: vigild on 127.0.0.1 with every port 0 and a
// temporary data_dir, vigil-sim feeding it, and Debian's Chromium driven by playwright-core.
// Paths come from CTest (tests/browser/CMakeLists.txt): VIGILD, VIGIL_SIM, VIGILCTL (which hashes
// the passwords of users who sign in with one), VIGIL_SOURCE_DIR, VIGIL_ARTIFACTS (where
// screenshots are kept). A Monitor sends chosen samples itself, for tests that need exact values
// rather than a simulated patient.

import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const env = {
  vigild: process.env.VIGILD ?? path.resolve('../../build/daemon/vigild'),
  sim: process.env.VIGIL_SIM ?? path.resolve('../../build/sim/vigil-sim'),
  vigilctl: process.env.VIGILCTL ?? path.resolve('../../build/daemon/vigilctl'),
  source: process.env.VIGIL_SOURCE_DIR ?? path.resolve('../..'),
  artifacts: process.env.VIGIL_ARTIFACTS ?? path.resolve('artifacts'),
  chromium: process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium',
};

export const tokens = {
  admin: 'browser-admin-token',
  nurse: 'browser-nurse-token',
  viewer: 'browser-viewer-token',
  device: 'browser-device-token',
};
export const nurseName = 'nurse-ana';

/// A user who signs in with a name and password (users[].password_hash, made by vigilctl hash-secret).
export const passwordUser = { name: 'nurse-cy', password: 'cy signs in at the station', role: 'nurse' };

/// The hash `vigilctl hash-secret` prints for `secret`.
export function hashSecret(secret) {
  const r = spawnSync(env.vigilctl, ['hash-secret'], { input: `${secret}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vigilctl hash-secret: ${r.status} ${r.stderr}`);
  return r.stdout.trim();
}

/// Waits until `f()` returns something truthy; throws with `what` after `timeoutMs`.
export async function until(f, what, timeoutMs = 10000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/// A directory for one test's daemon: config, ports file, timeline.
export function workDir(name) {
  return mkdtempSync(path.join(tmpdir(), `vigil-browser-${name}-`));
}

/// A copy of the shipped profiles in `dir` with the generic profile's artefact checks off, so that
/// a test monitor's heart rate of 0 counts as a reading (alarms.md 3.6); its directory.
export function profilesWithoutArtefactChecks(dir) {
  const profiles = path.join(dir, 'profiles');
  cpSync(path.join(env.source, 'config', 'profiles'), profiles, { recursive: true });
  const generic = path.join(profiles, 'generic.yaml');
  writeFileSync(generic, readFileSync(generic, 'utf8').replace(/^(artefacts:.*\n\s+enabled:) true/m, '$1 false'));
  return profiles;
}

/// vigild with the generic profile set, three users and a device token for vigil-sim.
export class Daemon {
  /// `passwordUsers`: [{name, password, role}] added to the users with a password_hash.
  constructor(dir, { profilesDir, passwordUsers = [] } = {}) {
    this.passwordUsers = passwordUsers.map((u) => ({ ...u, hash: hashSecret(u.password) }));
    this.dir = dir;
    this.portsFile = path.join(dir, 'vigild.ports');
    this.config = path.join(dir, 'vigild.yaml');
    this.profilesDir = profilesDir ?? path.join(env.source, 'config', 'profiles');
    this.httpPort = 0;
    this.lines = [];  // [Date.now(), line] of everything vigild logs
  }

  /// A restart keeps the HTTP port, so that the page can come back to the same origin.
  pinHttpPort(port) {
    this.httpPort = port;
  }

  writeConfig() {
    writeFileSync(this.config, `# written by tests/browser/harness.mjs
ports_file: ${this.portsFile}
data_dir: ${path.join(this.dir, 'data')}
log:
  level: info
ingest:
  port: 0
  devices:
    - id: "sim-*"
      token: ${tokens.device}
control:
  port: 0
feed:
  port: 0
http:
  port: ${this.httpPort}
users:
  - { name: admin-lee, token: ${tokens.admin}, role: admin }
  - { name: ${nurseName}, token: ${tokens.nurse}, role: nurse }
  - { name: dr-vic, token: ${tokens.viewer}, role: viewer }
${this.passwordUsers.map((u) => `  - { name: ${u.name}, password_hash: '${u.hash}', role: ${u.role} }\n`)
  .join('')}engine:
  profiles_dir: ${this.profilesDir}
  default_profile: generic
`);
  }

  async start() {
    this.writeConfig();
    rmSync(this.portsFile, { force: true });
    this.proc = spawn(env.vigild, ['--config', this.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.proc.once('error', (e) => this.lines.push([Date.now(), `cannot run ${env.vigild}: ${e.message}`]));
    for (const stream of [this.proc.stdout, this.proc.stderr]) {
      let rest = '';
      stream.on('data', (chunk) => {
        rest += chunk;
        const parts = rest.split('\n');
        rest = parts.pop();
        for (const line of parts) this.lines.push([Date.now(), line]);
      });
    }
    try {
      await until(() => existsSync(this.portsFile) && /http: \d+/.test(readFileSync(this.portsFile, 'utf8')),
        "vigild's ports file", 15000);
    } catch (e) {
      throw new Error(`${e.message}\n${this.log()}`);
    }
    const ports = Object.fromEntries(readFileSync(this.portsFile, 'utf8').trim().split('\n')
      .map((l) => l.split(':').map((s) => s.trim())).map(([k, v]) => [k, Number(v)]));
    this.ports = ports;
    this.url = `http://127.0.0.1:${ports.http}`;
    return this;
  }

  log() {
    return this.lines.map(([, l]) => l).join('\n');
  }

  signal(name) {
    this.proc?.kill(name);
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGCONT');
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  /// A REST call as `who` (admin by default).
  async api(method, pathname, body, who = 'admin') {
    const response = await fetch(`${this.url}/api/v1${pathname}`, {
      method,
      headers: { Authorization: `Bearer ${tokens[who]}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : {};
  }

  /// Opens a session on `chair` and marks its dose as soon as the pre-dose check allows it
  /// (once a cuff reading has arrived).
  async openAndDose(chair, patient, profile = 'generic') {
    const { session_id: id } = await this.api('POST', '/sessions', { chair_id: chair, patient_ref: patient, profile });
    await until(async () => {
      try {
        await this.api('POST', `/sessions/${id}/dose`, { route: 'intranasal', dose: '56 mg' });
        return true;
      } catch (e) {
        if (!/predose_gate/.test(e.message)) throw e;
        return false;
      }
    }, `a pre-dose cuff reading on ${chair}`, 20000, 100);
    return id;
  }
}

/// vigil-sim as a child process; `args` after the ports file and token.
export class Sim {
  constructor(daemon, args) {
    this.proc = spawn(env.sim, ['--ports-file', daemon.portsFile, '--token', tokens.device, '-q', ...args],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    this.err = '';
    this.proc.once('error', (e) => { this.err += `cannot run ${env.sim}: ${e.message}`; });
    this.proc.stderr.on('data', (c) => { this.err += c; });
    this.exited = new Promise((resolve) => this.proc.once('exit', resolve));
  }

  async stop() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGINT');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}

// ---- a monitor on the device port: just enough of the protobuf wire format (docs/protocol.md) ----

function varint(n) {
  const out = [];
  let v = Number(n);
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const tag = (field, wire) => varint(field * 8 + wire);
const lenField = (field, bytes) => [...tag(field, 2), ...varint(bytes.length), ...bytes];
const strField = (field, s) => lenField(field, [...Buffer.from(s, 'utf8')]);
const intField = (field, n) => (Number(n) === 0 ? [] : [...tag(field, 0), ...varint(n)]);
function doubleField(field, d) {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(d);
  return [...tag(field, 1), ...b];
}

/// The top-level fields of one protobuf message: [{field, value}], value a number or a Buffer.
function fields(buf) {
  const out = [];
  let i = 0;
  const readVarint = () => {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = buf[i++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
  };
  while (i < buf.length) {
    const key = readVarint();
    const wire = key % 8;
    const field = Math.floor(key / 8);
    if (wire === 0) out.push({ field, value: readVarint() });
    else if (wire === 2) {
      const n = readVarint();
      out.push({ field, value: buf.subarray(i, i + n) });
      i += n;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

/// VitalKind and QualityFlag of proto/vigil/v1/device.proto, and the daemon's judged bit.
export const kinds = { HEART_RATE: 1, PULSE_RATE: 2, SPO2: 3, NIBP_SYSTOLIC: 4, NIBP_DIASTOLIC: 5, NIBP_MEAN: 6, RESPIRATORY_RATE: 7 };
export const quality = { SENSOR_OFF: 1, ARTIFACT: 2, LOW_PERFUSION: 4, IMPLAUSIBLE: 8, JUDGED: 1 << 16 };

/// A monitor on `chair` (device id `sim-…`, so the harness's device token admits it) that sends
/// the samples a test chooses and waits for the daemon's ack of each batch.
export class Monitor {
  constructor(daemon, chair, deviceId = `sim-test-${chair}`) {
    this.daemon = daemon;
    this.chair = chair;
    this.deviceId = deviceId;
    this.seq = 0;
    this.acked = 0;
    this.errors = [];
    this.pending = Buffer.alloc(0);
  }

  async connect() {
    this.socket = net.connect(this.daemon.ports.ingest, '127.0.0.1');
    this.socket.on('data', (chunk) => this.read(chunk));
    this.socket.on('error', (e) => this.errors.push(e.message));
    await new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.send(lenField(1, [...strField(1, this.deviceId), ...strField(2, tokens.device), ...intField(3, 1),
      ...strField(4, this.chair), ...strField(5, 'vigil browser test monitor')]));
    await until(() => this.welcomed || this.errors.length, `the daemon's welcome for ${this.deviceId}`, 5000);
    if (!this.welcomed) throw new Error(`${this.deviceId}: ${this.errors.join('; ')}`);
    this.seq = this.acked;
    // A Ping now and then, so that a test's pauses never reach the daemon's idle timeout.
    this.pinger = setInterval(() => this.send(lenField(3, intField(1, 1))), 5000);
    return this;
  }

  read(chunk) {
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      let n = 0;
      let scale = 1;
      let i = 0;
      for (; i < this.pending.length; ++i) {
        n += (this.pending[i] & 0x7f) * scale;
        scale *= 0x80;
        if (this.pending[i] < 0x80) break;
      }
      if (i >= this.pending.length || this.pending.length < i + 1 + n) return;
      const frame = this.pending.subarray(i + 1, i + 1 + n);
      this.pending = this.pending.subarray(i + 1 + n);
      for (const { field, value } of fields(frame)) {
        const inner = Buffer.isBuffer(value) ? fields(value) : [];
        if (field === 1) {
          this.welcomed = true;
          this.acked = inner.find((f) => f.field === 2)?.value ?? 0;
        } else if (field === 2) {
          this.acked = Math.max(this.acked, inner.find((f) => f.field === 1)?.value ?? 0);
        } else if (field === 3) {
          const message = inner.find((f) => f.field === 2)?.value;
          this.errors.push(message ? message.toString('utf8') : `error code ${inner.find((f) => f.field === 1)?.value}`);
        }
      }
    }
  }

  send(body) {
    const bytes = Buffer.from(body);
    this.socket.write(Buffer.from([...varint(bytes.length), ...bytes]));
  }

  /// One batch of samples [{kind: 'SPO2', value, time_ms, quality}]; resolves once acknowledged.
  async samples(list) {
    const seq = ++this.seq;
    const samples = list.flatMap((s) => lenField(2, [...intField(1, kinds[s.kind]), ...doubleField(2, s.value),
      ...intField(3, s.time_ms), ...intField(4, s.quality ?? 0)]));
    this.send(lenField(2, [...intField(1, seq), ...samples]));
    await until(() => this.acked >= seq || this.errors.length, `the ack of batch ${seq}`, 5000);
    if (this.acked < seq) throw new Error(`${this.deviceId}: ${this.errors.join('; ')}`);
  }

  close() {
    clearInterval(this.pinger);
    this.socket?.end();
  }
}

/// Debian's Chromium, headless, with nothing talking to the network. playwright-core gives each
/// launch a fresh temporary profile (its own --user-data-dir) and removes it afterwards.
/// `kiosk: false` leaves Chromium's autoplay policy as a browser on a desk has it: no sound
/// before a click.
export async function launchBrowser({ kiosk = true } = {}) {
  return chromium.launch({
    executablePath: env.chromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(kiosk ? ['--autoplay-policy=no-user-gesture-required'] : [])],
  });
}

/// Opens the station in a new page and signs in as `who`.
export async function openStation(browser, daemon, who = 'nurse', viewport = { width: 1366, height: 768 }, query = '') {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (e) => { page.errors = [...(page.errors ?? []), String(e)]; });
  page.on('console', (m) => { if (m.type() === 'error') page.errors = [...(page.errors ?? []), `console: ${m.text()}`]; });
  await page.goto(`${daemon.url}/${query}`);
  await page.click('#signin-switch');  // "Use a token instead"
  await page.fill('#token', tokens[who]);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#feed-status[data-state="live"]', { timeout: 10000 });
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(env.artifacts, { recursive: true });
  const file = path.join(env.artifacts, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
