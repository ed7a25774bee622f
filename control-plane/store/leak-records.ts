/**
 * The rows of a leak (`leaks`, its `tokens` and their `leak_tokens` links) and what every leak
 * operation does with them: read one, insert one with its tokens, link more tokens, recompute its
 * risk, bring the index in line with it. Nothing here opens a transaction: the callers
 * (`leaks.ts`, `sightings.ts`) run these inside theirs, so a leak, its audit entry and the index
 * never get out of step.
 */
import type { RiskLevel } from '../config.js'
import { assessRisk, riskRank, withOverride, type RiskAssessment, type RiskFactor } from '../risk.js'
import type { AuditLog } from './audit.js'
import type { IndexLog } from './index-log.js'
import { recordLeakEvent } from './leak-events.js'
import type { FoundWith, Leak, LeakAction, LeakLocation, LeakPolicy, LeakStatus, LeakToken, NewLeak, RotationState, TokenInput } from './leak-types.js'
import type { VerifiedFormat } from '../detect/rule.js'
import { recordRiskChange, type RiskChangeCause } from './risk-changes.js'
import type { Sql } from './sql.js'

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
  rotation: RotationState | null
  rotation_requested_at: string | null
  rotated_at: string | null
  in_history_only: number
  exposed_at: string | null
  place_key: string | null
  verified_format: VerifiedFormat | null
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
  readonly #sql: Sql
  readonly #index: IndexLog
  readonly #audit: AuditLog
  readonly #policy: LeakPolicy

  constructor(sql: Sql, index: IndexLog, audit: AuditLog, policy: LeakPolicy) {
    this.#sql = sql
    this.#index = index
    this.#audit = audit
    this.#policy = policy
  }

  /** The row of leak `id`, or undefined. */
  async byId(id: number): Promise<LeakRow | undefined> {
    return this.#sql.get<LeakRow>(`${SELECT_LEAK} WHERE l.id = ?`, [id])
  }

  /** The row of the leak a scan made under `dedupeKey`, or undefined. */
  async byDedupe(dedupeKey: string): Promise<LeakRow | undefined> {
    return this.#sql.get<LeakRow>(`${SELECT_LEAK} WHERE l.dedupe_key = ?`, [dedupeKey])
  }

  /** The other leaks a scan found at the same place (repository, commit and file) as leak `id`, oldest first. */
  async foundWith(id: number, placeKey: string | null): Promise<FoundWith[]> {
    if (placeKey === null) return []
    // A file holds a handful of credentials; the bound keeps a generated file full of them cheap to show.
    return this.#sql.all<FoundWith>(`
      SELECT id, title, kind, status FROM leaks WHERE place_key = ? AND id <> ? ORDER BY id LIMIT 50`, [placeKey, id])
  }

  /** The tokens of leak `id`, oldest first. */
  async tokensOf(id: number): Promise<LeakToken[]> {
    return this.#sql.all<LeakToken>(`
      SELECT t.sha256, t.preview, t.kind FROM leak_tokens lt JOIN tokens t ON t.id = lt.token_id
      WHERE lt.leak_id = ? ORDER BY t.id`, [id])
  }

  /** Records a new leak with its tokens and its audit entry (created by `actor`), and indexes it. Returns its id. */
  async insert(input: NewLeak, actor: string): Promise<number> {
    const now = new Date().toISOString()
    const location = input.location ?? {}
    const title = input.title ?? defaultTitle(input)
    const tokens = uniqueTokens(input.tokens)
    let assessed = assessRisk({ kind: input.kind ?? tokens.find((t) => t.kind !== undefined)?.kind, source: input.source, location, inHistoryOnly: input.inHistoryOnly, exposedAt: input.exposedAt ?? now, hits: 0, seenByNodes: 0, verifiedFormat: input.verifiedFormat, now: new Date(now) })
    const score = assessed.score
    if (input.risk !== undefined) assessed = withOverride(assessed, input.risk, actor)
    const action = input.action ?? this.#actionFor(assessed.risk)
    const inserted = await this.#sql.get<{ id: number }>(`
      INSERT INTO leaks (title, source, kind, location, dedupe_key, risk, risk_rank, risk_score, risk_factors,
        risk_overridden, status, action, in_history_only, exposed_at, created_at, updated_at, search_text, place_key, verified_format)
      VALUES (@title, @source, @kind, @location, @dedupeKey, @risk, @riskRank, @riskScore, @riskFactors,
        @riskOverridden, 'open', @action, @inHistoryOnly, @exposedAt, @now, @now, @searchText, @placeKey, @verifiedFormat)
      RETURNING id`, {
      title, source: input.source, kind: input.kind ?? null, location: JSON.stringify(location), dedupeKey: input.dedupeKey ?? null,
      risk: assessed.risk, riskRank: riskRank(assessed.risk), riskScore: score, riskFactors: JSON.stringify(assessed.factors),
      riskOverridden: input.risk === undefined ? 0 : 1, action, inHistoryOnly: input.inHistoryOnly === true ? 1 : 0,
      exposedAt: input.exposedAt ?? null, now, searchText: '', placeKey: input.placeKey ?? null, verifiedFormat: input.verifiedFormat ?? null,
    })
    if (inserted === undefined) throw new Error('INSERT ... RETURNING id returned no row')
    const id = inserted.id
    await this.linkTokens(id, tokens, input.kind, now)
    const previews = (await this.tokensOf(id)).map((t) => t.preview)
    await this.#sql.run('UPDATE leaks SET search_text = ? WHERE id = ?', [searchText(title, location, previews), id])
    await this.#audit.append(id, actor, now, null, { action, status: 'open', risk: assessed.risk }, input.comment)
    await this.#index.refresh(tokens.map((t) => t.sha256), now)
    await recordLeakEvent(this.#sql, 'leak.created', id, { actor })
    return id
  }

  /** Adds `tokens` to leak `id` (a token's own kind first, else `kind`); tokens it holds already stay as they are. */
  async linkTokens(id: number, tokens: readonly TokenInput[], kind: string | undefined, now: string): Promise<void> {
    for (const t of tokens) {
      const token = await this.#sql.get<{ id: number }>(`
        INSERT INTO tokens (sha256, preview, kind, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (sha256) DO UPDATE SET
          -- A real preview replaces the placeholder of a token first reported by hash only.
          preview = CASE WHEN tokens.preview LIKE 'sha256:%' AND excluded.preview NOT LIKE 'sha256:%'
                         THEN excluded.preview ELSE tokens.preview END,
          kind = coalesce(tokens.kind, excluded.kind)
        RETURNING id`, [t.sha256, t.preview, t.kind ?? kind ?? null, now])
      if (token !== undefined) await this.#sql.run('INSERT INTO leak_tokens (leak_id, token_id) VALUES (?, ?) ON CONFLICT DO NOTHING', [id, token.id])
    }
  }

  /** The index revision as this transaction sees it (after its own changes). */
  async revision(): Promise<number> {
    return this.#index.revision()
  }

  /** Brings the index entries of leak `id`'s tokens in line with it (after its status or action changed). */
  async refreshIndex(id: number, now: string): Promise<void> {
    await this.#index.refresh((await this.tokensOf(id)).map((t) => t.sha256), now)
  }

  /** The risk a leak's current facts give it at `now`, before any operator override. */
  async assess(row: LeakRow, now: Date = new Date()): Promise<RiskAssessment> {
    const location = JSON.parse(row.location) as LeakLocation
    const kind = row.kind ?? (await this.tokensOf(row.id)).find((t) => t.kind !== null)?.kind
    return assessRisk({
      kind, source: row.source, location, inHistoryOnly: row.in_history_only === 1,
      exposedAt: row.exposed_at ?? row.created_at, hits: row.hits, seenByNodes: row.seen_by_nodes, lastSeenAt: row.last_seen_at,
      verifiedFormat: row.verified_format, now,
    })
  }

  /**
   * Recomputes a leak's risk from its current facts, unless an operator has overridden it; a new level
   * records `leak.risk_changed` (caused by `cause`) in the caller's transaction.
   */
  async rescore(id: number, cause: RiskChangeCause): Promise<void> {
    const row = await this.byId(id)
    if (row === undefined) return
    const computed = await this.assess(row)
    const rescore = 'UPDATE leaks SET risk = @risk, risk_rank = @riskRank, risk_score = @riskScore, risk_factors = @riskFactors WHERE id = @id'
    if (row.risk_overridden === 1) {
      // The operator's level stays; the factors beside it are refreshed, override marker last.
      const factors = JSON.parse(row.risk_factors) as RiskFactor[]
      const marker = factors.find((f) => f.factor === 'operator_override')
      const updated = marker === undefined ? computed.factors : [...computed.factors, marker]
      await this.#sql.run(rescore, { id, risk: row.risk, riskRank: riskRank(row.risk), riskScore: computed.score, riskFactors: JSON.stringify(updated) })
      return
    }
    await this.#sql.run(rescore, { id, risk: computed.risk, riskRank: riskRank(computed.risk), riskScore: computed.score, riskFactors: JSON.stringify(computed.factors) })
    await recordRiskChange(this.#sql, id, { risk: row.risk, score: row.risk_score }, computed, cause)
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
    rotation: row.rotation,
    rotationRequestedAt: row.rotation_requested_at,
    rotatedAt: row.rotated_at,
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
