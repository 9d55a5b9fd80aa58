// boxoffice booking page. Plain JavaScript, no build step: the engine
// embeds this file and serves it at /app.js.
//
// Every state-changing request makes its own Idempotency-Key and, on a
// network error, a timeout or a 503/429/409 request-in-progress, retries
// with that same key: a double click or a flaky connection never books
// twice.
'use strict';

const REQUEST_TIMEOUT_MS = 8000;
const MAX_ATTEMPTS = 6;

const state = {
  token: null,
  shows: [],
  show: null,            // the open show (GET /v1/shows/{id})
  statuses: new Map(),   // seat id -> "available" | "held" | "booked"
  cart: null,            // my cart for the open show
  bookings: [],          // my bookings (all shows)
  events: null,          // EventSource of the open show
  countdown: null,       // interval id
};

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------- HTTP ----------

async function call(method, path, body, key) {
  const headers = {};
  if (state.token) headers['Authorization'] = `Bearer ${state.token}`;
  if (key) headers['Idempotency-Key'] = key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
    });
    const text = await response.text();
    let json = null;
    if (text) {
      try { json = JSON.parse(text); } catch (_) { json = null; }
    }
    return { status: response.status, json, headers: response.headers };
  } finally {
    clearTimeout(timer);
  }
}

function problemCode(answer) {
  const type = answer.json && answer.json.type;
  return typeof type === 'string' ? type.split('/').pop() : null;
}

// A state-changing request, retried with one key until it gets an answer.
async function mutate(method, path, body) {
  const key = method === 'POST' ? crypto.randomUUID() : undefined;
  let lastError = null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await sleep(Math.min(250 * 2 ** (attempt - 1), 4000));
    let answer;
    try {
      answer = await call(method, path, body, key);
    } catch (error) {
      lastError = error; // network error or timeout: same key again
      continue;
    }
    const code = problemCode(answer);
    const retryable = answer.status === 503 || answer.status === 429 ||
      (answer.status === 409 && code === 'request-in-progress');
    if (retryable) {
      const after = Number(answer.headers.get('Retry-After'));
      if (after > 0) await sleep(Math.min(after * 1000, 5000));
      lastError = new Error(code || String(answer.status));
      continue;
    }
    return answer;
  }
  throw lastError || new Error('no answer');
}

async function read(path) {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const answer = await call('GET', path);
      if (answer.status !== 503 && answer.status !== 429) return answer;
    } catch (_) { /* retry */ }
    await sleep(300 * (attempt + 1));
  }
  return call('GET', path);
}

// ---------- session ----------

async function ensureSession() {
  state.token = localStorage.getItem('boxoffice.token');
  if (state.token) {
    const check = await read('/v1/bookings');
    if (check.status === 200) {
      state.bookings = check.json.bookings;
      return;
    }
  }
  state.token = null;
  const created = await mutate('POST', '/v1/sessions');
  if (created.status !== 201) throw new Error('could not start a session');
  state.token = created.json.token;
  localStorage.setItem('boxoffice.token', state.token);
  state.bookings = [];
}

// ---------- notices ----------

function notify(message, kind = 'info') {
  const notice = $('notice');
  notice.textContent = message;
  notice.className = `notice ${kind}`;
  notice.hidden = false;
}

function clearNotice() {
  $('notice').hidden = true;
}

function explain(answer, seat) {
  const code = problemCode(answer);
  switch (code) {
    case 'seat-unavailable': {
      const seats = (answer.json.seats || [seat]).filter(Boolean).join(', ');
      return `Someone else was faster: seat ${seats} is no longer free. The map is up to date.`;
    }
    case 'too-many-holds':
      return 'You already hold as many seats of this show as one person may. Book or release some first.';
    case 'hold-expired':
      return 'A hold in your cart lapsed before checkout, so nothing was booked. Please pick your seats again.';
    case 'cart-closed':
      return 'That cart was already checked out. A new cart will be used.';
    case 'not-found':
      return 'That no longer exists.';
    default:
      return (answer.json && answer.json.detail) || `Something went wrong (${answer.status}).`;
  }
}

// ---------- formatting ----------

function formatTime(iso) {
  return new Date(iso).toLocaleString(undefined, {
    weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
  });
}

function showTitle(id) {
  const show = state.shows.find((s) => s.id === id);
  return show ? show.title : 'Show';
}

// ---------- views ----------

