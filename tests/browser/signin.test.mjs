// Signing in at the nurse station with a user name and password, in a real headless Chromium
// against the built vigild: a wrong password and an unknown name get the same words, the right
// password shows the chairs with the user's name and role, the REST requests and the WebSocket
// feed carry the session token, and Sign out returns to the form and ends the session token on
// the daemon. The user's password_hash is made by the built vigilctl hash-secret.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Daemon, launchBrowser, passwordUser, screenshot, until, workDir } from './harness.mjs';

describe('signing in with a name and password', { timeout: 120000 }, () => {
  let daemon;
  let browser;
  const sessions = {};  // session id by chair

  before(async () => {
    daemon = await new Daemon(workDir('signin'), { passwordUsers: [passwordUser] }).start();
    for (const chair of ['chair-1', 'chair-2']) {
      const opened = await daemon.api('POST', '/sessions', { chair_id: chair, patient_ref: `P-${chair}` });
      sessions[chair] = opened.session_id;
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
  });

  test('a nurse signs in with name and password, sees the chairs, and signs out', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on('pageerror', (e) => { page.errors = [...(page.errors ?? []), String(e)]; });
    const bearers = [];
    page.on('request', (r) => {
      const { pathname } = new URL(r.url());
      if (pathname.startsWith('/api/v1/')) bearers.push([pathname, r.headers().authorization]);
    });
    await page.goto(`${daemon.url}/`);
    // The form asks for a name and password first; the token field waits behind "Use a token instead".
    // The page's modules show it once they have started: wait for that, not for the load event.
    await page.waitForSelector('#name', { state: 'visible', timeout: 10000 });
    assert.ok(await page.isVisible('#name'));
    assert.ok(await page.isVisible('#password'));
    assert.ok(!(await page.isVisible('#token')));
    assert.match(await page.textContent('#signin-switch'), /Use a token instead/);

    const error = 'Unknown user name or wrong password.';
    for (const [name, password] of [[passwordUser.name, 'not the right password'], ['nobody', passwordUser.password]]) {
      await page.fill('#name', name);
      await page.fill('#password', password);
      await page.click('#signin-form button[type=submit]');
      await until(async () => (await page.textContent('#signin-error')) === error, `the refusal of ${name}`);
      await page.evaluate(() => { document.getElementById('signin-error').textContent = ''; });
      assert.ok(await page.isVisible('#signin'));
    }
    await screenshot(page, 'signin-form');

    await page.fill('#name', passwordUser.name);
    await page.fill('#password', passwordUser.password);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#feed-status[data-state="live"]', { timeout: 10000 });
    assert.equal(await page.textContent('#user'), `${passwordUser.name} · ${passwordUser.role}`);
    await until(async () => (await page.locator('.tile').count()) >= 2, 'the chair tiles');
    assert.equal(await page.inputValue('#password'), '', 'the password is not kept in the form');
    const token = await page.evaluate(() => sessionStorage.getItem('vigil.token'));
    assert.match(token, /^[0-9a-f]{64}$/, 'a session token from POST /signin');
    assert.ok(!JSON.stringify(await page.evaluate(() => ({ ...sessionStorage }))).includes(passwordUser.password));
    // The session detail reads over REST, and a note made there is recorded with the user's name.
    await page.click('.tile[data-chair="chair-1"] a.chair-name');
    await page.waitForSelector('#note-text');
    await page.fill('#note-text', 'Signed in with a name and password.');
    await page.click('.note-form button');
    await until(async () => /Signed in with a name and password\./.test(await page.textContent('.timeline')),
      'the note in the timeline', 5000);
    const stored = await daemon.api('GET', `/sessions/${sessions['chair-1']}/timeline.json`);
    assert.ok(stored.events.some((e) => e.type === 'EVENT_TYPE_NOTE_ADDED' && e.who === passwordUser.name));
    await page.click('a.back');
    await page.waitForSelector('#station:not([hidden])');
    // Every REST request after the sign-in carries the session token.
    const rest = bearers.filter(([p]) => p !== '/api/v1/signin' && p !== '/api/v1/feed');
    assert.ok(rest.some(([p]) => p.endsWith('/notes')), `REST requests seen: ${JSON.stringify(rest)}`);
    for (const [p, bearer] of rest) assert.equal(bearer, `Bearer ${token}`, p);
    // nurse-cy has no configured token: the feed that is live was opened with the session token.
    await until(() => /subscribed over WebSocket as nurse-cy/.test(daemon.log()), 'the feed subscribed as nurse-cy');
    await screenshot(page, 'signin-signed-in');

    await page.click('#signout');
    await page.waitForSelector('#signin', { state: 'visible' });
    assert.ok(!(await page.isVisible('#app')));
    assert.equal(await page.evaluate(() => sessionStorage.getItem('vigil.token')), null);
    // The session token is ended on the daemon too.
    const me = () => fetch(`${daemon.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    await until(async () => (await me()).status === 401, 'the session token refused after Sign out');
    assert.match(daemon.log(), /signed out nurse-cy/);
    assert.ok(!daemon.log().includes(passwordUser.password), 'the password is never logged');
    assert.deepEqual(page.errors ?? [], []);
  });
});
