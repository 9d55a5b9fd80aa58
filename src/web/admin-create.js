// boxoffice staff console: the form that creates a show (POST /v1/shows),
// with a live preview of its hall drawn by the booking page's renderer
// (/seatmap.js). Served at /admin.js's side as /admin-create.js; uses its
// helpers ($, el, mutate, notify, ...).
//
// The form checks what it can before sending (the rules of docs/API.md: a
// title of 1-200 characters, row labels of 1-3 letters A-Z, 1-999 seats a
// row, at most 100,000 seats, seat numbers that exist in their row, known
// categories); what only the server knows comes back as a 400 whose
// `detail` is shown by the field it names, or above the form.
'use strict';

const MAX_SEATS = 100000;
const MAX_CATEGORIES = 32;
const MAX_CATEGORY_TEXT = 64;
const MAX_PRICE_CENTS = 100000000;
// Category colours of the preview; white text on each is at least 4.5:1.
const CATEGORY_COLOURS = ['#1f7a46', '#2b5fb0', '#8a3a9e', '#a14b12'];

const create = { serial: 0, preview: null, previewTimer: null, sending: false };

function setUpCreateForm() {
  $('add-category').addEventListener('click', () => {
    addCategory({ id: '', name: '', price: '' }).querySelector('input').focus();
    onFormChange();
  });
  $('add-row').addEventListener('click', () => {
    const rows = $('row-list').children;
    const last = rows.length ? field(rows[rows.length - 1], 'label').value : '';
    addRow({ label: nextLabel(last), seats: last ? field(rows[rows.length - 1], 'seats').value : '10' })
      .querySelector('input').focus();
    onFormChange();
  });
  $('create-form').addEventListener('input', onFormChange);
  $('create-form').addEventListener('change', onFormChange);
  $('create-form').addEventListener('submit', submitShow);
}

function openCreateView() {
  switchView('create-view');
  $('create-title').focus();
  if (!$('row-list').children.length) resetForm();
  drawPreview();
  // The form keeps what was typed; the preview is drawn again on return.
  admin.leave = () => {
    clearTimeout(create.previewTimer);
    if (create.preview) create.preview.destroy();
    create.preview = null;
  };
}

function resetForm() {
  $('create-form').reset();
  $('category-list').replaceChildren();
  $('row-list').replaceChildren();
  clearErrors();
  addCategory({ id: 'standard', name: 'Standard', price: '12.00' });
  for (const label of ['A', 'B', 'C']) addRow({ label, seats: '10', aisles: '5' });
  const starts = new Date(Date.now() + 7 * 24 * 3600 * 1000);
  starts.setHours(20, 0, 0, 0);
  $('show-starts').value = localInputValue(starts);
}

function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// The label after `label`: A..Z, AA..AZ, BA.. (as a counter in letters).
function nextLabel(label) {
  if (!/^[A-Z]{1,3}$/.test(label)) return 'A';
  const letters = [...label].map((c) => c.charCodeAt(0) - 65);
  let i = letters.length - 1;
  while (i >= 0 && letters[i] === 25) letters[i--] = 0;
  if (i < 0) letters.unshift(0);
  else letters[i] += 1;
  return letters.length > 3 ? label : String.fromCharCode(...letters.map((n) => n + 65));
}

// ---------- the editors ----------

// An input with its label and its own error line (aria-describedby).
function labelled(item, name, text, input) {
  const id = `${item.dataset.key}-${name}`;
  const wrap = el('div', null, `field field-${name}`);
  const label = el('label', text);
  label.htmlFor = id;
  input.id = id;
  input.dataset.name = name;
  const error = el('p', null, 'field-error');
  error.id = `${id}-error`;
  error.hidden = true;
  input.setAttribute('aria-describedby', error.id);
  wrap.append(label, input, error);
  return wrap;
}

function input(value, attributes = {}) {
  const element = document.createElement('input');
  element.value = value ?? '';
  for (const [name, v] of Object.entries(attributes)) element.setAttribute(name, v);
  return element;
}