function switchView(name) {
  for (const view of ['shows-view', 'show-view', 'bookings-view']) {
    $(view).hidden = view !== name;
  }
}

async function loadShows() {
  const answer = await read('/v1/shows');
  state.shows = answer.status === 200 ? answer.json.shows : [];
}

async function renderShows() {
  await loadShows();
  const list = $('show-list');
  list.replaceChildren();
  for (const show of state.shows) {
    const item = document.createElement('li');
    const link = document.createElement('a');
    link.href = `#/shows/${show.id}`;
    link.className = 'show-card';
    link.dataset.showId = show.id;
    const title = document.createElement('strong');
    title.textContent = show.title;
    const time = document.createElement('span');
    time.textContent = formatTime(show.starts_at);
    const left = document.createElement('span');
    left.className = 'seats-left';
    left.textContent = show.available === 0 ? 'Sold out' : `${show.available} of ${show.capacity} seats left`;
    link.append(title, time, left);
    item.append(link);
    list.append(item);
  }
  switchView('shows-view');
}

// Seat status as this user sees it.
function seatView(seatId) {
  const status = state.statuses.get(seatId) || 'available';
  const inCart = state.cart && state.cart.status === 'open' &&
    state.cart.items.some((i) => i.seat_id === seatId && i.status === 'held');
  const mineBooked = state.bookings.some((b) => b.status === 'confirmed' &&
    b.show_id === state.show.id && b.seats.includes(seatId));
  if (status === 'booked') return mineBooked ? 'mine-booked' : 'booked';
  if (status === 'held') return inCart ? 'mine-held' : 'held';
  return 'available';
}

const SPOKEN = {
  'available': 'available',
  'mine-held': 'held by you, press to release',
  'held': 'held by someone else',
  'mine-booked': 'booked by you',
  'booked': 'booked',
};

function aisleAfter(seats) {
  // Aisles split long rows into blocks, as in a real auditorium.
  if (seats >= 12) return new Set([Math.floor(seats / 4), seats - Math.floor(seats / 4)]);
  if (seats >= 6) return new Set([Math.floor(seats / 2)]);
  return new Set();
}

function renderSeatMap() {
  const map = $('seat-map');
  map.replaceChildren();
  const rows = new Map();
  for (const seat of state.show.seats) {
    if (!rows.has(seat.row)) rows.set(seat.row, []);
    rows.get(seat.row).push(seat);
  }
  for (const [label, seats] of rows) {
    const row = document.createElement('div');
    row.className = 'row';
    row.setAttribute('role', 'group');
    row.setAttribute('aria-label', `Row ${label}`);
    const name = document.createElement('span');
    name.className = 'row-label';
    name.textContent = label;
    name.setAttribute('aria-hidden', 'true');
    row.append(name);
    const aisles = aisleAfter(seats.length);
    for (const seat of seats) {
      const button = document.createElement('button');
      button.type = 'button';
      button.id = `seat-${seat.id}`;
      button.dataset.seat = seat.id;
      button.textContent = seat.number;
      button.addEventListener('click', () => onSeat(seat.id));
      row.append(button);
      if (aisles.has(seat.number)) {
        const aisle = document.createElement('span');
        aisle.className = 'aisle';
        aisle.setAttribute('aria-hidden', 'true');
        row.append(aisle);
      }
    }
    const end = name.cloneNode(true);
    row.append(end);
    map.append(row);
  }
  paintSeats();
}

function paintSeats() {
  for (const seat of state.show.seats) {
    const button = document.getElementById(`seat-${seat.id}`);
    if (!button) continue;
    const view = seatView(seat.id);
    button.className = `seat ${view}`;
    button.dataset.status = view;
    button.setAttribute('aria-label', `Row ${seat.row}, seat ${seat.number}, ${SPOKEN[view]}`);
    const actionable = view === 'available' || view === 'mine-held';
    button.setAttribute('aria-disabled', actionable ? 'false' : 'true');
    button.setAttribute('aria-pressed', view === 'mine-held' ? 'true' : 'false');
  }
  renderCart();
}

