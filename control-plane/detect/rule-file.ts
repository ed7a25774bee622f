/**
 * gitleaks configuration files, read as gitleaks reads them, their patterns run on RE2 (re2.ts).
 *
 * Honoured: `title`, `description`; `[[rules]]` with `id`, `description`, `regex`, `secretGroup`,
 * `entropy`, `keywords`, `path`, `tags`, `[rules.allowlist]` / `[[rules.allowlists]]`; the global
 * `[allowlist]` / `[[allowlists]]` (with `targetRules`); allowlists' `description`, `condition`,
 * `commits`, `paths`, `regexTarget`, `regexes`, `stopwords`; `[extend]` with `useDefault`, `path` and
 * `disabledRules`. Leakgate adds `kind` to a rule. A file's rules are added to the built-in ones, a
 * rule with a built-in's id taking its place. Refused, with the rule and the construct named:
 * composite rules (`[[rules.required]]`, `skipReport`), `[extend] url`, and any key gitleaks does not
 * know. A rule with a `path` and no `regex` reports a file, not a token: it is skipped with a warning.
 */
import { readFileSync, realpathSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { RulesError } from '../../lib/errors.js'
import type { Allowlist, Candidate, Rule } from './rule.js'
import { Re2Pattern } from './re2.js'
import { shannonEntropy } from './entropy.js'
import { isEnvReference, isPlaceholder, isTemplated } from './suppress.js'

/** What a rules file (and the files it extends) says. */
export interface RuleSet {
  /** Its rules, to add to the built-in ones. */
  rules: Rule[]
  /** Its global allowlists: they apply to every rule, built-in ones included. */
  allowlist: Allowlist[]
  /** `[extend] disabledRules`: ids of rules to leave out (built-in ones, or those of an extended file). */
  disabledRules: string[]
  /** Global allowlists whose `targetRules` name a rule the file does not define: a built-in one. */
  targeted: Map<string, Allowlist[]>
  /** What the file asks for that is not done, and why (a path-only rule, a disabled rule that is not there). */
  warnings: string[]
}

/** One rule as a file defines it, before extended files are merged in. */
interface Spec {
  id: string
  description?: string
  kind?: string
  regex?: Re2Pattern
  path?: Re2Pattern
  secretGroup?: number
  entropy?: number
  keywords: string[]
  tags: string[]
  allowlists: Allowlist[]
}

/** What parsing one file gives: its merged rules, in order, and the rest of the set. */
interface Parsed {
  specs: Map<string, Spec>
  allowlist: Allowlist[]
  disabledRules: string[]
  targeted: Map<string, Allowlist[]>
  warnings: string[]
}

/** Re-reading a rules file (each scan does) reuses its patterns instead of compiling them again. */
const patterns = new Map<string, Re2Pattern>()

function pattern(source: string): Re2Pattern {
  let p = patterns.get(source)
  if (p === undefined) {
    p = new Re2Pattern(source)
    patterns.set(source, p)
  }
  return p
}

/**
 * Parses a gitleaks configuration text; `origin` names it in messages and is where `[extend] path`
 * is resolved from. Every problem is reported at once, each naming its rule.
 * @throws RulesError (code LEAKGATE_ERR_RULES)
 */
export function parseRules(text: string, origin = 'rules'): RuleSet {
  const errors: string[] = []
  const parsed = parseText(text, origin, [], errors)
  return finish(parsed, errors, origin)
}

/**
 * Reads and parses a rules file.
 * @throws RulesError (code LEAKGATE_ERR_RULES) when the file, or one it extends, cannot be read or is invalid.
 */
export function loadRulesFile(path: string): RuleSet {
  const errors: string[] = []
  const parsed = parseFile(path, [], errors)
  return finish(parsed ?? emptyParsed(), errors, path)
}

/**
 * The rules of a scan: `base` (the built-in rules) without those the sets disable or redefine, and
 * the sets' rules first; the global allowlists of all sets.
 * @throws RulesError when a `targetRules` names no rule at all.
 */
export function combineRules(base: readonly Rule[], sets: readonly RuleSet[]): { rules: Rule[]; allowlists: Allowlist[]; warnings: string[] } {
  const own = sets.flatMap((s) => s.rules)
  const ownIds = new Set(own.map((r) => r.id))
  const disabled = new Set(sets.flatMap((s) => s.disabledRules))
  const baseIds = new Set(base.map((r) => r.id))
  const warnings = sets.flatMap((s) => s.warnings)
  for (const id of disabled) {
    if (!baseIds.has(id)) warnings.push(`[extend] disabledRules: there is no rule "${id}" to disable`)
  }
  const targeted = new Map<string, Allowlist[]>()
  for (const s of sets) for (const [id, lists] of s.targeted) targeted.set(id, [...targeted.get(id) ?? [], ...lists])
  const errors = [...targeted.keys()].filter((id) => !baseIds.has(id) || disabled.has(id)).map((id) => `[[allowlists]] targetRules: there is no rule "${id}"`)
  if (errors.length > 0) throw new RulesError(errors.join('; '))
  const kept = base.filter((r) => !disabled.has(r.id) && !ownIds.has(r.id)).map((r) => {
    const lists = targeted.get(r.id)
    // A view of the built-in rule with more allowlists: its own methods and state stay its own.
    return lists === undefined ? r : Object.assign(Object.create(r) as Rule, { allowlists: [...r.allowlists ?? [], ...lists] })
  })
  return { rules: [...own, ...kept], allowlists: sets.flatMap((s) => s.allowlist), warnings }
}

function emptyParsed(): Parsed {
  return { specs: new Map(), allowlist: [], disabledRules: [], targeted: new Map(), warnings: [] }
}

function finish(parsed: Parsed, errors: string[], origin: string): RuleSet {
  const rules: Rule[] = []
  const warnings = [...parsed.warnings]
  for (const spec of parsed.specs.values()) {
    const problem = (msg: string): void => void errors.push(`rule ${spec.id}: ${msg}`)
    if (spec.regex === undefined) {
      if (spec.path === undefined) problem('neither "regex" nor "path": the rule would find nothing')
      else warnings.push(`rule ${spec.id}: "path"-only rules report files, not tokens; not supported, skipped`)
      continue
    }
    const { regex } = spec
    const group = spec.secretGroup ?? 0
    if (group > regex.groupCount) problem(`"secretGroup" ${group} but the regex has ${regex.groupCount} group${regex.groupCount === 1 ? '' : 's'}`)
    else if (regex.matchesEmpty) problem('regex matches the empty string')
    else rules.push(fileRule(spec, regex))
  }
  for (const [id, lists] of parsed.targeted) {
    const spec = parsed.specs.get(id)
    if (spec === undefined) continue
    const i = rules.findIndex((r) => r.id === id)
    const rule = rules[i]
    if (rule !== undefined) rules[i] = { ...rule, allowlists: [...rule.allowlists ?? [], ...lists] }
    parsed.targeted.delete(id)
  }
  if (errors.length > 0) throw new RulesError(`${origin}:\n  - ${errors.join('\n  - ')}`)
  return { rules, allowlist: parsed.allowlist, disabledRules: parsed.disabledRules, targeted: parsed.targeted, warnings }
}

function parseFile(path: string, chain: readonly string[], errors: string[]): Parsed | undefined {
  let text: string
  let real: string
  try {
    real = realpathSync(path)
    text = readFileSync(real, 'utf8')
  } catch (cause) {
    errors.push(`cannot read ${path}: ${(cause as Error).message}`)
    return undefined
  }
  if (chain.includes(real)) {
    errors.push(`[extend] path: ${path} extends itself (${[...chain, real].join(' -> ')})`)
    return undefined
  }
  return parseText(text, path, [...chain, real], errors)
}

/** A TOML table with its keys lowercased (gitleaks reads keys case-insensitively); unknown keys reported. */
function table(raw: unknown, known: readonly string[], problem: (msg: string) => void): Map<string, unknown> | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Date) {
    problem('must be a table')
    return undefined
  }
  const out = new Map<string, unknown>()
  for (const [key, value] of Object.entries(raw)) {
    const k = key.toLowerCase()
    if (!known.includes(k)) problem(`unknown key "${key}"`)
    else out.set(k, value)
  }
  return out
}

