// The console's script, run in the browser (compiled by tsc beside the gateway's code
// and served as /console/console.js). It imports types only, which the compiler erases:
// the page must work offline, from this one file.
//
// Live updates poll GET /v1/console every 2 s with fetch(), the bearer token in the
// Authorization header. EventSource cannot send that header, and a streamed response
// would be one request held open for hours against the management listener's request
// and idle timeouts; a poll is one short request, survives a gateway restart without
// any reconnect logic, and costs one small JSON answer per viewer every 2 s.
const POLL_MS = 2_000;
const TOKEN_KEY = 'ferry.console.token';

// The shape of GET /v1/console; a type-only import, erased from the compiled script.
import type { ConsoleSnapshot as Snapshot } from './snapshot.js';
import type { HistoryPoint as Point } from './history.js';

type Tone = 'ok' | 'warn' | 'bad' | 'idle';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string | number, cls?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function pill(text: string, tone: Tone): HTMLSpanElement {
  return el('span', text, `pill ${tone}`);
}

function cell(content: string | number | Node, cls?: string): HTMLTableCellElement {
  const td = el('td', undefined, cls);
  if (content instanceof Node) td.append(content);
  else td.textContent = String(content);
  return td;
}

function fillTable(id: string, rows: HTMLTableRowElement[], empty: string): void {
  const body = $(id).querySelector('tbody')!;
  const columns = $(id).querySelectorAll('thead th').length;
  if (rows.length === 0) {
    const td = cell(empty, 'empty');
    td.colSpan = columns;
    const tr = el('tr');
    tr.append(td);
    rows = [tr];
  }
  body.replaceChildren(...rows);
}

function row(...cells: HTMLTableCellElement[]): HTMLTableRowElement {
  const tr = el('tr');
  tr.append(...cells);
  return tr;
}