function renderCart() {
  const items = $('cart-items');
  items.replaceChildren();
  const cart = state.cart;
  const held = cart && cart.status === 'open' ? cart.items : [];
  for (const item of held) {
    const li = document.createElement('li');
    li.className = `cart-item ${item.status}`;
    const text = document.createElement('span');
    text.textContent = item.status === 'expired'
      ? `Seat ${item.seat_id} — hold lapsed`
      : `Seat ${item.seat_id}`;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'link';
    remove.textContent = 'Release';
    remove.setAttribute('aria-label', `Release seat ${item.seat_id}`);
    remove.addEventListener('click', () => release(item.seat_id));
    li.append(text, remove);
    items.append(li);
  }
  $('cart-empty').hidden = held.length > 0;
  const live = held.filter((i) => i.status === 'held');
  $('checkout').disabled = live.length === 0;
  $('checkout').textContent = live.length > 0 ? `Book ${live.length} seat${live.length > 1 ? 's' : ''}` : 'Book held seats';
  tickCountdown();
}

function tickCountdown() {
  const label = $('cart-countdown');
  const expires = state.cart && state.cart.status === 'open' && state.cart.expires_at;
  if (!expires) {
    label.hidden = true;
    return;
  }
  const left = Math.max(0, Math.round((new Date(expires) - Date.now()) / 1000));
  label.hidden = false;
  if (left === 0) {
    label.textContent = 'Your hold has lapsed.';
    refreshCart();
    return;
  }
  const minutes = Math.floor(left / 60);
  const seconds = String(left % 60).padStart(2, '0');
  label.textContent = `Seats held for ${minutes}:${seconds}`;
}

// ---------- show page ----------

function cartStorageKey() {
  return `boxoffice.cart.${state.show.id}`;
}

async function refreshCart() {
  const id = localStorage.getItem(cartStorageKey());
  if (!id) {
    state.cart = null;
    return;
  }
  const answer = await read(`/v1/carts/${id}`);
  if (answer.status === 200 && answer.json.status === 'open') {
    state.cart = answer.json;
  } else {
    localStorage.removeItem(cartStorageKey());
    state.cart = null;
  }
  if (state.show) paintSeats();
}

async function refreshMap() {
  const answer = await read(`/v1/shows/${state.show.id}`);
  if (answer.status !== 200) return;
  state.show = answer.json;
  state.statuses = new Map(answer.json.seats.map((s) => [s.id, s.status]));
  paintSeats();
}

async function refreshBookings() {
  const answer = await read('/v1/bookings');
  if (answer.status === 200) state.bookings = answer.json.bookings;
}

function listen(showId) {
  if (state.events) state.events.close();
  // A reconnect sends the last event id it saw (Last-Event-ID): the
  // server sends what was missed, or a `snapshot` of the whole map when the
  // page is too far behind (or the show moved to another server).
  const events = new EventSource(`/v1/shows/${showId}/events`);
  events.addEventListener('snapshot', (event) => {
    const show = JSON.parse(event.data);
    state.statuses = new Map(show.seats.map((s) => [s.id, s.status]));
    if (state.cart) refreshCart();
    paintSeats();
  });
  events.addEventListener('seat', (event) => {
    const change = JSON.parse(event.data);
    state.statuses.set(change.seat_id, change.status);
    const mine = state.cart && state.cart.items.some((i) => i.seat_id === change.seat_id);
    if (mine && change.status === 'available') {
      refreshCart(); // my hold lapsed or was released
    } else {
      paintSeats();
    }
  });
  state.events = events;
}

async function openShow(showId) {
  clearNotice();
  if (!state.shows.length) await loadShows();
  const answer = await read(`/v1/shows/${showId}`);
  if (answer.status !== 200) {
    notify('That show does not exist (any more).', 'error');
    return renderShows();
  }
  state.show = answer.json;
  state.statuses = new Map(answer.json.seats.map((s) => [s.id, s.status]));
  $('show-title').textContent = state.show.title;
  $('show-time').textContent = formatTime(state.show.starts_at);
  switchView('show-view');
  listen(showId);
  renderSeatMap();
  await Promise.all([refreshCart(), refreshBookings()]);
  paintSeats();
  clearInterval(state.countdown);
  state.countdown = setInterval(tickCountdown, 1000);
}

async function ensureCart() {
  if (state.cart && state.cart.status === 'open') return state.cart;
  const answer = await mutate('POST', '/v1/carts', {});
  if (answer.status !== 201) throw new Error(explain(answer));
  state.cart = answer.json;
  localStorage.setItem(cartStorageKey(), state.cart.id);
  return state.cart;
}

