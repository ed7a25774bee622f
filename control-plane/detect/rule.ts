/**
 * What a detector is: a rule finds candidates in a text and vouches for each one (checksum,
 * entropy, placeholder checks). The scanner adds what is common to all rules: keyword
 * prefilter, allowlists, line markers, overlaps between rules, line and column.
 */
import { shannonEntropy } from './entropy.js'
import { isEnvReference, isPlaceholder, isTemplated } from './suppress.js'
import { reachOf } from './regex-extent.js'

/** One secret found by a rule: the value, and where it is written in the text. */
export interface Candidate {
  /** The token as it will be hashed (decoded where the text encodes it, e.g. base64). */
  value: string
  /** Offset in the text where the secret as written starts. */
  index: number
  /** Length of the secret as written, when it differs from the value's (decoded, normalised). */
  length?: number
  /** The rule's whole match, when allowlists may test it (`regexTarget = "match"`); default: the value. */
  match?: string
}

/** A compiled pattern as allowlists use it: a JavaScript RegExp or an RE2 pattern. */
export interface Matcher {
  test(text: string): boolean
}

/**
 * Paths and values that a rule (or the whole scan) ignores. With condition `or` (the default) a path
 * or a commit skips the whole text, and a regex or a stopword a finding; with `and`, a finding is
 * ignored only when every criterion the allowlist has holds for it.
 */
export interface Allowlist {
  regexes: readonly Matcher[]
  paths: readonly Matcher[]
  /** Lowercase; a secret containing one is ignored. */
  stopwords: readonly string[]
  /** Lowercase commit ids: texts read from these commits. */
  commits?: readonly string[]
  condition?: 'or' | 'and'
  /** What `regexes` test: the secret (default), the rule's whole match, or the line it is on. */
  regexTarget?: 'secret' | 'match' | 'line'
}

/** One allowlist or several, as options take them, as a list. */
export function allowlistsOf(given: Allowlist | readonly Allowlist[] | undefined): readonly Allowlist[] {
  return given === undefined ? [] : 'paths' in given ? [given] : given
}

/** How bad a finding of a rule is, before anything about where it was found: the levels of a leak's risk. */
export type Severity = 'low' | 'medium' | 'high' | 'critical'

/**
 * What vouches that a rule's match is a real token of its issuer, beyond its name: a checksum the
 * token carries and the rule verifies (`checksum`), or a prefix format only that issuer uses
 * (`prefix`: `glpat-`, `AKIA`, `xoxb-`). A leak's risk weighs it (risk.ts).
 */
export type VerifiedFormat = 'checksum' | 'prefix'

/**
 * Hears of a match a rule dropped because its checksum did not verify: where it was written in the
 * text (offset and length), never its value.
 */
export type OnDropped = (index: number, length: number, reason: 'checksum') => void

/** A detector. */
export interface Rule {
  /** Stable id, as in findings and `.leakgateignore`: `github-pat`. */
  readonly id: string
  /** Detector name used as a leak's `kind`: `github_pat`. */
  readonly kind: string
  readonly description: string
  /** What a finding of this rule is worth on its own (a live cloud key: critical; a test key: low). */
  readonly severity: Severity
  /** Lowercase strings of which at least one must occur in a text before the rule runs; empty: always run. */
  readonly keywords: readonly string[]
  /** Where two rules report overlapping text, the higher priority wins (provider over generic). */
  readonly priority: number
  readonly allowlist?: Allowlist
  /** Further allowlists of the rule; any one of them, or `allowlist`, can ignore a finding. */
  readonly allowlists?: readonly Allowlist[]
  /** Labels a rules file gives the rule, shown in SARIF output. */
  readonly tags?: readonly string[]
  /** What vouches for the rule's matches (a checksum, a distinctive prefix); unset: their shape or name only. */
  readonly format?: VerifiedFormat
  /**
   * Set when every match of the rule holds one of its keywords and lies within `before` characters
   * before the keyword and `after` characters after its end, and no attempt of the rule's pattern
   * reads further (look-arounds aside, which read at most LOOK_PAD): the scanner then runs the rule
   * only on windows around the keyword's occurrences, with `range`. Unset: the whole text.
   */
  readonly reach?: Reach
  /**
   * Lowercase strings whose presence in the text the rule wants to know (gates for its parts), with
   * no effect on whether it runs: the scanner looks for them in the same automaton pass as every
   * rule's keywords, so the text is walked once, and hands what it found to `find` as `present`.
   */
  readonly presence?: readonly string[]
  /**
   * `path` is the text's file path, for rules that read code and configuration differently;
   * `lower` the text lowercased, when the caller has made it (the scanner does not). `range` (only for a rule with
   * `reach`): report only the matches starting in [from, to], looking for them from `from`.
   * `present`: the keywords and `presence` strings that occur in the whole text (a superset of
   * the rule's own; absent when the caller is not the scanner). `dropped` hears of each match the rule
   * dropped for a checksum that does not verify (the scan counts them, so they are not dropped silently).
   */
  find(text: string, path?: string, lower?: string, range?: Range, present?: ReadonlySet<string>, dropped?: OnDropped): Iterable<Candidate>
}

