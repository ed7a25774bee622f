/**
 * The rule set: built-in detectors, and user rules loaded from gitleaks-style TOML.
 */
import { readFileSync } from 'node:fs'
import { parse as parseToml } from 'smol-toml'
import { RulesError } from '../../lib/errors.js'
import { regexRule, type Allowlist, type Rule } from './rule.js'
import { providerRules } from './detectors/providers.js'
import { structuredRules } from './detectors/structured.js'
import { genericRules } from './detectors/generic.js'
import { namedValueRules } from './detectors/named-values.js'

/** Every built-in detector, highest priority first. */
export function builtinRules(): Rule[] {
  return [...providerRules(), ...structuredRules(), ...genericRules(), ...namedValueRules()]
}

/** A rules file: its rules and its global allowlist. */
export interface RuleSet {
  rules: Rule[]
  allowlist: Allowlist
}

/** An empty allowlist. */
export function emptyAllowlist(): Allowlist {
  return { regexes: [], paths: [], stopwords: [] }
}

/**
 * Compiles a Go/RE2-style pattern as gitleaks writes them: a leading `(?i)` becomes the `i` flag,
 * `\z` becomes `$`. Throws with a message naming what is wrong.
 */
export function compilePattern(pattern: string): RegExp {
  let flags = ''
  let source = pattern
  const inline = /^\(\?([imsU]+)\)/.exec(source)
  if (inline?.[1] !== undefined) {
    if (inline[1].includes('i')) flags += 'i'
    if (inline[1].includes('s')) flags += 's'
    if (inline[1].includes('m')) flags += 'm'
    source = source.slice(inline[0].length)
  }
  source = source.replace(/\\z/g, '$').replace(/\\A/g, '^')
  return new RegExp(source, flags)
}

/**
 * Parses a gitleaks-style TOML rules text: `[[rules]]` with `id`, `regex`, and optionally
 * `description`, `kind`, `secretGroup`, `keywords`, `entropy`, `[rules.allowlist]`
 * (`regexes`, `paths`, `stopwords`); a top-level `[allowlist]` applies to every rule.
 * Every problem is reported at once, each naming its rule id.
 * @throws RulesError (code LEAKGATE_ERR_RULES)
 */
