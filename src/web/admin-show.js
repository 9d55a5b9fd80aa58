// boxoffice staff console: one show. Its live seat map (the booking page's
// renderer, /seatmap.js, kept current by the show's event stream) on which
// staff select seats and block or unblock them; its sales figures and a
// sales-per-minute chart drawn here as SVG, with a table for screen
// readers; its bookings, paged, searchable, cancellable on the customer's
// behalf, and downloadable as CSV. Served as /admin-show.js; uses
// /admin.js's helpers ($, el, call, read, mutate, notify, ...).
'use strict';

const SALES_POLL_MS = 5000;
const REFRESH_AFTER_EVENT_MS = 300;
const BOOKINGS_PAGE = 50;
const SEARCH_PAGE = 1000;
const SEARCH_MAX_PAGES = 50;   // a search reads at most 50,000 bookings
const CHART_MINUTES = 60;      // the chart's last minutes with sales
const MAX_REASON = 200;

const showView = {
  show: null,
  statuses: new Map(),   // seat id -> available | held | booked | blocked
  selected: new Set(),
  map: null,
  events: null,
  timers: [],
  refreshTimer: null,
  refreshing: false,
  bookings: [],
  nextCursor: null,
  query: '',
  sales: null,
  cancelling: null,      // { booking, opener } while the dialog is open
};

const STATUS_WORDS = { available: 'available', held: 'held', booked: 'booked', blocked: 'blocked' };
const STATUS_COLOURS = { available: '#1f7a46', held: '#8a8aa0', booked: '#50505e', blocked: '#b0413e' };

function setUpShowView() {
  $('block-form').addEventListener('submit', (event) => { event.preventDefault(); blockSelected(); });
  $('unblock-seats').addEventListener('click', unblockSelected);
  $('clear-selection').addEventListener('click', () => { showView.selected.clear(); paintMap(); });
  $('block-reason').addEventListener('input', () => hideError('block-error', $('block-reason')));
  $('booking-search').addEventListener('submit', (event) => {
    event.preventDefault();
    showView.query = $('booking-query').value.trim();
    loadBookings();
  });
  $('booking-search-clear').addEventListener('click', () => {
    $('booking-query').value = '';
    showView.query = '';
    loadBookings();
  });
  $('more-bookings').addEventListener('click', moreBookings);
  $('download-csv').addEventListener('click', downloadCsv);
  setUpCancelDialog();
}

async function openShowView(id) {
  const hash = location.hash;
  const answer = await read(`/v1/shows/${id}`);
  // Gone elsewhere (or signed out) while the show was read: nothing to open.
  if (location.hash !== hash || !admin.token) return;
  if (answer.status !== 200) {
    notify('That show does not exist (any more).', 'error');
    location.hash = '#/';
    return;
  }
  const view = showView;
  view.show = answer.json;
  view.statuses = new Map(answer.json.seats.map((s) => [s.id, s.status]));
  view.selected = new Set();
  view.bookings = [];
  view.nextCursor = null;
  view.query = '';
  view.sales = null;
  $('booking-query').value = '';
  $('block-reason').value = '';
  hideError('block-error', $('block-reason'));
  $('show-title').textContent = view.show.title;
  const end = view.show.sales_end_at;
  const closed = end && new Date(end) <= new Date() ? ' (online sales closed; blocks and cancels still work)' : '';
  const salesEnd = end ? ` · sales end ${formatTime(end)}${closed}` : '';
  $('show-time').textContent = `${formatTime(view.show.starts_at)}${salesEnd}`;
  switchView('show-view');
  $('show-title').focus();
  renderMap();
  listen(id);
  admin.leave = leaveShowView;
  await Promise.all([refreshSales(), loadBookings()]);
  const poll = async () => {
    if (view.show && view.show.id === id && admin.leave === leaveShowView) {
      await refreshSales();
      view.timers.push(setTimeout(poll, SALES_POLL_MS));
    }
  };
  view.timers.push(setTimeout(poll, SALES_POLL_MS));
}

function leaveShowView() {
  const view = showView;
  if (view.events) view.events.close();
  view.events = null;
  for (const timer of view.timers) clearTimeout(timer);
  view.timers = [];
  clearTimeout(view.refreshTimer);
  view.refreshTimer = null;
  if (view.map) view.map.destroy();
  view.map = null;
  view.show = null;
  if ($('cancel-dialog').open) $('cancel-dialog').close('keep');
}

