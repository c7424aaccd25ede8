// Drives the admin API's dashboard (GET /) in headless Chromium: the
// services and their endpoints' states show, an endpoint that starts
// failing turns Unhealthy live (watch, no reload), and the filters work.
// Env: ADMIN_URL (http://127.0.0.1:PORT), WEB_CONTROL_URL (the web-1
// target's base URL), CHROMIUM (default /usr/bin/chromium).
'use strict';
const assert = require('assert');
const {chromium} = require('playwright-core');

const admin = process.env.ADMIN_URL;
const webControl = process.env.WEB_CONTROL_URL;
const live = 10000; // ms: how long a live change may take to show

let passed = 0;
async function step(name, body) {
  const started = Date.now();
  await body();
  ++passed;
  console.log(`ok ${passed} - ${name} (${Date.now() - started} ms)`);
}

async function main() {
  assert(admin && webControl, 'ADMIN_URL and WEB_CONTROL_URL must be set');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err}`));
    page.on('console', (msg) => {
      // CSP violations and script errors are reported as console errors.
      // (The browser's own /favicon.ico request answers 404: not the page.)
      const from = msg.location().url || '';
      if (msg.type() === 'error' && !from.endsWith('/favicon.ico')) {
        problems.push(`console: ${msg.text()} (${from})`);
      }
    });
    page.on('requestfailed', (req) => {
      // The page's own watch may be cut when the browser closes; nothing
      // else should fail, and nothing may leave the admin API's origin.
      if (!req.url().startsWith(admin)) problems.push(`request: ${req.url()}`);
    });
    const outside = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(admin + '/')) outside.push(req.url());
    });
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) ++navigations;
    });

    const web = page.locator('section.svc[data-service-id="web-1"]');
    const db = page.locator('section.svc[data-service-id="db-1"]');
    const webEndpoint = web.locator('tr.endpoint');
    const services = page.locator('section.svc');

    await step('GET / serves the page with a strict CSP', async () => {
      const res = await page.goto(admin + '/');
      assert.strictEqual(res.status(), 200);
      const headers = res.headers();
      assert.match(headers['content-type'], /^text\/html/);
      const csp = headers['content-security-policy'] || '';
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /style-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      assert.match(csp, /connect-src 'self'/);
    });

    await step('lists both services with their endpoints Healthy', async () => {
      await webEndpoint.and(page.locator('[data-state="Healthy"]'))
          .waitFor({timeout: live});
      await db.locator('tr.endpoint[data-state="Healthy"]')
          .waitFor({timeout: live});
      assert.strictEqual(await services.count(), 2);
      assert.strictEqual(await web.locator('.svc-name').textContent(), 'web');
      const url = await webEndpoint.locator('td.url').textContent();
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.strictEqual(
          (await webEndpoint.locator('.endpoint-state').textContent()).trim(),
          'Healthy');
      assert.strictEqual((await page.textContent('#conn')).trim(), 'live');
    });

    await step('a failing endpoint turns Unhealthy without a reload',
               async () => {
      await page.evaluate(() => { window.__sameDocument = true; });
      const res = await fetch(webControl + '/control/fail');
      assert.strictEqual(res.status, 200);
      await webEndpoint.and(page.locator('[data-state="Unhealthy"]'))
          .waitFor({timeout: live});
      assert.strictEqual(
          (await webEndpoint.locator('.endpoint-state').textContent()).trim(),
          'Unhealthy');
      // Its last check's reason and latency show up too (GET /v1/probes).
      await page.waitForFunction(() => {
        const row = document.querySelector(
            'section[data-service-id="web-1"] tr.endpoint');
        return row && /503/.test(row.querySelector('td.reason').textContent) &&
               /ms$/.test(row.querySelector('td.latency').textContent);
      }, null, {timeout: live});
      assert.strictEqual(await page.evaluate(() => window.__sameDocument),
                         true, 'the page was reloaded');
      assert.strictEqual(navigations, 1, 'the page navigated again');
      // The other service is untouched.
      await db.locator('tr.endpoint[data-state="Healthy"]')
          .waitFor({timeout: live});
    });

    await step('the name filter hides the other services', async () => {
      await page.fill('#filter-name', 'db');
      await web.waitFor({state: 'detached', timeout: 2000});
      assert.strictEqual(await services.count(), 1);
      assert(await db.isVisible());
      await page.fill('#filter-name', 'WEB'); // case-insensitive
      await db.waitFor({state: 'detached', timeout: 2000});
      assert(await web.isVisible());
      await page.fill('#filter-name', 'no-such-service');
      await web.waitFor({state: 'detached', timeout: 2000});
      assert(await page.isVisible('#empty'));
      await page.fill('#filter-name', '');
      await services.nth(1).waitFor({timeout: 2000});
      assert.strictEqual(await services.count(), 2);
    });

    await step('the state filter shows the services in that state',
               async () => {
      // The service's own state, as the API reports it.
      const info = await (await fetch(admin + '/v1/services/web-1')).json();
      assert.notStrictEqual(info.health_status, 'Healthy');
      await page.selectOption('#filter-state', info.health_status);
      await db.waitFor({state: 'detached', timeout: 2000});
      assert(await web.isVisible());
      await page.selectOption('#filter-state', 'Healthy');
      await web.waitFor({state: 'detached', timeout: 2000});
      assert(await db.isVisible());
      await page.selectOption('#filter-state', '');
      await services.nth(1).waitFor({timeout: 2000});
    });

    await step('the endpoint recovers live', async () => {
      await fetch(webControl + '/control/recover');
      await webEndpoint.and(page.locator('[data-state="Healthy"]'))
          .waitFor({timeout: live});
    });

    await step('nothing outside the admin API was loaded, no errors',
               async () => {
      assert.deepStrictEqual(outside, []);
      assert.deepStrictEqual(problems, []);
    });
  } finally {
    await browser.close();
  }
  console.log(`${passed} passed, 0 failed`);
}

main().catch((err) => {
  console.error(err && err.stack || err);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
});
