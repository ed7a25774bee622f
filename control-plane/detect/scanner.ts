/**
 * Text → findings. Runs every rule whose keywords occur in the text, drops what allowlists,
 * inline markers and overlaps rule out, and places each finding at its line and column.
 *
 * Cost stays linear in the text whatever its shape: each rule's patterns are bounded (see
 * detectors/), lines are counted once up to the last finding, and a file gives at most
 * `maxFindings` findings, so a megabyte-long minified line or a generated file cannot stall a scan.
 */
import { allowlistsOf, type Allowlist, type Candidate, type OnDropped, type Reach, type Rule } from './rule.js'
import { keywordMatcher, type KeywordHits, type KeywordMatcher } from './keywords.js'
import { LOOK_PAD } from './regex-extent.js'
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
  /** The scan-wide allowlists (global `[allowlist]`/`[[allowlists]]` of the rules files, config). */
  allowlist?: Allowlist | readonly Allowlist[]
  /** The text's path, for path allowlists. */
  path?: string
  /** The commit the text was read from, for commit allowlists. */
  commit?: string
  /** Cap on findings from one text (default 500). */
  maxFindings?: number
  /**
   * Counts the matches rules dropped because their checksum did not verify (and that no other rule
   * reported instead), added to `checksum`: a scan says how many it left out, not which.
   */
  dropped?: { checksum: number }
}

interface Placed extends Candidate {
  rule: Rule
  end: number
}

/** Finds the secrets in one text. */
export function scanText(text: string, options: ScanTextOptions): TextFinding[] {
  if (text.length === 0 || hasFileMarker(text)) return []
  const path = options.path ?? ''
  const commit = (options.commit ?? '').toLowerCase()
  const global = allowlistsOf(options.allowlist)
  if (global.some((a) => skipsText(a, path, commit))) return []
  const max = options.maxFindings ?? 500
  const hits = keywordsIn(text, options.rules)
  const present = hits.present
  const placed: Placed[] = []
  const drops: Array<[number, number]> = []
  const onDropped = options.dropped === undefined ? undefined : (index: number, length: number): void => { drops.push([index, index + length]) }
  for (const rule of options.rules) {
    if (rule.keywords.length > 0 && !rule.keywords.some((k) => present.has(k))) continue
    const own = rule.allowlist === undefined ? rule.allowlists ?? [] : [rule.allowlist, ...rule.allowlists ?? []]
    if (own.some((a) => skipsText(a, path, commit))) continue
    let count = 0
    for (const c of candidatesOf(rule, text, path, hits, onDropped)) {
      const found: Found = { secret: c.value, match: c.match ?? c.value, line: () => lineAt(text, c.index), path, commit }
      if (global.some((a) => ignores(a, found)) || own.some((a) => ignores(a, found))) continue
      placed.push({ ...c, rule, end: c.index + (c.length ?? c.value.length) })
      if (++count >= max) break
    }
  }
  // A token another rule reports (a checksum-failing GitHub token assigned to a GitHub name) is not dropped.
  if (options.dropped !== undefined) options.dropped.checksum += countDropped(drops, placed)
  if (placed.length === 0) return []
  const kept = resolveOverlaps(placed)
  const out: TextFinding[] = []
  // Lines are counted as the findings go (they are in text order), only as far as the last one.
  let line = 1
  let lineStart = 0
  let newline = text.indexOf('\n')
  for (const p of kept) {
    while (newline >= 0 && newline < p.index) {
      line++
      lineStart = newline + 1
      newline = text.indexOf('\n', lineStart)
    }
    const lineEnd = newline < 0 ? text.length : newline + 1
    // Markers are looked for near the secret: a whole minified line is not one statement.
    const context = text.slice(Math.max(lineStart, p.index - 300), Math.min(lineEnd, p.end + 300))
    if (hasLineMarker(context)) continue
    out.push({ rule: p.rule, value: p.value, line, column: p.index - lineStart + 1 })
    if (out.length >= max) break
  }
  return out
}

/** The dropped spans (distinct) that no candidate covers. Drops are rare: a plain scan of the candidates each. */
function countDropped(drops: ReadonlyArray<[number, number]>, placed: readonly Placed[]): number {
  if (drops.length === 0) return 0
  const seen = new Set<number>()
  let n = 0
  for (const [from, to] of drops) {
    if (seen.has(from)) continue
    seen.add(from)
    if (!placed.some((p) => p.index < to && p.end > from)) n++
  }
  return n
}

/** Builds what scanning with `rules` needs (the keyword automaton) now rather than on the first text. */
export function prepareRules(rules: readonly Rule[]): void {
  keywordsIn('', rules)
}

const matchers = new WeakMap<readonly Rule[], KeywordMatcher>()
/**
 * Automata by what they were built from: each scan resolves its rules into a new list, and the same
 * keywords should not cost a new automaton (~100 ms) a scan. Few distinct sets ever exist in a process.
 */
const matchersByKeywords = new Map<string, KeywordMatcher>()
const MAX_MATCHERS = 16

/**
 * The rules' keywords that occur in a text (any ASCII case), and where those of windowed rules occur:
 * one pass of one automaton (keywords.ts) whatever the number of keywords.
 */
function keywordsIn(text: string, rules: readonly Rule[]): KeywordHits {
  let m = matchers.get(rules)
  if (m === undefined) {
    // The rules' presence strings ride along: one walk of the text answers them too.
    const keywords = rules.flatMap((r) => [...r.keywords, ...r.presence ?? []])
    const positional = [...new Set(rules.filter((r) => r.reach !== undefined).flatMap((r) => r.keywords))]
    const key = JSON.stringify([[...new Set(keywords)], positional])
    m = matchersByKeywords.get(key)
    if (m === undefined) {
      m = keywordMatcher(keywords, new Set(positional))
      if (matchersByKeywords.size >= MAX_MATCHERS) matchersByKeywords.clear()
      matchersByKeywords.set(key, m)
    }
    matchers.set(rules, m)
  }
  return m.find(text)
}

