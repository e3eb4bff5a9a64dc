// Shlink's web UI (the @shlinkio/shlink-web-component that Shlink's web
// client is built from, in a small host page of ours) in headless Chromium
// against kurz, from another origin, so CORS is exercised as a browser does.
// Screenshots go to target/ui-screenshots/shlink-web-client-*.png.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { eventually, repoRoot, startKurz } from '../lib/kurz.js';
import { client, visit, BOT_UAS } from '../lib/shlink.js';
import { buildWebApp, serveStatic } from '../lib/web.js';

const CHROMIUM = process.env.KURZ_TEST_CHROMIUM ?? '/usr/bin/chromium';
const shots = path.join(repoRoot, 'target', 'ui-screenshots');
const rid = randomBytes(3).toString('hex');

let kurz;
let ui;
let browser;
let page;
let buildDir;
const seen = { requests: [], failures: [], consoleErrors: [] };

before(async () => {
  buildDir = await mkdtemp(path.join(tmpdir(), 'kurz-shlink-ui-'));
  await buildWebApp(buildDir);
  kurz = await startKurz();
  ui = await serveStatic(buildDir);
  await mkdir(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      // Nothing but this machine's loopback is ever resolved.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // The page may talk to its own origin and to kurz; anything else
  // (map tiles, fonts) is refused before it leaves the browser.
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.origin === ui.origin || u.origin === kurz.baseUrl || u.protocol === 'data:' || u.protocol === 'blob:') {
      return route.continue();
    }
    return route.abort('blockedbyclient');
  });
  page = await context.newPage();
  page.on('request', (r) => {
    if (r.url().startsWith(kurz.baseUrl)) seen.requests.push(`${r.method()} ${r.url().slice(kurz.baseUrl.length)}`);
  });
  page.on('requestfailed', (r) => {
    if (r.url().startsWith(kurz.baseUrl)) seen.failures.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') seen.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => seen.consoleErrors.push(`pageerror: ${e.message}`));
});

after(async () => {
  await browser?.close();
  await ui?.close();
  await kurz?.stop();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

const shot = (name) => page.screenshot({ path: path.join(shots, `shlink-web-client-${name}.png`), fullPage: true });

/** Waits (bounded) until `locator` matches something, else fails saying `what`. */
async function shows(locator, what, timeout = 15_000) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
  } catch {
    assert.fail(`${what}: not shown within ${timeout} ms; page: ${(await page.textContent('body')).slice(0, 600)}\n${diagnostics()}`);
  }
}

/** What the browser saw go wrong, for assertion messages. */
const diagnostics = () => JSON.stringify({
  failedRequests: seen.failures.slice(-10),
  consoleErrors: seen.consoleErrors.slice(-10),
  lastRequests: seen.requests.slice(-10),
}, null, 1);

