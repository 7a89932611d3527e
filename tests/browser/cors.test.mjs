// Real-browser CORS test of authgate: Debian chromium, headless, driven by playwright-core.
// Every request is a fetch() made by a page inside the browser; the assertions are about what
// the browser allowed or blocked (fetch resolved or rejected, header readable or null, body
// readable), with the browser's own CORS verdict (DevTools Network.loadingFailed
// corsErrorStatus) as evidence that a rejection was CORS and not a network failure.
//
// Started by run.sh, which passes in the environment:
//   GATEWAY        http://127.0.0.1:<port> of authgate
//   PAGE_ALLOWED   origin of the test page listed in policy "web" (routes /api/...)
//   PAGE_OTHER     origin of the test page listed only in policy "partner" (route /partner/)
//   TOKEN          a valid HS256 token for provider "browser"
//   CHROMIUM       browser executable (default /usr/bin/chromium)
//   USER_DATA_DIR  fresh profile directory
//   EXPECT_PROTOCOL  when set (h2): the gateway is a TLS listener with server.http2 on (a
//                  self-signed certificate the browser is told to ignore); every check above
//                  runs over it, and the last one asserts the browser spoke that protocol.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) { console.error(`cors.test: ${name} is not set (run tests/browser/run.sh)`); process.exit(2); }
  return v;
};
const GATEWAY = env('GATEWAY');
const PAGE_ALLOWED = env('PAGE_ALLOWED');
const PAGE_OTHER = env('PAGE_OTHER');
const TOKEN = env('TOKEN');
const USER_DATA_DIR = env('USER_DATA_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FETCH_TIMEOUT_MS = 8000;
const EXPECT_PROTOCOL = process.env.EXPECT_PROTOCOL || '';

let passed = 0;
let failed = 0;
const hardStop = setTimeout(() => {
  console.error('cors.test: overall deadline (90s) exceeded');
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, 90_000);
hardStop.unref();

// ---- browser + DevTools network log -------------------------------------------------------
const t0 = Date.now();
let context;
try {
  context = await chromium.launchPersistentContext(USER_DATA_DIR, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    timeout: 30_000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // A throw-away profile and a test certificate made by run.sh for this run.
      ...(EXPECT_PROTOCOL ? ['--ignore-certificate-errors'] : []),
    ],
  });
} catch (e) {
  console.log(`FAIL  starting ${CHROMIUM}: ${e.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
context.setDefaultTimeout(15_000);
console.log(`# chromium started in ${Date.now() - t0} ms`);

// One page per origin; each records the requests the browser sent (preflights included) and
// the ones it failed, with the CORS reason Chromium reports.
async function openPage(origin) {
  const page = await context.newPage();
  const log = { sent: new Map(), failures: new Map(), protocols: new Map() };
  const cdp = await context.newCDPSession(page);
  cdp.on('Network.requestWillBeSent', (e) => {
    log.sent.set(e.requestId, { url: e.request.url, method: e.request.method, type: e.type });
  });
  cdp.on('Network.responseReceived', (e) => log.protocols.set(e.response.url, e.response.protocol));
  cdp.on('Network.loadingFailed', (e) => log.failures.set(e.requestId, e));
  await cdp.send('Network.enable');
  await page.goto(`${origin}/`, { waitUntil: 'load' });
  assert.equal(await page.evaluate(() => location.origin), origin);
  return { page, log, origin };
}

// fetch() inside the page. Never throws: returns what the page could observe.
let seq = 0;
function uniq(path) {  // a distinct URL per call keeps preflight and HTTP caches out of the way
  return `${GATEWAY}${path}${path.includes('?') ? '&' : '?'}n=${++seq}`;
}
async function browserFetch(p, url, init = {}, readHeaders = []) {
  return p.page.evaluate(async ({ url, init, readHeaders, ms }) => {
    try {
      const res = await fetch(url, { cache: 'no-store', ...init, signal: AbortSignal.timeout(ms) });
      const headers = {};
      for (const h of readHeaders) headers[h] = res.headers.get(h);
      const text = await res.text();
      let json = null;
      try { json = JSON.parse(text); } catch { /* not JSON */ }
      return { resolved: true, status: res.status, type: res.type, headers, text, json };
    } catch (e) {
      return { resolved: false, name: e.name, message: String(e.message) };
    }
  }, { url, init, readHeaders, ms: FETCH_TIMEOUT_MS });
}

function requestsFor(p, url) {
  return [...p.log.sent.entries()].filter(([, r]) => r.url === url);
}
function corsErrorsFor(p, url) {
  return requestsFor(p, url)
    .map(([id]) => p.log.failures.get(id))
    .filter((f) => f && f.corsErrorStatus)
    .map((f) => f.corsErrorStatus.corsError);
}
function preflightsFor(p, url) {
  return requestsFor(p, url).filter(([, r]) => r.method === 'OPTIONS' || r.type === 'Preflight');
}

async function waitFor(cond, ms = 2000) {  // DevTools events can trail the fetch() promise
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

function expectResolved(r, status) {
  assert.equal(r.resolved, true, `fetch rejected: ${r.name}: ${r.message}`);
  assert.equal(r.status, status, `status ${r.status}, body ${r.text}`);
  assert.equal(r.type, 'cors');
}
async function expectCorsBlocked(p, url, r) {
  assert.equal(r.resolved, false, `fetch resolved (status ${r.status}) but the browser should have blocked it`);
  assert.equal(r.name, 'TypeError', `fetch rejected with ${r.name}: ${r.message} (not a CORS TypeError)`);
  const ok = await waitFor(() => corsErrorsFor(p, url).length > 0);
  assert.ok(ok, `no CORS error recorded by the browser for ${url}; requests: ` +
    JSON.stringify(requestsFor(p, url).map(([id, q]) => ({ ...q, failure: p.log.failures.get(id)?.errorText }))));
  return corsErrorsFor(p, url);
}

async function test(name, fn) {
  const t0 = Date.now();
  try {
    const note = await fn();
    passed++;
    console.log(`ok    ${name}${note ? ` — ${note}` : ''} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    const lines = String((e && e.message) || e).split('\n').map((l) => l.trimEnd()).filter(Boolean);
    console.log(`FAIL  ${name}\n      ${lines.join('\n      ')}`);
  }
}

// ---- the tests -----------------------------------------------------------------------------
const bearer = { Authorization: `Bearer ${TOKEN}` };
let allowed;
let other;
try {
  allowed = await openPage(PAGE_ALLOWED);
  other = await openPage(PAGE_OTHER);
} catch (e) {
  console.log(`FAIL  opening the test pages: ${e.message}`);
  await context.close().catch(() => {});
  console.log(`0 passed, 1 failed`);
  process.exit(1);
}

console.log(`# page origin ${PAGE_ALLOWED} (allowed by policy "web" on /api/...)`);

await test('allowed origin: simple GET succeeds and the body is readable', async () => {
  const url = uniq('/api/public/echo');
  const r = await browserFetch(allowed, url);
  expectResolved(r, 200);
  assert.equal(r.json?.method, 'GET');
  assert.equal(r.json?.path, '/api/public/echo');
  assert.equal(r.json?.headers?.Origin ?? r.json?.headers?.origin, PAGE_ALLOWED);
  assert.equal(preflightsFor(allowed, url).length, 0, 'a simple GET needs no preflight');
});

await test('allowed origin: GET with Authorization Bearer and credentials:"include" succeeds after a preflight', async () => {
  const url = uniq('/api/private/me');
  const r = await browserFetch(allowed, url, { credentials: 'include', headers: bearer });
  expectResolved(r, 200);
  assert.equal(r.json?.path, '/me', 'strip_prefix /api/private');
  const h = Object.fromEntries(Object.entries(r.json?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  assert.equal(h['x-user-id'], 'browser-user', 'sub forwarded as X-User-Id');
  assert.ok(await waitFor(() => preflightsFor(allowed, url).length > 0), 'the browser sent no preflight');
  return `preflights seen: ${preflightsFor(allowed, url).length}`;
});

await test('allowed origin: JSON POST (content-type application/json) succeeds', async () => {
  const url = uniq('/api/public/items');
  const payload = JSON.stringify({ name: 'widget', qty: 3 });
  const r = await browserFetch(allowed, url, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: payload,
  });
  expectResolved(r, 200);
  assert.equal(r.json?.method, 'POST');
  assert.equal(r.json?.body, payload);
  assert.ok(await waitFor(() => preflightsFor(allowed, url).length > 0), 'the browser sent no preflight');
});

await test('allowed origin: allowed custom request header (x-allowed) succeeds', async () => {
  const url = uniq('/api/public/echo');
  const r = await browserFetch(allowed, url, { headers: { 'X-Allowed': 'yes' } });
  expectResolved(r, 200);
  const h = Object.fromEntries(Object.entries(r.json?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  assert.equal(h['x-allowed'], 'yes');
});

await test('allowed origin: custom request header not in allow_headers (x-forbidden) is blocked', async () => {
  const url = uniq('/api/public/echo');
  const r = await browserFetch(allowed, url, { headers: { 'X-Forbidden': 'yes' } });
  const why = await expectCorsBlocked(allowed, url, r);
  assert.equal(requestsFor(allowed, url).filter(([, q]) => q.method === 'GET' && q.type !== 'Preflight')
    .filter(([id]) => !allowed.log.failures.has(id)).length, 0, 'the actual GET must not have completed');
  return why.join(', ');
});

await test('allowed origin: method not in allow_methods (PATCH) is blocked', async () => {
  const url = uniq('/api/public/echo');
  const r = await browserFetch(allowed, url, { method: 'PATCH', body: 'x' });
  return (await expectCorsBlocked(allowed, url, r)).join(', ');
});

await test('allowed origin: exposed X-Request-Id is readable, non-exposed Vary is null', async () => {
  const url = uniq('/api/public/echo');
  const r = await browserFetch(allowed, url, {}, ['X-Request-Id', 'Vary', 'Content-Type']);
  expectResolved(r, 200);
  assert.ok(r.headers['X-Request-Id'], 'X-Request-Id not readable');
  const h = Object.fromEntries(Object.entries(r.json?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  assert.equal(r.headers['X-Request-Id'], h['x-request-id'], 'the id the page reads is the one sent upstream');
  assert.equal(r.headers.Vary, null, 'Vary is not exposed, the page must not see it');
  assert.match(r.headers['Content-Type'] ?? '', /application\/json/, 'CORS-safelisted Content-Type readable');
  // Outside the browser (no CORS filtering): Vary really is on the response, so the null
  // above is the browser hiding a non-exposed header, not a header that was never sent.
  const raw = await fetch(uniq('/api/public/echo'), { headers: { Origin: PAGE_ALLOWED } });
  assert.ok(raw.headers.get('vary'), 'precondition: the gateway sends Vary');
  return `X-Request-Id=${r.headers['X-Request-Id']}`;
});

await test('allowed origin: JSON body of a 401 (no token) is readable: missing_token', async () => {
  const url = uniq('/api/private/me');
  const r = await browserFetch(allowed, url, { credentials: 'include' }, ['X-Request-Id']);
  expectResolved(r, 401);
  assert.equal(r.json?.error, 'missing_token', r.text);
  assert.ok(r.headers['X-Request-Id'], 'exposed X-Request-Id not readable on a gateway 401');
  assert.equal(r.json?.error_description, 'token missing');
});

await test('allowed origin: JSON body of a 401 (bad token) is readable: invalid_token', async () => {
  const url = uniq('/api/private/me');
  const bad = TOKEN.slice(0, -4) + (TOKEN.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  const r = await browserFetch(allowed, url, { credentials: 'include', headers: { Authorization: `Bearer ${bad}` } });
  expectResolved(r, 401);
  assert.equal(r.json?.error, 'invalid_token', r.text);
  return r.json?.error_description;
});

await test('allowed origin: JSON body of a 403 (claim rule fails) is readable: insufficient_scope', async () => {
  const url = uniq('/api/admin/panel');
  const r = await browserFetch(allowed, url, { credentials: 'include', headers: bearer }, ['X-Request-Id']);
  expectResolved(r, 403);
  assert.ok(r.headers['X-Request-Id'], 'exposed X-Request-Id not readable on a gateway 403');
  assert.equal(r.json?.error, 'insufficient_scope', r.text);
});

await test('allowed origin: JSON body of a 502 (upstream refused) is readable', async () => {
  const url = uniq('/api/down/x');
  const r = await browserFetch(allowed, url, {}, ['X-Request-Id']);
  expectResolved(r, 502);
  assert.ok(typeof r.json?.error === 'string' && r.json.error.length > 0, `no JSON error code: ${r.text}`);
  assert.ok(r.headers['X-Request-Id'], 'exposed X-Request-Id not readable on a gateway 502');
});

await test('allowed origin: a second identical preflighted request uses the cached preflight (max_age)', async () => {
  const url = uniq('/api/public/echo');
  // cache 'default': with 'no-store' Chromium also bypasses its preflight cache.
  const init = { headers: { 'X-Allowed': 'again' }, cache: 'default' };
  expectResolved(await browserFetch(allowed, url, init), 200);
  assert.ok(await waitFor(() => preflightsFor(allowed, url).length === 1), 'first request: no preflight seen');
  expectResolved(await browserFetch(allowed, url, init), 200);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(preflightsFor(allowed, url).length, 1, 'the browser preflighted again: Access-Control-Max-Age not honoured');
});

await test('allowed origin: upstream\'s own "Access-Control-Allow-Origin: *" is replaced (credentialed fetch works)', async () => {
  const url = uniq('/api/public/echo?cors=1');
  const r = await browserFetch(allowed, url, { credentials: 'include' });
  expectResolved(r, 200);
});

await test('allowed origin: route with another policy ("partner", origin not listed) is blocked', async () => {
  const url = uniq('/partner/echo');
  const r = await browserFetch(allowed, url);
  return (await expectCorsBlocked(allowed, url, r)).join(', ');
});

await test('allowed origin: "partner" route stays blocked when the upstream itself answers "*"', async () => {
  const url = uniq('/partner/echo?cors=1');
  const r = await browserFetch(allowed, url);
  return (await expectCorsBlocked(allowed, url, r)).join(', ');
});

console.log(`# page origin ${PAGE_OTHER} (not allowed by policy "web"; allowed by "partner" on /partner/)`);

await test('other origin (control): same-origin fetch works in this page', async () => {
  const r = await browserFetch(other, `${PAGE_OTHER}/same-origin.json`);
  assert.equal(r.resolved, true, `${r.name}: ${r.message}`);
  assert.equal(r.json?.same_origin, true);
});

await test('other origin (control): its own policy\'s route succeeds; X-Request-Id not exposed there', async () => {
  const url = uniq('/partner/echo');
  const r = await browserFetch(other, url, {}, ['X-Request-Id']);
  expectResolved(r, 200);
  assert.equal(r.headers['X-Request-Id'], null, 'policy "partner" exposes no headers');
  const raw = await fetch(uniq('/partner/echo'), { headers: { Origin: PAGE_OTHER } });
  assert.ok(raw.headers.get('x-request-id'), 'precondition: the gateway sends X-Request-Id');
});

await test('other origin: credentialed fetch on "partner" (allow_credentials false) is blocked', async () => {
  const url = uniq('/partner/echo');
  const r = await browserFetch(other, url, { credentials: 'include' });
  return (await expectCorsBlocked(other, url, r)).join(', ');
});

await test('disallowed origin: simple GET is blocked', async () => {
  const url = uniq('/api/public/echo');
  const r = await browserFetch(other, url, {}, ['X-Request-Id']);
  return (await expectCorsBlocked(other, url, r)).join(', ');
});

await test('disallowed origin: GET with Authorization Bearer and credentials is blocked', async () => {
  const url = uniq('/api/private/me');
  const r = await browserFetch(other, url, { credentials: 'include', headers: bearer });
  return (await expectCorsBlocked(other, url, r)).join(', ');
});

await test('disallowed origin: JSON POST is blocked', async () => {
  const url = uniq('/api/public/items');
  const r = await browserFetch(other, url, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"widget"}',
  });
  return (await expectCorsBlocked(other, url, r)).join(', ');
});

await test('disallowed origin: x-allowed header is blocked', async () => {
  const url = uniq('/api/public/echo');
  const r = await browserFetch(other, url, { headers: { 'X-Allowed': 'yes' } });
  return (await expectCorsBlocked(other, url, r)).join(', ');
});

await test('disallowed origin: 401 body (no token) is not readable', async () => {
  const url = uniq('/api/private/me');
  const r = await browserFetch(other, url, { credentials: 'include' });
  return (await expectCorsBlocked(other, url, r)).join(', ');
});

await test('disallowed origin: blocked even when the upstream itself answers "*"', async () => {
  const url = uniq('/api/public/echo?cors=1');
  const r = await browserFetch(other, url);
  return (await expectCorsBlocked(other, url, r)).join(', ');
});

if (EXPECT_PROTOCOL) {
  await test(`the browser spoke ${EXPECT_PROTOCOL} to the gateway`, async () => {
    // ?tao=1: the backend's Timing-Allow-Origin lets the cross-origin page read the entry.
    const url = uniq('/api/public/echo?tao=1');
    const r = await browserFetch(allowed, url, {}, ['X-Request-Id']);
    expectResolved(r, 200);
    const hop = await allowed.page.evaluate((u) => performance.getEntriesByName(u)[0]?.nextHopProtocol ?? null, url);
    assert.equal(hop, EXPECT_PROTOCOL, 'the page\'s performance entry nextHopProtocol');
    assert.ok(await waitFor(() => allowed.log.protocols.has(url)), 'no response recorded by DevTools');
    assert.equal(allowed.log.protocols.get(url), EXPECT_PROTOCOL, 'DevTools Network.responseReceived protocol');
    const seen = [...allowed.log.protocols.entries()].filter(([u]) => u.startsWith(GATEWAY));
    assert.ok(seen.every(([, proto]) => proto === EXPECT_PROTOCOL),
      `every gateway response over ${EXPECT_PROTOCOL}: ${JSON.stringify(seen.filter(([, p]) => p !== EXPECT_PROTOCOL))}`);
    return `${seen.length} responses, nextHopProtocol "${hop}"`;
  });
}

await context.close().catch(() => {});
console.log(`# browser test took ${Date.now() - t0} ms`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