function field(item, name) {
  return item.querySelector(`[data-name="${name}"]`);
}

function removeButton(item, what) {
  const button = el('button', 'Remove', 'link remove');
  button.type = 'button';
  // Named after what it removes, kept current as that is edited.
  button.updateLabel = () => button.setAttribute('aria-label', what());
  button.addEventListener('click', () => {
    const list = item.parentElement;
    const next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    onFormChange();
    // Focus stays in the editor: the next item's remove button, or the add button.
    (next ? next.querySelector('button.remove') : list.parentElement.querySelector('button.secondary')).focus();
  });
  return button;
}

function addCategory({ id, name, price }) {
  const item = el('li', null, 'editor-item');
  item.dataset.key = `category-${++create.serial}`;
  const number = () => [...$('category-list').children].indexOf(item) + 1;
  item.append(
    labelled(item, 'id', 'Id', input(id, { maxlength: MAX_CATEGORY_TEXT, spellcheck: 'false' })),
    labelled(item, 'name', 'Name', input(name, { maxlength: MAX_CATEGORY_TEXT })),
    labelled(item, 'price', 'Price', input(price, { inputmode: 'decimal', size: 8 })),
  );
  item.append(removeButton(item, () => `Remove category ${number()}${field(item, 'id').value ? ` (${field(item, 'id').value})` : ''}`));
  $('category-list').append(item);
  item.querySelector('button.remove').updateLabel();
  return item;
}

function addRow({ label, seats, category, aisles, wheelchair, companion }) {
  const item = el('li', null, 'editor-item row-item');
  item.dataset.key = `row-${++create.serial}`;
  const select = document.createElement('select');
  select.dataset.value = category || '';
  item.append(
    labelled(item, 'label', 'Row', input(label, { maxlength: 3, size: 4, autocapitalize: 'characters', spellcheck: 'false' })),
    labelled(item, 'seats', 'Seats', input(seats, { inputmode: 'numeric', size: 4 })),
    labelled(item, 'category', 'Category', select),
    labelled(item, 'aisles', 'Aisles after', input(aisles, { size: 8 })),
    labelled(item, 'wheelchair', 'Wheelchair', input(wheelchair, { size: 8 })),
    labelled(item, 'companion', 'Companion', input(companion, { size: 8 })),
  );
  item.append(removeButton(item, () => `Remove row ${field(item, 'label').value || [...$('row-list').children].indexOf(item) + 1}`));
  $('row-list').append(item);
  item.querySelector('button.remove').updateLabel();
  fillCategorySelect(select);
  return item;
}

// Each row's category list follows the categories above it.
function fillCategorySelect(select) {
  const current = select.value || select.dataset.value;
  const ids = categoryIds();
  const options = ids.length ? ids : [''];
  const same = select.options.length === options.length &&
    [...select.options].every((o, i) => o.value === options[i]);
  if (!same) {
    select.replaceChildren(...options.map((id) => {
      const option = el('option', id || 'Standard (default)');
      option.value = id;
      return option;
    }));
  }
  select.value = options.includes(current) ? current : options[0];
}

function categoryIds() {
  return [...$('category-list').children].map((item) => field(item, 'id').value.trim()).filter(Boolean);
}

function onFormChange() {
  for (const select of $('row-list').querySelectorAll('select')) fillCategorySelect(select);
  for (const button of $('create-form').querySelectorAll('button.remove')) button.updateLabel();
  clearTimeout(create.previewTimer);
  create.previewTimer = setTimeout(drawPreview, 120);
}

// ---------- reading and checking the form ----------

function numbers(text) {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  return parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
}

function priceCents(text) {
  const t = text.trim().replace(',', '.');
  if (!/^\d+(\.\d{1,2})?$/.test(t)) return NaN;
  return Math.round(Number(t) * 100);
}