test('the web UI adds kurz as a server, lists short URLs, creates one and shows its visits', async (t) => {
  const sdk = client(kurz.baseUrl, kurz.apiKey);
  const seeded = [];
  for (const [i, title] of ['Kurz docs', 'Release notes', 'Team wiki'].entries()) {
    seeded.push(await sdk.createShortUrl({
      longUrl: `https://example.com/${rid}/seed-${i}`,
      customSlug: `ui-${i}-${rid}`,
      title,
      tags: [`ui-${rid}`, i === 0 ? 'docs' : 'misc'],
    }));
  }

  await t.test('add the server', async () => {
    await page.goto(`${ui.origin}/`);
    await page.getByLabel('Name').fill('kurz');
    await page.getByLabel('URL').fill(kurz.baseUrl);
    await page.getByLabel('API key').fill(kurz.apiKey);
    await shot('1-add-server');
    await page.getByRole('button', { name: 'Create server' }).click();
    // The host page reads the version from /rest/v3/health, as the web client does.
    await page.getByTestId('server-version').waitFor({ timeout: 15_000 }).catch(() => {});
    const unreachable = await page.getByTestId('server-unreachable').count();
    assert.equal(unreachable, 0, `the UI could not connect to kurz: ${await page.textContent('body')}\n${diagnostics()}`);
    assert.match(await page.getByTestId('server-version').textContent(), /Shlink API v\d+\.\d+\.\d+/);
    // The overview: the component's landing page, with the server's counts.
    await page.getByText('Overview').first().waitFor();
    await page.getByText(seeded[0].shortUrl).first().waitFor({ timeout: 15_000 }).catch(() => {});
    await shot('2-overview');
    assert.ok(
      await page.getByText(seeded[0].shortUrl).count() > 0,
      `the overview lists the recent short URLs\n${diagnostics()}`,
    );
  });

  await t.test('list short URLs', async () => {
    await page.getByRole('link', { name: 'List short URLs' }).first().click();
    await page.waitForURL(/\/list-short-urls\/1/);
    await shows(page.getByPlaceholder('Search...'), 'the short URLs list page');
    for (const s of seeded) {
      await shows(page.getByRole('row').filter({ hasText: s.shortUrl }), `${s.shortUrl} listed`);
      const row = page.getByRole('row').filter({ hasText: s.shortUrl });
      assert.ok(await row.getByText(s.title, { exact: true }).count() > 0, `title "${s.title}" in the row of ${s.shortUrl}`);
      for (const tag of s.tags) assert.ok(await row.getByText(tag, { exact: true }).count() > 0, `tag ${tag} in the row of ${s.shortUrl}`);
    }
    await shot('3-list-short-urls');
  });

  let created;
  await t.test('create a short URL', async () => {
    await page.getByRole('link', { name: 'Create short URL' }).first().click();
    await page.waitForURL(/\/create-short-url/);
    const longUrl = `https://example.com/${rid}/made-in-the-ui`;
    await page.getByPlaceholder('URL to be shortened').fill(longUrl);
    await page.getByPlaceholder('Title').fill('Made in the UI').catch(() => {});
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Great!').waitFor({ timeout: 15_000 }).catch(() => {});
    await shot('4-create-short-url');
    assert.ok(await page.getByText('Great!').count() > 0, `creation succeeded in the UI: ${(await page.textContent('body')).slice(0, 500)}\n${diagnostics()}`);
    const list = await sdk.listShortUrls({ searchTerm: 'made-in-the-ui' });
    assert.equal(list.data.length, 1, 'kurz holds the short URL the UI created');
    created = list.data[0];
    assert.equal(created.longUrl, longUrl);
    assert.ok(await page.getByText(created.shortUrl).count() > 0, `the UI shows ${created.shortUrl}`);
  });

  await t.test('open its visits', async () => {
    assert.ok(created, 'a short URL was created');
    assert.equal((await visit(created.shortUrl)).status, 302);
    assert.equal((await visit(created.shortUrl, { userAgent: BOT_UAS[1] })).status, 302);
    await eventually(async () => (await sdk.getShortUrl({ shortCode: created.shortCode })).visitsSummary.total >= 2, {
      what: 'the two visits recorded',
    });
    // From the list, as a person would: the row's visits count links to its visits.
    await page.getByRole('link', { name: 'List short URLs' }).first().click();
    const row = page.getByRole('row').filter({ hasText: created.shortUrl });
    await row.waitFor({ timeout: 15_000 });
    await row.getByRole('link', { name: /^\s*2\s*$/ }).first().click({ timeout: 15_000 }).catch(async () => {
      await page.goto(`${page.url().replace(/\/list-short-urls.*$/, '')}/short-code/${created.shortCode}/visits`);
    });
    await page.waitForURL(new RegExp(`/short-code/${created.shortCode}/visits`));
    await page.getByText('Visits for').first().waitFor({ timeout: 15_000 });
    await shot('5-short-url-visits-by-time');
    // The visits list tab: one row per visit, the bot's agent among them.
    await page.locator('a[href$="/visits/list"]').first().click();
    await page.waitForURL(/\/visits\/list/);
    await shows(page.getByText('Visits list'), 'the visits list');
    const visitRows = page.getByRole('row').filter({ hasText: /\d{4}-\d{2}-\d{2} \d{2}:\d{2}/ });
    await shows(visitRows, 'a visit row');
    await shot('6-short-url-visits-list');
    const body = await page.textContent('body');
    assert.ok(body.includes(created.shortUrl), `the visits page names ${created.shortUrl}`);
    assert.ok(!/Error loading visits/i.test(body), `visits loaded: ${body.slice(0, 500)}\n${diagnostics()}`);
    assert.equal(await visitRows.count(), 2, `two visits listed: ${body.slice(0, 800)}`);
    // The person's Firefox is recognised; the bot's row carries the robot icon.
    assert.equal(await visitRows.filter({ hasText: 'Firefox' }).count(), 1, `the person's visit: ${body.slice(0, 800)}`);
    assert.equal(await visitRows.locator('svg[data-icon="robot"]').count(), 1, 'one visit marked as a bot');
  });

  await t.test('edit its title', async () => {
    assert.ok(created, 'a short URL was created');
    await page.goto(`${page.url().replace(/\/short-code\/.*$/, '')}/short-code/${created.shortCode}/edit`);
    const title = page.getByPlaceholder('Title');
    await shows(title, 'the edit form');
    await title.fill('Edited in the UI');
    await page.getByRole('button', { name: 'Save' }).click();
    await shows(page.getByText('Short URL properly edited.'), 'the edit saved');
    await shot('7-edit-short-url');
    const after = await sdk.getShortUrl({ shortCode: created.shortCode });
    assert.equal(after.title, 'Edited in the UI');
    assert.equal(after.longUrl, created.longUrl, 'the rest is kept');
  });

  await t.test('manage tags and domains', async () => {
    await page.getByRole('link', { name: 'Manage tags' }).first().click();
    const row = page.getByRole('row').filter({ hasText: `ui-${rid}` });
    await shows(row, `the tag ui-${rid}`);
    // Three short URLs carry it; their visits are the tag's.
    const cells = (await row.getByRole('cell').allTextContents()).map((c) => c.trim());
    assert.deepEqual(cells.slice(1, 3), ['3', '0'], `the tag's row counts its 3 short URLs and no visits: ${JSON.stringify(cells)}`);
    await shot('8-manage-tags');
    await page.getByRole('link', { name: 'Manage domains' }).first().click();
    const domain = page.getByRole('row').filter({ hasText: `127.0.0.1:${kurz.port}` });
    await shows(domain, 'the default domain');
    await shot('9-manage-domains');
  });

  assert.deepEqual(seen.failures, [], `no request to kurz failed in the browser (CORS shows up here)\n${diagnostics()}`);
});
