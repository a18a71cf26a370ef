// The console's page and style sheet, served as they are: no framework, nothing from
// another origin, so that it works on a closed network and under a strict
// Content-Security-Policy. The script (browser.ts, compiled beside this file) fills the
// page in with DOM calls only, never from HTML text, so nothing a device sent can become
// markup.
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Ferry console</title>
<link rel="stylesheet" href="/console/console.css">
<script type="module" src="/console/console.js"></script>
</head>
<body>
<header class="top">
  <h1>Ferry <span class="sub">gateway console</span></h1>
  <div class="meta"><span id="updated">not signed in</span> <button id="signout" class="link" hidden>Sign out</button></div>
</header>
<section id="signin" class="signin">
  <form id="signin-form" autocomplete="off">
    <h2>Sign in</h2>
    <p>Give the management API's read token (gateway.yaml <code>management.token</code>). It is kept in this browser tab only.</p>
    <label for="token">Token</label>
    <input id="token" name="token" type="password" required spellcheck="false">
    <button type="submit">Sign in</button>
    <p id="signin-error" class="error" role="alert" hidden></p>
  </form>
</section>
<main id="console" hidden>
  <p id="stale" class="banner bad" role="alert" hidden></p>
  <section class="status" id="status" aria-label="State that needs attention"></section>
  <section class="panel wide">
    <h2>Payment flow</h2>
    <div class="figures" id="payments"></div>
    <div class="charts" id="charts"></div>
    <h3>Newest orders</h3>
    <table id="orders"><thead><tr><th>Order</th><th>Status</th><th class="num">Amount</th><th>Method</th><th>Opened</th><th>Last change</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="panel">
    <h2>Devices</h2>
    <table id="devices"><thead><tr><th>Device</th><th>Role</th><th>Department</th><th>State</th><th>Last seen</th><th class="num" title="messages the gap refused since the start">Gap refusals</th><th class="num" title="connections, publishes and subscriptions the broker refused since the start">Broker refusals</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="panel">
    <h2>Recent refusals</h2>
    <table id="refusals"><thead><tr><th>Time</th><th>Code</th><th>Device</th><th>Role</th><th>Topic kind</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="panel">
    <h2>Slot pools today <span class="sub" id="slots-date"></span></h2>
    <table id="slots"><thead><tr><th>Department</th><th>Session</th><th class="num">Left</th><th class="num">Capacity</th><th class="num">Booked</th><th class="num">Held</th><th>Receiver's last report</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="panel">
    <h2>Dispatch backlog</h2>
    <table id="dispatch"><thead><tr><th>Department</th><th class="num">Waiting</th><th class="num">Workstations listening</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="panel">
    <h2>Audit chain, firewall, rules</h2>
    <dl id="checks"></dl>
  </section>
</main>
</body>
</html>
`;

export const CONSOLE_CSS = `
:root { --ink: #1d2733; --muted: #5d6b7a; --line: #d9e0e7; --bg: #f4f6f8; --panel: #fff;
  --ok: #1f7a4d; --ok-bg: #e5f4ec; --warn: #8a5a00; --warn-bg: #fdf1d8; --bad: #a61b1b; --bad-bg: #fde4e4;
  --idle: #5d6b7a; --idle-bg: #eceff2; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", sans-serif; color: var(--ink); background: var(--bg); }
header.top { display: flex; justify-content: space-between; align-items: baseline; padding: 10px 20px; background: #22313f; color: #fff; }
header.top h1 { margin: 0; font-size: 20px; font-weight: 600; }
.sub { font-weight: 400; color: var(--muted); font-size: 0.8em; }
header.top .sub { color: #b8c4cf; }
.meta { font-size: 13px; color: #d4dde5; }
button { font: inherit; padding: 6px 14px; border: 1px solid #22313f; background: #22313f; color: #fff; border-radius: 4px; cursor: pointer; }
button.link { background: none; border: none; color: #cfe3ff; text-decoration: underline; padding: 0 0 0 8px; }
.signin { display: flex; justify-content: center; padding: 60px 20px; }
.signin form { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 24px 28px; width: 420px; }
.signin h2 { margin-top: 0; }
.signin label { display: block; font-weight: 600; margin: 12px 0 4px; }
.signin input { width: 100%; padding: 8px; font: inherit; border: 1px solid #aab6c2; border-radius: 4px; margin-bottom: 14px; }
.error { color: var(--bad); background: var(--bad-bg); padding: 8px 10px; border-radius: 4px; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 14px; padding: 14px 20px 30px; }
.banner, .status, .panel.wide { grid-column: 1 / -1; }
.banner { margin: 0; padding: 10px 14px; border-radius: 4px; font-weight: 600; }
.bad.banner { color: var(--bad); background: var(--bad-bg); border: 1px solid var(--bad); }
.status { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 10px; }
.tile { border-radius: 6px; padding: 10px 14px; border: 1px solid var(--line); background: var(--panel); }
.tile .label { font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); }
.tile .value { font-size: 18px; font-weight: 600; }
.tile .detail { font-size: 12px; color: var(--muted); }
.tile.ok .value { color: var(--ok); }
.tile.idle .value { color: var(--idle); }
.tile.warn { background: var(--warn-bg); border-color: var(--warn); } .tile.warn .value { color: var(--warn); }
.tile.bad { background: var(--bad-bg); border: 2px solid var(--bad); } .tile.bad .value { color: var(--bad); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; min-width: 0; }
.panel h2 { margin: 0 0 10px; font-size: 16px; }
.panel h3 { margin: 14px 0 6px; font-size: 14px; color: var(--muted); }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.figure .n { font-size: 28px; font-weight: 600; font-variant-numeric: tabular-nums; }
.figure .u { font-size: 13px; color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 12px; margin-top: 10px; }
.chart .title { font-size: 13px; color: var(--muted); }
.chart svg { width: 100%; height: 90px; display: block; }
.chart .area { fill: #dbe8f5; } .chart .line { fill: none; stroke: #2b6cb0; stroke-width: 1.5; }
.chart .axis { stroke: var(--line); } .chart text { font-size: 10px; fill: var(--muted); }
table { width: 100%; border-collapse: collapse; font-size: 14px; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; border-bottom: 1px solid var(--line); padding: 4px 6px; }
td { border-bottom: 1px solid #eef1f4; padding: 4px 6px; font-variant-numeric: tabular-nums; }
.num { text-align: right; }
.nowrap, .pill { white-space: nowrap; }
td.empty { color: var(--muted); font-style: italic; }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.pill.ok { color: var(--ok); background: var(--ok-bg); } .pill.idle { color: var(--idle); background: var(--idle-bg); }
.pill.warn { color: var(--warn); background: var(--warn-bg); } .pill.bad { color: var(--bad); background: var(--bad-bg); }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 14px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; }
`;