export function parseRules(text: string, origin = 'rules'): RuleSet {
  let doc: Record<string, unknown>
  try {
    doc = parseToml(text) as Record<string, unknown>
  } catch (cause) {
    throw new RulesError(`${origin} is not valid TOML: ${(cause as Error).message}`, { cause })
  }
  const errors: string[] = []
  const known = new Set(['rules', 'allowlist', 'title', 'extend'])
  for (const key of Object.keys(doc)) if (!known.has(key)) errors.push(`${origin}: unknown top-level key "${key}"`)
  const rawRules = doc.rules ?? []
  if (!Array.isArray(rawRules)) errors.push(`${origin}: "rules" must be an array of tables ([[rules]])`)
  const rules: Rule[] = []
  const seen = new Set<string>()
  for (const [i, raw] of (Array.isArray(rawRules) ? rawRules : []).entries()) {
    const r = raw as Record<string, unknown>
    const id = typeof r.id === 'string' && r.id !== '' ? r.id : undefined
    const name = id ?? `#${i + 1}`
    const problem = (msg: string): void => void errors.push(`rule ${name}: ${msg}`)
    if (id === undefined) problem('"id" is required (a non-empty string)')
    else if (seen.has(id)) problem('duplicate id')
    else seen.add(id)
    for (const key of Object.keys(r)) {
      if (!['id', 'description', 'kind', 'regex', 'secretGroup', 'keywords', 'entropy', 'allowlist', 'path', 'tags'].includes(key)) problem(`unknown key "${key}"`)
    }
    if (typeof r.regex !== 'string' || r.regex === '') {
      problem('"regex" is required (a non-empty string)')
      continue
    }
    let regex: RegExp
    try {
      regex = compilePattern(r.regex)
    } catch (cause) {
      problem(`bad regex: ${(cause as Error).message}`)
      continue
    }
    if (regex.test('')) problem('regex matches the empty string')
    // A quantified group that itself ends in a quantifier, (a+)+, can backtrack exponentially on
    // one long line: a scan would hang on the first minified file.
    if (/\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]/.test(r.regex)) problem('nested quantifiers such as (a+)+ can make a scan hang; bound or flatten them')
    const group = r.secretGroup ?? 0
    if (typeof group !== 'number' || !Number.isInteger(group) || group < 0) problem('"secretGroup" must be a non-negative integer')
    else if (group > 0 && new RegExp(`${regex.source}|`).exec('')!.length - 1 < group) problem(`"secretGroup" ${group} but the regex has fewer groups`)
    const keywords = r.keywords ?? []
    if (!Array.isArray(keywords) || !keywords.every((k) => typeof k === 'string' && k !== '')) problem('"keywords" must be an array of non-empty strings')
    if (r.entropy !== undefined && (typeof r.entropy !== 'number' || r.entropy < 0 || r.entropy > 8)) problem('"entropy" must be a number from 0 to 8')
    if (r.description !== undefined && typeof r.description !== 'string') problem('"description" must be a string')
    if (r.kind !== undefined && (typeof r.kind !== 'string' || !/^[a-z0-9_]{1,64}$/.test(r.kind))) problem('"kind" must match [a-z0-9_]{1,64}')
    let allowlist: Allowlist | undefined
    if (r.allowlist !== undefined) {
      try {
        allowlist = parseAllowlist(r.allowlist)
      } catch (err) {
        problem(`allowlist: ${(err as Error).message}`)
      }
    }
    if (id === undefined) continue
    rules.push(regexRule({
      id,
      kind: typeof r.kind === 'string' ? r.kind : id.replace(/[^a-z0-9_]/gi, '_').toLowerCase(),
      description: typeof r.description === 'string' ? r.description : id,
      regex,
      group: typeof group === 'number' ? group : 0,
      keywords: Array.isArray(keywords) ? keywords.filter((k): k is string => typeof k === 'string') : [],
      // A team's own rule knows its token best: it wins over the built-in ones.
      priority: 3,
      ...(typeof r.entropy === 'number' ? { entropy: r.entropy } : {}),
      ...(allowlist === undefined ? {} : { allowlist }),
    }))
  }
  let allowlist = emptyAllowlist()
  if (doc.allowlist !== undefined) {
    try {
      allowlist = parseAllowlist(doc.allowlist)
    } catch (err) {
      errors.push(`allowlist: ${(err as Error).message}`)
    }
  }
  if (errors.length > 0) throw new RulesError(`${origin}:\n  - ${errors.join('\n  - ')}`)
  return { rules, allowlist }
}

function parseAllowlist(raw: unknown): Allowlist {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('must be a table')
  const a = raw as Record<string, unknown>
  const list = (key: string): string[] => {
    const v = a[key] ?? []
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`"${key}" must be an array of strings`)
    return v as string[]
  }
  for (const key of Object.keys(a)) if (!['regexes', 'paths', 'stopwords', 'description', 'regexTarget', 'commits'].includes(key)) throw new Error(`unknown key "${key}"`)
  const compile = (p: string): RegExp => {
    try {
      return compilePattern(p)
    } catch (cause) {
      throw new Error(`bad regex ${JSON.stringify(p)}: ${(cause as Error).message}`, { cause })
    }
  }
  return { regexes: list('regexes').map(compile), paths: list('paths').map(compile), stopwords: list('stopwords').map((s) => s.toLowerCase()) }
}

/**
 * Reads and parses a rules file.
 * @throws RulesError (code LEAKGATE_ERR_RULES) when the file cannot be read or is invalid.
 */
export function loadRulesFile(path: string): RuleSet {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new RulesError(`cannot read ${path}: ${(cause as Error).message}`, { cause })
  }
  return parseRules(text, path)
}
