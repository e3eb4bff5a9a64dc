// kurz's Shlink REST API driven by Shlink's own JS SDK
// (@shlinkio/shlink-js-sdk). Expectations come from Shlink's OpenAPI files
// (docs/swagger) and its API tests (module/Rest/test-api), not from kurz;
// where kurz differs on purpose, the test says so.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { eventually, sleep, startKurz } from '../lib/kurz.js';
import {
  ATOM, BOT_UAS, DAY, HUMAN_UA, PROBLEM, api, assertProblem, assertShortUrlShape, atom, client,
  rejectsWithProblem, visit,
} from '../lib/shlink.js';

let kurz;
let sdk;
// Tags, slugs and search terms carry this, so tests never see each other's links.
const rid = randomBytes(4).toString('hex');
const url = (p) => `https://example.com/${rid}/${p}`;

before(async () => {
  kurz = await startKurz();
  sdk = client(kurz.baseUrl, kurz.apiKey);
});
after(async () => {
  await kurz?.stop();
});

/** Waits until a short URL has `total` visits in its summary. */
async function visitsReach(shortCode, total) {
  return eventually(
    async () => {
      const s = await sdk.getShortUrl({ shortCode });
      return s.visitsSummary.total >= total ? s : false;
    },
    { what: `${shortCode} showing ${total} visits` },
  );
}

describe('health, domains, mercure', () => {
  test('health answers pass with a version of at least 4.0.0, on v3, v2 and /rest/health', async () => {
    const h = await sdk.health();
    assert.equal(h.status, 'pass');
    const [major] = h.version.split('.').map(Number);
    assert.match(h.version, /^\d+\.\d+\.\d+/, `version ${h.version}`);
    assert.ok(major >= 4, `version ${h.version} is at least 4.0.0 (the web client turns features on by it)`);
    for (const route of ['/rest/health', '/rest/v2/health', '/rest/v3/health']) {
      // Health needs no key (Shlink's health.json declares no security).
      const r = await fetch(kurz.baseUrl + route);
      assert.equal(r.status, 200, `GET ${route}`);
      const body = await r.json();
      assert.equal(body.status, 'pass', `GET ${route}: ${JSON.stringify(body)}`);
      assert.equal(body.version, h.version, `GET ${route}`);
    }
  });

  test('domains list the default domain from the base URL, with null redirects', async () => {
    const d = await sdk.listDomains();
    const nullRedirects = { baseUrlRedirect: null, regular404Redirect: null, invalidShortUrlRedirect: null };
    assert.deepEqual(d.data, [{ domain: `127.0.0.1:${kurz.port}`, isDefault: true, redirects: nullRedirects }]);
    assert.deepEqual(d.defaultRedirects, nullRedirects);
  });

  test('mercure-info answers mercure-not-configured (501)', async () => {
    await rejectsWithProblem(sdk.mercureInfo(), PROBLEM('mercure-not-configured'), 501);
  });

  test('an operation kurz does not serve answers Shlink\'s not-found problem, not a crash', async () => {
    const r = await api(kurz.baseUrl, kurz.apiKey, 'GET', '/no-such-route');
    assertProblem(r, PROBLEM('not-found'), 404);
  });
});

