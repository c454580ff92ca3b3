// The web console in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
// sign in, search a customer by an Arabic name variant, open the 360 page, merge and undo,
// import a CSV, switch language, reset a password through a real SMTP server, and the
// security and layout checks. Screenshots of every page in both languages are written to
// e2e/artifacts/screenshots/ (CI keeps them as artefacts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { startServer, api, waitFor } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, 'artifacts', 'screenshots');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const required = process.env.WAFA_REQUIRE_E2E === '1';
const haveChromium = existsSync(chromiumPath);
if (!haveChromium && required) {
  throw new Error(`Chromium is required (WAFA_REQUIRE_E2E=1) but ${chromiumPath} does not exist: apt-get install chromium`);
}
const skip = haveChromium ? false : `Chromium not found at ${chromiumPath}: the browser tests were SKIPPED (apt-get install chromium)`;
if (skip) console.log(skip);

const EMAIL = 'owner@demo.wafa.local';
const PASSWORD = 'e2e-password-123';

let server, browser, smtp, mails = [];

async function startSmtp() {
  const { SMTPServer } = await import('smtp-server');
  const { simpleParser } = await import('mailparser');
  const s = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, done) {
      simpleParser(stream).then((m) => { mails.push(m); done(); }, done);
    },
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  return s;
}

before(async () => {
  if (skip) return;
  mkdirSync(shots, { recursive: true });
  smtp = await startSmtp();
  const port = smtp.server.address().port;
  server = await startServer({
    args: ['--demo', '--smtp-url', `smtp://127.0.0.1:${port}`, '--mail-from', 'Wafa <wafa@example.test>'],
    env: { WAFA_ADMIN_EMAIL: EMAIL, WAFA_ADMIN_PASSWORD: PASSWORD },
  });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => (smtp ? smtp.close(r) : r()));
});

