// How the CLI shows rule problems: one `path:line:col: message` per line, the form
// editors and grep understand. Problems of the file as a whole have line 0.
import { join } from 'node:path';
import { RulesError } from './types.js';

export function formatProblems(dir: string, err: RulesError): string {
  return err.problems.map((p) => `${join(dir, p.file)}:${p.line}:${p.column}: ${p.message}\n`).join('');
}

// A RulesError becomes its problems; anything else is an operating error, one line.
export function describeFailure(dir: string, err: unknown): string {
  if (err instanceof RulesError) return formatProblems(dir, err);
  return `${err instanceof Error ? err.message : String(err)}\n`;
}
