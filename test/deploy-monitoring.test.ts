// The monitoring files shipped in deploy/: every alert rule has a duration, a severity and
// a summary; every expression of the rules and of the Grafana dashboard parses as PromQL
// (the Prometheus project's own grammar, @prometheus-io/lezer-promql); and every ferry_*
// metric they name exists in a real scrape of a running gateway.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { parser } from '@prometheus-io/lezer-promql';
import { PROJECT_DIR, startTestGateway } from './helpers/gateway.js';
import { api, payBill, tokens } from './helpers/management.js';
import { scrape } from './helpers/prometheus.js';

const ALERTS = path.join(PROJECT_DIR, 'deploy/prometheus/ferry-alerts.yml');
const SCRAPE_CONFIG = path.join(PROJECT_DIR, 'deploy/prometheus/prometheus.yml');
const DASHBOARD = path.join(PROJECT_DIR, 'deploy/grafana/ferry-dashboard.json');

interface Rule { alert: string; expr: string; for?: string; labels?: { severity?: string }; annotations?: { summary?: string; description?: string } }

const rules = (): Rule[] => (parse(fs.readFileSync(ALERTS, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const dashboardExprs = (): Array<{ panel: string; expr: string }> =>
  (JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> }).panels
    .flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));

// The metric names an expression selects, or the text of its first syntax error.
function readExpr(expr: string): { names: string[]; error?: string } {
  const names: string[] = [];
  let error: string | undefined;
  const cursor = parser.parse(expr).cursor();
  do {
    if (cursor.type.isError) error ??= `syntax error at ${cursor.from}: ${JSON.stringify(expr.slice(cursor.from, cursor.from + 20))}`;
    if (cursor.name === 'Identifier') {
      const parent = cursor.node.parent;
      if (parent?.name === 'VectorSelector') names.push(expr.slice(cursor.from, cursor.to));
    }
  } while (cursor.next());
  return error === undefined ? { names } : { names, error };
}

test('the PromQL reader finds the names in an expression and the errors in a broken one', () => {
  assert.equal(readExpr('sum(rate(ferry_a_total{x="y"}[5m])) > 0.1 * sum(ferry_b)').names, ['ferry_a_total', 'ferry_b']);
  assert.ok(readExpr('sum(rate(ferry_a_total[5m]) >').error);
  assert.ok(readExpr('ferry_a_total{x="y"').error);
});

test('every alert rule has a duration, a severity and a summary, and its expression parses as PromQL', () => {
  const all = rules();
  assert.ok(all.length >= 6, 'the rules file has the alerts');
  for (const rule of all) {
    assert.match(rule.alert, /^Ferry[A-Za-z]+$/, rule.alert);
    assert.match(rule.for ?? '', /^[0-9]+[smh]$/, `${rule.alert} has for:`);
    assert.ok(['critical', 'warning'].includes(rule.labels?.severity ?? ''), `${rule.alert} has a severity`);
    assert.ok((rule.annotations?.summary ?? '').length > 20, `${rule.alert} has a summary`);
    assert.is(readExpr(rule.expr).error, undefined, `${rule.alert}: ${rule.expr}`);
  }
  for (const { alert } of [
    'FerryPaymentServerBreakerOpen', 'FerryOldestOpenOrderTooOld', 'FerryAuditVerifyFailed', 'FerryNoReceiverUpdateToday', 'FerryRefusalSpike',
  ].map((alert) => ({ alert }))) assert.ok(all.some((r) => r.alert === alert), `${alert} is a rule`);
  for (const { panel, expr } of dashboardExprs()) assert.is(readExpr(expr).error, undefined, `${panel}: ${expr}`);
  const config = parse(fs.readFileSync(SCRAPE_CONFIG, 'utf8')) as { scrape_configs: Array<{ metrics_path: string; authorization: { credentials_file: string } }> };
  assert.is(config.scrape_configs[0]!.metrics_path, '/metrics');
  assert.ok(config.scrape_configs[0]!.authorization.credentials_file, 'the read token comes from a file');
});

test('every ferry_* metric the alert rules and the dashboard name is in a real scrape of a running gateway', async () => {
  const gw = await startTestGateway({ outerTuning: { metricsIntervalMs: 100 } });
  try {
    await payBill(gw, 'P-DEPLOY-1');
    assert.is((await api(gw, 'GET', '/v1/audit/verify', tokens(gw).read)).json.ok, true);
    let s = await scrape(gw);
    const deadline = Date.now() + 5000;
    while (s.value('ferry_outer_up') !== 1 && Date.now() < deadline) s = await scrape(gw);
    const exists = (name: string): boolean => {
      if (s.families.has(name)) return true;
      const base = name.replace(/_(bucket|sum|count)$/, '');
      return base !== name && s.families.get(base)?.type === 'HISTOGRAM';
    };
    const named = [
      ...rules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
      ...dashboardExprs().map((d) => ({ where: `panel ${d.panel}`, expr: d.expr })),
    ].flatMap(({ where, expr }) => readExpr(expr).names.filter((n) => n.startsWith('ferry_')).map((name) => ({ where, name })));
    assert.ok(named.length > 20, 'the files name the metrics');
    const missing = named.filter(({ name }) => !exists(name)).map(({ where, name }) => `${where}: ${name}`);
    assert.equal(missing, [], 'every metric named exists');
  } finally {
    await gw.close();
  }
});

test.run();
