// README.md's list of metrics, rendered from the METRICS table so that the two cannot
// drift (test/internals/metrics-table.test.ts compares them). After changing the table:
//   node -e "import('./dist/runtime/inner/metrics/markdown.js').then((m) => console.log(m.metricsMarkdownTable()))"
// and paste the output over README.md's table under "### Metrics".
import { METRICS } from './table.js';

const SOURCE = { event: 'inner', state: 'inner, read at scrape', outer: 'outer, over the channel', process: 'each side' } as const;

export function metricsMarkdownTable(): string {
  const rows = Object.entries(METRICS).map(([name, row]) =>
    `| \`${name}\` | ${row.type} | ${row.labels.length > 0 ? row.labels.map((l) => `\`${l}\``).join(', ') : '—'} | ${SOURCE[row.source]} | ${row.help.replace(/\|/g, '\\|')} |`);
  return ['| metric | type | labels | from | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
