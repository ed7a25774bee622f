/**
 * Risk scoring: an explainable sum of points, one factor per reason, so an operator can see why a
 * leak is ranked where it is (the factors are stored with the leak and shown in the console).
 *
 * Factors and their points:
 * - token kind: a live or production key (30) weighs more than an unknown kind (15) or a test key (5). A kind
 *   the built-in rules report is weighed by its severity there (critical or high: live; medium: 15; low:
 *   test); another kind by its name (`live`, `prod`, a provider's name: live; `test`, `sandbox`: test);
 * - source exposure: a public source (github, gitlab, paste, postman, a public URL: 30) above a
 *   private or manual one (10);
 * - presence: still in the working tree (20) above only in the history (10);
 * - age: exposed for more than 30 days (10) or 7 days (5): the longer, the likelier it was harvested;
 * - verified format: a token whose checksum the scanner verified, or written in a prefix format only
 *   its issuer uses (`ghp_`, `glpat-`, `AKIA`), is a real credential rather than a look-alike (10);
 * - public and verified: such a token found in a public source (its current tree or its history) is
 *   there for anyone to take and known to be real: at least high, before any traffic is seen;
 * - sightings: a leak seen in traffic is in use. Seen by one node it is at least high; seen by two
 *   nodes or more it is critical whatever its score. Nodes are counted, not sightings: a burst from one
 *   node (or one forged report from one node key) is one node's evidence and cannot by itself make a
 *   leak critical. Sightings are evidence of use while recent: a leak not seen for more than 30 days
 *   keeps one level less from them (at least medium from one node, high from two), until it is seen again.
 * Levels: critical at 90, high at 70, medium at 45, else low.
 *
 * An operator's override (a `risk` in POST or PATCH) is kept as the leak's level and marked by an
 * `operator_override` factor; the computed factors stay beside it so the reasoning is still visible.
 */
import { RISK_LEVELS, type RiskLevel } from './config.js'
import { builtinRules } from './detect/rules.js'
import type { Severity, VerifiedFormat } from './detect/rule.js'

/** One reason for a leak's risk. */
export interface RiskFactor {
  factor: string
  points: number
  detail: string
}

/** The result of scoring: level, total points and the reasons. */
export interface RiskAssessment {
  risk: RiskLevel
  score: number
  factors: RiskFactor[]
}

/** What scoring looks at. */
export interface RiskInput {
  kind?: string | null | undefined
  source: string
  location?: { url?: string | undefined; repo?: string | undefined; repoUrl?: string | undefined } | undefined
  /** The token is gone from the current tree and survives only in history. */
  inHistoryOnly?: boolean | undefined
  /** When the exposure began (a commit date, a paste date); defaults to when the leak was recorded. */
  exposedAt?: string | null | undefined
  hits: number
  /** How many distinct nodes have reported sightings of it. */
  seenByNodes: number
  /** When it was last seen in traffic (absent: as recent as `now`). */
  lastSeenAt?: string | null | undefined
  /** What vouches for the token's format (its rule's): a verified checksum, a prefix only its issuer uses. */
  verifiedFormat?: VerifiedFormat | null | undefined
  now: Date
}

const PUBLIC_SOURCES = new Set(['github', 'gitlab', 'bitbucket', 'paste', 'postman', 'npm', 'pypi', 'public'])
const LIVE_KIND = /(live|prod|production|aws|github|gitlab|slack|stripe_secret|private_key|openai|anthropic|gcp|azure|twilio|sendgrid)/i
const TEST_KIND = /(test|sandbox|dev|example|dummy|fake|staging)/i
const DAY = 86_400_000
const RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 }

let severities: Map<string, Severity> | undefined
let formats: Map<string, VerifiedFormat> | undefined

/** What vouches for the matches of built-in rule `ruleId` (Rule.format); undefined for another rule. */
export function ruleFormat(ruleId: string): VerifiedFormat | undefined {
  if (formats === undefined) {
    formats = new Map()
    for (const r of builtinRules()) if (r.format !== undefined) formats.set(r.id, r.format)
  }
  return formats.get(ruleId)
}

/** The score under which a verified token in a public source is lifted: high's. */
const PUBLIC_VERIFIED_FLOOR = 70

/** The severity of a kind the built-in rules report (the highest of its rules'), undefined for another kind. */
export function kindSeverity(kind: string): Severity | undefined {
  if (severities === undefined) {
    severities = new Map()
    for (const r of builtinRules()) {
      const known = severities.get(r.kind)
      if (known === undefined || RANK[r.severity] > RANK[known]) severities.set(r.kind, r.severity)
    }
  }
  return severities.get(kind)
}

/** The numeric rank of a level (low 0 … critical 3), for comparisons and sorting. */
export function riskRank(level: RiskLevel): number {
  return RISK_LEVELS.indexOf(level)
}

