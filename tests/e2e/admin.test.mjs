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
  await page.getByLabel('Sales end (optional)').fill('2026-12-24T19:00');
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
  assert.equal(new Date(show.json.sales_end_at).getTime(), new Date('2026-12-24T19:00').getTime());
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

test('a keyboard-only user blocks seats with a reason; the API sees them blocked', async () => {
  const show = await createShow(server.base, 'House seats', HALL, OFFER);
  const { context, page, urls } = await signedIn();
  await openShowView(page, show);
  // From the heading, one Tab reaches the seat map: one tab stop for all seats.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'show-title');
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement.dataset.seat);
  assert.ok(first, 'Tab went into the seat map');
  await page.keyboard.press('Enter');
  await page.keyboard.press('ArrowRight');
  const second = await page.evaluate(() => document.activeElement.dataset.seat);
  assert.notEqual(second, first);
  await page.keyboard.press('Space');
  await expect(() => page.locator('#selection').textContent(), (t) => t.includes('2 seats'));
  assert.equal(await page.locator(`#seat-${first}`).getAttribute('aria-pressed'), 'true');
  // Tab leaves the map at once and reaches the reason within a few stops.
  let stops = 0;
  while ((await page.evaluate(() => document.activeElement.id)) !== 'block-reason') {
    await page.keyboard.press('Tab');
    stops += 1;
    assert.ok(stops <= 3, `the reason is more than 3 Tabs from the map (${stops})`);
  }
  await page.keyboard.type('press night');
  await page.keyboard.press('Enter');
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes(`Blocked ${first}, ${second} (press night)`));
  await expect(() => seatStatus(show), (s) => s.get(first) === 'blocked' && s.get(second) === 'blocked');
  await expect(() => page.locator(`#seat-${first}`).getAttribute('data-status'), (s) => s === 'blocked');
  assert.match(await page.locator(`#seat-${first}`).getAttribute('aria-label'), /, blocked/);
  await expect(() => page.locator('dd[data-figure="blocked"]').textContent(), (t) => t === '2');

  // Unblocked again, with the mouse this time.
  await page.locator(`#seat-${first}`).click();
  await page.getByRole('button', { name: 'Unblock selected' }).click();
  await expect(() => seatStatus(show), (s) => s.get(first) === 'available' && s.get(second) === 'blocked');
  await expect(() => page.locator(`#seat-${first}`).getAttribute('data-status'), (s) => s === 'available');

  // A booked seat cannot be blocked, and a block is all or none.
  await bookThroughApi(show, ['C9']);
  await expect(() => page.locator('#seat-C9').getAttribute('data-status'), (s) => s === 'booked');
  await page.locator('#seat-C8').click();
  await page.locator('#seat-C9').click();
  await page.getByRole('button', { name: 'Block selected', exact: true }).click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes('C9 is held or booked'));
  assert.equal((await seatStatus(show)).get('C8'), 'available', 'nothing blocked');
  assertNoTokenInUrls(urls);
  await context.close();
});

test('a block whose answer is lost is retried with the same key and blocks once', async () => {
  const show = await createShow(server.base, 'Retry a block', [['A', 6]]);
  const { context, page } = await signedIn();
  await openShowView(page, show);
  const keys = [];
  let dropped = false;
  await page.route('**/blocks', async (route) => {
    keys.push(route.request().headers()['idempotency-key']);
    if (!dropped) {
      dropped = true;
      const response = await route.fetch();
      assert.equal(response.status(), 201);
      await route.abort('connectionreset');
      return;
    }
    await route.continue();
  });
  await page.locator('#seat-A2').click();
  await page.getByRole('button', { name: 'Block selected', exact: true }).click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes('Blocked A2'));
  assert.ok(keys.length >= 2, `expected a retry, saw ${keys.length} request(s)`);
  assert.ok(keys.every((k) => k && k === keys[0]), `one key for every try: ${keys}`);
  assert.equal((await seatStatus(show)).get('A2'), 'blocked');
  await context.close();
});