describe('create', () => {
  test('with only a long URL: Shlink\'s shape and defaults', async () => {
    const s = await sdk.createShortUrl({ longUrl: url('plain') });
    assertShortUrlShape(s, kurz.baseUrl);
    assert.equal(s.longUrl, url('plain'));
    assert.deepEqual(s.tags, []);
    assert.deepEqual(s.meta, { validSince: null, validUntil: null, maxVisits: null });
    assert.deepEqual(s.visitsSummary, { total: 0, nonBots: 0, bots: 0 });
    assert.equal(s.title, null);
    assert.equal(s.crawlable, false, 'crawlable defaults to false');
    assert.equal(s.forwardQuery, true, 'forwardQuery defaults to true');
    // Shlink's default short code length is 5 (DEFAULT_SHORT_CODES_LENGTH);
    // kurz keeps its own default (links.slug_length), so only its alphabet is checked.
    assert.match(s.shortCode, /^[A-Za-z0-9_-]{4,}$/);
    const created = Date.parse(s.dateCreated);
    assert.ok(Math.abs(created - Date.now()) < 60_000, `dateCreated ${s.dateCreated} is now`);
  });

  test('with every option', async () => {
    const validSince = atom(new Date(Date.now() - DAY));
    const validUntil = atom(new Date(Date.now() + 30 * DAY));
    const slug = `all-${rid}`;
    const s = await sdk.createShortUrl({
      longUrl: url('all'),
      customSlug: slug,
      tags: [`all-${rid}`, `second-${rid}`],
      title: 'Every option',
      validSince,
      validUntil,
      maxVisits: 42,
      crawlable: true,
      forwardQuery: true,
      findIfExists: false,
    });
    assertShortUrlShape(s, kurz.baseUrl);
    assert.equal(s.shortCode, slug);
    assert.equal(s.longUrl, url('all'));
    assert.deepEqual([...s.tags].sort(), [`all-${rid}`, `second-${rid}`]);
    assert.equal(s.title, 'Every option');
    // kurz difference: links are valid from their creation, so a validSince
    // in the past changes nothing and is not kept (Shlink echoes it).
    assert.ok([validSince, null].includes(s.meta.validSince), `meta.validSince ${s.meta.validSince}`);
    assert.equal(s.meta.validUntil, validUntil);
    assert.equal(s.meta.maxVisits, 42);
    assert.equal(s.crawlable, true);
    assert.equal(s.forwardQuery, true);
    // What was stored is what GET answers.
    const again = await sdk.getShortUrl({ shortCode: slug });
    assert.deepEqual(again, s);
  });

  test('forwardQuery false and crawlable false are kept (raw call: the SDK drops false values)', async () => {
    const r = await api(kurz.baseUrl, kurz.apiKey, 'POST', '/short-urls', {
      body: { longUrl: url('noforward'), forwardQuery: false, crawlable: false },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.forwardQuery, false);
    assert.equal(r.json.crawlable, false);
  });

  test('shortCodeLength sets the generated code\'s length', async () => {
    for (const n of [4, 8]) {
      const s = await sdk.createShortUrl({ longUrl: url(`len${n}`), shortCodeLength: n });
      assert.equal(s.shortCode.length, n, `shortCodeLength ${n} gave ${s.shortCode}`);
    }
  });

  test('dates in Shlink\'s other input forms (ISO with Z and milliseconds) are accepted', async () => {
    const until = new Date(Date.now() + 10 * DAY);
    until.setUTCMilliseconds(0);
    const s = await sdk.createShortUrl({ longUrl: url('isoz'), validUntil: until.toISOString() });
    assert.match(s.meta.validUntil, ATOM);
    assert.equal(Date.parse(s.meta.validUntil), until.getTime());
  });

  test('tags are normalised as Shlink does: trimmed, lower-cased, inner spaces to dashes', async () => {
    // module/Rest/test-api/Action/CreateShortUrlTest.php provideTags
    const s = await sdk.createShortUrl({
      longUrl: url('tagnorm'),
      tags: [`Fo o${rid}`, `  bar${rid}`, `UUU${rid}`],
    });
    assert.deepEqual([...s.tags].sort(), [`bar${rid}`, `fo-o${rid}`, `uuu${rid}`].sort());
  });

  test('a custom slug with spaces becomes dashes (Shlink\'s default slug mode)', async () => {
    // CreateShortUrlTest::createsNewShortUrlWithCustomSlug: 'my cool slug' => 'my-cool-slug'
    const s = await sdk.createShortUrl({ longUrl: url('spaces'), customSlug: `my cool ${rid}` });
    assert.equal(s.shortCode, `my-cool-${rid}`);
  });

  test('a taken custom slug is non-unique-slug (400) with the slug in the problem', async () => {
    const slug = `dup-${rid}`;
    await sdk.createShortUrl({ longUrl: url('dup1'), customSlug: slug });
    const err = await rejectsWithProblem(
      sdk.createShortUrl({ longUrl: url('dup2'), customSlug: slug }),
      PROBLEM('non-unique-slug'),
      400,
    );
    assert.equal(err.title, 'Invalid custom slug');
    assert.equal(err.detail, `Provided slug "${slug}" is already in use.`);
    assert.equal(err.customSlug, slug);
    assert.ok(!('domain' in err), 'no domain in the problem on the default domain');
  });

  test('out-of-range shortCodeLength and maxVisits are invalid-data naming them', async () => {
    // Shlink's ShortUrlInputFilter: shortCodeLength at least 4, maxVisits at least 1.
    for (const [body, element] of [
      [{ longUrl: url('short3'), shortCodeLength: 3 }, 'shortCodeLength'],
      [{ longUrl: url('max0'), maxVisits: 0 }, 'maxVisits'],
      [{ longUrl: url('maxneg'), maxVisits: -5 }, 'maxVisits'],
    ]) {
      const r = await api(kurz.baseUrl, kurz.apiKey, 'POST', '/short-urls', { body });
      const p = assertProblem(r, PROBLEM('invalid-data'), 400);
      assert.ok((p.invalidElements ?? []).includes(element), `invalidElements names ${element}: ${r.text}`);
    }
  });

  test('the title is trimmed', async () => {
    // CreateShortUrlTest::titleIsCroppedIfTooLong: surrounding spaces go.
    const s = await sdk.createShortUrl({ longUrl: url('trim'), title: '   Padded title   ' });
    assert.equal(s.title, 'Padded title');
  });

  test('without a long URL: invalid-data (400)', async () => {
    for (const body of [{}, { longUrl: '  ' }, { longUrl: 'foo.com' }]) {
      const r = await api(kurz.baseUrl, kurz.apiKey, 'POST', '/short-urls', { body });
      const p = assertProblem(r, PROBLEM('invalid-data'), 400);
      assert.equal(p.title, 'Invalid data', JSON.stringify(body));
    }
  });

  test('kurz difference: a loopback target is invalid-data whose detail says why', async () => {
    // Shlink accepts any URL; kurz refuses private and loopback targets (README).
    const r = await api(kurz.baseUrl, kurz.apiKey, 'POST', '/short-urls', {
      body: { longUrl: 'http://127.0.0.1/internal' },
    });
    const p = assertProblem(r, PROBLEM('invalid-data'), 400);
    assert.ok(p.detail.length > 0 && p.detail !== 'Provided data is not valid', `detail says why: ${p.detail}`);
  });

  test('findIfExists returns the existing short URL with the same options, and creates otherwise', async () => {
    const body = { longUrl: url('find'), tags: [`find-${rid}`] };
    const first = await sdk.createShortUrl(body);
    const second = await sdk.createShortUrl({ ...body, findIfExists: true });
    assert.equal(second.shortCode, first.shortCode);
    assert.equal(second.dateCreated, first.dateCreated);
    const other = await sdk.createShortUrl({ longUrl: url('find-other'), findIfExists: true });
    assert.notEqual(other.shortCode, first.shortCode);
    // Without findIfExists the same URL is shortened again.
    const third = await sdk.createShortUrl(body);
    assert.notEqual(third.shortCode, first.shortCode);
  });

  test('findIfExists with a custom slug taken by another URL is non-unique-slug', async () => {
    const slug = `findslug-${rid}`;
    await sdk.createShortUrl({ longUrl: url('findslug-a'), customSlug: slug });
    await rejectsWithProblem(
      sdk.createShortUrl({ longUrl: url('findslug-b'), customSlug: slug, findIfExists: true }),
      PROBLEM('non-unique-slug'),
      400,
    );
  });
});

describe('get, edit, delete', () => {
  test('get of an unknown code is short-url-not-found (404) naming the code', async () => {
    const code = `nope-${rid}`;
    const err = await rejectsWithProblem(sdk.getShortUrl({ shortCode: code }), PROBLEM('short-url-not-found'), 404);
    assert.equal(err.title, 'Short URL not found');
    assert.equal(err.detail, `No URL found with short code "${code}"`);
    assert.equal(err.shortCode, code);
  });

  test('edit sets every field, then clears them', async () => {
    const s = await sdk.createShortUrl({ longUrl: url('edit'), tags: [`edit-${rid}`] });
    const validSince = atom(new Date(Date.now() - 2 * DAY));
    const validUntil = atom(new Date(Date.now() + 2 * DAY));
    const edited = await sdk.updateShortUrl(
      { shortCode: s.shortCode },
      {
        longUrl: url('edited'),
        title: 'Edited title',
        tags: [`edited-${rid}`, `more-${rid}`],
        crawlable: true,
        forwardQuery: false,
        validSince,
        validUntil,
        maxVisits: 7,
      },
    );
    assertShortUrlShape(edited, kurz.baseUrl);
    assert.equal(edited.shortCode, s.shortCode);
    assert.equal(edited.longUrl, url('edited'));
    assert.equal(edited.title, 'Edited title');
    assert.deepEqual([...edited.tags].sort(), [`edited-${rid}`, `more-${rid}`]);
    assert.equal(edited.crawlable, true);
    assert.equal(edited.forwardQuery, false);
    assert.ok([validSince, null].includes(edited.meta.validSince), `meta.validSince ${edited.meta.validSince} (kurz keeps no past validSince)`);
    assert.equal(edited.meta.validUntil, validUntil);
    assert.equal(edited.meta.maxVisits, 7);
    assert.equal(edited.dateCreated, s.dateCreated, 'editing keeps dateCreated');
    assert.deepEqual(await sdk.getShortUrl({ shortCode: s.shortCode }), edited);

    // EditShortUrlTest::metadataCanBeReset: null clears.
    const cleared = await sdk.updateShortUrl(
      { shortCode: s.shortCode },
      { title: null, tags: [], validSince: null, validUntil: null, maxVisits: null, crawlable: false, forwardQuery: true },
    );
    assert.equal(cleared.title, null);
    assert.deepEqual(cleared.tags, []);
    assert.deepEqual(cleared.meta, { validSince: null, validUntil: null, maxVisits: null });
    assert.equal(cleared.crawlable, false);
    assert.equal(cleared.forwardQuery, true);
    assert.equal(cleared.longUrl, url('edited'), 'fields not sent are kept');
    assert.deepEqual(await sdk.getShortUrl({ shortCode: s.shortCode }), cleared);
  });

  test('edit of an unknown code is short-url-not-found; a wrong type is invalid-data', async () => {
    await rejectsWithProblem(
      sdk.updateShortUrl({ shortCode: `nope-${rid}` }, { title: 'x' }),
      PROBLEM('short-url-not-found'),
      404,
    );
    const s = await sdk.createShortUrl({ longUrl: url('badedit') });
    const r = await api(kurz.baseUrl, kurz.apiKey, 'PATCH', `/short-urls/${s.shortCode}`, {
      body: { maxVisits: 'not_a_number' },
    });
    assertProblem(r, PROBLEM('invalid-data'), 400);
  });

  test('delete, then the code is short-url-not-found', async () => {
    const s = await sdk.createShortUrl({ longUrl: url('delete') });
    const r = await api(kurz.baseUrl, kurz.apiKey, 'DELETE', `/short-urls/${s.shortCode}`);
    assert.equal(r.status, 204, `DELETE answers 204 No Content; got ${r.status} ${r.text}`);
    await rejectsWithProblem(sdk.getShortUrl({ shortCode: s.shortCode }), PROBLEM('short-url-not-found'), 404);
    await rejectsWithProblem(sdk.deleteShortUrl({ shortCode: s.shortCode }), PROBLEM('short-url-not-found'), 404);
    const listed = await sdk.listShortUrls({ searchTerm: s.shortCode });
    assert.equal(listed.data.length, 0, 'a deleted short URL is not listed');
  });

  test('v2 serves the same short URL', async () => {
    const s = await sdk.createShortUrl({ longUrl: url('v2'), tags: [`v2-${rid}`] });
    const r = await api(kurz.baseUrl, kurz.apiKey, 'GET', `/short-urls/${s.shortCode}`, { version: 2 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, s);
    const list = await api(kurz.baseUrl, kurz.apiKey, 'GET', '/short-urls', { version: 2, query: { 'tags[]': `v2-${rid}` } });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.shortUrls.data.map((x) => x.shortCode), [s.shortCode]);
  });
});

describe('redirects follow what the API set', () => {
  test('forwardQuery true passes the query on; false does not', async () => {
    const fwd = await sdk.createShortUrl({ longUrl: url('fq') });
    let v = await visit(fwd.shortUrl, { query: '?utm=a&b=c' });
    assert.equal(v.status, 302);
    assert.equal(new URL(v.location).searchParams.get('utm'), 'a', `Location ${v.location}`);
    const noFwd = await sdk.createShortUrl({ longUrl: url('nofq') });
    await sdk.updateShortUrl({ shortCode: noFwd.shortCode }, { forwardQuery: false });
    v = await visit(noFwd.shortUrl, { query: '?utm=a' });
    assert.equal(v.status, 302);
    assert.equal(v.location, url('nofq'));
  });

  // Shlink accepts both and answers 404 on the short URL
  // (CreateShortUrlTest::createsShortUrlWithValidSince / WithValidUntil).
  // kurz difference: it refuses them as invalid-data naming the field, with
  // a detail that says why (links start when made; an expiry is in the future).
  for (const [field, when, label] of [
    ['validSince', +DAY, 'validSince in the future: the short URL does not redirect yet, or kurz refuses it saying why'],
    ['validUntil', -DAY, 'validUntil in the past: the short URL no longer redirects, or kurz refuses it saying why'],
  ]) {
    test(label, async () => {
      const r = await api(kurz.baseUrl, kurz.apiKey, 'POST', '/short-urls', {
        body: { longUrl: url(field), [field]: atom(new Date(Date.now() + when)) },
      });
      if (r.status === 200) {
        const v = await visit(r.json.shortUrl);
        // Shlink: 404; kurz answers 410 Gone for an expired link on purpose.
        assert.ok([404, 410].includes(v.status), `GET /${r.json.shortCode} answered ${v.status}`);
      } else {
        const p = assertProblem(r, PROBLEM('invalid-data'), 400);
        assert.deepEqual(p.invalidElements, [field], r.text);
        assert.notEqual(p.detail, 'Provided data is not valid', `the detail says why: ${p.detail}`);
      }
    });
  }

  test('maxVisits: a person\'s visits use it up', async () => {
    const s = await sdk.createShortUrl({ longUrl: url('max'), maxVisits: 2 });
    assert.equal((await visit(s.shortUrl)).status, 302);
    assert.equal((await visit(s.shortUrl)).status, 302);
    const v = await visit(s.shortUrl);
    // Shlink: 404 after the last visit; kurz: 410 Gone on purpose.
    assert.ok([404, 410].includes(v.status), `third GET /${s.shortCode} answered ${v.status}`);
  });
});

describe('visits', () => {
  let s;
  const referer = `https://news.example.org/${rid}/article`;
  before(async () => {
    s = await sdk.createShortUrl({ longUrl: url('visited'), tags: [`visited-${rid}`] });
    assert.equal((await visit(s.shortUrl, { userAgent: HUMAN_UA, referer })).status, 302);
    for (const ua of BOT_UAS) await visit(s.shortUrl, { userAgent: ua });
    await visitsReach(s.shortCode, 1 + BOT_UAS.length);
  });

  test('the summary counts people and bots apart', async () => {
    const got = await sdk.getShortUrl({ shortCode: s.shortCode });
    assert.deepEqual(got.visitsSummary, { total: 3, nonBots: 1, bots: 2 });
  });

  test('the visits list: Shlink\'s visit objects, potentialBot set for bots', async () => {
    const v = await sdk.getShortUrlVisits({ shortCode: s.shortCode });
    assert.equal(v.data.length, 3);
    assert.equal(v.pagination.totalItems, 3);
    for (const visitItem of v.data) {
      for (const key of ['referer', 'date', 'userAgent', 'visitLocation', 'potentialBot']) {
        assert.ok(key in visitItem, `visit lacks ${key}: ${JSON.stringify(visitItem)}`);
      }
      assert.match(visitItem.date, ATOM);
      assert.ok(Math.abs(Date.parse(visitItem.date) - Date.now()) < 120_000, `visit date ${visitItem.date} is now`);
      assert.equal(typeof visitItem.referer, 'string');
      const loc = visitItem.visitLocation;
      assert.ok(loc === null || typeof loc === 'object', 'visitLocation is an object or null');
    }
    const human = v.data.filter((x) => !x.potentialBot);
    assert.equal(human.length, 1, JSON.stringify(v.data));
    assert.equal(human[0].userAgent, HUMAN_UA);
    // Shlink keeps the whole referer; kurz keeps only its host on purpose
    // (it stores no more of a visitor than it needs), so only the host is required.
    assert.ok(human[0].referer.includes('news.example.org'), `referer ${human[0].referer}`);
    const bots = v.data.filter((x) => x.potentialBot).map((x) => x.userAgent).sort();
    assert.deepEqual(bots, [...BOT_UAS].sort());
    // Newest first, as Shlink orders visits.
    const dates = v.data.map((x) => Date.parse(x.date));
    assert.deepEqual(dates, [...dates].sort((a, b) => b - a), 'visits newest first');
  });

  test('excludeBots leaves the person\'s visit', async () => {
    const v = await sdk.getShortUrlVisits({ shortCode: s.shortCode }, { excludeBots: true });
    assert.equal(v.data.length, 1);
    assert.equal(v.data[0].potentialBot, false);
  });

  test('visits paging and dates', async () => {
    const page = await sdk.getShortUrlVisits({ shortCode: s.shortCode }, { itemsPerPage: 2, page: 2 });
    assert.equal(page.data.length, 1);
    assert.equal(page.pagination.currentPage, 2);
    assert.equal(page.pagination.pagesCount, 2);
    assert.equal(page.pagination.totalItems, 3);
    const future = await sdk.getShortUrlVisits({ shortCode: s.shortCode }, { startDate: atom(new Date(Date.now() + DAY)) });
    assert.equal(future.data.length, 0, 'no visits after tomorrow');
    const past = await sdk.getShortUrlVisits({ shortCode: s.shortCode }, { endDate: atom(new Date(Date.now() - DAY)) });
    assert.equal(past.data.length, 0, 'no visits before yesterday');
  });

  test('visits of an unknown short URL: short-url-not-found', async () => {
    await rejectsWithProblem(sdk.getShortUrlVisits({ shortCode: `nope-${rid}` }), PROBLEM('short-url-not-found'), 404);
  });

  test('tag visits and domain visits hold the short URL\'s visits', async () => {
    const t = await sdk.getTagVisits(`visited-${rid}`);
    assert.equal(t.data.length, 3);
    const d = await sdk.getDomainVisits('DEFAULT');
    assert.ok(d.data.length >= 3, `domain visits ${d.data.length}`);
    await rejectsWithProblem(sdk.getTagVisits(`no-tag-${rid}`), PROBLEM('tag-not-found'), 404);
  });

  test('domain visits of an unknown domain: domain-not-found', async () => {
    // DomainVisitsTest::notFoundErrorIsReturnedForInvalidDomains
    const err = await rejectsWithProblem(sdk.getDomainVisits('invalid-domain.example'), PROBLEM('domain-not-found'), 404);
    assert.equal(err.title, 'Domain not found');
    assert.equal(err.detail, 'Domain with authority "invalid-domain.example" could not be found');
  });

  test('non-orphan visits hold the short URL\'s visits; an invalid orphan type is invalid-data', async () => {
    const v = await sdk.getNonOrphanVisits();
    assert.ok(v.data.length >= 3 && v.pagination.totalItems >= 3, JSON.stringify(v.pagination));
    const r = await api(kurz.baseUrl, kurz.apiKey, 'GET', '/visits/orphan', { query: { type: 'invalid' } });
    const p = assertProblem(r, PROBLEM('invalid-data'), 400);
    assert.deepEqual(p.invalidElements, ['type'], r.text);
  });

  test('the overview counts a new visit; orphan visits are an empty list', async () => {
    const before = await sdk.getVisitsOverview();
    for (const part of ['nonOrphanVisits', 'orphanVisits']) {
      assert.deepEqual(Object.keys(before[part]).sort(), ['bots', 'nonBots', 'total'], part);
      assert.equal(before[part].total, before[part].nonBots + before[part].bots, part);
    }
    assert.ok(before.nonOrphanVisits.total >= 3);
    await visit(s.shortUrl);
    await eventually(
      async () => {
        const now = await sdk.getVisitsOverview();
        return now.nonOrphanVisits.total === before.nonOrphanVisits.total + 1
          && now.nonOrphanVisits.nonBots === before.nonOrphanVisits.nonBots + 1;
      },
      { what: 'overview counting the new visit' },
    );
    const orphans = await sdk.getOrphanVisits();
    assert.deepEqual(orphans.data, []);
    assert.equal(orphans.pagination.totalItems, 0);
  });
});

describe('visits past one page', () => {
  // The web component reads visits as pages of 5000 (page 1, then 2 ..
  // pagesCount as the first page's pagination says). kurz bounds a page
  // (1000 items), so this reads a short URL with more visits than that the
  // same way and checks every visit arrives exactly once.
  test('read as the web component reads them, every visit arrives once', async () => {
    const total = 1_005;
    const s = await sdk.createShortUrl({ longUrl: url('popular') });
    for (let i = 0; i < total; i += 25) {
      const batch = Array.from({ length: Math.min(25, total - i) }, () => visit(s.shortUrl));
      for (const v of await Promise.all(batch)) assert.equal(v.status, 302);
    }
    await eventually(async () => (await sdk.getShortUrl({ shortCode: s.shortCode })).visitsSummary.total === total, {
      timeoutMs: 30_000,
      what: `${total} visits recorded`,
    });
    const first = await sdk.getShortUrlVisits({ shortCode: s.shortCode }, { page: 1, itemsPerPage: 5000 });
    assert.equal(first.pagination.totalItems, total);
    const rest = [];
    for (let page = 2; page <= first.pagination.pagesCount; page++) {
      rest.push(...(await sdk.getShortUrlVisits({ shortCode: s.shortCode }, { page, itemsPerPage: 5000 })).data);
    }
    const all = [...first.data, ...rest];
    assert.equal(all.length, total, `pages 1..${first.pagination.pagesCount} of ${JSON.stringify(first.pagination)} hold every visit`);
  });
});

describe('list', () => {
  const ids = (list) => list.data.map((x) => x.shortCode);

  test('paging: itemsPerPage, page and the pagination object', async () => {
    const tag = `page-${rid}`;
    for (let i = 0; i < 5; i++) await sdk.createShortUrl({ longUrl: url(`page${i}`), tags: [tag] });
    const all = await sdk.listShortUrls({ tags: [tag] });
    assert.equal(all.data.length, 5);
    for (const s of all.data) assertShortUrlShape(s, kurz.baseUrl);
    assert.deepEqual(all.pagination, { currentPage: 1, pagesCount: 1, itemsPerPage: 10, itemsInCurrentPage: 5, totalItems: 5 });
    const p2 = await sdk.listShortUrls({ tags: [tag], itemsPerPage: 2, page: '2' });
    assert.deepEqual(p2.pagination, { currentPage: 2, pagesCount: 3, itemsPerPage: 2, itemsInCurrentPage: 2, totalItems: 5 });
    const p3 = await sdk.listShortUrls({ tags: [tag], itemsPerPage: 2, page: '3' });
    assert.deepEqual(p3.pagination, { currentPage: 3, pagesCount: 3, itemsPerPage: 2, itemsInCurrentPage: 1, totalItems: 5 });
    const seen = new Set([...ids(await sdk.listShortUrls({ tags: [tag], itemsPerPage: 2, page: '1' })), ...ids(p2), ...ids(p3)]);
    assert.equal(seen.size, 5, 'the pages hold every short URL once');
  });

  test('searchTerm matches the long URL, the short code and the title', async () => {
    const needle = `needle${rid}`;
    const byUrl = await sdk.createShortUrl({ longUrl: url(`x-${needle}-y`) });
    const byTitle = await sdk.createShortUrl({ longUrl: url('titled'), title: `A ${needle} title` });
    const bySlug = await sdk.createShortUrl({ longUrl: url('slugged'), customSlug: `s-${needle}` });
    await sdk.createShortUrl({ longUrl: url('hay') });
    const found = await sdk.listShortUrls({ searchTerm: needle });
    assert.deepEqual(ids(found).sort(), [byUrl.shortCode, byTitle.shortCode, bySlug.shortCode].sort());
  });

  test('tags with tagsMode any (default) and all', async () => {
    const [ta, tb] = [`ta-${rid}`, `tb-${rid}`];
    const a = await sdk.createShortUrl({ longUrl: url('ta'), tags: [ta] });
    const b = await sdk.createShortUrl({ longUrl: url('tb'), tags: [tb] });
    const ab = await sdk.createShortUrl({ longUrl: url('tab'), tags: [ta, tb] });
    assert.deepEqual(ids(await sdk.listShortUrls({ tags: [ta] })).sort(), [a.shortCode, ab.shortCode].sort());
    assert.deepEqual(ids(await sdk.listShortUrls({ tags: [ta, tb] })).sort(), [a, b, ab].map((x) => x.shortCode).sort());
    assert.deepEqual(ids(await sdk.listShortUrls({ tags: [ta, tb], tagsMode: 'any' })).sort(), [a, b, ab].map((x) => x.shortCode).sort());
    assert.deepEqual(ids(await sdk.listShortUrls({ tags: [ta, tb], tagsMode: 'all' })), [ab.shortCode]);
  });

  test('startDate and endDate bound dateCreated', async () => {
    const tag = `dates-${rid}`;
    const early = await sdk.createShortUrl({ longUrl: url('early'), tags: [tag] });
    await sleep(1_100);
    const cut = atom(new Date());
    await sleep(1_100);
    const late = await sdk.createShortUrl({ longUrl: url('late'), tags: [tag] });
    assert.deepEqual(ids(await sdk.listShortUrls({ tags: [tag], startDate: cut })), [late.shortCode]);
    assert.deepEqual(ids(await sdk.listShortUrls({ tags: [tag], endDate: cut })), [early.shortCode]);
  });

  test('excludeMaxVisitsReached and excludePastValidUntil', async () => {
    const tag = `excl-${rid}`;
    const used = await sdk.createShortUrl({ longUrl: url('used'), tags: [tag], maxVisits: 1 });
    const open = await sdk.createShortUrl({ longUrl: url('open'), tags: [tag], maxVisits: 5 });
    // kurz refuses a validUntil in the past, so this one passes while the test waits.
    const soon = new Date(Math.ceil((Date.now() + 2_000) / 1000) * 1000);
    const expired = await sdk.createShortUrl({ longUrl: url('expired'), tags: [tag], validUntil: atom(soon) });
    const valid = await sdk.createShortUrl({ longUrl: url('valid'), tags: [tag], validUntil: atom(new Date(Date.now() + DAY)) });
    assert.equal((await visit(used.shortUrl)).status, 302);
    await visitsReach(used.shortCode, 1);
    await sleep(Math.max(0, soon.getTime() - Date.now() + 1_100));
    const all = [used, open, expired, valid].map((x) => x.shortCode).sort();
    assert.deepEqual(ids(await sdk.listShortUrls({ tags: [tag] })).sort(), all);
    assert.deepEqual(
      ids(await sdk.listShortUrls({ tags: [tag], excludeMaxVisitsReached: true })).sort(),
      [open, expired, valid].map((x) => x.shortCode).sort(),
    );
    assert.deepEqual(
      ids(await sdk.listShortUrls({ tags: [tag], excludePastValidUntil: true })).sort(),
      [used, open, valid].map((x) => x.shortCode).sort(),
    );
  });

  test('orderBy shortCode, longUrl, title, dateCreated, visits', async () => {
    const tag = `order-${rid}`;
    // Created in this order, a second apart (dateCreated has seconds).
    const specs = [
      { slug: `ord-b-${rid}`, path: 'ord/3', title: 'Alpha', visits: 1 },
      { slug: `ord-c-${rid}`, path: 'ord/1', title: 'Charlie', visits: 3 },
      { slug: `ord-a-${rid}`, path: 'ord/2', title: 'Bravo', visits: 0, bots: 4 },
    ];
    const made = [];
    for (const [i, sp] of specs.entries()) {
      if (i > 0) await sleep(1_100);
      made.push(await sdk.createShortUrl({ longUrl: url(sp.path), customSlug: sp.slug, title: sp.title, tags: [tag] }));
    }
    for (const [i, sp] of specs.entries()) {
      for (let n = 0; n < sp.visits; n++) assert.equal((await visit(made[i].shortUrl)).status, 302);
      for (let n = 0; n < (sp.bots ?? 0); n++) await visit(made[i].shortUrl, { userAgent: BOT_UAS[n % BOT_UAS.length] });
    }
    for (const [i, sp] of specs.entries()) await visitsReach(made[i].shortCode, sp.visits + (sp.bots ?? 0));

    const order = async (field, dir) => ids(await sdk.listShortUrls({ tags: [tag], orderBy: { field, dir } }));
    const [b, c, a] = specs.map((x) => x.slug);
    assert.deepEqual(await order('shortCode', 'ASC'), [a, b, c], 'shortCode-ASC');
    assert.deepEqual(await order('shortCode', 'DESC'), [c, b, a], 'shortCode-DESC');
    assert.deepEqual(await order('longUrl', 'ASC'), [c, a, b], 'longUrl-ASC');
    assert.deepEqual(await order('title', 'ASC'), [b, a, c], 'title-ASC');
    assert.deepEqual(await order('title', 'DESC'), [c, a, b], 'title-DESC');
    assert.deepEqual(await order('dateCreated', 'DESC'), [a, c, b], 'dateCreated-DESC');
    assert.deepEqual(await order('dateCreated', 'ASC'), [b, c, a], 'dateCreated-ASC');
    // Visits: a 4 (all bots), c 3, b 1; people only: c 3, b 1, a 0.
    assert.deepEqual(await order('visits', 'DESC'), [a, c, b], 'visits-DESC');
    assert.deepEqual(await order('visits', 'ASC'), [b, c, a], 'visits-ASC');
    assert.deepEqual(await order('nonBotVisits', 'DESC'), [c, b, a], 'nonBotVisits-DESC');
    assert.deepEqual(await order('nonBotVisits', 'ASC'), [a, b, c], 'nonBotVisits-ASC');
  });

  test('invalid orderBy and tagsMode are invalid-data naming them', async () => {
    for (const [query, element] of [[{ orderBy: 'invalid' }, 'orderBy'], [{ tagsMode: 'invalid' }, 'tagsMode']]) {
      const r = await api(kurz.baseUrl, kurz.apiKey, 'GET', '/short-urls', { query });
      const p = assertProblem(r, PROBLEM('invalid-data'), 400);
      assert.deepEqual(p.invalidElements, [element], r.text);
    }
  });
});

describe('tags', () => {
  const t1 = `tag-one-${rid}`;
  const t2 = `tag-two-${rid}`;
  let s1;
  let s2;
  before(async () => {
    s1 = await sdk.createShortUrl({ longUrl: url('tag1'), tags: [t1, t2] });
    s2 = await sdk.createShortUrl({ longUrl: url('tag2'), tags: [t1] });
    await visit(s1.shortUrl);
    await visit(s1.shortUrl, { userAgent: BOT_UAS[0] });
    await visitsReach(s1.shortCode, 2);
  });

  test('list holds the tags, sorted', async () => {
    const tags = await sdk.listTags();
    assert.ok(Array.isArray(tags.data), JSON.stringify(tags));
    assert.ok(tags.data.includes(t1) && tags.data.includes(t2), JSON.stringify(tags.data));
    assert.deepEqual(tags.data, [...tags.data].sort(), 'tags sorted by name');
  });

  test('stats count short URLs and visits per tag', async () => {
    const stats = await sdk.tagsStats();
    const one = stats.data.find((x) => x.tag === t1);
    const two = stats.data.find((x) => x.tag === t2);
    assert.deepEqual(one, { tag: t1, shortUrlsCount: 2, visitsSummary: { total: 2, nonBots: 1, bots: 1 } });
    assert.deepEqual(two, { tag: t2, shortUrlsCount: 1, visitsSummary: { total: 2, nonBots: 1, bots: 1 } });
  });

  test('rename; to a taken name is tag-conflict; an unknown tag is tag-not-found', async () => {
    const renamed = `tag-renamed-${rid}`;
    const r = await api(kurz.baseUrl, kurz.apiKey, 'PUT', '/tags', { body: { oldName: t2, newName: renamed } });
    assert.equal(r.status, 204, `PUT /tags answers 204; got ${r.status} ${r.text}`);
    const tags = (await sdk.listTags()).data;
    assert.ok(tags.includes(renamed) && !tags.includes(t2), JSON.stringify(tags));
    assert.deepEqual([...(await sdk.getShortUrl({ shortCode: s1.shortCode })).tags].sort(), [renamed, t1].sort());

    const conflict = await rejectsWithProblem(sdk.editTag({ oldName: renamed, newName: t1 }), PROBLEM('tag-conflict'), 409);
    assert.equal(conflict.title, 'Tag conflict');
    assert.equal(conflict.detail, `You cannot rename tag ${renamed} to ${t1}, because it already exists`);
    const missing = await rejectsWithProblem(
      sdk.editTag({ oldName: `ghost-${rid}`, newName: `x-${rid}` }),
      PROBLEM('tag-not-found'),
      404,
    );
    assert.equal(missing.title, 'Tag not found');
    assert.equal(missing.detail, `Tag with name "ghost-${rid}" could not be found`);
    const invalid = await api(kurz.baseUrl, kurz.apiKey, 'PUT', '/tags', { body: { oldName: t1 } });
    assertProblem(invalid, PROBLEM('invalid-data'), 400);
  });

  test('delete removes the tag from the list and from its short URLs', async () => {
    const r = await api(kurz.baseUrl, kurz.apiKey, 'DELETE', '/tags', { query: { 'tags[]': t1 } });
    assert.equal(r.status, 204, `DELETE /tags answers 204; got ${r.status} ${r.text}`);
    assert.ok(!(await sdk.listTags()).data.includes(t1));
    assert.deepEqual((await sdk.getShortUrl({ shortCode: s2.shortCode })).tags, []);
    assert.equal((await sdk.getShortUrl({ shortCode: s2.shortCode })).longUrl, url('tag2'), 'the short URL stays');
  });
});

describe('authentication', () => {
  test('an unknown key is invalid-api-key (401)', async () => {
    const bad = client(kurz.baseUrl, 'not-a-key');
    const err = await rejectsWithProblem(bad.listShortUrls(), PROBLEM('invalid-api-key'), 401);
    assert.equal(err.title, 'Invalid API key');
    assert.equal(err.detail, 'Provided API key does not exist or is invalid.');
  });

  test('no key is missing-authentication (401), as problem+json', async () => {
    for (const version of [2, 3]) {
      const r = await api(kurz.baseUrl, undefined, 'GET', '/short-urls', { version });
      const p = assertProblem(r, PROBLEM('missing-authentication'), 401);
      assert.equal(p.title, 'Invalid authorization');
      assert.equal(p.detail, 'Expected one of the following authentication headers, ["X-Api-Key"], but none were provided');
    }
  });

  test('the header name is case-insensitive', async () => {
    const r = await fetch(`${kurz.baseUrl}/rest/v3/short-urls`, { headers: [['x-API-kEy', kurz.apiKey]] });
    assert.equal(r.status, 200);
  });

  test('a read-only key reads, and is refused on writes in Shlink\'s error shape', async () => {
    const ro = client(kurz.baseUrl, kurz.readOnlyKey);
    const list = await ro.listShortUrls();
    assert.ok(Array.isArray(list.data));
    const owned = await sdk.createShortUrl({ longUrl: url('ro-target'), tags: [`ro-${rid}`] });
    const attempts = [
      ['POST /short-urls', () => api(kurz.baseUrl, kurz.readOnlyKey, 'POST', '/short-urls', { body: { longUrl: url('ro') } })],
      ['PATCH /short-urls/{code}', () => api(kurz.baseUrl, kurz.readOnlyKey, 'PATCH', `/short-urls/${owned.shortCode}`, { body: { title: 'x' } })],
      ['DELETE /short-urls/{code}', () => api(kurz.baseUrl, kurz.readOnlyKey, 'DELETE', `/short-urls/${owned.shortCode}`)],
      ['PUT /tags', () => api(kurz.baseUrl, kurz.readOnlyKey, 'PUT', '/tags', { body: { oldName: `ro-${rid}`, newName: `ro2-${rid}` } })],
      ['DELETE /tags', () => api(kurz.baseUrl, kurz.readOnlyKey, 'DELETE', '/tags', { query: { 'tags[]': `ro-${rid}` } })],
    ];
    for (const [what, call] of attempts) {
      const r = await call();
      assert.equal(r.status, 403, `${what} with a read-only key: ${r.status} ${r.text}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, `${what}: ${r.text}`);
      assert.match(r.json?.type ?? '', /^https:\/\/shlink\.io\/api\/error\//, `${what}: ${r.text}`);
      assert.equal(r.json.status, 403, `${what}: ${r.text}`);
    }
    const still = await sdk.getShortUrl({ shortCode: owned.shortCode });
    assert.equal(still.title, null, 'nothing was changed');
    assert.deepEqual(still.tags, [`ro-${rid}`]);
  });
});

describe('operations kurz does not serve', () => {
  test('answer a Shlink problem or a Shlink answer, never a crash', async () => {
    const s = await sdk.createShortUrl({ longUrl: url('unserved') });
    const calls = [
      ['GET', `/short-urls/${s.shortCode}/redirect-rules`],
      ['POST', `/short-urls/${s.shortCode}/redirect-rules`, { redirectRules: [] }],
      ['DELETE', `/short-urls/${s.shortCode}/visits`],
      ['DELETE', '/visits/orphan'],
      ['PATCH', '/domains/redirects', { domain: `127.0.0.1:${kurz.port}`, baseUrlRedirect: 'https://example.com/' }],
      ['GET', '/short-urls/' + s.shortCode + '/qr-code'],
    ];
    for (const [method, route, body] of calls) {
      const r = await api(kurz.baseUrl, kurz.apiKey, method, route, { body });
      const where = `${method} ${route}: ${r.status} ${r.text.slice(0, 300)}`;
      assert.ok(r.status < 500 || r.status === 501, where);
      if (r.status >= 400) {
        assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, where);
        assert.match(r.json?.type ?? '', /^https:\/\/shlink\.io\/api\/error\//, where);
        assert.equal(r.json.status, r.status, where);
      }
    }
  });
});

describe('CORS and robots.txt', () => {
  const origin = 'http://web-client.example';

  test('preflight from another origin allows the methods and X-Api-Key', async () => {
    const r = await fetch(`${kurz.baseUrl}/rest/v3/short-urls`, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'x-api-key,content-type',
      },
    });
    // Shlink answers 204 (module/Rest/test-api/Middleware/CorsTest.php).
    assert.equal(r.status, 204, `OPTIONS /rest/v3/short-urls status ${r.status}`);
    const allowOrigin = r.headers.get('access-control-allow-origin');
    assert.ok(allowOrigin === '*' || allowOrigin === origin, `Access-Control-Allow-Origin: ${allowOrigin}`);
    const methods = (r.headers.get('access-control-allow-methods') ?? '').toUpperCase();
    for (const m of ['GET', 'POST']) assert.ok(methods.includes(m) || methods === '*', `Allow-Methods ${methods} has ${m}`);
    const headers = (r.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    assert.ok(headers === '*' || headers.split(/\s*,\s*/).includes('x-api-key'), `Allow-Headers ${headers} has x-api-key`);
    assert.ok(r.headers.get('access-control-max-age'), 'Access-Control-Max-Age is set');
  });

  test('preflight of a short URL\'s route allows PATCH and DELETE', async () => {
    const r = await fetch(`${kurz.baseUrl}/rest/v3/short-urls/abc`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': 'x-api-key' },
    });
    assert.ok(r.status === 204 || r.status === 200, `status ${r.status}`);
    const methods = (r.headers.get('access-control-allow-methods') ?? '').toUpperCase();
    for (const m of ['PATCH', 'DELETE']) assert.ok(methods.includes(m) || methods === '*', `Allow-Methods ${methods} has ${m}`);
  });

  test('an answer to another origin carries Access-Control-Allow-Origin', async () => {
    const r = await fetch(`${kurz.baseUrl}/rest/v3/short-urls`, { headers: { Origin: origin, 'X-Api-Key': kurz.apiKey } });
    assert.equal(r.status, 200);
    const allowOrigin = r.headers.get('access-control-allow-origin');
    assert.ok(allowOrigin === '*' || allowOrigin === origin, `Access-Control-Allow-Origin: ${allowOrigin}`);
    // An error answer too, or the browser hides its problem from the client.
    const e = await fetch(`${kurz.baseUrl}/rest/v3/short-urls`, { headers: { Origin: origin, 'X-Api-Key': 'nope' } });
    assert.equal(e.status, 401);
    assert.ok(e.headers.get('access-control-allow-origin'), 'Access-Control-Allow-Origin on a 401');
  });

  test('an answer to a request without Origin carries no CORS headers', async () => {
    // CorsTest::responseDoesNotIncludeCorsHeadersWhenOriginIsNotSent
    const r = await fetch(`${kurz.baseUrl}/rest/v3/short-urls`, { headers: { 'X-Api-Key': kurz.apiKey } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
  });

  test('robots.txt allows the crawlable short URLs only', async () => {
    const crawlable = await sdk.createShortUrl({ longUrl: url('crawl'), customSlug: `crawl-${rid}`, crawlable: true });
    const hidden = await sdk.createShortUrl({ longUrl: url('hidden'), customSlug: `hidden-${rid}` });
    const r = await fetch(`${kurz.baseUrl}/robots.txt`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    const lines = (await r.text()).split('\n').map((l) => l.trim());
    assert.ok(lines.includes('User-agent: *'), lines.join('\n'));
    assert.ok(lines.includes(`Allow: /${crawlable.shortCode}$`), lines.join('\n'));
    assert.ok(!lines.some((l) => l.startsWith(`Allow: /${hidden.shortCode}`)), lines.join('\n'));
    assert.ok(lines.includes('Disallow: /'), lines.join('\n'));
  });
});
