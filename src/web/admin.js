// boxoffice staff console: sign-in, routing, the shows list with live
// sales, and what the console's other scripts share (requests, notices,
// formatting). Plain JavaScript, no build step: the engine embeds this file
// and serves it at /admin.js; /admin-create.js (a new show) and
// /admin-show.js (one show) load after it, /seatmap.js before.
//
// The admin token lives in this tab's sessionStorage only: never in a
// URL, a cookie or localStorage. Every POST makes its own Idempotency-Key
// and, on a network error, a timeout or a 503/429/409 request-in-progress,
// retries with that same key (as the booking page does). Nothing the API
// returns is inserted as HTML: text goes in through textContent.
'use strict';

const REQUEST_TIMEOUT_MS = 8000;
const MAX_ATTEMPTS = 6;
const TOKEN_KEY = 'boxoffice.admin-token';
const SHOWS_POLL_MS = 4000;
const MAX_POLLED_SHOWS = 50; // sales asked per round, at most
const POLL_CONCURRENCY = 4;

const admin = {
  token: null,
  shows: [],
  leave: null,       // stops what the open view runs (timers, event stream)
};

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------- HTTP ----------

// One request with the admin token. `raw`: the body as text (a CSV).
async function call(method, path, { body, key, raw } = {}) {
  const headers = {};
  if (admin.token) headers['Authorization'] = `Bearer ${admin.token}`;
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
      credentials: 'omit',
      cache: 'no-store',
    });
    const text = await response.text();
    let json = null;
    if (text && !(raw && response.ok)) {
      try { json = JSON.parse(text); } catch (_) { json = null; }
    }
    const answer = { status: response.status, json, text, headers: response.headers };
    if (answer.status === 401 && admin.token) signOut('The server no longer takes that admin token. Please sign in again.');
    return answer;
  } finally {
    clearTimeout(timer);
  }
}

function problemCode(answer) {
  const type = answer.json && answer.json.type;
  return typeof type === 'string' ? type.split('/').pop() : null;
}

// A state-changing request, retried with one key until it gets an answer:
// the key is made once, before the first try, and every retry sends it.
async function mutate(method, path, body) {
  const key = method === 'POST' ? crypto.randomUUID() : undefined;
  let lastError = null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await sleep(Math.min(250 * 2 ** (attempt - 1), 4000));
    let answer;
    try {
      answer = await call(method, path, { body, key });
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

// A read, tried again a few times on a network error or 503/429.
async function read(path, options) {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const answer = await call('GET', path, options);
      if (answer.status !== 503 && answer.status !== 429) return answer;
    } catch (_) { /* retry */ }
    await sleep(300 * (attempt + 1));
  }
  return call('GET', path, options);
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

function unreachable(error) {
  notify(`The server could not be reached (${error.message}). Nothing was done twice; please try again.`, 'error');
}

// A refusal in plain words: the problem's own detail where it has one.
function explain(answer) {
  if (problemCode(answer) === 'seat-unavailable') {
    const seats = (answer.json.seats || []).join(', ');
    return `Seat${seats.includes(',') ? 's' : ''} ${seats} ${seats.includes(',') ? 'are' : 'is'} held or booked: nothing was changed.`;
  }
  return (answer.json && answer.json.detail) || `The server refused (${answer.status}).`;
}

// ---------- formatting ----------

function formatTime(iso) {
  return new Date(iso).toLocaleString(undefined, {
    weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'EUR' })
      .format(cents / 100);
  } catch (_) {
    return `${(cents / 100).toFixed(2)} ${currency || ''}`.trim();
  }
}

function el(tag, text, className) {
  const element = document.createElement(tag);
  if (text !== undefined && text !== null) element.textContent = String(text);
  if (className) element.className = className;
  return element;
}

// ---------- sign-in ----------

