// What the tests share about Shlink's contract: its error types, the date
// format it writes, raw calls for what the SDK cannot send, and real
// visits of short URLs.
import assert from 'node:assert/strict';
import { ShlinkApiClient } from '@shlinkio/shlink-js-sdk';
import { FetchHttpClient } from '@shlinkio/shlink-js-sdk/fetch';

export { ErrorType } from '@shlinkio/shlink-js-sdk/api-contract';

export const PROBLEM = (name) => `https://shlink.io/api/error/${name}`;

/** Shlink writes dates as ATOM: `2016-08-21T20:34:16+02:00`. */
export const ATOM = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;

/** `date` as Shlink writes it, in UTC and without milliseconds. */
export function atom(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export const DAY = 24 * 3600 * 1000;

/**
 * A failed SDK call. The SDK rejects with the problem's parsed body (or a
 * SyntaxError when the body is not JSON); this keeps the body as `problem`
 * and names the call, so a failing test says what was asked and answered.
 */
export class SdkError extends Error {
  constructor(method, args, cause) {
    const answered = cause instanceof Error ? `${cause.name}: ${cause.message}` : JSON.stringify(cause);
    super(`sdk.${String(method)}(${JSON.stringify(args).slice(1, -1).slice(0, 400)}) rejected with ${answered}`);
    this.problem = cause instanceof Error ? undefined : cause;
  }
}

/** Shlink's SDK client (its fetch HTTP client), whose failures are SdkErrors. */
export function client(baseUrl, apiKey) {
  const sdk = new ShlinkApiClient(new FetchHttpClient(), { baseUrl, apiKey });
  return new Proxy(sdk, {
    get(target, prop) {
      const member = target[prop];
      if (typeof member !== 'function') return member;
      return (...args) => member.apply(target, args).catch((cause) => {
        throw new SdkError(prop, args, cause);
      });
    },
  });
}

/** A browser's agent: a person. */
export const HUMAN_UA =
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
export const BOT_UAS = [
  'curl/8.5.0',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
];

/** A raw call of the REST API, for what the SDK does not send. */
export async function api(baseUrl, apiKey, method, route, { body, query, headers = {}, version = 3 } = {}) {
  const qs = query ? `?${new URLSearchParams(query)}` : '';
  const url = `${baseUrl}/rest/v${version}${route}${qs}`;
  const h = { ...headers };
  if (apiKey !== undefined) h['X-Api-Key'] = apiKey;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, method, url };
}

/** One visit of a short URL as a client with this User-Agent would make. */
export async function visit(shortUrl, { userAgent = HUMAN_UA, referer, query = '' } = {}) {
  const headers = { 'User-Agent': userAgent, Accept: 'text/html' };
  if (referer) headers.Referer = referer;
  const res = await fetch(shortUrl + query, {
    redirect: 'manual',
    headers,
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return { status: res.status, location: res.headers.get('location') };
}

/** Awaits a rejection of the SDK and checks it is Shlink's problem `type`. */
export async function rejectsWithProblem(promise, type, status) {
  let error;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  assert.ok(error !== undefined, `expected a ${type} problem, the call succeeded`);
  const where = error instanceof Error ? error.message : JSON.stringify(error);
  error = error instanceof SdkError ? error.problem : error;
  assert.ok(error && !(error instanceof Error), `expected a problem+json body: ${where}`);
  assert.equal(error.type, type, `problem type (whole body: ${JSON.stringify(error)})`);
  if (status !== undefined) assert.equal(error.status, status, `problem status (body: ${JSON.stringify(error)})`);
  assert.equal(typeof error.title, 'string', 'problem title');
  assert.equal(typeof error.detail, 'string', 'problem detail');
  return error;
}

/** Checks a raw answer is `application/problem+json` of this type and status. */
export function assertProblem(res, type, status) {
  const where = `${res.method} ${res.url}`;
  assert.equal(res.status, status, `${where}: HTTP status; body ${res.text}`);
  assert.match(
    res.headers.get('content-type') ?? '',
    /^application\/problem\+json/,
    `${where}: content-type; body ${res.text}`,
  );
  assert.ok(res.json, `${where}: a JSON body; got ${res.text}`);
  assert.equal(res.json.type, type, `${where}: problem type; body ${res.text}`);
  assert.equal(res.json.status, status, `${where}: problem status; body ${res.text}`);
  assert.equal(typeof res.json.title, 'string', `${where}: problem title; body ${res.text}`);
  assert.equal(typeof res.json.detail, 'string', `${where}: problem detail; body ${res.text}`);
  return res.json;
}

/** Every field of Shlink's ShortUrl schema (docs/swagger/definitions/ShortUrl.json). */
export function assertShortUrlShape(s, baseUrl) {
  const ctx = JSON.stringify(s);
  for (const key of ['shortCode', 'shortUrl', 'longUrl', 'dateCreated', 'visitsSummary', 'tags', 'meta', 'domain', 'title', 'crawlable', 'forwardQuery']) {
    assert.ok(key in s, `short URL lacks "${key}": ${ctx}`);
  }
  assert.equal(typeof s.shortCode, 'string');
  assert.equal(s.shortUrl, `${baseUrl}/${s.shortCode}`, `shortUrl is the base URL and the code: ${ctx}`);
  assert.match(s.dateCreated, ATOM, `dateCreated in ATOM format: ${ctx}`);
  assert.equal(s.domain, null, `domain is null on the default domain: ${ctx}`);
  assert.ok(Array.isArray(s.tags), `tags is an array: ${ctx}`);
  assert.deepEqual(Object.keys(s.visitsSummary).sort(), ['bots', 'nonBots', 'total'], `visitsSummary keys: ${ctx}`);
  assert.deepEqual(Object.keys(s.meta).sort(), ['maxVisits', 'validSince', 'validUntil'], `meta keys: ${ctx}`);
  assert.equal(typeof s.crawlable, 'boolean', `crawlable: ${ctx}`);
  assert.equal(typeof s.forwardQuery, 'boolean', `forwardQuery: ${ctx}`);
  if ('hasRedirectRules' in s) assert.equal(typeof s.hasRedirectRules, 'boolean', `hasRedirectRules: ${ctx}`);
}