test('a booking made through the API appears live; staff cancel it after a confirmation; the CSV', async () => {
  const show = await createShow(server.base, 'Live sales', HALL, OFFER);
  await api(server.base, 'POST', `/v1/shows/${show}/blocks`, {
    token: ADMIN, key: randomUUID(), body: { seats: ['A5', 'A6'], reason: 'press' },
  });
  const { context, page, urls } = await signedIn();
  await expect(() => page.locator(`#show-rows tr[data-show-id="${show}"] td[data-figure="blocked"]`).textContent(),
    (t) => t === '2');
  await openShowView(page, show);
  await expect(() => page.locator('dd[data-figure="booked"]').textContent(), (t) => t === '0');

  const { booking } = await bookThroughApi(show, ['C3', 'C4']);
  const row = page.locator(`#booking-rows tr[data-booking-id="${booking.id}"]`);
  await expect(() => row.count(), (n) => n === 1);
  await expect(() => page.locator('dd[data-figure="booked"]').textContent(), (t) => t === '2');
  await expect(() => page.locator('dd[data-figure="revenue"]').textContent(), (t) => t.includes('29.00'));
  await expect(() => page.locator('#seat-C3').getAttribute('data-status'), (s) => s === 'booked');
  assert.match(await row.textContent(), /C3, C4/);
  await expect(() => page.locator('#chart-rows tr').count(), (n) => n >= 1);
  await page.screenshot({ path: shot('admin.png'), fullPage: true });

  // Search by the reference the customer sees, and by user id.
  const full = await api(server.base, 'GET', `/v1/bookings/${booking.id}`, { token: ADMIN });
  assert.equal(full.status, 200);
  const other = await bookThroughApi(show, ['B1']);
  await expect(() => page.locator('#booking-rows tr').count(), (n) => n === 2);
  // Booked in the same minute, the two ids begin alike (UUIDv7): the
  // reference is the id's end.
  await page.getByLabel('Booking reference or user id').fill(booking.id.slice(-8).toUpperCase());
  await page.getByLabel('Booking reference or user id').press('Enter');
  await expect(() => page.locator('#booking-rows tr').count(), (n) => n === 1);
  assert.equal(await page.locator('#booking-rows tr').getAttribute('data-booking-id'), booking.id);
  await page.getByLabel('Booking reference or user id').fill(full.json.user_id);
  await page.getByLabel('Booking reference or user id').press('Enter');
  await expect(() => page.locator('#bookings-status').textContent(), (t) => t.startsWith('1 booking found'));
  assert.equal(await page.locator('#booking-rows tr').getAttribute('data-booking-id'), booking.id);
  await page.getByRole('button', { name: 'Show all' }).click();
  await expect(() => page.locator('#booking-rows tr').count(), (n) => n === 2);
  assert.ok(other.booking.id);

  // Cancel asks first: Escape keeps the booking, focus goes back.
  const cancel = row.getByRole('button', { name: /Cancel booking/ });
  await cancel.click();
  const dialog = page.locator('#cancel-dialog');
  await expect(() => dialog.evaluate((d) => d.open), (open) => open);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cancel-keep');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cancel-confirm');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cancel-keep', 'focus stays in the dialog');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cancel-confirm', 'both ways');
  await page.keyboard.press('Escape');
  await expect(() => dialog.evaluate((d) => d.open), (open) => !open);
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')),
    await cancel.getAttribute('aria-label'), 'focus back on the button that opened it');
  const kept = await api(server.base, 'GET', `/v1/bookings/${booking.id}`, { token: ADMIN });
  assert.equal(kept.json.status, 'confirmed');

  await cancel.click();
  assert.match(await page.locator('#cancel-text').textContent(), /seats C3, C4/);
  await page.getByRole('button', { name: 'Cancel the booking' }).click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes('cancelled'));
  const cancelled = await api(server.base, 'GET', `/v1/bookings/${booking.id}`, { token: ADMIN });
  assert.equal(cancelled.json.status, 'cancelled');
  assert.equal(cancelled.json.cancelled_by, 'box-office');
  await expect(() => row.textContent(), (t) => t.includes('Cancelled by the box office'));
  await expect(() => page.locator('#seat-C3').getAttribute('data-status'), (s) => s === 'available');
  await expect(() => page.locator('dd[data-figure="booked"]').textContent(), (t) => t === '1');

  // The CSV, read with the Authorization header, handed over as a Blob.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download CSV' }).click(),
  ]);
  assert.match(download.url(), /^blob:/);
  const lines = readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
  assert.equal(lines[0], 'id,user_id,status,seats,total_cents,currency,created_at');
  const line = lines.find((l) => l.startsWith(booking.id));
  assert.ok(line, `the booking is in the CSV: ${lines}`);
  const [, user, status, seats, total, currency] = line.split(',');
  assert.deepEqual([user, status, seats, total, currency], [full.json.user_id, 'cancelled', 'C3 C4', '2900', 'EUR']);
  assert.equal(lines.length, 3);
  assertNoTokenInUrls(urls);
  await context.close();
});