// ---------- the seat map ----------

function renderMap() {
  const view = showView;
  if (view.map) view.map.destroy();
  view.map = SeatMap.create($('seat-map'), {
    seats: view.show.seats,
    views: () => (id) => `${view.statuses.get(id) || 'available'}${view.selected.has(id) ? ' selected' : ''}`,
    decorate: decorateSeat,
    colour: (seat, look) => (look.endsWith(' selected') ? '#f2c14e' : STATUS_COLOURS[look] || STATUS_COLOURS.available),
    describe: (seat, look) => seatWords(seat, look),
    onActivate: toggleSeat,
    label: 'Seat map',
    canvasLabel: `Seat map, ${view.show.seats.length} seats. Arrow keys move, Enter or Space selects or unselects, plus and minus zoom.`,
  });
  paintMap();
}

function seatWords(seat, look) {
  const [status, selected] = look.split(' ');
  const kind = seat.accessibility === 'wheelchair' ? ', wheelchair space'
    : seat.accessibility === 'companion' ? ', companion seat' : '';
  return `Row ${seat.row}, seat ${seat.number}, ${STATUS_WORDS[status]}${selected ? ', selected' : ''}${kind}`;
}

function decorateSeat(button, seat, look) {
  const [status, selected] = look.split(' ');
  button.className = `seat ${status}${selected ? ' selected' : ''}${seat.accessibility ? ` ${seat.accessibility}` : ''}`;
  button.dataset.status = status;
  button.dataset.selected = selected ? 'true' : 'false';
  button.setAttribute('aria-label', seatWords(seat, look));
  button.setAttribute('aria-pressed', selected ? 'true' : 'false');
}

function toggleSeat(id) {
  const view = showView;
  if (view.selected.has(id)) view.selected.delete(id);
  else view.selected.add(id);
  paintMap();
}

function paintMap() {
  const view = showView;
  if (!view.map) return;
  view.map.paint();
  const selected = [...view.selected];
  $('selection').textContent = selected.length === 0 ? 'No seat selected.'
    : `Selected: ${selected.length} seat${selected.length === 1 ? '' : 's'} (${selected.slice(0, 12).join(', ')}${selected.length > 12 ? ', …' : ''}).`;
}

function listen(showId) {
  const view = showView;
  if (view.events) view.events.close();
  // A reconnect sends the last event id seen (Last-Event-ID): the server
  // sends what was missed, or a `snapshot` of the whole map.
  const events = new EventSource(`/v1/shows/${showId}/events`);
  events.addEventListener('snapshot', (event) => {
    const show = JSON.parse(event.data);
    view.statuses = new Map(show.seats.map((s) => [s.id, s.status]));
    paintMap();
    scheduleRefresh();
  });
  events.addEventListener('seat', (event) => {
    const change = JSON.parse(event.data);
    view.statuses.set(change.seat_id, change.status);
    paintMap();
    scheduleRefresh();
  });
  view.events = events;
}

// Seat events come in bursts (a booking of six seats is six events): the
// figures and the bookings are asked once a burst has passed, one refresh
// at a time.
function scheduleRefresh() {
  const view = showView;
  if (view.refreshTimer) return;
  view.refreshTimer = setTimeout(async () => {
    if (view.refreshing) {
      view.refreshTimer = null;
      scheduleRefresh();
      return;
    }
    view.refreshing = true;
    try {
      await Promise.all([refreshSales(), view.query ? null : loadBookings({ keep: true })]);
    } finally {
      view.refreshing = false;
      view.refreshTimer = null;
    }
  }, REFRESH_AFTER_EVENT_MS);
}

// ---------- house seats ----------

function showError(id, message, input) {
  $(id).textContent = message;
  $(id).hidden = false;
  if (input) input.setAttribute('aria-invalid', 'true');
}

function hideError(id, input) {
  $(id).hidden = true;
  $(id).textContent = '';
  if (input) input.removeAttribute('aria-invalid');
}