function strings(value: unknown, name: string, problem: (msg: string) => void): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) {
    problem(`"${name}" must be an array of strings`)
    return []
  }
  return value as string[]
}

function compile(source: string, what: string, problem: (msg: string) => void): Re2Pattern | undefined {
  try {
    return pattern(source)
  } catch (cause) {
    problem(`${what}: bad regex ${JSON.stringify(source)}: ${(cause as Error).message}`)
    return undefined
  }
}

function parseText(text: string, origin: string, chain: readonly string[], errors: string[]): Parsed {
  let doc: Record<string, unknown>
  try {
    doc = parseToml(text) as Record<string, unknown>
  } catch (cause) {
    errors.push(`${origin} is not valid TOML: ${(cause as Error).message}`)
    return emptyParsed()
  }
  const top = table(doc, ['title', 'description', 'extend', 'rules', 'allowlist', 'allowlists'], (msg) => void errors.push(msg.replace('key', 'top-level key')))
  const out = emptyParsed()
  if (top === undefined) return out
  for (const key of ['title', 'description']) if (top.has(key) && typeof top.get(key) !== 'string') errors.push(`"${key}" must be a string`)

  // The file's own rules.
  const rawRules = top.get('rules') ?? []
  if (!Array.isArray(rawRules)) errors.push('"rules" must be an array of tables ([[rules]])')
  const own = new Map<string, Spec>()
  const seen = new Set<string>()
  for (const [i, raw] of (Array.isArray(rawRules) ? rawRules : []).entries()) {
    const idValue = (raw as Record<string, unknown> | null)?.id
    const id = typeof idValue === 'string' && idValue.trim() !== '' ? idValue : undefined
    const name = id ?? `#${i + 1}`
    const problem = (msg: string): void => void errors.push(`rule ${name}: ${msg}`)
    const before = errors.length
    if (id === undefined) problem('"id" is required (a non-empty string)')
    else if (seen.has(id)) problem('duplicate id')
    else seen.add(id)
    const spec = parseRule(raw, id ?? name, problem)
    // A rule with a problem is reported once, not again when the rule set is checked as a whole.
    if (id !== undefined && spec !== undefined && errors.length === before) own.set(id, spec)
  }

  // Global allowlists; those with targetRules go to the rules they name.
  const globals = allowlistTables(top.get('allowlist'), top.get('allowlists'), '[allowlist]', '[[allowlists]]', (msg) => void errors.push(msg))
  for (const [where, raw] of globals) {
    const problem = (msg: string): void => void errors.push(`${where}: ${msg}`)
    const parsed = parseAllowlist(raw, true, problem)
    if (parsed === undefined) continue
    if (parsed.targetRules.length === 0) out.allowlist.push(parsed.allowlist)
    for (const id of parsed.targetRules) out.targeted.set(id, [...out.targeted.get(id) ?? [], parsed.allowlist])
  }

  // [extend]: the base rules this file's rules are merged into.
  let base = new Map<string, Spec>()
  if (top.has('extend')) {
    const problem = (msg: string): void => void errors.push(`[extend] ${msg}`)
    const ext = table(top.get('extend'), ['usedefault', 'path', 'url', 'disabledrules'], problem)
    if (ext !== undefined) {
      const useDefault = ext.get('usedefault')
      if (useDefault !== undefined && typeof useDefault !== 'boolean') problem('"useDefault" must be true or false')
      if (ext.has('url')) problem('"url": rules are not fetched over the network; download the file and give its "path"')
      out.disabledRules = strings(ext.get('disabledrules'), 'disabledRules', problem)
      const path = ext.get('path')
      if (path !== undefined && typeof path !== 'string') problem('"path" must be a string')
      else if (path !== undefined && useDefault === true) problem('"path" and "useDefault" cannot both be set')
      else if (typeof path === 'string') {
        const extended = parseFile(resolve(dirname(origin), path), chain.length === 0 ? [safeReal(origin)] : chain, errors)
        if (extended !== undefined) {
          const disabled = new Set(out.disabledRules)
          base = new Map([...extended.specs].filter(([id]) => !disabled.has(id)))
          // Disabling a rule of the extended file is done here; the rest may name built-in rules.
          out.disabledRules = [...out.disabledRules.filter((id) => !extended.specs.has(id)), ...extended.disabledRules]
          out.allowlist.push(...extended.allowlist)
          for (const [id, lists] of extended.targeted) out.targeted.set(id, [...out.targeted.get(id) ?? [], ...lists])
          out.warnings.push(...extended.warnings)
        }
      }
    }
  }
  // A rule redefined here is merged into the extended one: what it sets wins, lists add up.
  for (const [id, spec] of own) {
    const b = base.get(id)
    base.set(id, b === undefined ? spec : {
      id,
      ...(spec.description ?? b.description) === undefined ? {} : { description: spec.description ?? b.description },
      ...(spec.kind ?? b.kind) === undefined ? {} : { kind: spec.kind ?? b.kind },
      ...(spec.regex ?? b.regex) === undefined ? {} : { regex: spec.regex ?? b.regex },
      ...(spec.path ?? b.path) === undefined ? {} : { path: spec.path ?? b.path },
      ...(spec.secretGroup ?? b.secretGroup) === undefined ? {} : { secretGroup: spec.secretGroup ?? b.secretGroup },
      ...(spec.entropy ?? b.entropy) === undefined ? {} : { entropy: spec.entropy ?? b.entropy },
      keywords: [...b.keywords, ...spec.keywords],
      tags: [...b.tags, ...spec.tags],
      allowlists: [...b.allowlists, ...spec.allowlists],
    })
  }
  out.specs = base
  return out
}