test('bookings are paged: the next page loads on demand', async () => {
  const show = await createShow(server.base, 'Many bookings', [['A', 60]]);
  for (let n = 1; n <= 55; n++) await bookThroughApi(show, [`A${n}`]);
  const { context, page } = await signedIn();
  await openShowView(page, show);
  await expect(() => page.locator('#booking-rows tr').count(), (n) => n === 50);
  await page.getByRole('button', { name: 'Load more bookings' }).click();
  await expect(() => page.locator('#booking-rows tr').count(), (n) => n === 55);
  assert.equal(await page.getByRole('button', { name: 'Load more bookings' }).isHidden(), true);
  await context.close();
});

test('a large hall in the show view is a canvas; the keyboard selects and blocks', async () => {
  const show = await createShow(server.base, 'Arena', [['A', 999], ['B', 999]]);
  const { context, page } = await signedIn();
  await openShowView(page, show);
  assert.equal(await page.locator('#seat-map button.seat').count(), 0);
  await page.locator('#hall').focus();
  await page.keyboard.press('ArrowRight');
  const line = await page.locator('#hall-cursor').textContent();
  const [, row, number] = line.match(/^Row ([A-Z]+), seat (\d+), available/) || [];
  assert.ok(row, `the cursor line names a free seat: ${line}`);
  await page.keyboard.press('Enter');
  await expect(() => page.locator('#hall-cursor').textContent(), (t) => t.includes('selected'));
  await page.getByRole('button', { name: 'Block selected', exact: true }).click();
  await expect(() => seatStatus(show), (s) => s.get(`${row}${number}`) === 'blocked');
  await expect(() => page.locator('#hall-cursor').textContent(), (t) => t.includes('blocked'));
  // A booking elsewhere reaches the canvas through the event stream: the
  // seat is drawn in the booked colour.
  await bookThroughApi(show, ['B500']);
  const drawnAs = () => page.evaluate(() => {
    const map = showView.map; // eslint-disable-line no-undef
    map.draw();
    return map.hall.drawnAs[map.hall.index.get('B500')];
  });
  await expect(drawnAs, (colour) => colour === '#50505e');
  await context.close();
});

for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  test(`axe-core finds nothing in any view of the console (${size})`, async () => {
    const show = await createShow(server.base, `Axe ${size}`, HALL, OFFER);
    await bookThroughApi(show, ['B3', 'B4']);
    await api(server.base, 'POST', `/v1/shows/${show}/blocks`, {
      token: ADMIN, key: randomUUID(), body: { seats: ['A7'] },
    });
    const { context, page } = await consolePage(viewport);
    await assertAccessible(page, `sign-in (${size})`);
    await signIn(page, 'wrong');
    await page.waitForSelector('#signin-error:not([hidden])');
    await assertAccessible(page, `sign-in with an error (${size})`);
    await signIn(page);
    await page.waitForSelector('body[data-view="shows-view"]');
    await expect(() => page.locator(`#show-rows tr[data-show-id="${show}"] td[data-figure="booked"]`).textContent(),
      (t) => t === '2');
    await assertAccessible(page, `the shows list (${size})`);
    await page.getByRole('link', { name: 'New show' }).click();
    await page.waitForSelector('#preview-map .seat');
    await assertAccessible(page, `the create form with its preview (${size})`);
    await openShowView(page, show);
    await expect(() => page.locator('#booking-rows tr').count(), (n) => n === 1);
    await page.locator('#seat-C1').click();
    await expect(() => page.locator('#chart-rows tr').count(), (n) => n >= 1);
    await assertAccessible(page, `the show view (${size})`);
    await page.locator('#booking-rows button').click();
    await expect(() => page.locator('#cancel-dialog').evaluate((d) => d.open), (open) => open);
    await assertAccessible(page, `the cancel dialog (${size})`);
    await page.keyboard.press('Escape');
    await context.close();
  });
}

test('what the API returns is shown as text, never as markup', async () => {
  const title = '<img src=x id=injected> & <b>co</b>';
  const show = await createShow(server.base, title, [['A', 4]]);
  const { context, page } = await signedIn();
  const link = page.locator(`#show-rows tr[data-show-id="${show}"] a`);
  await expect(() => link.textContent(), (t) => t === title);
  await openShowView(page, show);
  assert.equal(await page.locator('#show-title').textContent(), title);
  assert.equal(await page.locator('#injected, #show-rows b, #show-title b').count(), 0, 'no element made from the title');
  await context.close();
});