async function blockSelected() {
  const view = showView;
  const seats = [...view.selected];
  const reason = $('block-reason').value.trim();
  hideError('block-error', $('block-reason'));
  if (!seats.length) return notify('Select the seats to block first.', 'warning');
  if ([...reason].length > MAX_REASON) {
    showError('block-error', `A reason has at most ${MAX_REASON} characters.`, $('block-reason'));
    return $('block-reason').focus();
  }
  const body = { seats };
  if (reason) body.reason = reason;
  try {
    const answer = await mutate('POST', `/v1/shows/${view.show.id}/blocks`, body);
    if (answer.status === 201) {
      for (const id of answer.json.seats) view.statuses.set(id, 'blocked');
      view.selected.clear();
      paintMap();
      notify(`Blocked ${answer.json.seats.join(', ')}${answer.json.reason ? ` (${answer.json.reason})` : ''}.`, 'success');
    } else if (answer.status === 400 && /reason/.test(explain(answer))) {
      showError('block-error', explain(answer), $('block-reason'));
      $('block-reason').focus();
    } else {
      notify(explain(answer), 'warning');
    }
  } catch (error) {
    unreachable(error);
  }
  scheduleRefresh();
}

async function unblockSelected() {
  const view = showView;
  const seats = [...view.selected].filter((id) => view.statuses.get(id) === 'blocked');
  if (!seats.length) return notify('Select blocked seats to unblock them.', 'warning');
  const done = [];
  try {
    for (const id of seats) {
      const answer = await mutate('DELETE', `/v1/shows/${view.show.id}/blocks/${encodeURIComponent(id)}`);
      if (answer.status !== 204) {
        notify(explain(answer), 'warning');
        break;
      }
      done.push(id);
      view.statuses.set(id, 'available');
      view.selected.delete(id);
    }
  } catch (error) {
    unreachable(error);
  }
  paintMap();
  if (done.length === seats.length) notify(`Unblocked ${done.join(', ')}.`, 'success');
  scheduleRefresh();
}

// ---------- sales ----------

async function refreshSales() {
  const view = showView;
  const id = view.show && view.show.id;
  if (!id) return;
  let answer;
  try {
    answer = await read(`/v1/shows/${id}/sales`);
  } catch (_) {
    return;
  }
  if (!view.show || view.show.id !== id) return;
  if (answer.status !== 200) {
    $('figures').replaceChildren(el('dt', 'Sales'), el('dd', `not available (${answer.status})`));
    return;
  }
  view.sales = answer.json;
  renderFigures(answer.json);
  renderChart(answer.json);
}

function renderFigures(sales) {
  const items = [
    ['Capacity', sales.capacity, 'capacity'], ['Sold', sales.booked, 'booked'], ['Held', sales.held, 'held'],
    ['Free', sales.available, 'available'], ['Blocked', sales.blocked, 'blocked'],
    ['Revenue', money(sales.revenue_cents, sales.currency), 'revenue'],
    ['Bookings', sales.bookings, 'bookings'], ['Cancelled bookings', sales.cancelled_bookings, 'cancelled'],
  ];
  for (const category of sales.by_category || []) {
    items.push([`Sold in ${category.category}`, `${category.booked} · ${money(category.revenue_cents, sales.currency)}`, `category-${category.category}`]);
  }
  const figures = $('figures');
  const parts = [];
  for (const [name, value, key] of items) {
    const wrap = el('div', null, 'figure');
    const dd = el('dd', value);
    dd.dataset.figure = key;
    wrap.append(el('dt', name), dd);
    parts.push(wrap);
  }
  figures.replaceChildren(...parts);
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = String(text);
  return element;
}

