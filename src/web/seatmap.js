// The seat map renderer, shared by the booking page (/app.js) and the
// staff console (/admin*.js), served at /seatmap.js. Plain JavaScript, no
// build step. What a seat looks like and what a click on it does are the
// page's (options); the layout, the keyboard and the canvas are here.
//
// A hall of up to LARGE_HALL_SEATS seats is an ARIA grid of buttons with
// one tab stop (roving tabindex): Tab enters it at the last seat focused,
// the arrow keys move, Home and End go to a row's ends, Enter or Space
// acts. A larger hall is drawn on a canvas instead (100,000 buttons take
// seconds to lay out): zoom with the buttons, the wheel or + and -, drag
// to pan, click a seat to act on it; the keyboard works as on the grid
// (the canvas is one tab stop; arrows move a cursor, Enter or Space acts),
// and a live line under the map says which seat the cursor is on.
//
// A preview (`interactive: false`) draws the same hall as a picture: no
// buttons, no tab stop, one label for the whole.
'use strict';

const SeatMap = (() => {
  const LARGE_HALL_SEATS = 1500;
  const PITCH = 12; // hall units between seat centres at zoom 1
  const SEAT = 10;

  // options: seats (as GET /v1/shows/{id} gives them), views() -> (seat id
  // -> view name) for every seat at once, decorate(element, seat, view)
  // (grid), colour(seat, view) (canvas), describe(seat, view) (canvas
  // cursor line), onActivate(seat id), label (the map's name),
  // canvasLabel (the canvas's, with its keys), and idPrefix, canvasId, cursorId (element ids, unique in the page).
  function create(container, options) {
    const o = {
      idPrefix: 'seat-', canvasId: 'hall', cursorId: 'hall-cursor', interactive: true,
      label: 'Seat map', ...options,
    };
    const map = new Map_(container, o);
    map.render();
    return map;
  }

  class Map_ {
    constructor(container, options) {
      this.container = container;
      this.o = options;
      this.seats = options.seats;
      this.rows = [];      // seat ids, row by row
      this.elements = new Map();
      this.hall = null;
      this.focusSeat = null;
      this.onResize = null;
    }

    get large() { return this.seats.length > LARGE_HALL_SEATS; }

    render() {
      this.container.replaceChildren();
      this.container.onkeydown = null;
      if (this.large) return this.renderHall();
      const interactive = this.o.interactive;
      this.container.setAttribute('role', interactive ? 'grid' : 'img');
      this.container.setAttribute('aria-label', this.o.label);
      const rows = new Map();
      for (const seat of this.seats) {
        if (!rows.has(seat.row)) rows.set(seat.row, []);
        rows.get(seat.row).push(seat);
      }
      for (const [label, seats] of rows) {
        this.rows.push(seats.map((s) => s.id));
        const row = document.createElement('div');
        row.className = 'row';
        const name = document.createElement('span');
        name.className = 'row-label';
        name.textContent = label;
        if (interactive) {
          row.setAttribute('role', 'row');
          name.setAttribute('role', 'rowheader');
          name.setAttribute('aria-label', `Row ${label}`);
        }
        row.append(name);
        for (const seat of seats) {
          const element = document.createElement(interactive ? 'button' : 'span');
          // Wheelchair spaces show their symbol (the number is in the label).
          element.textContent = seat.accessibility === 'wheelchair' ? '\u267F' : seat.number;
          element.dataset.seat = seat.id;
          if (interactive) {
            const cell = document.createElement('span');
            cell.setAttribute('role', 'gridcell');
            cell.className = 'cell';
            element.type = 'button';
            element.id = `${this.o.idPrefix}${seat.id}`;
            element.tabIndex = -1;
            element.addEventListener('click', () => { this.focusSeat = seat.id; this.o.onActivate(seat.id); });
            element.addEventListener('focus', () => this.moveTabStop(seat.id));
            cell.append(element);
            row.append(cell);
          } else {
            row.append(element);
          }
          this.elements.set(seat.id, element);
          if (seat.aisle_after) {
            const aisle = document.createElement('span');
            aisle.className = 'aisle';
            aisle.setAttribute('aria-hidden', 'true');
            row.append(aisle);
          }
        }
        const end = document.createElement('span');
        end.className = 'row-label';
        end.textContent = label;
        end.setAttribute('aria-hidden', 'true');
        row.append(end);
        this.container.append(row);
      }
      const middle = this.rows[Math.floor(this.rows.length / 2)] || [];
      this.focusSeat = middle[Math.floor(middle.length / 2)] || null;
      if (interactive) this.container.onkeydown = (event) => this.onKey(event);
      this.paint();
    }

    // Every seat's look again (statuses changed).
    paint() {
      if (this.hall) {
        this.drawSoon();
        this.describeCursor();
        return;
      }
      const view = this.o.views();
      for (const seat of this.seats) {
        const element = this.elements.get(seat.id);
        if (!element) continue;
        this.o.decorate(element, seat, view(seat.id));
        if (this.o.interactive) element.tabIndex = seat.id === this.focusSeat ? 0 : -1;
      }
    }

    destroy() {
      if (this.onResize) window.removeEventListener('resize', this.onResize);
      if (this.hall && this.hall.frame) cancelAnimationFrame(this.hall.frame);
      this.container.onkeydown = null;
      this.hall = null;
    }

    moveTabStop(seatId) {
      if (this.focusSeat && this.focusSeat !== seatId) {
        const old = this.elements.get(this.focusSeat);
        if (old) old.tabIndex = -1;
      }
      this.focusSeat = seatId;
      const element = this.elements.get(seatId);
      if (element) element.tabIndex = 0;
    }

    // The seat an arrow key, Home or End moves to from the focused one.
    target(key) {
      const at = this.focusSeat;
      if (!at) return null;
      const rows = this.rows;
      const r = rows.findIndex((row) => row.includes(at));
      const c = rows[r].indexOf(at);
      switch (key) {
        case 'ArrowLeft': return rows[r][Math.max(0, c - 1)];
        case 'ArrowRight': return rows[r][Math.min(rows[r].length - 1, c + 1)];
        case 'Home': return rows[r][0];
        case 'End': return rows[r][rows[r].length - 1];
        case 'ArrowUp':
        case 'ArrowDown': {
          const next = rows[r + (key === 'ArrowUp' ? -1 : 1)];
          if (!next) return at;
          // The seat in the same place from the centre (rows are centred).
          const offset = c - (rows[r].length - 1) / 2;
          const column = Math.round((next.length - 1) / 2 + offset);
          return next[Math.min(next.length - 1, Math.max(0, column))];
        }
        default: return null;
      }
    }

    onKey(event) {
      const target = this.target(event.key);
      if (!target) return;
      event.preventDefault();
      this.moveTabStop(target);
      this.elements.get(target).focus();
    }

    // ---------- large halls: a canvas ----------

    renderHall() {
      const seats = this.seats;
      const x = new Float32Array(seats.length);
      const y = new Float32Array(seats.length);
      const rowSeats = [];
      let lastRow = null;
      seats.forEach((seat, i) => {
        if (seat.row !== lastRow) {
          lastRow = seat.row;
          rowSeats.push([]);
        }
        rowSeats[rowSeats.length - 1].push(i);
      });
      // Each row centred; an aisle is one seat wide.
      const rowWidths = rowSeats.map((row) => row.length * PITCH +
        row.filter((i) => seats[i].aisle_after).length * PITCH);
      const width = Math.max(...rowWidths);
      rowSeats.forEach((row, r) => {
        let at = (width - rowWidths[r]) / 2;
        for (const i of row) {
          x[i] = at;
          y[i] = r * PITCH;
          at += PITCH + (seats[i].aisle_after ? PITCH : 0);
        }
        this.rows.push(row.map((i) => seats[i].id));
      });
      const index = new Map(seats.map((s, i) => [s.id, i]));
      const canvas = document.createElement('canvas');
      canvas.id = this.o.canvasId;
      canvas.className = 'hall';
      const interactive = this.o.interactive;
      if (interactive) {
        canvas.tabIndex = 0;
        canvas.setAttribute('role', 'application');
        canvas.setAttribute('aria-roledescription', 'seat map');
        canvas.setAttribute('aria-describedby', this.o.cursorId);
      } else {
        canvas.setAttribute('role', 'img');
      }
      canvas.setAttribute('aria-label', this.o.canvasLabel || this.o.label);
      this.container.setAttribute('role', 'group');
      this.container.setAttribute('aria-label', this.o.label);
      const tools = document.createElement('div');
      tools.className = 'hall-tools';
      const zoomIn = document.createElement('button');
      zoomIn.type = 'button';
      zoomIn.textContent = 'Zoom in';
      const zoomOut = document.createElement('button');
      zoomOut.type = 'button';
      zoomOut.textContent = 'Zoom out';
      tools.append(zoomIn, zoomOut);
      this.container.append(tools, canvas);
      if (interactive) {
        const cursorLine = document.createElement('p');
        cursorLine.id = this.o.cursorId;
        cursorLine.className = 'hall-cursor';
        cursorLine.setAttribute('aria-live', 'polite');
        this.container.append(cursorLine);
        this.cursorLine = cursorLine;
      }
      const middle = this.rows[Math.floor(this.rows.length / 2)];
      this.focusSeat = middle[Math.floor(middle.length / 2)];
      this.hall = {
        canvas, x, y, index, width, height: this.rows.length * PITCH,
        scale: 1, panX: 0, panY: 0, frame: null,
      };
      this.fit();
      zoomIn.addEventListener('click', () => this.zoom(1.5));
      zoomOut.addEventListener('click', () => this.zoom(1 / 1.5));
      canvas.addEventListener('wheel', (event) => {
        event.preventDefault();
        this.zoom(event.deltaY < 0 ? 1.2 : 1 / 1.2, event.offsetX, event.offsetY);
      }, { passive: false });
      let drag = null;
      canvas.addEventListener('pointerdown', (event) => {
        drag = { x: event.clientX, y: event.clientY, moved: false };
        canvas.setPointerCapture(event.pointerId);
      });
      canvas.addEventListener('pointermove', (event) => {
        if (!drag) return;
        const dx = event.clientX - drag.x;
        const dy = event.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        if (!drag.moved) return;
        this.hall.panX += dx;
        this.hall.panY += dy;
        drag.x = event.clientX;
        drag.y = event.clientY;
        this.drawSoon();
      });
      canvas.addEventListener('pointerup', (event) => {
        const click = drag && !drag.moved;
        drag = null;
        if (!click || !interactive) return;
        const id = this.seatAt(event.offsetX, event.offsetY);
        if (id) {
          this.moveCursor(id);
          this.o.onActivate(id);
        }
      });
      if (interactive) {
        canvas.addEventListener('keydown', (event) => this.onHallKey(event));
        canvas.addEventListener('focus', () => { this.describeCursor(); this.drawSoon(); });
        canvas.addEventListener('blur', () => this.drawSoon());
      }
      this.onResize = () => {
        if (!this.hall) return;
        this.fit();
        this.drawSoon();
      };
      window.addEventListener('resize', this.onResize);
      this.paint();
    }

    fit() {
      const hall = this.hall;
      const box = hall.canvas.parentElement.clientWidth || 600;
      const height = Math.min(Math.max(320, window.innerHeight * 0.6), 720);
      const ratio = window.devicePixelRatio || 1;
      hall.canvas.style.width = `${box}px`;
      hall.canvas.style.height = `${height}px`;
      hall.canvas.width = Math.round(box * ratio);
      hall.canvas.height = Math.round(height * ratio);
      hall.ratio = ratio;
      hall.scale = Math.min(box / (hall.width + PITCH), height / (hall.height + PITCH));
      hall.panX = (box - hall.width * hall.scale) / 2;
      hall.panY = (height - hall.height * hall.scale) / 2;
    }

    zoom(factor, atX, atY) {
      const hall = this.hall;
      if (!hall) return;
      const cx = atX ?? hall.canvas.clientWidth / 2;
      const cy = atY ?? hall.canvas.clientHeight / 2;
      const scale = Math.min(Math.max(hall.scale * factor, 0.05), 6);
      hall.panX = cx - (cx - hall.panX) * (scale / hall.scale);
      hall.panY = cy - (cy - hall.panY) * (scale / hall.scale);
      hall.scale = scale;
      this.drawSoon();
    }

    drawSoon() {
      const hall = this.hall;
      if (!hall || hall.frame) return;
      hall.frame = requestAnimationFrame(() => {
        hall.frame = null;
        if (this.hall === hall) this.draw();
      });
    }

    // The whole hall, drawn once into a bitmap at most 4096 px wide (pixels
    // written directly: 100,000 fillRect calls took 300 ms), and then only
    // the seats whose look changed: a zoomed-out frame (pan, zoom) is one
    // drawImage of it. Zoomed in further than the bitmap's detail, the
    // visible seats are drawn one by one (few are visible then).
    refreshCache() {
      const hall = this.hall;
      const seats = this.seats;
      if (!hall.cache) {
        hall.cacheScale = Math.min(1, 4096 / (hall.width + PITCH));
        hall.cache = document.createElement('canvas');
        hall.cache.width = Math.ceil((hall.width + PITCH) * hall.cacheScale);
        hall.cache.height = Math.ceil((hall.height + PITCH) * hall.cacheScale);
        hall.pixels = hall.cache.getContext('2d').createImageData(hall.cache.width, hall.cache.height);
        hall.words = new Uint32Array(hall.pixels.data.buffer);
        hall.drawnAs = new Array(seats.length).fill(null);
      }
      const view = this.o.views();
      const k = hall.cacheScale;
      const width = hall.cache.width;
      const size = Math.max(1, Math.round(SEAT * k));
      let [left, top, right, bottom] = [Infinity, Infinity, -1, -1];
      for (let i = 0; i < seats.length; i++) {
        const colour = this.o.colour(seats[i], view(seats[i].id));
        if (hall.drawnAs[i] === colour) continue;
        hall.drawnAs[i] = colour;
        const word = colourWord(colour);
        const x0 = Math.round(hall.x[i] * k);
        const y0 = Math.round(hall.y[i] * k);
        for (let dy = 0; dy < size; dy++) {
          const at = (y0 + dy) * width + x0;
          hall.words.fill(word, at, at + size);
        }
        left = Math.min(left, x0);
        top = Math.min(top, y0);
        right = Math.max(right, x0 + size);
        bottom = Math.max(bottom, y0 + size);
      }
      if (right >= 0) {
        hall.cache.getContext('2d').putImageData(hall.pixels, 0, 0, left, top, right - left, bottom - top);
      }
    }

    draw() {
      const hall = this.hall;
      if (!hall) return;
      const ctx = hall.canvas.getContext('2d');
      const w = hall.canvas.clientWidth;
      const h = hall.canvas.clientHeight;
      ctx.setTransform(hall.ratio, 0, 0, hall.ratio, 0, 0);
      ctx.fillStyle = '#14141c';
      ctx.fillRect(0, 0, w, h);
      this.refreshCache();
      const size = Math.max(SEAT * hall.scale, 1);
      if (hall.scale <= hall.cacheScale * 1.5) {
        ctx.drawImage(hall.cache, hall.panX, hall.panY,
          hall.cache.width * (hall.scale / hall.cacheScale), hall.cache.height * (hall.scale / hall.cacheScale));
      } else {
        for (let i = 0; i < this.seats.length; i++) {
          const sx = hall.panX + hall.x[i] * hall.scale;
          const sy = hall.panY + hall.y[i] * hall.scale;
          if (sx < -size || sy < -size || sx > w || sy > h) continue;
          ctx.fillStyle = hall.drawnAs[i];
          ctx.fillRect(sx, sy, size, size);
        }
      }
      hall.canvas.dataset.drawn = 'true';
      const at = hall.index.get(this.focusSeat);
      if (at !== undefined && document.activeElement === hall.canvas) {
        ctx.strokeStyle = '#7cc4ff';
        ctx.lineWidth = 2;
        ctx.strokeRect(hall.panX + hall.x[at] * hall.scale - 2, hall.panY + hall.y[at] * hall.scale - 2,
          size + 4, size + 4);
      }
    }

    seatAt(px, py) {
      const hall = this.hall;
      const hx = (px - hall.panX) / hall.scale;
      const hy = (py - hall.panY) / hall.scale;
      const r = Math.floor(hy / PITCH);
      const row = this.rows[r];
      if (!row || hy - r * PITCH > SEAT) return null;
      for (const id of row) {
        const i = hall.index.get(id);
        if (hx >= hall.x[i] && hx <= hall.x[i] + SEAT) return id;
      }
      return null;
    }

    moveCursor(id) {
      this.focusSeat = id;
      const hall = this.hall;
      const i = hall.index.get(id);
      // Keep the cursor in view.
      const sx = hall.panX + hall.x[i] * hall.scale;
      const sy = hall.panY + hall.y[i] * hall.scale;
      const w = hall.canvas.clientWidth;
      const h = hall.canvas.clientHeight;
      if (sx < 0 || sx > w - SEAT * hall.scale) hall.panX += w / 2 - sx;
      if (sy < 0 || sy > h - SEAT * hall.scale) hall.panY += h / 2 - sy;
      this.describeCursor();
      this.drawSoon();
    }

    describeCursor() {
      if (!this.cursorLine || !this.hall) return;
      const seat = this.seats[this.hall.index.get(this.focusSeat)];
      if (!seat) return;
      this.cursorLine.textContent = this.o.describe(seat, this.o.views()(seat.id));
    }

    onHallKey(event) {
      if (event.key === '+' || event.key === '=') { this.zoom(1.5); return; }
      if (event.key === '-') { this.zoom(1 / 1.5); return; }
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this.o.onActivate(this.focusSeat);
        return;
      }
      const target = this.target(event.key);
      if (!target) return;
      event.preventDefault();
      if (target === this.focusSeat) this.drawSoon();
      else this.moveCursor(target);
    }
  }

  function colourWord(hex) {
    const n = parseInt(hex.slice(1), 16);
    // ImageData is RGBA in memory: little-endian words read ABGR.
    return ((0xff << 24) | ((n & 0xff) << 16) | (n & 0xff00) | ((n >> 16) & 0xff)) >>> 0;
  }

  return { create, LARGE_HALL_SEATS };
})();