/** Above this share of the text, a rule's windows are not worth their slicing: it reads the whole text. */
const WINDOWED_SHARE = 0.5

/**
 * The merged windows where a rule with `reach` can have matches: around each occurrence of its
 * keywords, `before` characters before it and `after` after its end. Undefined when they would
 * cover much of the text anyway.
 */
function windowsOf(rule: Rule, reach: Reach, at: ReadonlyMap<string, number[]>, length: number): Array<[number, number]> | undefined {
  const spans: Array<[number, number]> = []
  for (const k of rule.keywords) {
    for (const h of at.get(k) ?? []) spans.push([Math.max(0, h - reach.before), Math.min(length, h + k.length + reach.after)])
  }
  if (rule.keywords.length > 1) spans.sort((a, b) => a[0] - b[0])
  const merged: Array<[number, number]> = []
  let covered = 0
  for (const span of spans) {
    const last = merged[merged.length - 1]
    if (last !== undefined && span[0] <= last[1]) {
      covered += Math.max(0, span[1] - last[1])
      last[1] = Math.max(last[1], span[1])
    } else {
      merged.push(span)
      covered += span[1] - span[0]
    }
    if (covered > length * WINDOWED_SHARE) return undefined
  }
  return merged
}

/**
 * A rule's candidates: from the whole text, or, for a rule with `reach`, from the windows around
 * its keywords. A window's text starts LOOK_PAD characters early and ends LOOK_PAD late, so that
 * look-behinds, look-aheads and word boundaries see what they would in the whole text; matches are
 * looked for from the window's start only, and offsets are mapped back.
 * (Why this finds exactly what the whole text gives: regex-extent.ts and Rule.reach.)
 */
function* candidatesOf(rule: Rule, text: string, path: string, hits: KeywordHits, dropped: OnDropped | undefined): Iterable<Candidate> {
  const windows = rule.reach === undefined || !hits.placed ? undefined : windowsOf(rule, rule.reach, hits.at, text.length)
  if (windows === undefined) {
    yield* rule.find(text, path, undefined, undefined, hits.present, dropped)
    return
  }
  for (const [from, to] of windows) {
    const start = Math.max(0, from - LOOK_PAD)
    const end = Math.min(text.length, to + LOOK_PAD)
    const shifted: OnDropped | undefined = dropped === undefined ? undefined : (index, length, reason) => dropped(index + start, length, reason)
    for (const c of rule.find(text.slice(start, end), path, undefined, { from: from - start, to: to - start }, hits.present, shifted)) {
      yield { ...c, index: c.index + start }
    }
  }
}

/** A finding as allowlists see it. */
interface Found {
  secret: string
  match: string
  line: () => string
  path: string
  /** Lowercase; empty when the text is not from a commit. */
  commit: string
}

function commitListed(list: Allowlist, commit: string): boolean {
  return commit !== '' && (list.commits ?? []).includes(commit)
}

function pathListed(list: Allowlist, path: string): boolean {
  return path !== '' && list.paths.some((p) => p.test(path))
}

/**
 * Whether an allowlist skips a whole text: `or`, its path or commit is listed; `and`, both of those
 * the allowlist has hold and it has no regexes or stopwords (which need a finding to test).
 */
function skipsText(list: Allowlist, path: string, commit: string): boolean {
  if (list.condition !== 'and') return commitListed(list, commit) || pathListed(list, path)
  if (list.regexes.length > 0 || list.stopwords.length > 0) return false
  const checks = [...(list.commits?.length ? [commitListed(list, commit)] : []), ...(list.paths.length > 0 ? [pathListed(list, path)] : [])]
  return checks.length > 0 && checks.every(Boolean)
}

/** Whether an allowlist ignores a finding: `or`, a regex or a stopword; `and`, every criterion it has. */
function ignores(list: Allowlist, f: Found): boolean {
  const regexHolds = (): boolean => {
    const target = list.regexTarget === 'match' ? f.match : list.regexTarget === 'line' ? f.line() : f.secret
    return target !== '' && list.regexes.some((r) => r.test(target))
  }
  const stopwordHolds = (): boolean => {
    const secret = f.secret.toLowerCase()
    return list.stopwords.some((w) => secret.includes(w))
  }
  if (list.condition !== 'and') return (list.regexes.length > 0 && regexHolds()) || (list.stopwords.length > 0 && stopwordHolds())
  const checks: Array<() => boolean> = []
  if (list.commits?.length) checks.push(() => commitListed(list, f.commit))
  if (list.paths.length > 0) checks.push(() => pathListed(list, f.path))
  if (list.regexes.length > 0) checks.push(regexHolds)
  if (list.stopwords.length > 0) checks.push(stopwordHolds)
  return checks.length > 0 && checks.every((check) => check())
}

/**
 * The line holding the offset `at`, without its newline, and at most `LINE_REACH` characters either
 * side of it: on a minified megabyte-long line, testing the whole line for every finding made a
 * scan quadratic.
 */
function lineAt(text: string, at: number): string {
  const start = at === 0 ? 0 : text.lastIndexOf('\n', at - 1) + 1
  const end = text.indexOf('\n', at)
  return text.slice(Math.max(start, at - LINE_REACH), Math.min(end < 0 ? text.length : end, at + LINE_REACH))
}

const LINE_REACH = 1000

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
