// The people the page is for (issue 15): a person who wants the best four
// seats together, a wheelchair user with a companion, a keyboard-only user,
// a phone user; and axe-core in each state of the page, at desktop and
// phone sizes, which must find no WCAG 2.2 AA violation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { expect } from './expect.mjs';
import {
  startServer, createShow, launch, visitor, openShow, seat, tokenOf, api, axeViolations, cspViolations, SCREENSHOTS,
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
const PHONE = { width: 390, height: 844 };

// A small cinema: stalls at 9.50, a dress circle at 14.50, aisles, two
// wheelchair spaces with their companion seats in row A.
const HALL = [
  ['A', 10, { aisles_after: [5], wheelchair: [1, 10], companion: [2, 9] }],
  ['B', 12, { aisles_after: [6] }],
  ['C', 12, { aisles_after: [6] }],
  ['D', 14, { category: 'circle' }],
];
const OFFER = {
  currency: 'EUR',
  categories: [
    { id: 'stalls', name: 'Stalls', price_cents: 950 },
    { id: 'circle', name: 'Dress circle', price_cents: 1450 },
  ],
};

async function assertAccessible(page, where) {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe-core found violations on ${where}:\n${JSON.stringify(violations, null, 2)}`);
  assert.deepEqual(cspViolations(page), [], `the page needed what its Content-Security-Policy refuses, on ${where}`);
}

async function focusIsNotLost(page) {
  const tag = await page.evaluate(() => document.activeElement && document.activeElement.tagName);
  assert.notEqual(tag, 'BODY', 'focus fell to <body>');
}

for (const [size, viewport] of [['desktop', undefined], ['phone', PHONE]]) {
  test(`axe-core finds nothing on every view (${size})`, async () => {
    const show = await createShow(server.base, `Axe ${size}`, HALL, OFFER);
    const { context, page } = await visitor(browser, server.base, viewport);
    await page.goto('/');
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector(`a[data-show-id="${show}"]`);
    await assertAccessible(page, `the shows list (${size})`);
    await openShow(page, show);
    await assertAccessible(page, `the seat map (${size})`);
    await seat(page, 'B5').click();
    await expect(() => seat(page, 'B5').getAttribute('data-status'), (s) => s === 'mine-held');
    await assertAccessible(page, `a cart with a held seat (${size})`);
    await page.locator('#checkout').click();
    await expect(() => page.locator('#notice').textContent(), (t) => t.includes('Booked!'));
    await page.locator('#nav-bookings').click();
    await page.waitForSelector('#booking-list li.booking');
    await assertAccessible(page, `My bookings (${size})`);
    await context.close();
  });
}

test('a person books the best four seats together', async () => {
  const show = await createShow(server.base, 'Together', HALL, OFFER);
  const { context, page } = await visitor(browser, server.base);
  await openShow(page, show);
  await page.locator('#together-count').fill('4');
  await page.locator('#together-find').click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.startsWith('Held for you'));
  const held = await page.locator('#seat-map button[data-status="mine-held"]').evaluateAll(
    (buttons) => buttons.map((b) => b.dataset.seat));
  assert.equal(held.length, 4, `${held}`);
  const rows = new Set(held.map((s) => s[0]));
  const numbers = held.map((s) => Number(s.slice(1))).sort((a, b) => a - b);
  assert.equal(rows.size, 1, `one row: ${held}`);
  assert.deepEqual(numbers, [numbers[0], numbers[0] + 1, numbers[0] + 2, numbers[0] + 3], `side by side: ${held}`);
  await expect(() => page.locator('#cart-total').textContent(), (t) => t.includes('38'));
  await assertAccessible(page, 'four seats held together');
  await page.screenshot({ path: shot('together.png') });
  await page.locator('#checkout').click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes('Booked!'));
  const bookings = await api(server.base, 'GET', '/v1/bookings', { token: await tokenOf(page) });
  assert.equal(bookings.json.bookings[0].total_cents, 3800);
  await context.close();
});

test('a wheelchair user books a wheelchair space and a companion seat', async () => {
  const show = await createShow(server.base, 'Access', HALL, OFFER);
  const { context, page } = await visitor(browser, server.base);
  await openShow(page, show);
  assert.match(await seat(page, 'A1').getAttribute('aria-label'), /wheelchair space/);
  assert.match(await seat(page, 'A2').getAttribute('aria-label'), /companion seat/);
  await page.locator('#together-count').fill('2');
  await page.locator('#together-wheelchair').check();
  await page.locator('#together-find').click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.startsWith('Held for you'));
  const held = await page.locator('#seat-map button[data-status="mine-held"]').evaluateAll(
    (buttons) => buttons.map((b) => b.dataset.seat).sort());
  assert.ok(['A1,A2', 'A10,A9'].includes(held.join()), `a wheelchair space and its companion: ${held}`);
  await assertAccessible(page, 'a wheelchair space and its companion held');
  await page.locator('#checkout').click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes('Booked!'));
  await context.close();
});

test('a keyboard-only user books two seats', async () => {
  const show = await createShow(server.base, 'Keys', HALL, OFFER);
  const { context, page } = await visitor(browser, server.base);
  await openShow(page, show);
  await focusIsNotLost(page);
  // One Tab from the heading reaches the map: one tab stop for all seats.
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement.dataset.seat);
  assert.ok(first, 'Tab went into the seat map');
  await page.keyboard.press('Enter');
  await expect(() => seat(page, first).getAttribute('data-status'), (s) => s === 'mine-held');
  await focusIsNotLost(page);
  await page.keyboard.press('ArrowRight');
  const second = await page.evaluate(() => document.activeElement.dataset.seat);
  assert.notEqual(second, first);
  await page.keyboard.press('Space');
  await expect(() => seat(page, second).getAttribute('data-status'), (s) => s === 'mine-held');
  // Tab leaves the map at once (not one stop per seat) and reaches the
  // Book button within a few stops.
  let stops = 0;
  while ((await page.evaluate(() => document.activeElement.id)) !== 'checkout') {
    await page.keyboard.press('Tab');
    stops += 1;
    assert.ok(stops <= 8, `the Book button is more than 8 Tabs away (${stops})`);
  }
  await page.keyboard.press('Enter');
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes('Booked!'));
  await focusIsNotLost(page);
  await assertAccessible(page, 'after a keyboard booking');
  await context.close();
});

test('a phone user books a seat; a 20-seat row fits without sideways scrolling', async () => {
  const show = await createShow(server.base, 'Phone', [['A', 20], ['B', 20], ['C', 20]], OFFER);
  const { context, page } = await visitor(browser, server.base, PHONE);
  await openShow(page, show);
  const overflow = await page.evaluate(() => {
    const map = document.getElementById('seat-map');
    return { map: map.scrollWidth - map.clientWidth, page: document.documentElement.scrollWidth - window.innerWidth };
  });
  assert.deepEqual(overflow, { map: 0, page: 0 }, 'nothing scrolls sideways');
  await assertAccessible(page, 'a hall of 20-seat rows on a phone');
  await seat(page, 'B10').click();
  await expect(() => seat(page, 'B10').getAttribute('data-status'), (s) => s === 'mine-held');
  await page.screenshot({ path: shot('phone.png'), fullPage: true });
  await page.locator('#checkout').click();
  await expect(() => seat(page, 'B10').getAttribute('data-status'), (s) => s === 'mine-booked');
  await context.close();
});

// Row labels A..Z, AA..AZ, BA..: as many as asked.
function labels(n) {
  const out = [];
  for (let i = 0; out.length < n; i++) {
    out.push(i < 26 ? String.fromCharCode(65 + i)
      : String.fromCharCode(64 + Math.floor(i / 26)) + String.fromCharCode(65 + (i % 26)));
  }
  return out;
}

test('a 100,000-seat show opens on a canvas and books by keyboard', async () => {
  const rows = labels(125).map((label) => [label, 800, { aisles_after: [200, 600] }]);
  const show = await createShow(server.base, 'Stadium', rows, OFFER);
  const { context, page } = await visitor(browser, server.base);
  await page.goto('/');
  await page.waitForSelector('body[data-ready="true"]');
  const started = Date.now();
  await page.goto(`/#/shows/${show}`);
  await page.waitForSelector('#hall[data-drawn="true"]');
  const openedMs = Date.now() - started;
  const buttons = await page.locator('#seat-map button.seat').count();
  assert.equal(buttons, 0, 'no button per seat');
  // Frames as a pan and a zoom redraw them: the whole hall, then zoomed in.
  const frames = await page.evaluate(() => {
    const time = () => {
      const t = performance.now();
      drawHall(); // eslint-disable-line no-undef
      return performance.now() - t;
    };
    const whole = time();
    zoomHall(8); // eslint-disable-line no-undef
    const zoomed = time();
    zoomHall(1 / 8); // eslint-disable-line no-undef
    return { whole, zoomed };
  });
  console.log(`# 100,000-seat show: opened in ${openedMs} ms; a frame of the whole hall `
    + `${frames.whole.toFixed(1)} ms, zoomed in x8 ${frames.zoomed.toFixed(1)} ms`);
  await assertAccessible(page, 'a 100,000-seat show');
  for (let i = 0; i < 6; i++) await page.getByRole('button', { name: 'Zoom in' }).click();
  await page.screenshot({ path: shot('large-hall.png') });

  await page.locator('#hall').focus();
  await page.keyboard.press('ArrowRight');
  const line = await page.locator('#hall-cursor').textContent();
  const [, row, number] = line.match(/^Row ([A-Z]+), seat (\d+), available/) || [];
  assert.ok(row, `the cursor line names a free seat: ${line}`);
  await page.keyboard.press('Enter');
  await expect(() => page.locator('#hall-cursor').textContent(), (t) => t.includes('held by you'));
  await page.keyboard.press('+');
  await page.locator('#checkout').click();
  await expect(() => page.locator('#notice').textContent(), (t) => t.includes(`Booked! Seat ${row}${number}`));
  const map = await api(server.base, 'GET', `/v1/shows/${show}`);
  assert.equal(map.json.seats.find((s) => s.id === `${row}${number}`).status, 'booked');
  await context.close();
});