const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTime = (iso: string) => new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const seconds = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);
const deptName = (d: { dept: string; name: string }) => (d.name.includes(d.dept) ? d.name : `${d.name} (${d.dept})`);
const money = (fen: number, currency: string) => `${(fen / 100).toFixed(2)} ${currency}`;
function ago(iso: string, nowIso: string): string {
  const s = Math.max(0, Math.round((Date.parse(nowIso) - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

// ---- sign-in

function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

function showSignIn(message?: string): void {
  stopPolling();
  $('console').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  $('updated').textContent = 'not signed in';
  const error = $('signin-error');
  error.hidden = !message;
  error.textContent = message ?? '';
  $<HTMLInputElement>('token').focus();
}

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('token');
  const given = input.value.trim();
  if (!given) return;
  sessionStorage.setItem(TOKEN_KEY, given);
  input.value = '';
  void poll(true);
});

$('signout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn();
});

// ---- polling

let timer: number | undefined;
let lastGood: string | null = null;

function stopPolling(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
}

async function poll(signingIn = false): Promise<void> {
  stopPolling();
  const t = token();
  if (!t) return showSignIn();
  try {
    const res = await fetch('/v1/console', { headers: { authorization: `Bearer ${t}` }, cache: 'no-store' });
    if (res.status === 401 || res.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      return showSignIn(signingIn || lastGood === null
        ? 'The gateway did not accept that token. Use the read token from gateway.yaml (management.token).'
        : 'The gateway no longer accepts the token (it may have been changed). Sign in again.');
    }
    if (!res.ok) throw new Error(`the gateway answered ${res.status}`);
    const snapshot = await res.json() as Snapshot;
    lastGood = snapshot.at;
    $('signin').hidden = true;
    $('console').hidden = false;
    $('signout').hidden = false;
    $('stale').hidden = true;
    render(snapshot);
    $('updated').textContent = `live, updated ${time(snapshot.at)}`;
  } catch (err) {
    const stale = $('stale');
    stale.hidden = false;
    stale.textContent = `The gateway is not answering (${(err as Error).message}). ${lastGood ? `What is shown is from ${time(lastGood)}.` : ''} Retrying every ${POLL_MS / 1000} s.`;
  }
  timer = window.setTimeout(() => void poll(), POLL_MS);
}

// ---- rendering

function tile(label: string, value: string, tone: Tone, detail?: string): HTMLDivElement {
  const div = el('div', undefined, `tile ${tone}`);
  div.append(el('div', label, 'label'), el('div', value, 'value'));
  if (detail) div.append(el('div', detail, 'detail'));
  return div;
}

function render(s: Snapshot): void {
  renderStatus(s);
  renderPayments(s);
  renderCharts(s);
  fillTable('devices', s.devices.map((d) => row(
    cell(d.id, 'mono nowrap'), cell(d.role), cell(d.dept ?? '—'),
    cell(!d.enabled ? pill('disabled', 'idle') : d.online ? pill('online', 'ok') : pill('offline', 'idle')),
    cell(d.lastSeenAt ? ago(d.lastSeenAt, s.at) : '—', 'nowrap'),
    cell(d.gapRefusals, 'num'), cell(d.brokerRefusals, 'num'),
  )), 'No devices in devices.yaml.');
  const roleOf = new Map(s.devices.map((d) => [d.id, d.role]));
  fillTable('refusals', s.refusals.map((r) => row(
    cell(time(r.at), 'nowrap'), cell(pill(r.code, 'warn')), cell(r.device || '—', 'mono nowrap'), cell(roleOf.get(r.device) ?? '—'),
    cell(r.reason ? `${r.topicKind} (${r.reason})` : r.topicKind, 'mono'),
  )), 'No refusals since the gateway started.');
  $('slots-date').textContent = s.slots.date;
  fillTable('slots', s.slots.departments.flatMap((d) => d.sessions.map((p, i) => row(
    cell(i === 0 ? deptName(d) : ''), cell(p.session),
    cell(p.closed ? pill('closed', 'idle') : p.overCapacity ? pill(`over capacity`, 'bad') : p.remaining === 0 ? pill('sold out', 'warn') : String(p.remaining), 'num'),
    cell(p.capacity, 'num'), cell(p.booked, 'num'), cell(p.held, 'num'),
    cell(i !== 0 ? '' : d.receiver ? `v${d.receiver.version} from ${d.receiver.device}, ${ago(d.receiver.at, s.at)}` : 'none since start'),
  ))), 'No departments in departments.yaml.');
  fillTable('dispatch', s.dispatch.map((d) => row(
    cell(deptName(d)),
    cell(d.waiting === 0 ? '0' : pill(String(d.waiting), d.listening === 0 ? 'bad' : 'warn'), 'num'),
    cell(d.listening, 'num'),
  )), 'No departments.');
  renderChecks(s);
}

function renderStatus(s: Snapshot): void {
  const tiles: HTMLDivElement[] = [];
  tiles.push(s.outer.connected
    ? tile('Outer side', 'connected', 'ok', 'payments can reach the payment server')
    : tile('Outer side', 'AWAY', 'bad', 'orders wait in the journal until it returns'));
  const breaker = s.outer.breaker;
  tiles.push(breaker === null ? tile('Payment breaker', 'unknown', 'idle', s.outer.connected ? 'the outer side has not sent its figures yet' : 'the outer side is away')
    : breaker === 'closed' ? tile('Payment breaker', 'closed', 'ok', 'payment server answering')
      : tile('Payment breaker', breaker.toUpperCase(), 'bad', 'the payment server is failing; orders are held'));
  const v = s.audit.lastVerify;
  tiles.push(!v ? tile('Audit chain', 'not verified yet', 'idle')
    : v.ok ? tile('Audit chain', 'intact', 'ok', `${v.entries} entries verified ${ago(v.at, s.at)}`)
      : tile('Audit chain', 'BROKEN', 'bad', v.problem ?? 'run ferry audit verify'));
  tiles.push(tile('Firewall', s.firewall.state, 'idle', 'ferry firewall verify, as root'));
  const reload = s.rules.lastReload;
  tiles.push(!reload ? tile('Rule files', 'unchanged', 'ok', `loaded ${dateTime(s.rules.loadedAt)}`)
    : reload.ok ? tile('Rule files', 'reloaded', 'ok', ago(reload.at, s.at))
      : tile('Rule files', 'RELOAD REFUSED', 'warn', `${ago(reload.at, s.at)}: the running rules stay`));
  const online = s.devices.filter((d) => d.online).length;
  tiles.push(tile('Devices online', `${online} of ${s.devices.filter((d) => d.enabled).length}`, online > 0 ? 'ok' : 'idle'));
  $('status').replaceChildren(...tiles);
}

function figure(n: string, unit: string): HTMLDivElement {
  const div = el('div', undefined, 'figure');
  div.append(el('div', n, 'n'), el('div', unit, 'u'));
  return div;
}

function renderPayments(s: Snapshot): void {
  const p = s.payments;
  $('payments').replaceChildren(
    figure(String(p.now.paymentsPerMin), 'payments ended in the last minute'),
    figure(String(p.now.failedPerMin), 'of them failed'),
    figure(p.now.latencyMs === null ? '—' : seconds(p.now.latencyMs), 'payment server answer time (mean, last minute)'),
    figure(String(p.openOrders), 'open orders (in the journal)'),
  );
  const tone = (status: string): Tone => status === 'succeeded' ? 'ok' : status === 'failed' ? 'bad' : status === 'unknown' ? 'warn' : 'idle';
  fillTable('orders', p.recent.map((o) => row(
    cell(o.orderId, 'mono nowrap'), cell(pill(o.status, tone(o.status))), cell(money(o.amount, o.currency), 'num'), cell(o.method),
    cell(dateTime(o.createdAt)), cell(ago(o.updatedAt, s.at)),
  )), 'No orders yet.');
}

// ---- charts: inline SVG, drawn here

const SVG = 'http://www.w3.org/2000/svg';
const W = 300;
const H = 90;
const PAD = { left: 30, right: 4, top: 6, bottom: 16 };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function chart(title: string, points: Point[], value: (p: Point) => number | null, nowMs: number, format: (n: number) => string): HTMLDivElement {
  const box = el('div', undefined, 'chart');
  box.dataset.chart = title;
  box.append(el('div', title, 'title'));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}, last hour` });
  const spanMs = 3_600_000;
  const x = (t: number) => PAD.left + ((t - (nowMs - spanMs)) / spanMs) * (W - PAD.left - PAD.right);
  const values = points.map(value).filter((v): v is number => v !== null);
  const max = Math.max(1, ...values);
  const y = (v: number) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  root.append(
    svg('line', { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: 'axis' }),
    svg('line', { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: 'axis' }),
    svg('text', { x: PAD.left - 3, y: PAD.top + 8, 'text-anchor': 'end' }, format(max)),
    svg('text', { x: PAD.left - 3, y: H - PAD.bottom, 'text-anchor': 'end' }, '0'),
    svg('text', { x: PAD.left, y: H - 3 }, '−60 min'),
    svg('text', { x: W - PAD.right, y: H - 3, 'text-anchor': 'end' }, 'now'),
  );
  const drawn = points.filter((p) => value(p) !== null && p.t >= nowMs - spanMs);
  if (drawn.length > 0) {
    const coords = drawn.map((p) => `${x(p.t).toFixed(1)},${y(value(p)!).toFixed(1)}`);
    const first = x(drawn[0]!.t).toFixed(1);
    const last = x(drawn[drawn.length - 1]!.t).toFixed(1);
    root.append(
      svg('polygon', { points: `${first},${H - PAD.bottom} ${coords.join(' ')} ${last},${H - PAD.bottom}`, class: 'area' }),
      svg('polyline', { points: coords.join(' '), class: 'line' }),
    );
  }
  box.append(root);
  return box;
}

function renderCharts(s: Snapshot): void {
  // The sampled hour, and this instant's figures as its last point.
  const points = [...s.history.points, s.payments.now];
  const nowMs = Date.parse(s.at);
  $('charts').replaceChildren(
    chart('Payments per minute', points, (p) => p.paymentsPerMin, nowMs, String),
    chart('Payment server answer time (mean, ms)', points, (p) => p.latencyMs, nowMs, (n) => String(Math.round(n))),
    chart('Refusals per minute', points, (p) => p.refusalsPerMin, nowMs, String),
    chart('Open orders', points, (p) => p.openOrders, nowMs, String),
  );
}

function renderChecks(s: Snapshot): void {
  const v = s.audit.lastVerify;
  const r = s.rules.lastReload;
  const items: Array<[string, string | Node]> = [
    ['Audit chain', `head at entry ${s.audit.head.seq}, hash ${s.audit.head.hash.slice(0, 16)}…`],
    ['Last verify', !v ? 'not yet' : v.ok ? pill(`intact: ${v.entries} entries, ${dateTime(v.at)}`, 'ok') : pill(`BROKEN at ${v.problem ?? '?'} (${dateTime(v.at)})`, 'bad')],
    ['Firewall', `${s.firewall.state}. ${s.firewall.note}`],
    ['Rules loaded', dateTime(s.rules.loadedAt)],
    ['Last reload', !r ? 'none since start' : r.ok ? pill(`reloaded ${dateTime(r.at)}${r.dropped ? `, ${r.dropped} connection(s) closed` : ''}`, 'ok') : pill(`refused ${dateTime(r.at)}: ${r.problem ?? ''}`, 'warn')],
    ['Gateway started', dateTime(s.startedAt)],
    ['Role', s.ha ? pill(`active box of a pair, epoch ${s.ha.epoch} (${s.ha.holder})`, 'ok') : 'single box'],
  ];
  $('checks').replaceChildren(...items.flatMap(([k, v2]) => {
    const dd = el('dd');
    dd.append(v2);
    return [el('dt', k), dd];
  }));
}

if (token()) void poll();
else showSignIn();