function minuteLabel(iso) {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

// Bars of seats sold in each of the last CHART_MINUTES minutes with sales.
// The SVG is a picture for the eye (aria-hidden); the same numbers are in
// the table under it, which screen readers read.
function renderChart(sales) {
  const minutes = (sales.per_minute || []).slice(-CHART_MINUTES);
  const box = $('chart');
  const rows = $('chart-rows');
  rows.replaceChildren(...minutes.map((m) => {
    const tr = document.createElement('tr');
    tr.append(el('td', minuteLabel(m.minute)), el('td', m.booked), el('td', money(m.revenue_cents, sales.currency)));
    return tr;
  }));
  if (!minutes.length) {
    box.replaceChildren(el('p', 'No seats sold yet.', 'muted'));
    return;
  }
  const width = 600;
  const height = 160;
  const left = 36;
  const bottom = 22;
  const top = 10;
  const most = Math.max(1, ...minutes.map((m) => m.booked));
  const step = (width - left) / Math.max(minutes.length, 10);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', 'aria-hidden': 'true', focusable: 'false' });
  const plot = height - bottom - top;
  chart.append(
    svg('line', { x1: left, y1: top + plot, x2: width, y2: top + plot, class: 'axis' }),
    svg('line', { x1: left, y1: top, x2: left, y2: top + plot, class: 'axis' }),
    svg('text', { x: left - 6, y: top + 4, 'text-anchor': 'end', class: 'tick' }, most),
    svg('text', { x: left - 6, y: top + plot + 4, 'text-anchor': 'end', class: 'tick' }, 0),
  );
  minutes.forEach((m, i) => {
    const h = (m.booked / most) * plot;
    const x = left + i * step + step * 0.15;
    const bar = svg('rect', { x, y: top + plot - h, width: step * 0.7, height: h, class: 'bar' });
    bar.append(svg('title', {}, `${minuteLabel(m.minute)}: ${m.booked}`));
    chart.append(bar);
  });
  const labelled = minutes.length > 1 ? [0, minutes.length - 1] : [0];
  for (const i of labelled) {
    chart.append(svg('text', {
      x: left + i * step + step / 2, y: height - 6, 'text-anchor': i === 0 ? 'start' : 'end', class: 'tick',
    }, minuteLabel(minutes[i].minute)));
  }
  box.replaceChildren(chart);
}

// ---------- bookings ----------

// The first page (or, with `keep`, as many as are shown, up to a page of
// SEARCH_PAGE), or the results of a search.
async function loadBookings({ keep = false } = {}) {
  const view = showView;
  const id = view.show && view.show.id;
  if (!id) return;
  if (view.query) return searchBookings(id, view.query);
  const limit = keep ? Math.min(SEARCH_PAGE, Math.max(BOOKINGS_PAGE, view.bookings.length)) : BOOKINGS_PAGE;
  const answer = await read(`/v1/shows/${id}/bookings?limit=${limit}`);
  if (!view.show || view.show.id !== id || view.query) return;
  if (answer.status !== 200) {
    $('bookings-status').textContent = `The bookings could not be read (${answer.status}).`;
    return;
  }
  view.bookings = answer.json.bookings;
  view.nextCursor = answer.json.next_cursor;
  renderBookings();
}

async function moreBookings() {
  const view = showView;
  if (!view.nextCursor) return;
  const id = view.show.id;
  const answer = await read(`/v1/shows/${id}/bookings?limit=${BOOKINGS_PAGE}&cursor=${encodeURIComponent(view.nextCursor)}`);
  if (!view.show || view.show.id !== id || answer.status !== 200) return;
  const first = view.bookings.length;
  view.bookings = view.bookings.concat(answer.json.bookings);
  view.nextCursor = answer.json.next_cursor;
  renderBookings();
  // Focus goes to the first booking loaded, so the keyboard is where it was.
  const row = $('booking-rows').children[first];
  const target = row && row.querySelector('th');
  if (target) { target.tabIndex = -1; target.focus(); }
}

// By booking reference (the id, or its last characters, as the booking
// page shows it; its first ones, as builds before 1.2 showed it) or user
// id: the show's bookings read page by page, at most SEARCH_MAX_PAGES pages.
async function searchBookings(id, query) {
  const view = showView;
  const q = query.toLowerCase();
  $('bookings-status').textContent = 'Searching…';
  const found = [];
  let cursor = null;
  let pages = 0;
  do {
    const more = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const answer = await read(`/v1/shows/${id}/bookings?limit=${SEARCH_PAGE}${more}`);
    if (!view.show || view.show.id !== id || view.query !== query) return;
    if (answer.status !== 200) {
      $('bookings-status').textContent = `The bookings could not be read (${answer.status}).`;
      return;
    }
    for (const b of answer.json.bookings) {
      const id = b.id.toLowerCase();
      if (id.startsWith(q) || id.endsWith(q) || b.user_id.toLowerCase().startsWith(q)) found.push(b);
    }
    cursor = answer.json.next_cursor;
    pages += 1;
  } while (cursor && pages < SEARCH_MAX_PAGES);
  view.bookings = found;
  view.nextCursor = null;
  renderBookings(cursor ? ` (the first ${(pages * SEARCH_PAGE).toLocaleString()} bookings searched)` : '');
}

// A booking's short reference: the last 8 characters of its id. Not the
// first: a one-shot booking's id is time-ordered (UUIDv7), so its first
// characters are the same for every booking of the same minute.
function reference(booking) {
  return booking.id.slice(-8).toUpperCase();
}

function renderBookings(note = '') {
  const view = showView;
  const body = $('booking-rows');
  const parts = view.bookings.map((booking) => {
    const tr = document.createElement('tr');
    tr.dataset.bookingId = booking.id;
    tr.className = booking.status;
    const ref = el('th', reference(booking), 'reference');
    ref.scope = 'row';
    ref.title = booking.id;
    const status = booking.status === 'confirmed' ? 'Confirmed'
      : `Cancelled${booking.cancelled_by === 'box-office' ? ' by the box office' : booking.cancelled_by === 'customer' ? ' by the customer' : ''}`;
    const action = document.createElement('td');
    if (booking.status === 'confirmed') {
      const cancel = el('button', 'Cancel', 'link');
      cancel.type = 'button';
      cancel.setAttribute('aria-label', `Cancel booking ${reference(booking)} (seats ${booking.seats.join(', ')})`);
      cancel.addEventListener('click', () => askToCancel(booking, cancel));
      action.append(cancel);
    }
    tr.append(ref, el('td', booking.user_id, 'user'), el('td', booking.seats.join(', ')),
      el('td', money(booking.total_cents, booking.currency), 'num'), el('td', status, 'status'),
      el('td', formatTime(booking.created_at)), action);
    return tr;
  });
  body.replaceChildren(...parts);
  $('more-bookings').hidden = !view.nextCursor;
  const count = view.bookings.length;
  $('bookings-status').textContent = view.query
    ? `${count} booking${count === 1 ? '' : 's'} found for “${view.query}”${note}.`
    : `${count === 0 ? 'No bookings yet' : `${count} booking${count === 1 ? '' : 's'} shown${view.nextCursor ? ', more to load' : ''}`}.`;
}

// ---------- cancel on the customer's behalf ----------

function setUpCancelDialog() {
  const dialog = $('cancel-dialog');
  // Tab and Shift+Tab go round the dialog's buttons (the page behind is
  // inert while it is open); Escape closes it as "keep".
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return;
    const buttons = [...dialog.querySelectorAll('button')];
    const at = buttons.indexOf(document.activeElement);
    const next = event.shiftKey ? (at <= 0 ? buttons.length - 1 : at - 1) : (at + 1) % buttons.length;
    event.preventDefault();
    buttons[next].focus();
  });
  dialog.addEventListener('close', () => {
    const cancelling = showView.cancelling;
    showView.cancelling = null;
    if (!cancelling) return;
    if (dialog.returnValue === 'cancel') cancelBooking(cancelling);
    else if (cancelling.opener.isConnected) cancelling.opener.focus();
  });
}