async function signIn(event) {
  event.preventDefault();
  const input = $('admin-token');
  const error = $('signin-error');
  const token = input.value.trim();
  const refuse = (message) => {
    error.textContent = message;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  if (!token) return refuse('Please enter the admin token.');
  $('signin-submit').disabled = true;
  try {
    // GET /v1/cluster is admin-only, cheap and changes nothing: 200 on
    // PostgreSQL, 404 `not-found` on sled (no cluster), 401 for an unknown
    // token, 403 for a customer's.
    const answer = await fetch('/v1/cluster', {
      headers: { Authorization: `Bearer ${token}` }, credentials: 'omit', cache: 'no-store',
    });
    if (answer.status === 200 || answer.status === 404) {
      admin.token = token;
      sessionStorage.setItem(TOKEN_KEY, token);
      input.value = '';
      error.hidden = true;
      input.removeAttribute('aria-invalid');
      clearNotice();
      await route();
      return;
    }
    if (answer.status === 401) return refuse('That is not the admin token. Check it and try again.');
    if (answer.status === 403) return refuse('That is a customer’s token, not the admin token.');
    if (answer.status === 429) return refuse('Too many wrong tokens from here: wait a minute, then try again.');
    return refuse(`The server could not check the token (${answer.status}). Please try again.`);
  } catch (_) {
    return refuse('The server could not be reached. Please try again.');
  } finally {
    $('signin-submit').disabled = false;
  }
}

function signOut(message) {
  admin.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  if (message) notify(message, 'warning');
  else notify('Signed out.', 'info');
  showSignIn();
}

function showSignIn() {
  stopView();
  $('nav').hidden = true;
  switchView('signin-view');
  $('admin-token').focus();
}

// ---------- views and routing ----------

const VIEWS = ['signin-view', 'shows-view', 'create-view', 'show-view'];

function switchView(name) {
  for (const view of VIEWS) $(view).hidden = view !== name;
  document.body.dataset.view = name;
}

function stopView() {
  if (admin.leave) {
    const leave = admin.leave;
    admin.leave = null;
    leave();
  }
}

async function route() {
  stopView();
  if (!admin.token) return showSignIn();
  $('nav').hidden = false;
  const hash = location.hash || '#/';
  const show = hash.match(/^#\/shows\/([0-9a-zA-Z-]+)$/);
  if (show) return openShowView(show[1]);
  if (hash === '#/new') return openCreateView();
  return openShowsView();
}

// ---------- shows list ----------

async function loadShows() {
  const answer = await read('/v1/shows');
  admin.shows = answer.status === 200 ? answer.json.shows : [];
}

async function openShowsView() {
  switchView('shows-view');
  $('shows-title').focus();
  await loadShows();
  renderShowRows();
  let stopped = false;
  let timer = null;
  admin.leave = () => { stopped = true; clearTimeout(timer); };
  // One round at a time, the next a while after the last ended: however
  // slow the server, the page never has more than POLL_CONCURRENCY
  // requests out.
  const round = async () => {
    if (stopped) return;
    await pollSales(() => stopped);
    if (!stopped) timer = setTimeout(round, SHOWS_POLL_MS);
  };
  await round();
}

function renderShowRows() {
  const body = $('show-rows');
  body.replaceChildren();
  $('shows-empty').hidden = admin.shows.length > 0;
  for (const show of admin.shows) {
    const tr = document.createElement('tr');
    tr.dataset.showId = show.id;
    const name = document.createElement('th');
    name.scope = 'row';
    const link = el('a', show.title);
    link.href = `#/shows/${show.id}`;
    name.append(link);
    const starts = el('td', formatTime(show.starts_at), 'starts');
    starts.dataset.label = 'Starts';
    tr.append(name, starts);
    // data-label: the column's name, shown above each figure on phones.
    for (const [figure, label] of [['booked', 'Sold'], ['held', 'Held'], ['available', 'Free'], ['blocked', 'Blocked'], ['revenue', 'Revenue']]) {
      const td = el('td', '…', 'num');
      td.dataset.figure = figure;
      td.dataset.label = label;
      tr.append(td);
    }
    body.append(tr);
  }
}

// Sales of the listed shows (the first MAX_POLLED_SHOWS), a few at once.
async function pollSales(stopped) {
  await loadShows();
  if (stopped()) return;
  const listed = new Set([...$('show-rows').children].map((tr) => tr.dataset.showId));
  if (admin.shows.length !== listed.size || admin.shows.some((s) => !listed.has(s.id))) renderShowRows();
  // Past the bound, the list's own count of free seats, no sales.
  for (const show of admin.shows.slice(MAX_POLLED_SHOWS)) fillShowRow(show, null);
  const queue = admin.shows.slice(0, MAX_POLLED_SHOWS);
  const worker = async () => {
    while (queue.length && !stopped()) {
      const show = queue.shift();
      let answer;
      try {
        answer = await call('GET', `/v1/shows/${show.id}/sales`);
      } catch (_) {
        continue;
      }
      if (!stopped()) fillShowRow(show, answer.status === 200 ? answer.json : null);
    }
  };
  await Promise.all(Array.from({ length: POLL_CONCURRENCY }, worker));
}

function fillShowRow(show, sales) {
  const tr = document.querySelector(`#show-rows tr[data-show-id="${CSS.escape(show.id)}"]`);
  if (!tr) return;
  const figures = sales ? {
    booked: sales.booked, held: sales.held, available: sales.available, blocked: sales.blocked,
    revenue: money(sales.revenue_cents, sales.currency),
  } : { booked: '—', held: '—', available: show.available, blocked: '—', revenue: '—' };
  for (const td of tr.querySelectorAll('td[data-figure]')) {
    const text = String(figures[td.dataset.figure]);
    if (td.textContent !== text) td.textContent = text;
  }
}

// ---------- start ----------

function start() {
  $('signin-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => signOut());
  $('admin-token').addEventListener('input', () => {
    $('signin-error').hidden = true;
    $('admin-token').removeAttribute('aria-invalid');
  });
  window.addEventListener('hashchange', () => { clearNotice(); route(); });
  setUpCreateForm();
  setUpShowView();
  admin.token = sessionStorage.getItem(TOKEN_KEY);
  route().finally(() => { document.body.dataset.ready = 'true'; });
}

document.addEventListener('DOMContentLoaded', start);
