// End-to-end tests of the booking page in headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { expect } from './expect.mjs';
import {
  startServer, createShow, launch, visitor, openShow, seat, tokenOf, api, SCREENSHOTS,
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

test('books two seats through the cart', async () => {
  const show = await createShow(server.base, 'Arrival', [['A', 8], ['B', 10], ['C', 10], ['D', 12]]);
  const { context, page } = await visitor(browser, server.base);
  await page.goto('/');
  await page.waitForSelector('body[data-ready="true"]');
  const card = page.locator(`a[data-show-id="${show}"]`);
  await expect(() => card.textContent(), (t) => t.includes('Arrival') && t.includes('40 of 40 seats left'));
  await page.screenshot({ path: shot('shows.png') });

  await card.click();
  await page.waitForSelector('#seat-map button.seat');
  await seat(page, 'B4').click();
  await expect(() => seat(page, 'B4').getAttribute('data-status'), (s) => s === 'mine-held');
  await seat(page, 'B5').click();
  await expect(() => seat(page, 'B5').getAttribute('data-status'), (s) => s === 'mine-held');
  assert.equal(await seat(page, 'B5').getAttribute('aria-label'), 'Row B, seat 5, held by you, press to release');
  await expect(() => page.locator('#cart-countdown').textContent(), (t) => /Seats held for \d+:\d\d/.test(t));
  await page.screenshot({ path: shot('seat-map.png') });

  await page.locator('#checkout').click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes('Booked! Seats B4, B5'));
  await expect(() => seat(page, 'B4').getAttribute('data-status'), (s) => s === 'mine-booked');
  await expect(() => seat(page, 'B5').getAttribute('data-status'), (s) => s === 'mine-booked');

  const bookings = await api(server.base, 'GET', '/v1/bookings', { token: await tokenOf(page) });
  assert.equal(bookings.json.bookings.length, 1);
  assert.deepEqual(bookings.json.bookings[0].seats, ['B4', 'B5']);
  await context.close();
});

test('two visitors race for one seat: one books, the other sees the conflict live', async () => {
  const show = await createShow(server.base, 'Heat', [['A', 6]]);
  const alice = await visitor(browser, server.base);
  const bob = await visitor(browser, server.base);
  await openShow(alice.page, show);
  await openShow(bob.page, show);

  await Promise.all([seat(alice.page, 'A3').click(), seat(bob.page, 'A3').click()]);
  const statuses = async () => [
    await seat(alice.page, 'A3').getAttribute('data-status'),
    await seat(bob.page, 'A3').getAttribute('data-status'),
  ];
  await expect(statuses, ([a, b]) => [a, b].sort().join() === 'held,mine-held');
  const [aliceStatus] = await statuses();
  const [winner, loser] = aliceStatus === 'mine-held' ? [alice, bob] : [bob, alice];
  // The loser hears it from the server (409) or, if the event stream was
  // faster than its click, from its own map: plain words either way.
  await expect(() => loser.page.locator('#notice').textContent(),
    (t) => t.includes('Someone else was faster: seat A3') || t.includes('Seat A3 is taken'));

  await winner.page.locator('#checkout').click();
  await expect(() => winner.page.locator('#notice').textContent(), (t) => t.includes('Booked!'));
  // The loser's page learns it from the event stream, without reloading.
  await expect(() => seat(loser.page, 'A3').getAttribute('data-status'), (s) => s === 'booked');
  assert.equal(await seat(loser.page, 'A3').getAttribute('aria-label'), 'Row A, seat 3, booked');
  await loser.page.screenshot({ path: shot('conflict.png') });
  await alice.context.close();
  await bob.context.close();
});

test('a retried checkout after a dropped response books once', async () => {
  const show = await createShow(server.base, 'Retry', [['A', 6]]);
  const { context, page } = await visitor(browser, server.base);
  await openShow(page, show);
  await seat(page, 'A1').click();
  await expect(() => seat(page, 'A1').getAttribute('data-status'), (s) => s === 'mine-held');

  // The first checkout reaches the server and runs, but its response is
  // lost on the way back; the page must retry with the same key.
  const keys = [];
  let dropped = false;
  await page.route('**/checkout', async (route) => {
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
  await page.locator('#checkout').click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes('Booked! Seat A1 is yours'));
  assert.ok(keys.length >= 2, `expected a retry, saw ${keys.length} request(s)`);
  assert.ok(keys.every((k) => k && k === keys[0]), `one key for every try: ${keys}`);
  const bookings = await api(server.base, 'GET', '/v1/bookings', { token: await tokenOf(page) });
  assert.equal(bookings.json.bookings.length, 1, 'booked exactly once');
  await context.close();
});

test('cancels a booking from My bookings', async () => {
  const show = await createShow(server.base, 'Cancel me', [['A', 6]]);
  const { context, page } = await visitor(browser, server.base);
  await openShow(page, show);
  await seat(page, 'A2').click();
  await expect(() => seat(page, 'A2').getAttribute('data-status'), (s) => s === 'mine-held');
  await page.locator('#checkout').click();
  await expect(() => seat(page, 'A2').getAttribute('data-status'), (s) => s === 'mine-booked');

  await page.locator('#nav-bookings').click();
  const booking = page.locator('#booking-list li.booking').first();
  await expect(() => booking.textContent(), (t) => t.includes('Cancel me') && t.includes('Confirmed'));
  await page.screenshot({ path: shot('bookings.png') });
  // Cancelling asks first: dismissed, nothing happens; accepted, it cancels.
  page.once('dialog', (dialog) => dialog.dismiss());
  await booking.getByRole('button', { name: /Cancel booking/ }).click();
  await expect(() => booking.textContent(), (t) => t.includes('Confirmed'));
  page.once('dialog', (dialog) => {
    assert.match(dialog.message(), /Cancel seats A2 of Cancel me\?/);
    dialog.accept();
  });
  await booking.getByRole('button', { name: /Cancel booking/ }).click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes('Booking cancelled'));
  await expect(() => page.locator('#booking-list li.booking').first().textContent(), (t) => t.includes('Cancelled'));

  const map = await api(server.base, 'GET', `/v1/shows/${show}`);
  assert.equal(map.json.seats.find((s) => s.id === 'A2').status, 'available');
  await context.close();
});

test('works on a phone-sized screen with the keyboard', async () => {
  const show = await createShow(server.base, 'Pocket', [['A', 10], ['B', 10]]);
  const { context, page } = await visitor(browser, server.base, { width: 390, height: 844 });
  await openShow(page, show);
  await seat(page, 'B6').focus();
  await page.keyboard.press('Enter');
  await expect(() => seat(page, 'B6').getAttribute('data-status'), (s) => s === 'mine-held');
  const checkout = page.getByRole('button', { name: 'Book 1 seat' });
  await checkout.focus();
  await page.keyboard.press('Enter');
  await expect(() => seat(page, 'B6').getAttribute('data-status'), (s) => s === 'mine-booked');
  await page.screenshot({ path: shot('phone.png'), fullPage: true });
  await context.close();
});