function askToCancel(booking, opener) {
  const dialog = $('cancel-dialog');
  showView.cancelling = { booking, opener };
  $('cancel-text').textContent = `Booking ${reference(booking)} of ${showView.show.title}: seats ${booking.seats.join(', ')}, ` +
    `${money(booking.total_cents, booking.currency)}, user ${booking.user_id}. The seats go back on sale.`;
  dialog.returnValue = '';
  dialog.showModal();
  $('cancel-keep').focus();
}

async function cancelBooking({ booking }) {
  try {
    const answer = await mutate('DELETE', `/v1/bookings/${encodeURIComponent(booking.id)}`);
    if (answer.status === 204) notify(`Booking ${reference(booking)} cancelled. Seats ${booking.seats.join(', ')} are on sale again.`, 'success');
    else notify(explain(answer), 'warning');
  } catch (error) {
    unreachable(error);
  }
  await loadBookings({ keep: true });
  await refreshSales();
  $('notice').focus();
}

// ---------- CSV ----------

// Read with the Authorization header (never a token in a URL), then
// handed to the browser as a download of a Blob.
async function downloadCsv() {
  const view = showView;
  const button = $('download-csv');
  button.disabled = true;
  try {
    const answer = await read(`/v1/shows/${view.show.id}/bookings?format=csv`, { raw: true });
    if (answer.status !== 200) {
      notify(`The CSV could not be read: ${explain(answer)}`, 'warning');
      return;
    }
    const url = URL.createObjectURL(new Blob([answer.text], { type: 'text/csv' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `bookings-${view.show.title.replace(/[^\w-]+/g, '-').slice(0, 60)}-${view.show.id.slice(0, 8)}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    notify('The bookings CSV is downloaded.', 'success');
  } catch (error) {
    unreachable(error);
  } finally {
    button.disabled = false;
  }
}
