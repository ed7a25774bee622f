/**
 * The rule set: built-in detectors, and user rules loaded from gitleaks configuration files (rule-file.ts).
 */
import type { Rule } from './rule.js'
import { providerRules } from './detectors/providers.js'
import { structuredRules } from './detectors/structured.js'
import { genericRules } from './detectors/generic.js'
import { namedValueRules } from './detectors/named-values.js'

/** Every built-in detector, highest priority first. */
export function builtinRules(): Rule[] {
  return [...providerRules(), ...structuredRules(), ...genericRules(), ...namedValueRules()]
}

export { combineRules, loadRulesFile, parseRules, type RuleSet } from './rule-file.js'
