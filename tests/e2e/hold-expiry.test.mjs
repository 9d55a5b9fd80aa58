// A hold lapsing on screen, with a short hold TTL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { expect } from './expect.mjs';
import { startServer, createShow, launch, visitor, openShow, seat } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ BOXOFFICE_HOLD_TTL_SECS: '2' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a hold lapses on screen and the seat is free again', async () => {
  const show = await createShow(server.base, 'Short hold', [['A', 6]]);
  const holder = await visitor(browser, server.base);
  const watcher = await visitor(browser, server.base);
  await openShow(holder.page, show);
  await openShow(watcher.page, show);

  await seat(holder.page, 'A4').click();
  await expect(() => seat(holder.page, 'A4').getAttribute('data-status'), (s) => s === 'mine-held');
  await expect(() => seat(watcher.page, 'A4').getAttribute('data-status'), (s) => s === 'held');
  await expect(() => holder.page.locator('#cart-countdown').textContent(), (t) => /Seats held for 0:0[0-2]/.test(t));
  // The warning a minute before a hold lapses (here at once: two seconds),
  // in the live region, so it is heard as well as seen.
  const notice = holder.page.locator('#notice');
  await expect(() => notice.textContent(), (t) => t.includes('held for less than a minute more'));
  assert.equal(await notice.getAttribute('aria-live'), 'polite');
  assert.equal(await notice.isVisible(), true);

  // Two seconds of TTL, then at most a second for the release to show.
  await expect(() => seat(holder.page, 'A4').getAttribute('data-status'), (s) => s === 'available', { timeoutMs: 4000 });
  await expect(() => seat(watcher.page, 'A4').getAttribute('data-status'), (s) => s === 'available', { timeoutMs: 1500 });
  await expect(() => holder.page.locator('#cart-items').textContent(), (t) => t.includes('A4 — hold lapsed'));
  assert.equal(await holder.page.locator('#checkout').isDisabled(), true);
  await holder.context.close();
  await watcher.context.close();
});
