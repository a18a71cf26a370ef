// The metric table (runtime/inner/metrics/table.ts) follows Prometheus's naming rules,
// README.md's list of metrics is the table's, and the registry holds exactly the table's
// metrics. No socket: the table, the README and a registry.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { METRICS, METRIC_NAMES } from '../../runtime/inner/metrics/table.js';
import { metricsMarkdownTable } from '../../runtime/inner/metrics/markdown.js';
import { InnerMetrics, safeLabel } from '../../runtime/inner/metrics/registry.js';

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md');

test('every metric is named ferry_*, a counter ends in _total and nothing else does, and units are base units', () => {
  for (const [name, row] of Object.entries(METRICS)) {
    assert.match(name, /^ferry_[a-z][a-z0-9_]*[a-z0-9]$/, name);
    assert.is(name.endsWith('_total'), row.type === 'counter', `${name}: _total if and only if a counter`);
    assert.not.match(name, /_(ms|milliseconds|kb|mb|minutes|hours)(_|$)/, `${name} is in base units`);
    assert.ok(row.help.length > 10 && /[.)]$/.test(row.help), `${name} has a sentence of help`);
    for (const label of row.labels) assert.match(label, /^[a-z][a-z_]*$/, `${name} label ${label}`);
    // Labels that could carry who or what a message was about are never used.
    for (const label of row.labels) assert.not.ok(['patient', 'patientId', 'order', 'orderId', 'device', 'deviceId', 'id'].includes(label), `${name}: ${label}`);
  }
});

test("README.md's list of metrics is the one rendered from the table", () => {
  const readme = fs.readFileSync(README, 'utf8');
  const start = readme.indexOf('| metric | type | labels | from | meaning |');
  assert.ok(start >= 0, 'README has the metric table under "### Metrics"');
  const end = readme.indexOf('\n\n', start);
  assert.fixture(readme.slice(start, end), metricsMarkdownTable());
});

test('the registry holds exactly the metrics of the table, and a label value that is not a name shows as other', async () => {
  const metrics = new InnerMetrics();
  const names = metrics.registry.getMetricsAsArray().map((m) => m.name).sort();
  assert.equal(names, [...METRIC_NAMES].sort());
  metrics.count('ferry_gap_refused_total', { type: 'bill.query', code: 'P-42 {"patientId"}' });
  const text = (await metrics.exposition()).text;
  assert.match(text, /ferry_gap_refused_total\{type="bill.query",code="other"\} 1/);
  assert.is(safeLabel('INT'), 'INT');
  assert.is(safeLabel('a b'), 'other');
  // Two registries do not share counters (in-process test gateways each have one).
  assert.is(await new InnerMetrics().value('ferry_gap_refused_total'), undefined);
});

test.run();
