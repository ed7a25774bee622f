/**
 * The rows of a leak (`leaks`, its `tokens` and their `leak_tokens` links) and what every leak
 * operation does with them: read one, insert one with its tokens, link more tokens, recompute its
 * risk, bring the index in line with it. Nothing here opens a transaction: the callers
 * (`leaks.ts`, `sightings.ts`) run these inside theirs, so a leak, its audit entry and the index
 * never get out of step.
 */
import type Database from 'better-sqlite3'
import type { RiskLevel } from '../config.js'
import { assessRisk, riskRank, withOverride, type RiskAssessment, type RiskFactor } from '../risk.js'
import type { AuditLog } from './audit.js'
import type { IndexLog } from './index-log.js'
import type { Leak, LeakAction, LeakLocation, LeakPolicy, LeakStatus, LeakToken, NewLeak, TokenInput } from './leak-types.js'

/** A `leaks` row with its token count, as `SELECT_LEAK` reads it. */
export interface LeakRow {
  id: number
  title: string
  source: string
  kind: string | null
  location: string
  dedupe_key: string | null
  risk: RiskLevel
  risk_rank: number
  risk_score: number
  risk_factors: string
  risk_overridden: number
  status: LeakStatus
  action: LeakAction
  in_history_only: number
  exposed_at: string | null
  hits: number
  seen_by_nodes: number
  last_seen_at: string | null
  created_at: string
  updated_at: string
  token_count: number
}

/** Leak rows with their token count; append `WHERE`, `ORDER BY` as needed (the table is `l`). */
export const SELECT_LEAK = `
  SELECT l.*, (SELECT count(*) FROM leak_tokens lt WHERE lt.leak_id = l.id) AS token_count
  FROM leaks l`

/** The leak rows and their tokens. */
export class LeakRecords {
  readonly #index: IndexLog
  readonly #audit: AuditLog
  readonly #policy: LeakPolicy
  readonly #s

  constructor(db: Database.Database, index: IndexLog, audit: AuditLog, policy: LeakPolicy) {
    this.#index = index
    this.#audit = audit
    this.#policy = policy
    this.#s = {
      byId: db.prepare<[number], LeakRow>(`${SELECT_LEAK} WHERE l.id = ?`),
      byDedupe: db.prepare<[string], LeakRow>(`${SELECT_LEAK} WHERE l.dedupe_key = ?`),
      insertLeak: db.prepare(`
        INSERT INTO leaks (title, source, kind, location, dedupe_key, risk, risk_rank, risk_score, risk_factors,
          risk_overridden, status, action, in_history_only, exposed_at, created_at, updated_at, search_text)
        VALUES (@title, @source, @kind, @location, @dedupeKey, @risk, @riskRank, @riskScore, @riskFactors,
          @riskOverridden, 'open', @action, @inHistoryOnly, @exposedAt, @now, @now, @searchText)`),
      setSearchText: db.prepare('UPDATE leaks SET search_text = ? WHERE id = ?'),
      upsertToken: db.prepare<[string, string, string | null, string], { id: number }>(`
        INSERT INTO tokens (sha256, preview, kind, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (sha256) DO UPDATE SET
          -- A real preview replaces the placeholder of a token first reported by hash only.
          preview = CASE WHEN tokens.preview LIKE 'sha256:%' AND excluded.preview NOT LIKE 'sha256:%'
                         THEN excluded.preview ELSE tokens.preview END,
          kind = coalesce(tokens.kind, excluded.kind)
        RETURNING id`),
      link: db.prepare('INSERT OR IGNORE INTO leak_tokens (leak_id, token_id) VALUES (?, ?)'),
      tokensOf: db.prepare<[number], LeakToken>(`
        SELECT t.sha256, t.preview, t.kind FROM leak_tokens lt JOIN tokens t ON t.id = lt.token_id
        WHERE lt.leak_id = ? ORDER BY t.id`),
      rescore: db.prepare(`
        UPDATE leaks SET risk = @risk, risk_rank = @riskRank, risk_score = @riskScore, risk_factors = @riskFactors
        WHERE id = @id`),
    }
  }

  /** The row of leak `id`, or undefined. */
  byId(id: number): LeakRow | undefined {
    return this.#s.byId.get(id)
  }

  /** The row of the leak a scan made under `dedupeKey`, or undefined. */
  byDedupe(dedupeKey: string): LeakRow | undefined {
    return this.#s.byDedupe.get(dedupeKey)
  }

  /** The tokens of leak `id`, oldest first. */
  tokensOf(id: number): LeakToken[] {
    return this.#s.tokensOf.all(id)
  }

  /** Records a new leak with its tokens and its audit entry (created by `actor`), and indexes it. Returns its id. */
  insert(input: NewLeak, actor: string): number {
    const now = new Date().toISOString()
    const location = input.location ?? {}
    const title = input.title ?? defaultTitle(input)
    const tokens = uniqueTokens(input.tokens)
    let assessed = assessRisk({ kind: input.kind ?? tokens.find((t) => t.kind !== undefined)?.kind, source: input.source, location, inHistoryOnly: input.inHistoryOnly, exposedAt: input.exposedAt ?? now, hits: 0, seenByNodes: 0, now: new Date(now) })
    const score = assessed.score
    if (input.risk !== undefined) assessed = withOverride(assessed, input.risk, actor)
    const action = input.action ?? this.#actionFor(assessed.risk)
    const info = this.#s.insertLeak.run({
      title, source: input.source, kind: input.kind ?? null, location: JSON.stringify(location), dedupeKey: input.dedupeKey ?? null,
      risk: assessed.risk, riskRank: riskRank(assessed.risk), riskScore: score, riskFactors: JSON.stringify(assessed.factors),
      riskOverridden: input.risk === undefined ? 0 : 1, action, inHistoryOnly: input.inHistoryOnly === true ? 1 : 0,
      exposedAt: input.exposedAt ?? null, now, searchText: '',
    })
    const id = Number(info.lastInsertRowid)
    this.linkTokens(id, tokens, input.kind, now)
    this.#s.setSearchText.run(searchText(title, location, this.tokensOf(id).map((t) => t.preview)), id)
    this.#audit.append(id, actor, now, null, { action, status: 'open', risk: assessed.risk }, input.comment)
    this.#index.refresh(tokens.map((t) => t.sha256), now)
    return id
  }

  /** Adds `tokens` to leak `id` (a token's own kind first, else `kind`); tokens it holds already stay as they are. */
  linkTokens(id: number, tokens: readonly TokenInput[], kind: string | undefined, now: string): void {
    for (const t of tokens) {
      const token = this.#s.upsertToken.get(t.sha256, t.preview, t.kind ?? kind ?? null, now)
      if (token !== undefined) this.#s.link.run(id, token.id)
    }
  }

  /** Brings the index entries of leak `id`'s tokens in line with it (after its status or action changed). */
  refreshIndex(id: number, now: string): void {
    this.#index.refresh(this.tokensOf(id).map((t) => t.sha256), now)
  }

  /** The risk a leak's current facts give it, before any operator override. */
  assess(row: LeakRow): RiskAssessment {
    const location = JSON.parse(row.location) as LeakLocation
    const kind = row.kind ?? this.tokensOf(row.id).find((t) => t.kind !== null)?.kind
    return assessRisk({
      kind, source: row.source, location, inHistoryOnly: row.in_history_only === 1,
      exposedAt: row.exposed_at ?? row.created_at, hits: row.hits, seenByNodes: row.seen_by_nodes, now: new Date(),
    })
  }

  /** Recomputes a leak's risk from its current facts, unless an operator has overridden it. */
  rescore(id: number): void {
    const row = this.byId(id)
    if (row === undefined) return
    const computed = this.assess(row)
    if (row.risk_overridden === 1) {
      // The operator's level stays; the factors beside it are refreshed, override marker last.
      const factors = JSON.parse(row.risk_factors) as RiskFactor[]
      const marker = factors.find((f) => f.factor === 'operator_override')
      const updated = marker === undefined ? computed.factors : [...computed.factors, marker]
      this.#s.rescore.run({ id, risk: row.risk, riskRank: riskRank(row.risk), riskScore: computed.score, riskFactors: JSON.stringify(updated) })
      return
    }
    this.#s.rescore.run({ id, risk: computed.risk, riskRank: riskRank(computed.risk), riskScore: computed.score, riskFactors: JSON.stringify(computed.factors) })
  }

  #actionFor(risk: RiskLevel): LeakAction {
    const auto = this.#policy.autoBlockRisk
    if (auto !== 'off' && riskRank(risk) >= riskRank(auto)) return 'block'
    return this.#policy.defaultAction
  }
}

