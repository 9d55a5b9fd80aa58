// Shared helpers for the browser tests: start the real boxoffice binary on
// port 0 with a temporary data directory, drive Debian's Chromium through
// playwright-core, and talk to the API directly for setup and checks.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ADMIN = 'e2e-admin-token';
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// `at`: { port, dir } to start again where a stopped server was (its
// address and its data), with `stop({ keep: true })` first.
export async function startServer(env = {}, at = {}) {
  const bin = process.env.BOXOFFICE_BIN;
  if (!bin) throw new Error('BOXOFFICE_BIN is not set (run through `cargo test --test browser`)');
  const dir = at.dir || mkdtempSync(join(tmpdir(), 'boxoffice-e2e-'));
  const bind = `127.0.0.1:${at.port || 0}`;
  const child = spawn(bin, ['serve', '--bind', bind, '--no-demo', '--data-dir', join(dir, 'data')], {
    cwd: dir,
    env: {
      ...process.env,
      BOXOFFICE_ADMIN_TOKEN: ADMIN,
      BOXOFFICE_USER_RATE_LIMIT: '0',
      RUST_LOG: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const base = line.replace('listening on ', '').trim();
  return {
    base,
    dir,
    port: Number(new URL(base).port),
    async stop({ keep = false } = {}) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function api(base, method, path, { token, key, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers['Idempotency-Key'] = key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(base + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

export async function createShow(base, title, rows, extra = {}) {
  const answer = await api(base, 'POST', '/v1/shows', {
    token: ADMIN,
    key: randomUUID(),
    body: {
      title,
      starts_at: '2026-12-24T20:00:00Z',
      rows: rows.map(([label, seats, more]) => ({ label, seats, ...(more || {}) })),
      ...extra,
    },
  });
  if (answer.status !== 201) throw new Error(`create show: ${answer.status} ${JSON.stringify(answer.json)}`);
  return answer.json.id;
}

// axe-core in the page: every WCAG 2.x A/AA rule (2.2 included); returns
// the violations, each with its nodes' selectors, for the test to assert
// there are none. Evaluated through the browser's debugging protocol, not
// added as a script tag: the page's Content-Security-Policy refuses inline
// scripts, as it should.
const AXE = new URL('../../node_modules/axe-core/axe.min.js', import.meta.url);
let axeSource;
export async function axeViolations(page) {
  axeSource ??= readFileSync(fileURLToPath(AXE), 'utf8');
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
  }));
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')),
  }));
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

// A fresh visitor: its own context, so its own session and cart. What the
// page's Content-Security-Policy refused is kept (`cspViolations`): the
// page must never need what the policy forbids.
export async function visitor(browser, base, viewport = { width: 1100, height: 800 }) {
  const context = await browser.newContext({ baseURL: base, viewport });
  const page = await context.newPage();
  const refused = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && message.text().includes('Content Security Policy')) {
      refused.push(message.text());
    }
  });
  cspRefusals.set(page, refused);
  return { context, page };
}

const cspRefusals = new WeakMap();
export function cspViolations(page) {
  return cspRefusals.get(page) ?? [];
}

export async function openShow(page, showId) {
  await page.goto(`/#/shows/${showId}`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('#seat-map button.seat');
}

export const seat = (page, id) => page.locator(`#seat-${id}`);

export async function tokenOf(page) {
  return page.evaluate(() => localStorage.getItem('boxoffice.token'));
}

export const SCREENSHOTS = new URL('../../docs/screenshots/', import.meta.url);
