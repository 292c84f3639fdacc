// Runs the real programs for the browser tests: vigild on 127.0.0.1 with every port 0 and a
// temporary data_dir, vigil-sim feeding it, and Debian's Chromium driven by playwright-core.
// Paths come from CTest (tests/browser/CMakeLists.txt): VIGILD, VIGIL_SIM, VIGIL_SOURCE_DIR,
// VIGIL_ARTIFACTS (where screenshots are kept).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const env = {
  vigild: process.env.VIGILD ?? path.resolve('../../build/daemon/vigild'),
  sim: process.env.VIGIL_SIM ?? path.resolve('../../build/sim/vigil-sim'),
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

/// vigild with the generic profile set, three users and a device token for vigil-sim.
export class Daemon {
  constructor(dir, { profilesDir } = {}) {
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
engine:
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

/// Debian's Chromium, headless, with nothing talking to the network. playwright-core gives each
/// launch a fresh temporary profile (its own --user-data-dir) and removes it afterwards.
export async function launchBrowser() {
  return chromium.launch({
    executablePath: env.chromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
}

/// Opens the station in a new page and signs in as `who`.
export async function openStation(browser, daemon, who = 'nurse', viewport = { width: 1366, height: 768 }, query = '') {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (e) => { page.errors = [...(page.errors ?? []), String(e)]; });
  await page.goto(`${daemon.url}/${query}`);
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