// The form as the API's body, and what is wrong with it: [{ input, message }]
// (an input, or a fieldset's error line by id).
function readForm() {
  const errors = [];
  const wrong = (target, message) => errors.push({ target, message });
  const title = $('show-title-input').value;
  if (!title.trim() || [...title].length > 200) wrong($('show-title-input'), 'The title must be 1-200 characters.');
  const starts = $('show-starts').value;
  const startsAt = starts ? new Date(starts) : null;
  if (!startsAt || Number.isNaN(startsAt.getTime())) wrong($('show-starts'), 'Please give the date and time the show starts.');
  const salesEnd = $('show-sales-end').value;
  const salesEndAt = salesEnd ? new Date(salesEnd) : null;
  if (salesEndAt && Number.isNaN(salesEndAt.getTime())) wrong($('show-sales-end'), 'Please give a date and time, or leave it empty.');
  const currency = $('show-currency').value.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) wrong($('show-currency'), 'The currency is an ISO 4217 code: three letters, e.g. EUR.');

  const categories = [];
  const seenCategories = new Set();
  for (const item of $('category-list').children) {
    const id = field(item, 'id').value.trim();
    const name = field(item, 'name').value.trim();
    const price = priceCents(field(item, 'price').value);
    if (!id || id.length > MAX_CATEGORY_TEXT) wrong(field(item, 'id'), `An id of 1-${MAX_CATEGORY_TEXT} characters, e.g. “stalls”.`);
    else if (seenCategories.has(id)) wrong(field(item, 'id'), `The category “${id}” is there twice.`);
    seenCategories.add(id);
    if (!name || name.length > MAX_CATEGORY_TEXT) wrong(field(item, 'name'), `A name of 1-${MAX_CATEGORY_TEXT} characters.`);
    if (Number.isNaN(price)) wrong(field(item, 'price'), 'A price such as 12.50.');
    else if (price > MAX_PRICE_CENTS) wrong(field(item, 'price'), `At most ${money(MAX_PRICE_CENTS, currency)}.`);
    categories.push({ id, name, price_cents: price });
  }
  if (categories.length > MAX_CATEGORIES) wrong('categories-error', `At most ${MAX_CATEGORIES} categories.`);

  const rows = [];
  const seenRows = new Set();
  let total = 0;
  for (const item of $('row-list').children) {
    const label = field(item, 'label').value.trim().toUpperCase();
    const seatsText = field(item, 'seats').value.trim();
    const seats = /^\d+$/.test(seatsText) ? Number(seatsText) : NaN;
    if (!/^[A-Z]{1,3}$/.test(label)) wrong(field(item, 'label'), 'A row label is 1-3 letters A-Z.');
    else if (seenRows.has(label)) wrong(field(item, 'label'), `Row ${label} is there twice.`);
    seenRows.add(label);
    const seatsOk = Number.isInteger(seats) && seats >= 1 && seats <= 999;
    if (!seatsOk) wrong(field(item, 'seats'), 'A row has 1-999 seats.');
    else total += seats;
    const row = { label, seats };
    if (categories.length) row.category = field(item, 'category').value;
    for (const [name, key, what] of [['aisles', 'aisles_after', 'an aisle'], ['wheelchair', 'wheelchair', 'a wheelchair space'], ['companion', 'companion', 'a companion seat']]) {
      const list = numbers(field(item, name).value);
      const bad = list.find((n) => !Number.isInteger(n) || n < 1 || (seatsOk && n > seats));
      if (bad !== undefined) {
        wrong(field(item, name), Number.isNaN(bad) ? 'Seat numbers, separated by commas.'
          : `Row ${label} has no seat ${bad} for ${what}.`);
      }
      if (list.length) row[key] = list;
    }
    rows.push(row);
  }
  if (!rows.length) wrong('rows-error', 'A show needs at least one row.');
  if (total > MAX_SEATS) wrong('rows-error', `A show may have at most 100,000 seats (these rows have ${total.toLocaleString()}).`);

  const body = { title, starts_at: startsAt && !Number.isNaN(startsAt.getTime()) ? startsAt.toISOString() : starts, currency, rows };
  if (salesEndAt && !Number.isNaN(salesEndAt.getTime())) body.sales_end_at = salesEndAt.toISOString();
  if (categories.length) body.categories = categories;
  return { body, errors, total };
}