function safeReal(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return resolve(path)
  }
}

const RULE_KEYS = ['id', 'description', 'kind', 'regex', 'secretgroup', 'entropy', 'keywords', 'tags', 'path', 'allowlist', 'allowlists', 'required', 'skipreport']

function parseRule(raw: unknown, id: string, problem: (msg: string) => void): Spec | undefined {
  const r = table(raw, RULE_KEYS, problem)
  if (r === undefined) return undefined
  if (r.has('required')) problem('[[rules.required]] (composite rules) is not supported')
  if (r.has('skipreport')) problem('"skipReport" (part of composite rules) is not supported')
  const spec: Spec = { id, keywords: [], tags: [], allowlists: [] }
  const text = (key: string, name: string): string | undefined => {
    const v = r.get(key)
    if (v === undefined) return undefined
    if (typeof v !== 'string') problem(`"${name}" must be a string`)
    return typeof v === 'string' ? v : undefined
  }
  const description = text('description', 'description')
  if (description !== undefined) spec.description = description
  const kind = text('kind', 'kind')
  if (kind !== undefined) {
    if (/^[a-z0-9_]{1,64}$/.test(kind)) spec.kind = kind
    else problem('"kind" must match [a-z0-9_]{1,64}')
  }
  const regex = text('regex', 'regex')
  if (regex !== undefined && regex !== '') {
    const p = compile(regex, 'regex', problem)
    if (p !== undefined) spec.regex = p
  }
  const path = text('path', 'path')
  if (path !== undefined && path !== '') {
    const p = compile(path, 'path', problem)
    if (p !== undefined) spec.path = p
  }
  const group = r.get('secretgroup')
  if (group !== undefined) {
    if (typeof group !== 'number' && typeof group !== 'bigint') problem('"secretGroup" must be a non-negative integer')
    else if (!Number.isInteger(Number(group)) || Number(group) < 0) problem('"secretGroup" must be a non-negative integer')
    else if (Number(group) > 0) spec.secretGroup = Number(group)
  }
  const entropy = r.get('entropy')
  if (entropy !== undefined) {
    const e = typeof entropy === 'bigint' ? Number(entropy) : entropy
    if (typeof e !== 'number' || e < 0 || e > 8) problem('"entropy" must be a number from 0 to 8')
    else if (e > 0) spec.entropy = e
  }
  spec.keywords = strings(r.get('keywords'), 'keywords', problem).map((k) => k.toLowerCase())
  if (spec.keywords.includes('')) problem('"keywords" must not hold an empty string')
  spec.tags = strings(r.get('tags'), 'tags', problem)
  for (const [where, list] of allowlistTables(r.get('allowlist'), r.get('allowlists'), '[rules.allowlist]', '[[rules.allowlists]]', problem)) {
    const parsed = parseAllowlist(list, false, (msg) => problem(`${where}: ${msg}`))
    if (parsed !== undefined) spec.allowlists.push(parsed.allowlist)
  }
  return spec
}

