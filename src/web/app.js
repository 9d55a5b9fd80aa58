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
  map: null,             // the seat map (SeatMap, /seatmap.js)
  warnedCart: null,      // the cart whose lapse warning was given
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

// The notice region stays in the page (a live region that appears with
// its message may not be announced); it is emptied, never hidden.
function notify(message, kind = 'info') {
  const notice = $('notice');
  notice.textContent = message;
  notice.className = `notice ${kind}`;
}

function clearNotice() {
  const notice = $('notice');
  notice.textContent = '';
  notice.className = 'notice empty';
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
    case 'seat-restricted':
      return 'A companion seat goes with a wheelchair space of its row: hold the wheelchair space first.';
    case 'no-seats-together':
      return 'There are not that many free seats side by side any more. Try fewer, or pick seats on the map.';
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

function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'EUR' })
      .format(cents / 100);
  } catch (_) {
    return `${(cents / 100).toFixed(2)} ${currency || ''}`.trim();
  }
}

function categoryName(id) {
  const category = state.show && state.show.categories.find((c) => c.id === id);
  return category ? category.name : id;
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
    if (show.highest_price_cents > 0) {
      const price = document.createElement('span');
      price.className = 'price';
      price.textContent = show.lowest_price_cents === show.highest_price_cents
        ? money(show.lowest_price_cents, show.currency)
        : `${money(show.lowest_price_cents, show.currency)} – ${money(show.highest_price_cents, show.currency)}`;
      link.append(price);
    }
    item.append(link);
    list.append(item);
  }
  switchView('shows-view');
  $('shows-title').focus();
}