/** How far a rule's matches reach around its keywords (Rule.reach). */
export interface Reach {
  before: number
  after: number
}

/** Where in a text a rule looks for the starts of its matches. */
export interface Range {
  from: number
  to: number
}

/** Options of a regex rule. */
export interface RegexRuleSpec {
  id: string
  kind?: string
  description: string
  /** Default `medium`. */
  severity?: Severity
  /** Without the `g` flag; it is added. Keep quantifiers bounded: texts can be megabytes on one line. */
  regex: RegExp
  /** Capturing group that holds the secret; 0 (default) for the whole match. */
  group?: number
  keywords: readonly string[]
  priority?: number
  /** Minimum Shannon entropy (bits a character) of the secret. */
  entropy?: number
  /** Structure or checksum check on the secret. */
  validate?: (secret: string) => boolean
  /**
   * What vouches for the matches: `checksum` says that `validate` verifies the token's checksum (a
   * match failing it is reported to `find`'s `dropped`); `prefix`, that the pattern is a prefix format
   * only this issuer uses.
   */
  format?: VerifiedFormat
  /** Turn the matched text into the token value (decode); undefined drops the candidate. */
  transform?: (secret: string) => string | undefined
  /** Skip the placeholder, env reference and templating checks (for structured tokens whose checksum is proof). */
  skipPlaceholderCheck?: boolean
  allowlist?: Allowlist
  /** Set only when every match holds a keyword and is bounded (see Rule.reach; regex-extent.ts `reachOf`). */
  reach?: Reach
}

/** Builds a rule from a regex. */
export function regexRule(spec: RegexRuleSpec): Rule {
  const flags = spec.regex.flags.includes('g') ? spec.regex.flags : spec.regex.flags + 'g'
  const source = spec.regex.source
  const group = spec.group ?? 0
  const keywords = spec.keywords.map((k) => k.toLowerCase())
  // Proven from the pattern when not given: bounded, and starting with one of the keywords.
  const reach = spec.reach ?? reachOf(source, keywords)
  return {
    id: spec.id,
    kind: spec.kind ?? spec.id.replace(/-/g, '_'),
    description: spec.description,
    severity: spec.severity ?? 'medium',
    keywords,
    priority: spec.priority ?? 2,
    ...(spec.allowlist === undefined ? {} : { allowlist: spec.allowlist }),
    ...(reach === undefined ? {} : { reach }),
    ...(spec.format === undefined ? {} : { format: spec.format }),
    *find(text: string, _path?: string, _lower?: string, range?: Range, _present?: ReadonlySet<string>, dropped?: OnDropped): Iterable<Candidate> {
      // A fresh RegExp a call: rules are shared between concurrent scans.
      const re = new RegExp(source, flags)
      if (range !== undefined) re.lastIndex = range.from
      const to = range?.to ?? Infinity
      for (let m = re.exec(text); m !== null && m.index <= to; m = re.exec(text)) {
        if (m[0].length === 0) {
          re.lastIndex++
          continue
        }
        const raw = m[group]
        if (raw === undefined || raw.length === 0) continue
        const index = group === 0 ? m.index : m.index + m[0].indexOf(raw)
        if (spec.validate !== undefined && !spec.validate(raw)) {
          if (spec.format === 'checksum') dropped?.(index, raw.length, 'checksum')
          continue
        }
        if (spec.entropy !== undefined && shannonEntropy(raw) < spec.entropy) continue
        if (spec.skipPlaceholderCheck !== true && (isPlaceholder(raw) || isEnvReference(raw) || isTemplated(raw))) continue
        const value = spec.transform === undefined ? raw : spec.transform(raw)
        if (value === undefined) continue
        yield { value, index }
      }
    },
  }
}

