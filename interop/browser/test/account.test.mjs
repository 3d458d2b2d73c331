// authd's /account page in real Chromium (Debian's, through playwright-core, which
// downloads nothing). .ci/browser.sh starts authd with issuer http://localhost:PORT
// (a secure context, so __Host- cookies work over plain http) and registers the user.
// The tests run in order and share the browser: device A signs in, reloads, revokes
// device B, survives a cross-site form post, then signs out everywhere.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { chromium } from 'playwright-core';

const BASE = process.env.AUTHD_URL; // http://localhost:PORT
const EMAIL = process.env.BROWSER_EMAIL;
const PASSWORD = process.env.BROWSER_PASSWORD;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
assert.ok(BASE && EMAIL && PASSWORD, 'AUTHD_URL, BROWSER_EMAIL and BROWSER_PASSWORD are set');

let browser;
let deviceA; // { context, page }
let deviceB;
let attacker; // the cross-origin page's server

async function newDevice() {
  const context = await browser.newContext({ baseURL: BASE });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  return { context, page };
}

async function signIn({ page }, device) {
  await page.goto('/account');
  await page.locator('#signin').waitFor({ state: 'visible' });
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await page.fill('#device', device);
  await page.click('#signin-submit');
  await page.locator('#account').waitFor({ state: 'visible' });
}

/** The sessions table as [{device, current, id}]. */
async function sessions({ page }) {
  await page.locator('#sessions tr').first().waitFor();
  return page.$$eval('#sessions tr', (rows) =>
    rows.map((r) => ({
      id: r.dataset.sessionId,
      device: r.cells[0].textContent,
      current: r.classList.contains('current'),
    })),
  );
}

/** Reloads and returns the status of the page's cookie refresh. */
async function reload({ page }) {
  const refreshed = page.waitForResponse((r) => r.url() === BASE + '/v1/browser/refresh');
  await page.reload();
  return (await refreshed).status();
}

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
  console.log(`chromium ${browser.version()} against ${BASE}`);
});

after(async () => {
  await browser?.close();
  attacker?.close();
});

test('device A signs in and sees its session as current', async () => {
  deviceA = await newDevice();
  await signIn(deviceA, 'Device A');
  const list = await sessions(deviceA);
  assert.deepEqual(list.filter((s) => s.current).map((s) => s.device), ['Device A']);

  // The cookies were accepted over http://localhost: a secure context.
  const cookies = await deviceA.context.cookies();
  const refresh = cookies.find((c) => c.name === '__Host-authd_refresh');
  const csrf = cookies.find((c) => c.name === '__Host-authd_csrf');
  assert.ok(refresh && csrf, 'both __Host- cookies are stored');
  assert.equal(refresh.httpOnly, true);
  assert.equal(refresh.secure, true);
  assert.equal(refresh.sameSite, 'Strict');
  assert.equal(refresh.path, '/');
  assert.equal(csrf.httpOnly, false);
  // The script sees the CSRF cookie but never the refresh token, and stores nothing.
  const seen = await deviceA.page.evaluate(() => ({
    cookie: document.cookie,
    stored: localStorage.length + sessionStorage.length,
  }));
  assert.ok(seen.cookie.includes('__Host-authd_csrf='));
  assert.ok(!seen.cookie.includes('__Host-authd_refresh'));
  assert.equal(seen.stored, 0);
});

test('a reload stays signed in through the cookie', async () => {
  assert.equal(await reload(deviceA), 200);
  await deviceA.page.locator('#account').waitFor({ state: 'visible' });
  const list = await sessions(deviceA);
  assert.deepEqual(list.filter((s) => s.current).map((s) => s.device), ['Device A']);
});

test('device A revokes device B, which is then signed out', async () => {
  deviceB = await newDevice();
  await signIn(deviceB, 'Device B');
  assert.equal(await reload(deviceA), 200);
  const row = deviceA.page.locator('#sessions tr', { hasText: 'Device B' });
  await row.locator('button.revoke').click();
  await row.waitFor({ state: 'detached' });
  assert.deepEqual((await sessions(deviceA)).map((s) => s.device), ['Device A']);

  assert.equal(await reload(deviceB), 400, 'the revoked session no longer refreshes');
  await deviceB.page.locator('#signin').waitFor({ state: 'visible' });
  assert.ok(await deviceB.page.locator('#account').isHidden());
  const left = (await deviceB.context.cookies()).map((c) => c.name);
  assert.deepEqual(left, [], 'authd cleared both cookies');
});

test('a cross-origin form post is refused and changes nothing', async () => {
  // A page on another origin (http://127.0.0.1:PORT2) auto-posting forms to authd.
  attacker = http.createServer((req, res) => {
    const target = new URL(req.url, 'http://x').searchParams.get('to');
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><form method="POST" action="${BASE}${target}">
      <input name="x" value="1"></form><script>document.forms[0].submit()</script>`);
  });
  await new Promise((ok) => attacker.listen(0, '127.0.0.1', ok));
  const evil = `http://127.0.0.1:${attacker.address().port}`;

  const { page } = deviceA;
  const answers = [];
  const record = (r) => {
    if (r.url().startsWith(BASE + '/v1/browser/')) answers.push([new URL(r.url()).pathname, r.status()]);
  };
  page.on('response', record);
  for (const target of ['/v1/browser/logout', '/v1/browser/refresh']) {
    const answered = page.waitForResponse((r) => r.url() === BASE + target);
    await page.goto(`${evil}/?to=${target}`);
    const response = await answered;
    assert.equal(response.status(), 403, target);
    assert.equal((await response.json()).error, 'csrf_refused', target);
  }
  page.off('response', record);
  assert.deepEqual(answers, [
    ['/v1/browser/logout', 403],
    ['/v1/browser/refresh', 403],
  ]);

  // Device A's session still works: the page signs in again from the cookie.
  const refreshed = page.waitForResponse((r) => r.url() === BASE + '/v1/browser/refresh');
  await page.goto('/account');
  assert.equal((await refreshed).status(), 200);
  await page.locator('#account').waitFor({ state: 'visible' });
  assert.deepEqual((await sessions(deviceA)).filter((s) => s.current).map((s) => s.device), ['Device A']);
});

test('sign out everywhere ends the session and clears the cookies', async () => {
  const { page, context } = deviceA;
  await page.click('#signout-all');
  await page.locator('#signin').waitFor({ state: 'visible' });
  assert.deepEqual((await context.cookies()).map((c) => c.name), []);
  await page.reload();
  await page.locator('#signin').waitFor({ state: 'visible' });
});