// ---------- errors by their fields ----------

function clearErrors() {
  for (const invalid of $('create-form').querySelectorAll('[aria-invalid="true"]')) invalid.removeAttribute('aria-invalid');
  for (const line of $('create-form').querySelectorAll('.field-error, .form-error')) {
    line.textContent = '';
    line.hidden = true;
  }
}

function showErrors(errors, formMessage) {
  clearErrors();
  let first = null;
  for (const { target, message } of errors) {
    if (typeof target === 'string') {
      const line = $(target);
      line.textContent = message;
      line.hidden = false;
      first ??= line.closest('fieldset').querySelector('input, select, button');
      continue;
    }
    target.setAttribute('aria-invalid', 'true');
    const line = $(`${target.id}-error`);
    if (line && !line.textContent) {
      line.textContent = message;
      line.hidden = false;
    }
    first ??= target;
  }
  const summary = $('create-error');
  summary.textContent = formMessage || `The show was not created: ${errors.length === 1 ? 'one field needs' : `${errors.length} fields need`} a change.`;
  summary.hidden = false;
  (first || summary).focus();
}

// Where a 400's `detail` belongs: the field it names, or null.
function fieldOfDetail(detail) {
  const rowItem = (label) => [...$('row-list').children]
    .find((item) => field(item, 'label').value.trim().toUpperCase() === label);
  const categoryItem = (id) => [...$('category-list').children]
    .find((item) => field(item, 'id').value.trim() === id);
  let m;
  if (/\btitle\b/.test(detail)) return $('show-title-input');
  if (/sales_end_at|sales end/i.test(detail)) return $('show-sales-end');
  if (/starts_at/.test(detail)) return $('show-starts');
  if (/currency/.test(detail)) return $('show-currency');
  if ((m = detail.match(/row label "([^"]*)"/))) {
    const item = rowItem(m[1]);
    return item ? field(item, 'label') : 'rows-error';
  }
  if ((m = detail.match(/\bseat ([A-Z]{1,3})(\d+)\b/))) {
    const item = rowItem(m[1]);
    if (item) return field(item, /wheelchair/.test(detail) ? 'wheelchair' : 'companion');
  }
  if ((m = detail.match(/\brow ([A-Z]{1,3})\b/))) {
    const item = rowItem(m[1]);
    if (!item) return 'rows-error';
    if (/categor/.test(detail)) return field(item, 'category');
    const seat = detail.match(/no seat (\d+)/);
    if (seat) {
      const n = Number(seat[1]);
      return ['wheelchair', 'companion', 'aisles']
        .map((name) => field(item, name))
        .find((f) => numbers(f.value).includes(n)) || field(item, 'seats');
    }
    if (/seats/.test(detail)) return field(item, 'seats');
    return field(item, 'label');
  }
  if ((m = detail.match(/categor(?:y|ies)[^"]*"([^"]*)"/))) {
    const item = categoryItem(m[1]);
    return item ? field(item, 'id') : 'categories-error';
  }
  if (/price/.test(detail)) return 'categories-error';
  if (/categor/.test(detail)) return 'categories-error';
  if (/\brows?\b|seats/.test(detail)) return 'rows-error';
  return null;
}

async function submitShow(event) {
  event.preventDefault();
  if (create.sending) return;
  const { body, errors } = readForm();
  if (errors.length) return showErrors(errors);
  clearErrors();
  create.sending = true;
  $('create-submit').disabled = true;
  try {
    const answer = await mutate('POST', '/v1/shows', body);
    if (answer.status === 201) {
      notify(`Show “${answer.json.title}” created.`, 'success');
      resetForm();
      location.hash = `#/shows/${answer.json.id}`;
      return;
    }
    const detail = (answer.json && answer.json.detail) || `The server refused (${answer.status}).`;
    const target = answer.status === 400 ? fieldOfDetail(detail) : null;
    showErrors(target ? [{ target, message: detail }] : [], `The show was not created: ${detail}`);
  } catch (error) {
    showErrors([], `The server could not be reached (${error.message}). Nothing was created twice; please try again.`);
  } finally {
    create.sending = false;
    $('create-submit').disabled = false;
  }
}

// ---------- the preview ----------

// The hall as GET /v1/shows/{id} will give it, from the form's valid rows.
function previewSeats(body) {
  const prices = new Map((body.categories || []).map((c, i) => [c.id, { price: c.price_cents, index: i }]));
  const seats = [];
  for (const row of body.rows) {
    if (!/^[A-Z]{1,3}$/.test(row.label) || !(row.seats >= 1 && row.seats <= 999)) continue;
    const category = prices.get(row.category) || { price: 0, index: 0 };
    for (let n = 1; n <= row.seats; n++) {
      seats.push({
        id: `${row.label}${n}`, row: row.label, number: n, status: 'available',
        category: row.category, categoryIndex: category.index, price_cents: category.price,
        accessibility: (row.wheelchair || []).includes(n) ? 'wheelchair'
          : (row.companion || []).includes(n) ? 'companion' : null,
        aisle_after: (row.aisles_after || []).includes(n),
      });
    }
  }
  return seats;
}

function drawPreview() {
  if ($('create-view').hidden) return;
  const { body, total } = readForm();
  const summary = $('create-summary');
  if (create.preview) create.preview.destroy();
  create.preview = null;
  if (total > MAX_SEATS) {
    $('preview-map').replaceChildren(el('p', 'Too many seats to draw: at most 100,000.', 'muted'));
    summary.textContent = `${total.toLocaleString()} seats: more than a show may have.`;
    return;
  }
  renderPreviewLegend(body);
  const seats = previewSeats(body);
  const rows = new Set(seats.map((s) => s.row)).size;
  summary.textContent = `${rows} row${rows === 1 ? '' : 's'}, ${seats.length.toLocaleString()} seat${seats.length === 1 ? '' : 's'}.`;
  if (!seats.length) {
    $('preview-map').replaceChildren(el('p', 'Add a row to see the hall.', 'muted'));
    return;
  }
  // A grid wider than its box scrolls: the keyboard may scroll it too.
  if (seats.length > SeatMap.LARGE_HALL_SEATS) $('preview-map').removeAttribute('tabindex');
  else $('preview-map').tabIndex = 0;
  create.preview = SeatMap.create($('preview-map'), {
    seats,
    interactive: false,
    idPrefix: 'preview-seat-',
    canvasId: 'preview-hall',
    label: `Preview of the hall: ${rows} row${rows === 1 ? '' : 's'}, ${seats.length} seats`,
    views: () => () => 'available',
    decorate: (element, seat) => {
      element.className = `seat available category-${seat.categoryIndex % CATEGORY_COLOURS.length}` +
        `${seat.accessibility ? ` ${seat.accessibility}` : ''}`;
    },
    colour: (seat) => (seat.accessibility === 'wheelchair' ? '#7cc4ff'
      : CATEGORY_COLOURS[seat.categoryIndex % CATEGORY_COLOURS.length]),
    describe: () => '',
    onActivate: () => {},
  });
}

// Which colour is which category, with its price, under the preview.
function renderPreviewLegend(body) {
  const items = (body.categories || []).map((category, i) => {
    const li = document.createElement('li');
    const swatch = el('span', null, `seat available category-${i % CATEGORY_COLOURS.length}`);
    swatch.setAttribute('aria-hidden', 'true');
    const price = Number.isNaN(category.price_cents) ? '' : ` ${money(category.price_cents, body.currency)}`;
    li.append(swatch, document.createTextNode(`${category.name || category.id || 'Unnamed'}${price}`));
    return li;
  });
  $('preview-legend').replaceChildren(...items);
}