/** The level a score maps to. */
export function levelOf(score: number): RiskLevel {
  if (score >= 90) return 'critical'
  if (score >= 70) return 'high'
  if (score >= 45) return 'medium'
  return 'low'
}

/** Scores a leak; see the module comment for the factors. */
export function assessRisk(input: RiskInput): RiskAssessment {
  const factors: RiskFactor[] = []
  const kind = input.kind ?? ''
  const severity = kind === '' ? undefined : kindSeverity(kind)
  if (kind === '') {
    factors.push({ factor: 'unknown_kind', points: 15, detail: 'the kind of credential is not known' })
  } else if (severity !== undefined) {
    if (severity === 'low') factors.push({ factor: 'test_token', points: 5, detail: `${kind} is a low-severity credential (a test or sandbox key)` })
    else if (severity === 'medium') factors.push({ factor: 'token_kind', points: 15, detail: `${kind} credential (medium severity)` })
    else factors.push({ factor: 'live_token', points: 30, detail: `${kind} is a ${severity}-severity credential` })
  } else if (TEST_KIND.test(kind)) {
    factors.push({ factor: 'test_token', points: 5, detail: `${kind} looks like a test or sandbox credential` })
  } else if (LIVE_KIND.test(kind)) {
    factors.push({ factor: 'live_token', points: 30, detail: `${kind} is a live or production credential` })
  } else {
    factors.push({ factor: 'token_kind', points: 15, detail: `${kind} credential` })
  }

  const format = input.verifiedFormat ?? undefined
  if (format !== undefined) {
    factors.push({ factor: 'verified_format', points: 10, detail: format === 'checksum' ? 'its checksum verifies: a token as issued' : 'written in a format only its issuer uses' })
  }

  // A git repository reached over http(s) is taken as public: its address, or a link to the line, says so.
  const url = input.location?.repoUrl ?? input.location?.url ?? ''
  const isPublic = PUBLIC_SOURCES.has(input.source) || (input.source === 'git' && /^https?:\/\//.test(url))
  if (isPublic) {
    factors.push({ factor: 'public_source', points: 30, detail: `found in a public ${input.source} source` })
  } else {
    factors.push({ factor: 'private_source', points: 10, detail: `reported through a ${input.source} source` })
  }

  if (input.inHistoryOnly === true) {
    factors.push({ factor: 'history_only', points: 10, detail: 'gone from the current tree, still in the history' })
  } else {
    factors.push({ factor: 'still_present', points: 20, detail: 'still present where it was found' })
  }

  const exposedAt = input.exposedAt === null || input.exposedAt === undefined ? Number.NaN : Date.parse(input.exposedAt)
  if (Number.isFinite(exposedAt)) {
    const days = Math.floor((input.now.getTime() - exposedAt) / DAY)
    if (days > 30) factors.push({ factor: 'old_exposure', points: 10, detail: `exposed for ${days} days` })
    else if (days > 7) factors.push({ factor: 'aging_exposure', points: 5, detail: `exposed for ${days} days` })
  }

  let score = factors.reduce((sum, f) => sum + f.points, 0)
  if (isPublic && format !== undefined && score < PUBLIC_VERIFIED_FLOOR) {
    // Anyone can take it and it is real: no need to wait for traffic to call it high.
    factors.push({ factor: 'public_verified', points: PUBLIC_VERIFIED_FLOOR - score, detail: 'a verified token in a public source: at least high' })
    score = PUBLIC_VERIFIED_FLOOR
  }
  let risk = levelOf(score)
  if (input.hits > 0) {
    // One node's word lifts a leak to high; critical needs a second node to confirm it.
    const nodes = Math.max(1, input.seenByNodes)
    const lastSeen = input.lastSeenAt === null || input.lastSeenAt === undefined ? Number.NaN : Date.parse(input.lastSeenAt)
    // Use a month ago is weaker evidence of use now: one level less, until the next sighting.
    const quiet = Number.isFinite(lastSeen) && input.now.getTime() - lastSeen > 30 * DAY
    const floor = quiet ? (nodes >= 2 ? 70 : 45) : nodes >= 2 ? 90 : 70
    const points = Math.max(0, floor - score)
    const requests = `${input.hits} request${input.hits === 1 ? '' : 's'}`
    const seen = `seen in ${requests} at ${nodes} node${nodes === 1 ? '' : 's'}`
    factors.push(quiet
      ? { factor: 'seen_in_traffic', points, detail: `${seen}, none in the last 30 days` }
      : { factor: 'seen_in_traffic', points, detail: seen })
    score += points
    risk = levelOf(score)
  }
  return { risk, score, factors }
}

/** Applies an operator's override: the level is theirs, the computed factors stay for the record. */
export function withOverride(assessed: RiskAssessment, level: RiskLevel, actor: string): RiskAssessment {
  return {
    risk: level,
    score: assessed.score,
    factors: [...assessed.factors, { factor: 'operator_override', points: 0, detail: `set to ${level} by ${actor}` }],
  }
}