/** The text the list's `q` filter searches: title, location and token previews, lowercase. */
export function searchText(title: string, location: LeakLocation, previews: string[]): string {
  return [title, ...Object.values(location).map(String), ...previews].join('\n').toLowerCase()
}

// Every hash enters the store lowercase, whatever route it came by: the index and the sync stream only
// take lowercase hex, and an uppercase twin would be a second token (and a snapshot that cannot be built).
/** `tokens` with lowercase hashes, each hash once (its first occurrence kept). */
export function uniqueTokens(tokens: readonly TokenInput[]): TokenInput[] {
  const seen = new Map<string, TokenInput>()
  for (const t of tokens) {
    const sha256 = t.sha256.toLowerCase()
    if (!seen.has(sha256)) seen.set(sha256, { ...t, sha256 })
  }
  return [...seen.values()]
}

/** Maps a leak row to the API's Leak. */
export function toLeak(row: LeakRow): Leak {
  return {
    id: row.id,
    title: row.title,
    source: row.source,
    kind: row.kind,
    location: JSON.parse(row.location) as LeakLocation,
    risk: row.risk,
    riskFactors: JSON.parse(row.risk_factors) as RiskFactor[],
    riskOverridden: row.risk_overridden === 1,
    status: row.status,
    action: row.action,
    tokenCount: row.token_count,
    hits: row.hits,
    lastSeenAt: row.last_seen_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** Where a leak is, in words, for a default title. */
function describeWhere(location: LeakLocation | undefined): string | undefined {
  if (location === undefined) return undefined
  const place = location.repo ?? location.url
  if (place !== undefined && location.path !== undefined) return `${place} ${location.path}`
  return place ?? location.path
}

function defaultTitle(input: { kind?: string | undefined; source: string; location?: LeakLocation | undefined }): string {
  const what = input.kind ?? 'credential'
  const where = describeWhere(input.location)
  return where === undefined ? `${what} reported (${input.source})` : `${what} in ${where}`
}