/** The old single table and the newer array of tables; gitleaks refuses a file that uses both. */
function allowlistTables(single: unknown, many: unknown, singleName: string, manyName: string, problem: (msg: string) => void): Array<[string, unknown]> {
  if (single !== undefined && many !== undefined) {
    problem(`${singleName} and ${manyName} cannot both be used`)
    return []
  }
  if (single !== undefined) return [[singleName, single]]
  if (many === undefined) return []
  if (!Array.isArray(many)) {
    problem(`${manyName} must be an array of tables`)
    return []
  }
  return many.map((a, i) => [`${manyName} #${i + 1}`, a])
}

function parseAllowlist(raw: unknown, global: boolean, problem: (msg: string) => void): { allowlist: Allowlist; targetRules: string[] } | undefined {
  const keys = ['description', 'condition', 'commits', 'paths', 'regextarget', 'regexes', 'stopwords', ...global ? ['targetrules'] : []]
  const a = table(raw, keys, problem)
  if (a === undefined) return undefined
  if (a.has('description') && typeof a.get('description') !== 'string') problem('"description" must be a string')
  const conditionValue = a.get('condition') ?? 'OR'
  const condition = typeof conditionValue === 'string' ? ({ OR: 'or', '||': 'or', AND: 'and', '&&': 'and' } as const)[conditionValue.toUpperCase() as 'OR'] : undefined
  if (condition === undefined) problem(`"condition" must be "OR" or "AND", not ${JSON.stringify(conditionValue)}`)
  const targetValue = a.get('regextarget') ?? 'secret'
  const regexTarget = targetValue === 'secret' || targetValue === 'match' || targetValue === 'line' ? targetValue : undefined
  if (regexTarget === undefined) problem(`"regexTarget" must be "secret", "match" or "line", not ${JSON.stringify(targetValue)}`)
  const commits = strings(a.get('commits'), 'commits', problem).map((c) => c.trim().toLowerCase())
  const paths = strings(a.get('paths'), 'paths', problem).map((p) => compile(p, 'paths', problem))
  const regexes = strings(a.get('regexes'), 'regexes', problem).map((p) => compile(p, 'regexes', problem))
  const stopwords = strings(a.get('stopwords'), 'stopwords', problem).map((w) => w.toLowerCase())
  const targetRules = strings(a.get('targetrules'), 'targetRules', problem)
  if (commits.length + paths.length + regexes.length + stopwords.length === 0) problem('needs at least one of "commits", "paths", "regexes", "stopwords"')
  if (condition === undefined || regexTarget === undefined || paths.includes(undefined) || regexes.includes(undefined)) return undefined
  return {
    allowlist: { condition, regexTarget, commits, paths: paths as Re2Pattern[], regexes: regexes as Re2Pattern[], stopwords },
    targetRules,
  }
}

