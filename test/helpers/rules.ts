// The problems a broken rule directory is refused with; fails the test if it loads.
import * as assert from 'uvu/assert';
import { loadRules } from '../../runtime/rules/load.js';
import { RulesError, type RuleProblem } from '../../runtime/rules/types.js';

export function problemsOf(dir: string): RuleProblem[] {
  try {
    loadRules(dir);
  } catch (err) {
    assert.instance(err, RulesError);
    return (err as RulesError).problems;
  }
  assert.unreachable('the rules loaded although they are broken');
  return [];
}
