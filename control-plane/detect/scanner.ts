/**
 * Text → findings. Runs every rule whose keywords occur in the text, drops what allowlists,
 * inline markers and overlaps rule out, and places each finding at its line and column.
 *
 * Cost stays linear in the text whatever its shape: each rule's patterns are bounded (see
 * detectors/), lines are located by binary search over line starts, and a file gives at most
 * `maxFindings` findings, so a megabyte-long minified line or a generated file cannot stall a scan.
 */
import type { Allowlist, Candidate, Rule } from './rule.js'
import { hasFileMarker, hasLineMarker } from './suppress.js'

/** A secret found in one text, before it is tied to a source (file, commit). */
export interface TextFinding {
  rule: Rule
  /** The raw token value: keep it in memory only; findings.ts turns it into sha256 + preview. */
  value: string
  /** 1-based line and column (UTF-16 code units) where the secret as written starts. */
  line: number
  column: number
}

/** What to scan a text with. */
export interface ScanTextOptions {
  rules: readonly Rule[]
  /** The scan-wide allowlist (global `[allowlist]` of the rules files, config). */
  allowlist?: Allowlist
  /** The text's path, for path allowlists. */
  path?: string
  /** Cap on findings from one text (default 500). */
  maxFindings?: number
}

interface Placed extends Candidate {
  rule: Rule
  end: number
}

/** Finds the secrets in one text. */
export function scanText(text: string, options: ScanTextOptions): TextFinding[] {
  if (text.length === 0 || hasFileMarker(text)) return []
  const path = options.path ?? ''
  const global = options.allowlist
  if (global !== undefined && global.paths.some((p) => p.test(path))) return []
  const max = options.maxFindings ?? 500
  const lower = text.toLowerCase()
  const present = keywordsIn(lower, options.rules)
  const placed: Placed[] = []
  for (const rule of options.rules) {
    if (rule.keywords.length > 0 && !rule.keywords.some((k) => present.has(k))) continue
    if (rule.allowlist !== undefined && rule.allowlist.paths.some((p) => p.test(path))) continue
    let count = 0
    for (const c of rule.find(text, path, lower)) {
      if (allowed(c.value, rule.allowlist) || allowed(c.value, global)) continue
      placed.push({ ...c, rule, end: c.index + (c.length ?? c.value.length) })
      if (++count >= max) break
    }
  }
  if (placed.length === 0) return []
  const kept = resolveOverlaps(placed)
  const lines = lineStarts(text)
  const out: TextFinding[] = []
  for (const p of kept) {
    const lineIndex = lineOf(lines, p.index)
    const start = lines[lineIndex] ?? 0
    const lineEnd = lineIndex + 1 < lines.length ? (lines[lineIndex + 1] ?? text.length) : text.length
    // Markers are looked for near the secret: a whole minified line is not one statement.
    const context = text.slice(Math.max(start, p.index - 300), Math.min(lineEnd, p.end + 300))
    if (hasLineMarker(context)) continue
    out.push({ rule: p.rule, value: p.value, line: lineIndex + 1, column: p.index - start + 1 })
    if (out.length >= max) break
  }
  return out
}

interface KeywordMatcher {
  regex: RegExp
  /** For each keyword, every keyword it contains (itself included): finding it finds them. */
  implied: Map<string, string[]>
  count: number
}

const matchers = new WeakMap<readonly Rule[], KeywordMatcher>()

/**
 * The rules' keywords that occur in a lowercased text, found in one pass of one regex (longest
 * keyword first at each place) instead of one `includes` a keyword: with ~100 keywords, most
 * absent, that pass is what a file costs when no rule has anything to say.
 */
function keywordsIn(lower: string, rules: readonly Rule[]): Set<string> {
  let m = matchers.get(rules)
  if (m === undefined) {
    const all = [...new Set(rules.flatMap((r) => r.keywords))].sort((a, b) => b.length - a.length)
    const escape = (k: string): string => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    m = {
      regex: new RegExp(all.length === 0 ? '(?!)' : all.map(escape).join('|'), 'g'),
      implied: new Map(all.map((k) => [k, all.filter((o) => k.includes(o))])),
      count: all.length,
    }
    matchers.set(rules, m)
  }
  const found = new Set<string>()
  const re = new RegExp(m.regex.source, 'g')
  for (let hit = re.exec(lower); hit !== null; hit = re.exec(lower)) {
    if (!found.has(hit[0])) for (const k of m.implied.get(hit[0]) ?? [hit[0]]) found.add(k)
    if (found.size === m.count) break
    // Keywords overlap ('"auth' and 'authorization'): look again from the next character.
    re.lastIndex = hit.index + 1
  }
  return found
}

function allowed(value: string, list: Allowlist | undefined): boolean {
  if (list === undefined) return false
  if (list.regexes.some((r) => r.test(value))) return true
  if (list.stopwords.length > 0) {
    const v = value.toLowerCase()
    if (list.stopwords.some((w) => v.includes(w))) return true
  }
  return false
}

/**
 * Where rules report overlapping text, the higher priority wins (a GitHub token assigned to
 * `token=` is a github_pat, not a generic secret); equal priorities both stay unless they
 * report the same value at the same place.
 *
 * Linear-ish (n log n): candidates go by priority, highest first, and by position within one
 * priority. What higher priorities kept is a list sorted by start with a running maximum of ends,
 * so "does anything kept overlap [start, end)" is one binary search; within a priority, an equal
 * value overlaps only if it started earlier and has not ended yet, which one map of the furthest
 * end per value answers. (A pairwise check was quadratic: two files full of secret-like strings
 * held a scan for seconds.)
 */
function resolveOverlaps(placed: Placed[]): Placed[] {
  const byPriority = [...placed].sort((a, b) => b.rule.priority - a.rule.priority || a.index - b.index)
  const kept: Placed[] = []
  // Intervals kept at higher priorities: starts ascending, and the furthest end up to each.
  let starts: number[] = []
  let maxEnds: number[] = []
  const overlapsHigher = (p: Placed): boolean => {
    // The intervals starting before p ends: the last of them whose furthest end passes p's start.
    let lo = 0
    let hi = starts.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((starts[mid] ?? 0) < p.end) lo = mid + 1
      else hi = mid
    }
    return lo > 0 && (maxEnds[lo - 1] ?? 0) > p.index
  }
  for (let i = 0; i < byPriority.length;) {
    const priority = byPriority[i]!.rule.priority
    const furthestByValue = new Map<string, number>()
    const group: Placed[] = []
    for (; i < byPriority.length && byPriority[i]!.rule.priority === priority; i++) {
      const p = byPriority[i]!
      if (overlapsHigher(p)) continue
      if ((furthestByValue.get(p.value) ?? -1) > p.index) continue
      furthestByValue.set(p.value, Math.max(furthestByValue.get(p.value) ?? -1, p.end))
      group.push(p)
    }
    kept.push(...group)
    if (i < byPriority.length) {
      const all = [...kept].sort((a, b) => a.index - b.index)
      starts = all.map((k) => k.index)
      let max = -1
      maxEnds = all.map((k) => (max = Math.max(max, k.end)))
    }
  }
  return kept.sort((a, b) => a.index - b.index)
}

function lineStarts(text: string): number[] {
  const starts = [0]
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1)
  return starts
}

function lineOf(starts: number[], offset: number): number {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if ((starts[mid] ?? 0) <= offset) lo = mid
    else hi = mid - 1
  }
  return lo
}