/** The detector a file's rule makes. */
function fileRule(spec: Spec, regex: Re2Pattern): Rule {
  const { path } = spec
  const group = spec.secretGroup ?? 0
  const entropy = spec.entropy ?? 0
  return {
    id: spec.id,
    kind: spec.kind ?? spec.id.replace(/[^a-z0-9_]/gi, '_').toLowerCase(),
    description: spec.description ?? spec.id,
    severity: 'medium',
    keywords: [...new Set(spec.keywords)],
    // A team's own rule knows its token best: it wins over the built-in ones.
    priority: 3,
    ...(spec.allowlists.length === 0 ? {} : { allowlists: spec.allowlists }),
    ...(spec.tags.length === 0 ? {} : { tags: spec.tags }),
    *find(text: string, filePath?: string): Iterable<Candidate> {
      // A rule with a path applies to the files it matches only.
      if (path !== undefined && !path.test(filePath ?? '')) return
      for (const m of regex.matches(text)) {
        // As gitleaks does: newlines at either end of a match are not part of it.
        const lead = /^\n*/.exec(m.text)?.[0].length ?? 0
        const match = m.text.slice(lead).replace(/\n+$/, '')
        if (match === '') continue
        const secret = group > 0 ? m.groups[group - 1] : m.groups.find((g) => g !== undefined && g !== '') ?? match
        if (secret === undefined || secret === '') continue
        if (entropy > 0 && shannonEntropy(secret) <= entropy) continue
        if (isPlaceholder(secret) || isEnvReference(secret) || isTemplated(secret)) continue
        const at = match.indexOf(secret)
        yield { value: secret, index: m.index + lead + Math.max(0, at), match }
      }
    },
  }
}
