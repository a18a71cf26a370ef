// One rule file as parsed YAML that remembers where every value came from, so that
// each problem the loader finds (syntax, schema or meaning) names file:line:column.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isNode, type Document, type Node } from 'yaml';
import type { ErrorObject } from 'ajv';
import type { RuleProblem } from './types.js';

// Rule files are small; a bigger one is a mistake (or a device list for another site).
export const RULE_FILE_BYTES_MAX = 4 * 1024 * 1024;

export interface YamlSource {
  file: string; // relative to the rules directory
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
  data: unknown; // plain JS value of the document
}

export type Segment = string | number;

export function problem(file: string, line: number, column: number, message: string): RuleProblem {
  return { file, line, column, message };
}

// Reads and parses one rule file; `text` replaces the file's content on disk (used to
// check a change before it is written). Problems are appended; null when the file
// cannot be trusted at all.
export function readYaml(dir: string, file: string, problems: RuleProblem[], text?: string): YamlSource | null {
  if (text === undefined) {
    try {
      text = readFileSync(join(dir, file), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(problem(file, 0, 0, code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(err)})`));
      return null;
    }
  }
  if (Buffer.byteLength(text) > RULE_FILE_BYTES_MAX) {
    problems.push(problem(file, 0, 0, `file is larger than ${RULE_FILE_BYTES_MAX} bytes`));
    return null;
  }
  return parseYaml(file, text, problems);
}

export function parseYaml(file: string, text: string, problems: RuleProblem[]): YamlSource | null {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true, strict: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const pos = err.linePos?.[0];
      const message = err.code === 'DUPLICATE_KEY' ? 'duplicate key' : firstLine(err.message);
      problems.push(problem(file, pos?.line ?? 0, pos?.col ?? 0, `YAML: ${message}`));
    }
    return null;
  }
  return { file, text, doc, lines, data: doc.toJS({ maxAliasCount: 100 }) };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

// JSON pointer (`/devices/2/role`) to segments.
export function pointerSegments(pointer: string): Segment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

// The deepest node on the path that exists; `key` asks for the key of the last map
// entry instead of its value (to point at an unknown key rather than its content).
// A map or list that is the value of a key is shown at its key (`payment:`), which is
// where an operator looks for it, rather than at its first entry.
export function locate(src: YamlSource, path: readonly Segment[], key = false): { line: number; column: number } {
  let node: unknown = src.doc.contents;
  let found: Node | null = isNode(node) ? node : null;
  let foundKey: Node | null = null;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      const keyNode = isNode(pair.key) ? pair.key : null;
      if (i === path.length - 1 && key && keyNode) {
        found = keyNode;
        foundKey = null;
        break;
      }
      node = pair.value;
      found = isNode(pair.value) ? pair.value : keyNode ?? found;
      foundKey = keyNode;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (!isNode(item)) break;
      node = item;
      found = item;
      foundKey = null;
    } else {
      break;
    }
  }
  const shown = foundKey && (isMap(found) || isSeq(found)) && !found.flow ? foundKey : found;
  const offset = shown?.range?.[0];
  if (offset === undefined) return { line: 1, column: 1 };
  const pos = src.lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

export function problemAt(src: YamlSource, path: readonly Segment[], message: string, key = false): RuleProblem {
  const { line, column } = locate(src, path, key);
  const where = pathText(path);
  return problem(src.file, line, column, where ? `${where}: ${message}` : message);
}

// `devices[2].role`, `messages["bill.create"].schema`: readable, and unambiguous.
export function pathText(path: readonly Segment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number' || /^[0-9]+$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

// An ajv error of a rule file's own schema, worded for an operator and placed on its node.
export function schemaProblem(src: YamlSource, err: ErrorObject, base: readonly Segment[] = []): RuleProblem {
  const path = [...base, ...pointerSegments(err.instancePath)];
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties':
      return problemAt(src, [...path, String(params.additionalProperty)], 'unknown key', true);
    case 'required':
      return problemAt(src, path, `missing required key "${String(params.missingProperty)}"`);
    case 'enum':
      return problemAt(src, path, `must be one of: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`);
    default:
      return problemAt(src, path, err.message ?? `fails ${err.keyword}`);
  }
}