// Seat status as this user sees it, for every seat at once (a canvas
// frame of a 100,000-seat hall asks for all of them).
function seatViews() {
  const held = new Set(state.cart && state.cart.status === 'open'
    ? state.cart.items.filter((i) => i.status === 'held').map((i) => i.seat_id) : []);
  const mine = new Set(state.bookings
    .filter((b) => b.status === 'confirmed' && b.show_id === state.show.id)
    .flatMap((b) => b.seats));
  return (seatId) => {
    const status = state.statuses.get(seatId) || 'available';
    if (status === 'booked') return mine.has(seatId) ? 'mine-booked' : 'booked';
    if (status === 'held') return held.has(seatId) ? 'mine-held' : 'held';
    return 'available';
  };
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

// The seat map, drawn by the shared renderer (/seatmap.js): an ARIA grid
// of buttons with one tab stop, or a canvas for large halls; a seat's
// look, its spoken label and what a click does are this page's.
function renderSeatMap() {
  if (state.map) state.map.destroy();
  state.map = SeatMap.create($('seat-map'), {
    seats: state.show.seats,
    views: seatViews,
    decorate: decorateSeat,
    colour: seatColour,
    describe: describeSeat,
    onActivate: onSeat,
    label: 'Seat map',
    canvasLabel: `Seat map, ${state.show.seats.length} seats. Arrow keys move, Enter or Space holds or releases, plus and minus zoom.`,
  });
  renderPrices();
  paintSeats();
}

const HALL_COLOURS = {
  'available': '#1f7a46', 'held': '#8a8aa0', 'booked': '#50505e',
  'mine-held': '#f2c14e', 'mine-booked': '#f2c14e',
};

function seatColour(seat, status) {
  return seat.accessibility === 'wheelchair' && status === 'available'
    ? '#2b6cb0' : HALL_COLOURS[status];
}

// The hall's frame and zoom by name (the browser tests time them).
function drawHall() { state.map.draw(); }
function zoomHall(factor) { state.map.zoom(factor); }

function describeSeat(seat, view) {
  const kind = seat.accessibility === 'wheelchair' ? ', wheelchair space'
    : seat.accessibility === 'companion' ? ', companion seat' : '';
  const price = seat.price_cents > 0 ? `, ${money(seat.price_cents, state.show.currency)}` : '';
  return `Row ${seat.row}, seat ${seat.number}, ${SPOKEN[view]}${kind}${price}`;
}

function decorateSeat(button, seat, view) {
  button.className = `seat ${view}${seat.accessibility ? ` ${seat.accessibility}` : ''}`;
  button.dataset.status = view;
  const kind = seat.accessibility === 'wheelchair' ? ', wheelchair space'
    : seat.accessibility === 'companion' ? ', companion seat' : '';
  const price = seat.price_cents > 0
    ? `, ${categoryName(seat.category)} ${money(seat.price_cents, state.show.currency)}` : '';
  button.setAttribute('aria-label', `Row ${seat.row}, seat ${seat.number}, ${SPOKEN[view]}${kind}${price}`);
  const actionable = view === 'available' || view === 'mine-held';
  button.setAttribute('aria-disabled', actionable ? 'false' : 'true');
  button.setAttribute('aria-pressed', view === 'mine-held' ? 'true' : 'false');
}

function renderPrices() {
  const list = $('prices');
  list.replaceChildren();
  const used = new Set(state.show.seats.map((s) => s.category));
  for (const category of state.show.categories) {
    if (!used.has(category.id)) continue;
    const li = document.createElement('li');
    li.textContent = `${category.name}: ${money(category.price_cents, state.show.currency)}`;
    list.append(li);
  }
}

function paintSeats() {
  if (state.map) state.map.paint();
  renderCart();
}

function renderCart() {
  const items = $('cart-items');
  items.replaceChildren();
  const cart = state.cart;
  const held = cart && cart.status === 'open' ? cart.items : [];
  const currency = cart && cart.currency;
  for (const item of held) {
    const li = document.createElement('li');
    li.className = `cart-item ${item.status}`;
    const text = document.createElement('span');
    const price = item.price_cents > 0 ? ` · ${money(item.price_cents, currency)}` : '';
    text.textContent = item.status === 'expired'
      ? `Seat ${item.seat_id} — hold lapsed`
      : `Seat ${item.seat_id}${price}`;
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
  const total = $('cart-total');
  total.hidden = !(cart && held.length > 0 && cart.total_cents > 0);
  total.textContent = cart ? `Total ${money(cart.total_cents, currency)}` : '';
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
  // A spoken and visible warning a minute before the hold lapses.
  if (left <= 60 && state.warnedCart !== state.cart.id) {
    state.warnedCart = state.cart.id;
    notify('Your seats are held for less than a minute more. Book them now, or they will be released.', 'warning');
  }
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
  $('show-title').focus();
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

// "N seats together": the engine chooses the best block and holds it.
async function holdTogether(event) {
  event.preventDefault();
  const count = Number($('together-count').value);
  if (!Number.isInteger(count) || count < 1 || count > 10) {
    notify('Please ask for 1 to 10 seats.', 'warning');
    $('together-count').focus();
    return;
  }
  const best = { count };
  if ($('together-wheelchair').checked) best.accessibility = 'wheelchair';
  try {
    const cart = await ensureCart();
    const answer = await mutate('POST', `/v1/carts/${cart.id}/items`,
      { show_id: state.show.id, best_available: best });
    if (answer.status === 201) {
      const before = new Set((cart.items || []).map((i) => i.seat_id));
      state.cart = answer.json;
      const got = state.cart.items.filter((i) => !before.has(i.seat_id)).map((i) => i.seat_id);
      for (const id of got) state.statuses.set(id, 'held');
      notify(`Held for you: seat${got.length > 1 ? 's' : ''} ${got.join(', ')}.`, 'success');
      paintSeats();
      $('checkout').focus();
      return;
    }
    if (problemCode(answer) === 'cart-closed' || answer.status === 404) {
      localStorage.removeItem(cartStorageKey());
      state.cart = null;
    }
    notify(explain(answer), 'warning');
    await refreshMap();
  } catch (error) {
    notify(`We could not reach the box office (${error.message}). Nothing was booked twice; please try again.`, 'error');
  }
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
      // The checkout button is disabled now: focus goes to the message.
      $('notice').focus();
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
    const show = state.shows.find((s) => s.id === booking.show_id);
    const when = document.createElement('span');
    when.textContent = show ? formatTime(show.starts_at) : '';
    const seats = document.createElement('span');
    seats.textContent = `Seats ${booking.seats.join(', ')}`;
    const total = document.createElement('span');
    total.textContent = booking.total_cents > 0 ? `Total ${money(booking.total_cents, booking.currency)}` : '';
    const reference = document.createElement('span');
    reference.className = 'reference';
    // The id's last characters: its first are the time (UUIDv7), the same
    // for every booking of a minute; the staff console searches these.
    reference.textContent = `Ref. ${booking.id.slice(-8).toUpperCase()}`;
    const status = document.createElement('span');
    status.className = 'booking-status';
    status.textContent = booking.status === 'confirmed' ? 'Confirmed' : 'Cancelled';
    li.append(title, when, seats, total, reference, status);
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
  $('bookings-title').focus();
}

async function cancelBooking(id) {
  const booking = state.bookings.find((b) => b.id === id);
  const what = booking ? `seats ${booking.seats.join(', ')} of ${showTitle(booking.show_id)}` : 'this booking';
  // Cancelling gives the seats away: ask first.
  if (!window.confirm(`Cancel ${what}? The seats go back on sale.`)) return;
  try {
    const answer = await mutate('DELETE', `/v1/bookings/${id}`);
    if (answer.status === 204) notify('Booking cancelled. The seats are free again.', 'success');
    else notify(explain(answer), 'warning');
  } catch (error) {
    notify(`We could not reach the box office (${error.message}). Please try again.`, 'error');
  }
  await renderBookings();
  $('bookings-title').focus();
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
  $('together').addEventListener('submit', holdTogether);
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
