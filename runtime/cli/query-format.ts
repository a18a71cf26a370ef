// Output formats of `ferry query`: a table for people, JSON lines and CSV for programs.
// CSV follows RFC 4180, and a text cell that a spreadsheet would run as a formula
// (starting with = + - @ or a control character) is prefixed with ' .
export type QueryFormat = 'table' | 'jsonl' | 'csv';
export const QUERY_FORMATS: readonly QueryFormat[] = ['table', 'jsonl', 'csv'];

type Row = Record<string, unknown>;

// Table cells longer than this are cut: a table is for a terminal.
const TABLE_CELL_CHARS_MAX = 48;

const text = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

export function formatJsonl(rows: readonly Row[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}

export function csvCell(v: unknown): string {
  let s = text(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function formatCsv(rows: readonly Row[], columns: readonly string[]): string {
  const lines = [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

// Columns that no row fills are left out, so that a narrow terminal shows what there is.
export function formatTable(rows: readonly Row[], columns: readonly string[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const used = columns.filter((c) => rows.some((r) => text(r[c]) !== ''));
  const cell = (r: Row, c: string) => {
    const s = text(r[c]).replace(/[\u0000-\u001f]/g, ' ');
    return s.length > TABLE_CELL_CHARS_MAX ? `${s.slice(0, TABLE_CELL_CHARS_MAX - 1)}…` : s;
  };
  const widths = used.map((c) => Math.max(c.length, ...rows.map((r) => cell(r, c).length)));
  const line = (cells: string[]) => cells.map((s, i) => s.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(used), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(used.map((c) => cell(r, c))))].join('\n') + '\n';
}
