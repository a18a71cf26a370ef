// triage.yaml is a rule file like the others: checked whole, every problem named at its
// file:line, department codes checked against departments.yaml, and `ferry rules check`
// reports them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadRules } from '../runtime/rules/load.js';
import { RulesError, type RuleProblem } from '../runtime/rules/types.js';
import { TRIAGE_DEFAULTS } from '../runtime/rules/triage.js';
import { copyRules, PROJECT_DIR } from './helpers/gateway.js';
import { problemsOf } from './helpers/rules.js';

const dirs: string[] = [];

function withTriage(text: string): string {
  const dir = copyRules();
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'triage.yaml'), text);
  return dir;
}


function assertProblem(problems: RuleProblem[], line: number, message: RegExp): void {
  const hit = problems.find((p) => p.file === 'triage.yaml' && p.line === line && message.test(p.message));
  assert.ok(hit, `expected triage.yaml:${line} ${message}; got\n${problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n')}`);
}

test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

test('the example triage.yaml loads with its rules in file order and its redelivery time', () => {
  const { triage } = loadRules(path.join(PROJECT_DIR, 'rules'));
  assert.equal(triage.rules.map((r) => r.name), ['chest-pain', 'injury', 'child', 'ear-nose-throat']);
  assert.equal(triage.default, { dept: 'INT', priority: 'normal' });
  assert.is(triage.dispatch.redeliverAfterMs, 60_000);
});

test('defaults fill a triage.yaml that gives only the default department', () => {
  const { triage } = loadRules(withTriage('default:\n  dept: SUR\n'));
  assert.equal(triage.rules, []);
  assert.equal(triage.default, { dept: 'SUR', priority: TRIAGE_DEFAULTS.priority });
  assert.is(triage.dispatch.redeliverAfterMs, TRIAGE_DEFAULTS.redeliverAfterMs);
});

test('a department that departments.yaml does not define is refused at its line, in a rule and as the default', () => {
  const problems = problemsOf(withTriage([
    'default:',
    '  dept: XRAY',
    'rules:',
    '  - name: eyes',
    '    dept: EYE',
    '    keywords: [eye]',
  ].join('\n')));
  assertProblem(problems, 2, /default\.dept: department "XRAY" is not in departments\.yaml/);
  assertProblem(problems, 5, /rules\[0\]\.dept: department "EYE" is not in departments\.yaml/);
});

test('a pattern that is not a regular expression is refused at its line', () => {
  const problems = problemsOf(withTriage('default: { dept: INT }\nrules:\n  - name: bad\n    dept: INT\n    patterns:\n      - "(unclosed"\n'));
  assertProblem(problems, 6, /rules\[0\]\.patterns\[0\]: not a valid regular expression/);
});

test('an unknown key, a bad priority and a rule that can never match are refused at their lines', () => {
  const problems = problemsOf(withTriage([
    'default: { dept: INT }',
    'dispatch:',
    '  redeliverAfterSec: 60',
    'rules:',
    '  - name: empty',
    '    dept: INT',
    '  - name: loud',
    '    dept: INT',
    '    priority: critical',
    '    keywords: [x]',
  ].join('\n')));
  assertProblem(problems, 3, /unknown key/);
  assertProblem(problems, 9, /must be one of: "urgent", "high", "normal", "low"/);
});

test('a rule with neither keywords nor patterns, or a duplicate rule name, is refused', () => {
  const problems = problemsOf(withTriage([
    'default: { dept: INT }',
    'rules:',
    '  - name: empty',
    '    dept: INT',
    '  - name: empty',
    '    dept: INT',
    '    keywords: [cough]',
  ].join('\n')));
  assertProblem(problems, 3, /needs `keywords` or `patterns`/);
  assertProblem(problems, 5, /duplicate rule name "empty"/);
});

test('a redelivery time below 200 ms is refused', () => {
  const problems = problemsOf(withTriage('default: { dept: INT }\ndispatch:\n  redeliverAfterMs: 10\n'));
  assertProblem(problems, 3, /must be >= 200/);
});

test('ferry rules check names a triage.yaml problem as file:line:column and exits 1', async () => {
  const dir = withTriage('default:\n  dept: NOPE\n');
  const run = promisify(execFile)(process.execPath, [path.join(PROJECT_DIR, 'bin/ferry.js'), 'rules', 'check', dir]);
  const failed = await run.then(() => null, (err: { code: number; stderr: string }) => err);
  assert.ok(failed, 'rules check failed');
  assert.is(failed!.code, 1);
  assert.match(failed!.stderr, `${path.join(dir, 'triage.yaml')}:2:9: default.dept: department "NOPE" is not in departments.yaml`);
});

test.run();
