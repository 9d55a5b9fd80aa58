// End-to-end tests of the staff console (/admin) in headless Chromium:
// sign-in, a show created through the form, house seats blocked, a
// booking seen live, cancelled on the customer's behalf, the CSV, and
// axe-core in every view at desktop and phone sizes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from './expect.mjs';
import {
  ADMIN, startServer, createShow, launch, visitor, api, axeViolations, cspViolations, SCREENSHOTS,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const shot = (name) => fileURLToPath(new URL(name, SCREENSHOTS));
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const OFFER = {
  currency: 'EUR',
  categories: [
    { id: 'stalls', name: 'Stalls', price_cents: 950 },
    { id: 'circle', name: 'Dress circle', price_cents: 1450 },
  ],
};
const HALL = [
  ['A', 10, { aisles_after: [5], wheelchair: [1], companion: [2] }],
  ['B', 12, { aisles_after: [6] }],
  ['C', 12, { category: 'circle' }],
];

// A console page whose every request is recorded (to show the token never
// travels in a URL).
async function consolePage(viewport = DESKTOP) {
  const { context, page } = await visitor(browser, server.base, viewport);
  const urls = [];
  page.on('request', (request) => urls.push(request.url()));
  await page.goto('/admin');
  await page.waitForSelector('body[data-ready="true"]');
  return { context, page, urls };
}

async function signIn(page, token = ADMIN) {
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function signedIn(viewport) {
  const opened = await consolePage(viewport);
  await signIn(opened.page);
  await opened.page.waitForSelector('body[data-view="shows-view"]');
  return opened;
}

async function openShowView(page, show) {
  await page.goto(`/admin#/shows/${show}`);
  await page.waitForSelector('body[data-view="show-view"]');
  await page.waitForSelector('#seat-map button.seat, #seat-map canvas[data-drawn="true"]');
}

async function assertAccessible(page, where) {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe-core found violations on ${where}:\n${JSON.stringify(violations, null, 2)}`);
  assert.deepEqual(cspViolations(page), [], `the page needed what its Content-Security-Policy refuses, on ${where}`);
}

function assertNoTokenInUrls(urls) {
  const leaked = urls.filter((url) => url.includes(ADMIN));
  assert.deepEqual(leaked, [], 'the admin token went into a URL');
}

// A customer's booking of `seats`, made through the API.
async function bookThroughApi(show, seats) {
  const session = await api(server.base, 'POST', '/v1/sessions', { key: randomUUID() });
  assert.equal(session.status, 201);
  const token = session.json.token;
  const booking = await api(server.base, 'POST', '/v1/bookings', {
    token, key: randomUUID(), body: { show_id: show, seats },
  });
  assert.equal(booking.status, 201, JSON.stringify(booking.json));
  return { token, booking: booking.json };
}

const seatStatus = (show) => api(server.base, 'GET', `/v1/shows/${show}`)
  .then((answer) => new Map(answer.json.seats.map((s) => [s.id, s.status])));

test('signs in with the admin token only; the token stays in this tab, never in a URL or a cookie', async () => {
  const { context, page, urls } = await consolePage();
  await expect(() => page.evaluate(() => document.body.dataset.view), (v) => v === 'signin-view');
  // A wrong token is refused, and says so by the field.
  await signIn(page, 'not-the-admin-token');
  await expect(() => page.locator('#signin-error').textContent(), (t) => t.includes('not the admin token'));
  assert.equal(await page.getByLabel('Admin token').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  // A customer's token is no admin token either.
  const session = await api(server.base, 'POST', '/v1/sessions', { key: randomUUID() });
  await signIn(page, session.json.token);
  await expect(() => page.locator('#signin-error').textContent(), (t) => t.includes('customer'));
  assert.equal(await page.evaluate(() => document.body.dataset.view), 'signin-view');

  await signIn(page);
  await page.waitForSelector('body[data-view="shows-view"]');
  const kept = await page.evaluate(() => ({
    session: Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)),
    local: Object.keys(localStorage).map((k) => localStorage.getItem(k)),
    cookie: document.cookie,
    url: location.href,
  }));
  assert.deepEqual(kept.session, [ADMIN]);
  assert.ok(!kept.local.includes(ADMIN), 'not in localStorage');
  assert.equal(kept.cookie, '');
  assert.ok(!kept.url.includes(ADMIN));
  assert.deepEqual((await context.cookies()), []);
  // A reload keeps the tab signed in.
  await page.reload();
  await page.waitForSelector('body[data-view="shows-view"]');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForSelector('body[data-view="signin-view"]');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assertNoTokenInUrls(urls);
  await context.close();
});

test('a keyboard-only user signs in', async () => {
  const { context, page } = await consolePage();
  // The field has focus on arrival, or is a few Tabs away.
  let stops = 0;
  while ((await page.evaluate(() => document.activeElement.id)) !== 'admin-token') {
    await page.keyboard.press('Tab');
    stops += 1;
    assert.ok(stops <= 4, 'the token field is more than a few Tabs away');
  }
  await page.keyboard.type(ADMIN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('body[data-view="shows-view"]');
  const focused = await page.evaluate(() => document.activeElement.id);
  assert.equal(focused, 'shows-title', 'focus moves to the view');
  await context.close();
});

test('creates a show through the form, with a live preview; errors are shown by their fields', async () => {
  const { context, page, urls } = await signedIn();
  await page.getByRole('link', { name: 'New show' }).click();
  await page.waitForSelector('body[data-view="create-view"]');
  const previewSeats = () => page.locator('#preview-map .seat').count();
  await expect(previewSeats, (n) => n === 30);
  await page.getByLabel('Title', { exact: true }).fill('Console premiere');
  await page.getByRole('button', { name: 'Add a category' }).click();
  const categories = page.locator('#category-list > li');
  await categories.nth(1).getByLabel('Id', { exact: true }).fill('circle');
  await categories.nth(1).getByLabel('Name', { exact: true }).fill('Dress circle');
  await categories.nth(1).getByLabel('Price', { exact: true }).fill('14.50');
  await page.getByRole('button', { name: 'Add a row' }).click();
  const rows = page.locator('#row-list > li');
  await expect(() => rows.count(), (n) => n === 4);
  assert.equal(await rows.nth(3).getByLabel('Row', { exact: true }).inputValue(), 'D');
  await rows.nth(3).getByLabel('Seats', { exact: true }).fill('14');
  await rows.nth(3).getByLabel('Category', { exact: true }).selectOption('circle');
  await expect(previewSeats, (n) => n === 44);
  await expect(() => page.locator('#create-summary').textContent(), (t) => t.includes('4 rows, 44 seats'));

  // A check made here: nothing is sent, the error is by its field.
  const posts = [];
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/v1/shows')) posts.push(r); });
  await rows.nth(1).getByLabel('Row', { exact: true }).fill('B1');
  await page.getByRole('button', { name: 'Create the show' }).click();
  const labelB = rows.nth(1).getByLabel('Row', { exact: true });
  await expect(() => labelB.getAttribute('aria-invalid'), (v) => v === 'true');
  const describedBy = await labelB.getAttribute('aria-describedby');
  assert.match(await page.locator(`#${describedBy}`).textContent(), /1-3 letters A-Z/);
  assert.equal(await page.evaluate(() => document.activeElement.id), await labelB.getAttribute('id'));
  assert.equal(posts.length, 0, 'nothing sent while the form is wrong');
  await labelB.fill('B');

  // A check only the server makes: its 400 `detail` lands by the field it names.
  await rows.nth(0).getByLabel('Wheelchair', { exact: true }).fill('3');
  await rows.nth(0).getByLabel('Companion', { exact: true }).fill('3');
  await page.getByRole('button', { name: 'Create the show' }).click();
  const wheelchair = rows.nth(0).getByLabel('Wheelchair', { exact: true });
  await expect(() => wheelchair.getAttribute('aria-invalid'), (v) => v === 'true');
  assert.equal(posts.length, 1);
  assert.match(await page.locator(`#${await wheelchair.getAttribute('aria-describedby')}`).textContent(),
    /seat A3 cannot be both wheelchair and companion/);
  assert.match(await page.locator('#create-error').textContent(), /not created/);
  await assertAccessible(page, 'the create form with errors');
  await rows.nth(0).getByLabel('Companion', { exact: true }).fill('4');

  await page.getByRole('button', { name: 'Create the show' }).click();
  await page.waitForSelector('body[data-view="show-view"]');
  await expect(() => page.locator('#show-title').textContent(), (t) => t === 'Console premiere');
  const id = page.url().split('/').pop();
  const show = await api(server.base, 'GET', `/v1/shows/${id}`);
  assert.equal(show.status, 200);
  assert.equal(show.json.seats.length, 44);
  assert.deepEqual(show.json.categories.map((c) => [c.id, c.price_cents]), [['standard', 1200], ['circle', 1450]]);
  const seatOf = (s) => show.json.seats.find((x) => x.id === s);
  assert.equal(seatOf('A3').accessibility, 'wheelchair');
  assert.equal(seatOf('A4').accessibility, 'companion');
  assert.equal(seatOf('A5').aisle_after, true);
  assert.equal(seatOf('D1').category, 'circle');
  assert.equal(posts.length, 2);
  assert.ok(posts.every((p) => p.headers()['idempotency-key']), 'every create carries a key');
  assert.notEqual(posts[0].headers()['idempotency-key'], posts[1].headers()['idempotency-key']);
  assertNoTokenInUrls(urls);
  await context.close();
});

test('the preview of a hall over 1,500 seats is drawn on a canvas', async () => {
  const { context, page } = await signedIn();
  await page.goto('/admin#/new');
  await page.waitForSelector('body[data-view="create-view"]');
  const rows = page.locator('#row-list > li');
  for (let i = 0; i < 3; i++) await rows.nth(i).getByLabel('Seats', { exact: true }).fill('600');
  await page.waitForSelector('#preview-hall[data-drawn="true"]');
  assert.equal(await page.locator('#preview-map .seat').count(), 0, 'no element per seat');
  await expect(() => page.locator('#create-summary').textContent(), (t) => t.includes('1,800 seats'));
  // Over 100,000 seats: said at once, nothing sent (a new row copies the
  // seats of the last).
  await rows.nth(2).getByLabel('Seats', { exact: true }).fill('999');
  for (let i = 0; i < 100; i++) await page.getByRole('button', { name: 'Add a row' }).click();
  const posts = [];
  page.on('request', (r) => { if (r.method() === 'POST') posts.push(r); });
  await page.getByRole('button', { name: 'Create the show' }).click();
  await expect(() => page.locator('#rows-error').textContent(), (t) => t.includes('at most 100,000 seats'));
  assert.equal(posts.length, 0);
  await context.close();
});
