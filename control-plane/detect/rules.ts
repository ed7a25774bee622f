/**
 * The rule set: built-in detectors, and user rules loaded from gitleaks configuration files (rule-file.ts).
 */
import { allowlistsOf, type Allowlist, type Rule } from './rule.js'
import { combineRules, loadRulesFile } from './rule-file.js'
import { providerRules } from './detectors/providers.js'
import { structuredRules } from './detectors/structured.js'
import { genericRules } from './detectors/generic.js'
import { namedValueRules } from './detectors/named-values.js'

let builtin: readonly Rule[] | undefined

/**
 * Every built-in detector, highest priority first: a new list each call (callers change lists), of
 * rules built once for the process (they hold no state between calls; building ~600 of them, with
 * their patterns' analysis, cost a scan a fifth of a second).
 */
export function builtinRules(): Rule[] {
  builtin ??= [...providerRules(), ...structuredRules(), ...genericRules(), ...namedValueRules()]
  return [...builtin]
}

export { combineRules, loadRulesFile, parseRules, type RuleSet } from './rule-file.js'

/**
 * Rules for a scan: the built-in set (less what the files disable or redefine) plus the rules files';
 * their global allowlists after the given one; `warnings`: what the files ask for that is not done.
 */
export function resolveRules(options: { rules?: readonly Rule[]; rulesFiles?: readonly string[]; allowlist?: Allowlist | readonly Allowlist[] }): { rules: Rule[]; allowlist: Allowlist[]; warnings: string[] } {
  const given = allowlistsOf(options.allowlist)
  const combined = combineRules(options.rules ?? builtinRules(), (options.rulesFiles ?? []).map((file) => loadRulesFile(file)))
  return { rules: combined.rules, allowlist: [...given, ...combined.allowlists], warnings: combined.warnings }
}