async function hold(seatId) {
  const cart = await ensureCart();
  const answer = await mutate('POST', `/v1/carts/${cart.id}/items`,
    { show_id: state.show.id, seat_id: seatId });
  if (answer.status === 201) {
    state.cart = answer.json;
    state.statuses.set(seatId, 'held');
    clearNotice();
    paintSeats();
    return;
  }
  if (problemCode(answer) === 'cart-closed' || answer.status === 404) {
    localStorage.removeItem(cartStorageKey());
    state.cart = null;
  }
  notify(explain(answer, seatId), 'warning');
  await refreshMap();
}

async function release(seatId) {
  if (!state.cart) return;
  const answer = await mutate('DELETE',
    `/v1/carts/${state.cart.id}/items/${state.show.id}/${seatId}`);
  if (answer.status !== 204) notify(explain(answer, seatId), 'warning');
  await refreshCart();
  await refreshMap();
}

async function onSeat(seatId) {
  const view = seatView(seatId);
  try {
    if (view === 'available') {
      await hold(seatId);
    } else if (view === 'mine-held') {
      await release(seatId);
    } else if (view === 'mine-booked') {
      notify(`Seat ${seatId} is already yours.`);
    } else {
      notify(`Seat ${seatId} is taken. Please choose a free seat.`);
    }
  } catch (error) {
    notify(`We could not reach the box office (${error.message}). Nothing was booked twice; please try again.`, 'error');
  }
}

async function checkout() {
  if (!state.cart) return;
  $('checkout').disabled = true;
  try {
    const answer = await mutate('POST', `/v1/carts/${state.cart.id}/checkout`, {});
    if (answer.status === 201) {
      localStorage.removeItem(cartStorageKey());
      state.cart = null;
      const seats = answer.json.seats;
      notify(seats.length === 1 ? `Booked! Seat ${seats[0]} is yours.`
        : `Booked! Seats ${seats.join(', ')} are yours.`, 'success');
      await refreshBookings();
      await refreshMap();
    } else {
      notify(explain(answer), 'warning');
      await refreshCart();
      await refreshMap();
    }
  } catch (error) {
    notify(`We could not reach the box office (${error.message}). Nothing was booked twice; please try again.`, 'error');
  } finally {
    renderCart();
  }
}

// ---------- bookings page ----------

async function renderBookings() {
  if (state.events) { state.events.close(); state.events = null; }
  if (!state.shows.length) await loadShows();
  await refreshBookings();
  const list = $('booking-list');
  list.replaceChildren();
  const bookings = [...state.bookings].reverse();
  $('bookings-empty').hidden = bookings.length > 0;
  for (const booking of bookings) {
    const li = document.createElement('li');
    li.className = `booking ${booking.status}`;
    li.dataset.bookingId = booking.id;
    const title = document.createElement('strong');
    title.textContent = showTitle(booking.show_id);
    const seats = document.createElement('span');
    seats.textContent = `Seats ${booking.seats.join(', ')}`;
    const status = document.createElement('span');
    status.className = 'booking-status';
    status.textContent = booking.status === 'confirmed' ? 'Confirmed' : 'Cancelled';
    li.append(title, seats, status);
    if (booking.status === 'confirmed') {
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.textContent = 'Cancel booking';
      cancel.setAttribute('aria-label', `Cancel booking of seats ${booking.seats.join(', ')}`);
      cancel.addEventListener('click', () => cancelBooking(booking.id));
      li.append(cancel);
    }
    list.append(li);
  }
  switchView('bookings-view');
}

async function cancelBooking(id) {
  try {
    const answer = await mutate('DELETE', `/v1/bookings/${id}`);
    if (answer.status === 204) notify('Booking cancelled. The seats are free again.', 'success');
    else notify(explain(answer), 'warning');
  } catch (error) {
    notify(`We could not reach the box office (${error.message}). Please try again.`, 'error');
  }
  await renderBookings();
}

// ---------- routing ----------

async function route() {
  clearInterval(state.countdown);
  const hash = location.hash || '#/';
  const show = hash.match(/^#\/shows\/([^/]+)$/);
  if (show) return openShow(show[1]);
  if (state.events) { state.events.close(); state.events = null; }
  if (hash === '#/bookings') return renderBookings();
  return renderShows();
}

async function start() {
  $('checkout').addEventListener('click', checkout);
  window.addEventListener('hashchange', () => { clearNotice(); route(); });
  try {
    await ensureSession();
  } catch (error) {
    notify('The box office is not reachable right now. Please reload in a moment.', 'error');
    return;
  }
  await route();
  document.body.dataset.ready = 'true';
}

start();