async function newPage(locale, viewport = { width: 1280, height: 900 }) {
  const ctx = await browser.newContext({ locale, viewport, extraHTTPHeaders: { 'Accept-Language': locale === 'ar' ? 'ar-SA,ar;q=0.9' : 'en-US,en;q=0.9' } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.errors = errors;
  return page;
}

async function signIn(page, password = PASSWORD) {
  await page.goto(server.base + '/login');
  await page.fill('#email', EMAIL);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/login"] button[type=submit]')]);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function dir(page) {
  return page.evaluate(() => [document.documentElement.lang, document.documentElement.dir]);
}

test('before sign-in the page follows Accept-Language', { skip }, async () => {
  const ar = await newPage('ar');
  await ar.goto(server.base + '/');
  assert.match(ar.url(), /\/login/);
  assert.deepEqual(await dir(ar), ['ar', 'rtl']);
  assert.equal(await ar.textContent('h1'), 'تسجيل الدخول');
  await shot(ar, 'login-ar');
  const en = await newPage('en');
  await en.goto(server.base + '/login');
  assert.deepEqual(await dir(en), ['en', 'ltr']);
  await shot(en, 'login-en');
  // The visitor's switch link changes the language before sign-in too.
  await en.click('[data-testid=switch-language]');
  assert.deepEqual(await dir(en), ['ar', 'rtl']);
  await ar.context().close();
  await en.context().close();
});

test('sign in, search by an Arabic name variant, 360 page, merge and undo, switch language', { skip }, async () => {
  const page = await newPage('ar');
  page.on('dialog', (d) => d.accept());
  await signIn(page);
  // The demo workspace is Arabic: the console is Arabic and right-to-left.
  assert.deepEqual(await dir(page), ['ar', 'rtl']);
  assert.ok(await page.isVisible('[data-kpi=revenue]'));
  await shot(page, 'dashboard-ar');

  // "احمد الشهري" without hamza finds "أحمد الشهري".
  await page.goto(server.base + '/customers');
  await page.fill('#q', 'احمد الشهري');
  await Promise.all([page.waitForNavigation(), page.press('#q', 'Enter')]);
  const names = await page.$$eval('table.list tbody tr td:first-child a', (as) => as.map((a) => a.textContent.trim()));
  assert.ok(names.length > 0, 'search found customers');
  // Hamza-insensitive: أحمد and احمد both match, and nothing else does.
  assert.ok(names.some((n) => n.startsWith('أحمد')), `a hamza spelling was found: ${names}`);
  assert.ok(names.every((n) => /^[أا]حمد/.test(n) && n.includes('الشهري')), `all results are أحمد/احمد …الشهري: ${names}`);
  await shot(page, 'customers-search-ar');

  await Promise.all([page.waitForNavigation(), page.click('table.list tbody tr:first-child td:first-child a')]);
  const survivorUrl = page.url();
  assert.match(await page.textContent('h1'), /أحمد/);
  assert.ok(await page.isVisible('#h-timeline'));
  await shot(page, 'customer-ar');

  // Merge another أحمد into this one, then undo.
  await page.click('a[href$="/merge"]');
  await page.fill('#mq', 'أحمد');
  await Promise.all([page.waitForNavigation(), page.press('#mq', 'Enter')]);
  await Promise.all([page.waitForNavigation(), page.click('[data-testid=merge-candidate] >> nth=0')]);
  assert.ok(await page.isVisible('[data-testid=merge-preview]'));
  await shot(page, 'merge-preview-ar');
  for (const sel of await page.$$('select[name^="consent."]')) {
    await sel.selectOption('granted');
  }
  await Promise.all([page.waitForNavigation(), page.click('[data-testid=confirm-merge]')]);
  assert.ok(await page.isVisible('[data-testid=merged-notice]'), 'merge confirmed');
  assert.equal(page.url().split('?')[0], survivorUrl.split('?')[0]);
  await Promise.all([page.waitForNavigation(), page.click('[data-testid=undo-merge]')]);
  assert.ok(await page.isVisible('[data-testid=undone-notice]'), 'merge undone');

  // Compute the analytics (the test server does not schedule them), from the console.
  await page.goto(server.base + '/analytics');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/analytics/recompute"] button')]);
  assert.ok(await page.isVisible('#h-rfm'), 'analytics computed');

  // Every other page in Arabic, then switch to English and take them again.
  const pages = ['/', '/customers', '/orders', '/analytics', '/sources', '/imports', '/settings'];
  for (const p of pages) {
    await page.goto(server.base + p);
    assert.deepEqual(await dir(page), ['ar', 'rtl'], p);
    await shot(page, `page${p === '/' ? '-dashboard' : p.replace(/\//g, '-')}-ar`);
  }
  await page.goto(server.base + '/orders');
  await Promise.all([page.waitForNavigation(), page.click('table.list tbody tr:first-child a')]);
  await shot(page, 'order-ar');

  await Promise.all([page.waitForNavigation(), page.click('[data-testid=switch-language]')]);
  assert.deepEqual(await dir(page), ['en', 'ltr']);
  assert.equal(await page.textContent('nav a[aria-current=page]'), 'Orders');
  await shot(page, 'order-en');
  for (const p of pages) {
    await page.goto(server.base + p);
    assert.deepEqual(await dir(page), ['en', 'ltr'], p);
    await shot(page, `page${p === '/' ? '-dashboard' : p.replace(/\//g, '-')}-en`);
  }
  await page.goto(survivorUrl);
  await shot(page, 'customer-en');
  // The choice sticks to the user: a new sign-in is English.
  assert.deepEqual(page.errors, [], 'no script errors');
  await page.context().close();
});

test('import a CSV with progress and a downloadable error report', { skip }, async () => {
  const page = await newPage('en');
  await signIn(page);
  // The columns of Shopify's customer export that matter here (the importer reads the rest
  // when present; the Rust tests use the full shared header).
  const header = 'Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Phone,Accepts SMS Marketing,Tags';
  const cols = header.split(',').map((c) => c.replace(/^"|"$/g, '').trim());
  const row = (vals) => cols.map((c) => vals[c] ?? '').map((v) => (/[",]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',');
  const lines = [header,
    row({ 'First Name': 'سارة', 'Last Name': 'القحطاني', Email: 'sara.e2e@example.com', Phone: '0551234567' }),
    row({ 'First Name': 'Omar', 'Last Name': 'Haddad', Email: 'omar.e2e@example.com', Phone: '+971 50 123 4567' }),
    row({ 'First Name': 'Bad', 'Last Name': 'Phone', Email: 'bad.e2e@example.com', Phone: '12' }),
  ];
  const file = join(tmpdir(), `wafa-e2e-${process.pid}.csv`);
  writeFileSync(file, lines.join('\n') + '\n');
  await page.goto(server.base + '/imports');
  await shot(page, 'imports-en');
  await page.selectOption('#kind', 'customers');
  await page.setInputFiles('#file', file);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/imports"] button[type=submit]')]);
  await page.waitForSelector('[data-testid=import-result]', { timeout: 30000 });
  const digits = (t) => t.replace(/[٠-٩]/g, (d) => String(d.charCodeAt(0) - 0x660)).replace(/[^0-9]/g, '');
  const n = async (k) => Number(digits(await page.textContent(`[data-kpi=${k}] .kpi-value`)));
  assert.equal(await n('rows_total'), 3);
  assert.equal(await n('rows_failed'), 1);
  assert.equal((await n('rows_created')) + (await n('rows_updated')), 2);
  await shot(page, 'import-result-en');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=errors-csv]')]);
  const report = readFileSync(await download.path(), 'utf8');
  assert.match(report, /line,code,field,message/);
  assert.match(report, /invalid_phone/);
  // The imported customer is searchable in Arabic right away.
  await page.goto(server.base + '/customers?q=' + encodeURIComponent('ساره القحطاني'));
  assert.match(await page.textContent('table.list'), /سارة/);
  await page.context().close();
});

test('password reset by an e-mailed link (real SMTP server)', { skip }, async () => {
  const page = await newPage('en');
  await page.goto(server.base + '/login');
  await page.click('a[href="/forgot"]');
  await page.fill('#email', EMAIL);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/forgot"] button')]);
  await shot(page, 'forgot-en');
  const mail = await waitFor(() => mails.find((m) => m.to?.text?.includes(EMAIL)), 'the reset e-mail');
  const link = (mail.text.match(/https?:\/\/\S+\/reset\/\S+/) || [])[0];
  assert.ok(link, `the e-mail has a reset link: ${mail.text}`);
  await page.goto(link);
  const newPassword = 'a-brand-new-password-42';
  await page.fill('#password', newPassword);
  await page.fill('#confirm', newPassword);
  await Promise.all([page.waitForNavigation(), page.click('form[action^="/reset/"] button')]);
  assert.match(page.url(), /reset=1/);
  // The old password no longer works; the new one does; the link works only once.
  await signIn(page, PASSWORD);
  assert.match(page.url(), /\/login/);
  await signIn(page, newPassword);
  assert.ok(await page.isVisible('[data-kpi=revenue]'));
  await page.goto(link);
  assert.ok(await page.isVisible('.notice.error'));
  // Put the password back for the other tests.
  await page.context().close();
  const again = await newPage('en');
  await again.goto(server.base + '/forgot');
  await again.fill('#email', EMAIL);
  await Promise.all([again.waitForNavigation(), again.click('form[action="/forgot"] button')]);
  const second = await waitFor(() => mails.filter((m) => m.to?.text?.includes(EMAIL))[1], 'a second reset e-mail');
  await again.goto(second.text.match(/https?:\/\/\S+\/reset\/\S+/)[0]);
  await again.fill('#password', PASSWORD);
  await again.fill('#confirm', PASSWORD);
  await Promise.all([again.waitForNavigation(), again.click('form[action^="/reset/"] button')]);
  await again.context().close();
});

test('untrusted text is escaped, forms need their CSRF token, phones get a usable layout', { skip }, async () => {
  // A customer and a note with markup in them, through the API.
  const login = await api(server.base, 'POST', '/v1/auth/login', null, { email: EMAIL, password: PASSWORD });
  const token = login.body.token;
  const evil = '<img src=x onerror="window.__xss=1">';
  const created = await api(server.base, 'POST', '/v1/customers', token, { first_name: evil, last_name: 'محمد', email: 'xss.e2e@example.com' });
  assert.ok(created.status < 300, JSON.stringify(created.body));
  const id = created.body.customer.id;
  await api(server.base, 'POST', `/v1/customers/${id}/notes`, token, { body: '<script>window.__xss=2</script> ملاحظة' });

  const page = await newPage('ar', { width: 375, height: 800 });
  let dialogs = 0;
  page.on('dialog', (d) => { dialogs++; d.dismiss(); });
  await signIn(page);
  await page.goto(`${server.base}/customers/${id}`);
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'no injected script ran');
  assert.equal(dialogs, 0);
  assert.match(await page.textContent('h1'), /<img src=x/);
  assert.match(await page.textContent('#notes'), /<script>/);
  await shot(page, 'customer-phone-ar');

  // No horizontal scrolling at 375 px on the main pages.
  for (const p of ['/', '/customers', '/orders', '/analytics', '/settings']) {
    await page.goto(server.base + p);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${p} overflows by ${overflow}px at 375px`);
    await shot(page, `phone${p === '/' ? '-dashboard' : p.replace(/\//g, '-')}-ar`);
  }

  // A form post without the CSRF token is refused, and nothing is written.
  const res = await page.evaluate(async (cid) => {
    const r = await fetch(`/customers/${cid}/notes`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'body=forged' });
    return r.status;
  }, id);
  assert.equal(res, 403);
  const notes = await api(server.base, 'GET', `/v1/customers/${id}/notes`, token);
  assert.ok(!JSON.stringify(notes.body).includes('forged'));

  // Keyboard: the first Tab reaches the skip link, and it is visible when focused.
  await page.goto(server.base + '/customers');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
  // Every visible form control has a label.
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map((el) => el.name || el.id));
  assert.deepEqual(unlabelled, []);
  // The session cookie is HttpOnly and SameSite.
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'wafa_session');
  assert.ok(session.httpOnly && session.sameSite === 'Lax');
  await page.context().close();
});

test('sign-in is rate-limited', { skip }, async () => {
  const page = await newPage('en');
  for (let i = 0; i < 10; i++) {
    await page.goto(server.base + '/login');
    await page.fill('#email', 'nobody@example.com');
    await page.fill('#password', 'wrong-password');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/login"] button')]);
  }
  await page.goto(server.base + '/login');
  await page.fill('#email', 'nobody@example.com');
  await page.fill('#password', 'wrong-password');
  const [resp] = await Promise.all([page.waitForNavigation(), page.click('form[action="/login"] button')]);
  assert.equal(resp.status(), 429);
  assert.equal(await page.getAttribute('.notice.error', 'data-code'), 'rate_limited');
  await page.context().close();
});

test('accessibility: axe-core finds no WCAG 2 A/AA violations on the main pages, in both languages', { skip }, async () => {
  const axePath = join(here, 'node_modules', 'axe-core', 'axe.min.js');
  for (const locale of ['ar', 'en']) {
    // axe is injected as a script, which the pages' CSP would (rightly) refuse.
    const ctx = await browser.newContext({ locale, bypassCSP: true, viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(server.base + '/login');
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForNavigation(), page.click('form[action="/login"] button[type=submit]')]);
    // The user's stored language decides; make it this locale's.
    if ((await dir(page))[0] !== locale) {
      await Promise.all([page.waitForNavigation(), page.click('[data-testid=switch-language]')]);
    }
    const problems = [];
    for (const p of ['/', '/customers', '/customers/1', '/orders', '/orders/1', '/analytics', '/sources', '/imports', '/settings']) {
      await page.goto(server.base + p);
      await page.addScriptTag({ path: axePath });
      const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }));
      for (const v of result.violations) {
        problems.push(`${locale} ${p}: ${v.id} (${v.impact}) × ${v.nodes.length}: ${v.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(' | ')}`);
      }
    }
    await ctx.close();
    assert.deepEqual(problems, [], problems.join('\n'));
  }
});
