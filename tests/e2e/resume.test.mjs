// The page's event stream across a server restart: the reconnect says
// where it was (Last-Event-ID, from the bare `id:` line a new stream
// starts with: the page saw no seat event before); the restarted server's
// map gave no such id, so it sends a `snapshot` of the whole map, and the
// page shows a seat booked while it was away, without reloading. (The
// header itself is not visible through playwright's route; without it, or
// without the page's snapshot handler, the seat stays available: both
// seen failing.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { expect } from './expect.mjs';
import { startServer, createShow, launch, visitor, openShow, seat, api } from './harness.mjs';

test('a page reconnecting after a restart catches up from a snapshot', async () => {
  let server = await startServer();
  const browser = await launch();
  try {
    const show = await createShow(server.base, 'Restart', [['A', 6]]);
    const { context, page } = await visitor(browser, server.base);
    await openShow(page, show);
    // Hold the page's reconnects back until the seat is booked, so that
    // only a snapshot can tell it (a live event would come after).
    let blocked = true;
    const asked = [];
    await page.route('**/events', async (route) => {
      asked.push(route.request().url());
      if (blocked) return route.abort('connectionrefused');
      return route.continue();
    });
    const { port, dir } = server;
    await server.stop({ keep: true });
    server = await startServer({}, { port, dir });
    const guest = await api(server.base, 'POST', '/v1/sessions');
    const booked = await api(server.base, 'POST', '/v1/bookings', {
      token: guest.json.token, key: randomUUID(), body: { show_id: show, seats: ['A1'] },
    });
    assert.equal(booked.status, 201);
    assert.equal(await seat(page, 'A1').getAttribute('data-status'), 'available', 'not told yet');
    blocked = false;
    await expect(() => seat(page, 'A1').getAttribute('data-status'), (s) => s === 'booked', { timeoutMs: 5000 });
    assert.ok(asked.length > 0, 'the page reconnected');
    await context.close();
  } finally {
    await browser.close();
    await server.stop();
  }
});
