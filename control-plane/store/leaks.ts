/**
 * Leaks: creating them (by hand or from a scanner's findings), deciding on them, reading and
 * listing them. Every write runs in one transaction with its audit entry and the index refresh, so
 * a leak, its decision and the nodes' view of it are never out of step, even across a crash.
 */
import { createHash } from 'node:crypto'
import type Database from 'better-sqlite3'
import type { RiskLevel } from '../config.js'
import { NotFoundError } from '../../lib/errors.js'
import { assessRisk, riskRank, withOverride, type RiskAssessment, type RiskFactor } from '../risk.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import type { IndexLog } from './index-log.js'

/** Where a leak was found; every field optional. */
export interface LeakLocation {
  url?: string
  repo?: string
  path?: string
  line?: number
  commit?: string
  branch?: string
}

/** A leak's status. */
export type LeakStatus = 'open' | 'closed' | 'false_positive'
/** What nodes do with a leak's tokens. */
export type LeakAction = 'block' | 'monitor'

/** A leak as listed (docs/api.md). */
export interface Leak {
  id: number
  title: string
  source: string
  kind: string | null
  location: LeakLocation
  risk: RiskLevel
  riskFactors: RiskFactor[]
  riskOverridden: boolean
  status: LeakStatus
  action: LeakAction
  tokenCount: number
  hits: number
  lastSeenAt: string | null
  createdAt: string
  updatedAt: string
}

/** The state a decision moves a leak between. */
export interface DecisionState {
  action: LeakAction
  status: LeakStatus
  risk: RiskLevel
}

/** An audit entry. */
export interface Decision {
  id: number
  leakId: number
  actor: string
  at: string
  from: DecisionState | null
  to: DecisionState
  comment: string | null
}

/** A sighting as shown with a leak. */
export interface Sighting {
  id: number
  leakId: number
  nodeId: string
  sha256: string | null
  at: string
  host: string | null
  method: string | null
  route: string | null
  client: string | null
  verdict: string | null
}

/** A leak with its tokens, decisions and recent sightings. */
export interface LeakDetail extends Leak {
  tokens: { sha256: string; preview: string; kind: string | null }[]
  decisions: Decision[]
  sightings: Sighting[]
}

/** A token as the store takes it: its hash and preview only. */
export interface TokenInput {
  sha256: string
  preview: string
  kind?: string | undefined
}

/** A new leak. */
export interface NewLeak {
  title?: string | undefined
  source: string
  kind?: string | undefined
  location?: LeakLocation | undefined
  tokens: TokenInput[]
  /** An operator's risk: kept as an override. */
  risk?: RiskLevel | undefined
  action?: LeakAction | undefined
  comment?: string | undefined
  inHistoryOnly?: boolean | undefined
  /** When the exposure began (a commit date), for the age factor. */
  exposedAt?: string | undefined
  dedupeKey?: string | undefined
}

/**
 * A group of a scanner's findings that are one exposure (one file at one place, say): what
 * `upsertFromFindings` turns into a leak, or adds to the leak it already became on an earlier scan.
 */
export interface FindingGroup {
  source: string
  kind?: string | undefined
  title?: string | undefined
  location?: LeakLocation | undefined
  /** The finding's fingerprint; without one, source + location + token hashes identify the exposure. */
  fingerprint?: string | undefined
  tokens: TokenInput[]
  inHistoryOnly?: boolean | undefined
  exposedAt?: string | undefined
}

/** A decision's body. */
export interface DecisionInput {
  action?: LeakAction | undefined
  status?: LeakStatus | undefined
  risk?: RiskLevel | undefined
  comment?: string | undefined
}

/** Filters and paging of the leak list. */
export interface LeakQuery {
  status?: LeakStatus | undefined
  risk?: RiskLevel | undefined
  source?: string | undefined
  action?: LeakAction | undefined
  kind?: string | undefined
  q?: string | undefined
  sort?: LeakSort | undefined
  order?: 'asc' | 'desc' | undefined
  limit?: number | undefined
  cursor?: string | undefined
}

/** Columns the list sorts by. */
export type LeakSort = 'createdAt' | 'updatedAt' | 'risk' | 'hits' | 'lastSeenAt' | 'title'

/** How new leaks get their action. */
export interface LeakPolicy {
  defaultAction: LeakAction
  autoBlockRisk: 'off' | RiskLevel
  sightingsKeptPerLeak: number
}

interface LeakRow {
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
  last_seen_at: string | null
  created_at: string
  updated_at: string
  token_count: number
}

const SORT_SQL: Record<LeakSort, string> = {
  createdAt: 'l.created_at',
  updatedAt: 'l.updated_at',
  risk: 'l.risk_rank',
  hits: 'l.hits',
  lastSeenAt: "coalesce(l.last_seen_at, '')",
  title: 'l.title',
}

const SELECT_LEAK = `
  SELECT l.*, (SELECT count(*) FROM leak_tokens lt WHERE lt.leak_id = l.id) AS token_count
  FROM leaks l`

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

function searchText(title: string, location: LeakLocation, previews: string[]): string {
  return [title, ...Object.values(location).map(String), ...previews].join('\n').toLowerCase()
}

/** The key that makes a rescan of the same exposure update its leak instead of adding one. */
export function dedupeKeyOf(group: FindingGroup): string {
  if (group.fingerprint !== undefined) return `fp:${group.fingerprint}`
  const loc = group.location ?? {}
  const parts = [group.source, loc.url ?? '', loc.repo ?? '', loc.path ?? '', String(loc.line ?? ''), ...group.tokens.map((t) => t.sha256).sort()]
  return `loc:${createHash('sha256').update(JSON.stringify(parts)).digest('hex')}`
}

/** The leak table's operations. Writes notify through `onWrite` after they commit. */
export class LeakRepo {
  readonly #db: Database.Database
  readonly #index: IndexLog
  readonly #policy: LeakPolicy
  readonly #onWrite: () => void
  readonly #s

  constructor(db: Database.Database, index: IndexLog, policy: LeakPolicy, onWrite: () => void) {
    this.#db = db
    this.#index = index
    this.#policy = policy
    this.#onWrite = onWrite
    this.#s = {
      byId: db.prepare<[number], LeakRow>(`${SELECT_LEAK} WHERE l.id = ?`),
      byDedupe: db.prepare<[string], LeakRow>(`${SELECT_LEAK} WHERE l.dedupe_key = ?`),
      insertLeak: db.prepare(`
        INSERT INTO leaks (title, source, kind, location, dedupe_key, risk, risk_rank, risk_score, risk_factors,
          risk_overridden, status, action, in_history_only, exposed_at, created_at, updated_at, search_text)
        VALUES (@title, @source, @kind, @location, @dedupeKey, @risk, @riskRank, @riskScore, @riskFactors,
          @riskOverridden, 'open', @action, @inHistoryOnly, @exposedAt, @now, @now, @searchText)`),
      upsertToken: db.prepare<[string, string, string | null, string], { id: number }>(`
        INSERT INTO tokens (sha256, preview, kind, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (sha256) DO UPDATE SET
          -- A real preview replaces the placeholder of a token first reported by hash only.
          preview = CASE WHEN tokens.preview LIKE 'sha256:%' AND excluded.preview NOT LIKE 'sha256:%'
                         THEN excluded.preview ELSE tokens.preview END,
          kind = coalesce(tokens.kind, excluded.kind)
        RETURNING id`),
      link: db.prepare('INSERT OR IGNORE INTO leak_tokens (leak_id, token_id) VALUES (?, ?)'),
      tokensOf: db.prepare<[number], { sha256: string; preview: string; kind: string | null }>(`
        SELECT t.sha256, t.preview, t.kind FROM leak_tokens lt JOIN tokens t ON t.id = lt.token_id
        WHERE lt.leak_id = ? ORDER BY t.id`),
      decide: db.prepare(`
        UPDATE leaks SET action = @action, status = @status, risk = @risk, risk_rank = @riskRank,
          risk_score = @riskScore, risk_factors = @riskFactors, risk_overridden = @riskOverridden, updated_at = @now
        WHERE id = @id`),
      rescore: db.prepare(`
        UPDATE leaks SET risk = @risk, risk_rank = @riskRank, risk_score = @riskScore, risk_factors = @riskFactors
        WHERE id = @id`),
      update: db.prepare(`
        UPDATE leaks SET in_history_only = @inHistoryOnly, exposed_at = @exposedAt, search_text = @searchText,
          updated_at = @now WHERE id = @id`),
      audit: db.prepare('INSERT INTO decisions (leak_id, actor, at, from_state, to_state, comment) VALUES (?, ?, ?, ?, ?, ?)'),
      decisionsOf: db.prepare<[number], DecisionRow>('SELECT * FROM decisions WHERE leak_id = ? ORDER BY id DESC'),
      sightingsOf: db.prepare<[number], SightingRow>('SELECT * FROM sightings WHERE leak_id = ? ORDER BY at DESC, id DESC LIMIT 100'),
    }
  }

  /** One leak with its tokens, decisions and 100 newest sightings, or undefined. */
  get(id: number): LeakDetail | undefined {
    const row = this.#s.byId.get(id)
    if (row === undefined) return undefined
    return {
      ...toLeak(row),
      tokens: this.#s.tokensOf.all(id),
      decisions: this.#s.decisionsOf.all(id).map(toDecision),
      sightings: this.#s.sightingsOf.all(id).map(toSighting),
    }
  }

  /** Like `get`, but a 404 when there is no such leak. */
  require(id: number): LeakDetail {
    const leak = this.get(id)
    if (leak === undefined) throw new NotFoundError(`there is no leak ${id}`)
    return leak
  }

  /** Records a new leak (audited as created by `actor`) and puts its tokens in the index. */
  create(input: NewLeak, actor: string): LeakDetail {
    const id = this.#db.transaction(() => this.#insert(input, actor)).immediate()
    this.#onWrite()
    return this.require(id)
  }

  /**
   * Turns a group of findings into a leak, or, when an earlier scan already made one for the same
   * exposure (same fingerprint, or same source, location and tokens), adds any new tokens to it and
   * rescores it. Status and action of an existing leak are the operator's and stay as they are.
   */
  upsertFromFindings(group: FindingGroup, actor: string): { leak: LeakDetail; created: boolean } {
    const key = dedupeKeyOf(group)
    const result = this.#db.transaction(() => {
      // A closed or false-positive leak keeps the tokens it was decided on. A token it never held is a
      // new exposure at the same place (a rotated key leaked again): it goes to a successor leak, open,
      // so it is enforced and shown rather than hidden inside a leak nobody looks at any more. The
      // successor has its own dedupe key, so the next rescan finds it; its own closing starts another.
      let dedupeKey = key
      let tokens = uniqueTokens(group.tokens)
      let existing = this.#s.byDedupe.get(dedupeKey)
      while (existing !== undefined && existing.status !== 'open') {
        const held = new Set(this.#s.tokensOf.all(existing.id).map((t) => t.sha256))
        tokens = tokens.filter((t) => !held.has(t.sha256))
        if (tokens.length === 0) return { id: existing.id, created: false }
        dedupeKey = `${key}#after-${existing.id}`
        existing = this.#s.byDedupe.get(dedupeKey)
      }
      if (existing === undefined) {
        return { id: this.#insert({ ...group, tokens, dedupeKey }, actor), created: true }
      }
      const now = new Date().toISOString()
      for (const t of tokens) {
        const token = this.#s.upsertToken.get(t.sha256, t.preview, t.kind ?? group.kind ?? null, now)
        if (token !== undefined) this.#s.link.run(existing.id, token.id)
      }
      const inHistoryOnly = existing.in_history_only === 1 && group.inHistoryOnly === true
      const exposedAt = earliest(existing.exposed_at, group.exposedAt)
      const previews = this.#s.tokensOf.all(existing.id).map((t) => t.preview)
      this.#s.update.run({
        id: existing.id, inHistoryOnly: inHistoryOnly ? 1 : 0, exposedAt,
        searchText: searchText(existing.title, JSON.parse(existing.location) as LeakLocation, previews), now,
      })
      this.#rescore(existing.id)
      if (existing.status === 'open') this.#index.refresh(this.#s.tokensOf.all(existing.id).map((t) => t.sha256), now)
      return { id: existing.id, created: false }
    }).immediate()
    this.#onWrite()
    return { leak: this.require(result.id), created: result.created }
  }

  /** An operator's decision: changes action, status and/or risk, audits it, updates the index. */
  decide(id: number, input: DecisionInput, actor: string): LeakDetail {
    this.#db.transaction(() => {
      const row = this.#s.byId.get(id)
      if (row === undefined) throw new NotFoundError(`there is no leak ${id}`)
      const now = new Date().toISOString()
      const from: DecisionState = { action: row.action, status: row.status, risk: row.risk }
      let assessed: RiskAssessment = { risk: row.risk, score: 0, factors: JSON.parse(row.risk_factors) as RiskFactor[] }
      let overridden = row.risk_overridden === 1
      let riskScore = row.risk_score
      if (input.risk !== undefined) {
        const computed = this.#assess(row)
        assessed = withOverride(computed, input.risk, actor)
        overridden = true
        riskScore = computed.score
      }
      const to: DecisionState = { action: input.action ?? row.action, status: input.status ?? row.status, risk: assessed.risk }
      this.#s.decide.run({
        id, action: to.action, status: to.status, risk: to.risk, riskRank: riskRank(to.risk), riskScore,
        riskFactors: JSON.stringify(assessed.factors), riskOverridden: overridden ? 1 : 0, now,
      })
      this.#s.audit.run(id, actor, now, JSON.stringify(from), JSON.stringify(to), input.comment ?? null)
      this.#index.refresh(this.#s.tokensOf.all(id).map((t) => t.sha256), now)
    }).immediate()
    this.#onWrite()
    return this.require(id)
  }

  /** Recomputes a leak's risk from its current facts, unless an operator has overridden it. */
  rescore(id: number): void {
    this.#rescore(id)
  }

  /** One page of leaks, with the total matching the filters. */
  list(query: LeakQuery): { items: Leak[]; nextCursor: string | null; total: number } {
    const where: string[] = []
    const params: Record<string, unknown> = {}
    if (query.status !== undefined) { where.push('l.status = @status'); params.status = query.status }
    if (query.risk !== undefined) { where.push('l.risk = @risk'); params.risk = query.risk }
    if (query.source !== undefined) { where.push('l.source = @source'); params.source = query.source }
    if (query.action !== undefined) { where.push('l.action = @action'); params.action = query.action }
    if (query.kind !== undefined) { where.push('l.kind = @kind'); params.kind = query.kind }
    if (query.q !== undefined && query.q !== '') { where.push('instr(l.search_text, @q) > 0'); params.q = query.q.toLowerCase() }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    const total = (this.#db.prepare(`SELECT count(*) AS n FROM leaks l ${filter}`).get(params) as { n: number }).n

    const sort: LeakSort = query.sort ?? 'createdAt'
    const desc = (query.order ?? 'desc') === 'desc'
    const expr = SORT_SQL[sort]
    const cursorKey = `${sort}:${desc ? 'desc' : 'asc'}`
    const paged = [...where]
    if (query.cursor !== undefined) {
      const c = decodeCursor(query.cursor, cursorKey)
      const cmp = desc ? '<' : '>'
      paged.push(`(${expr} ${cmp} @cv OR (${expr} = @cv AND l.id ${cmp} @cid))`)
      params.cv = c.value
      params.cid = c.id
    }
    const limit = query.limit ?? 50
    const dir = desc ? 'DESC' : 'ASC'
    const rows = this.#db.prepare(`
      ${SELECT_LEAK} ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''}
      ORDER BY ${expr} ${dir}, l.id ${dir} LIMIT @limit`).all({ ...params, limit: limit + 1 }) as LeakRow[]
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    const nextCursor = rows.length > limit && last !== undefined ? encodeCursor(cursorKey, sortValue(last, sort), last.id) : null
    return { items: page.map(toLeak), nextCursor, total }
  }

  #insert(input: NewLeak, actor: string): number {
    const now = new Date().toISOString()
    const location = input.location ?? {}
    const title = input.title ?? defaultTitle(input)
    const tokens = uniqueTokens(input.tokens)
    let assessed = assessRisk({ kind: input.kind ?? tokens.find((t) => t.kind !== undefined)?.kind, source: input.source, location, inHistoryOnly: input.inHistoryOnly, exposedAt: input.exposedAt ?? now, hits: 0, now: new Date(now) })
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
    const previews: string[] = []
    for (const t of tokens) {
      const token = this.#s.upsertToken.get(t.sha256, t.preview, t.kind ?? input.kind ?? null, now)
      if (token !== undefined) this.#s.link.run(id, token.id)
    }
    for (const t of this.#s.tokensOf.all(id)) previews.push(t.preview)
    this.#db.prepare('UPDATE leaks SET search_text = ? WHERE id = ?').run(searchText(title, location, previews), id)
    const to: DecisionState = { action, status: 'open', risk: assessed.risk }
    this.#s.audit.run(id, actor, now, null, JSON.stringify(to), input.comment ?? null)
    this.#index.refresh(tokens.map((t) => t.sha256), now)
    return id
  }

  #actionFor(risk: RiskLevel): LeakAction {
    const auto = this.#policy.autoBlockRisk
    if (auto !== 'off' && riskRank(risk) >= riskRank(auto)) return 'block'
    return this.#policy.defaultAction
  }

  #assess(row: LeakRow): RiskAssessment {
    const location = JSON.parse(row.location) as LeakLocation
    const kind = row.kind ?? this.#s.tokensOf.all(row.id).find((t) => t.kind !== null)?.kind
    return assessRisk({
      kind, source: row.source, location, inHistoryOnly: row.in_history_only === 1,
      exposedAt: row.exposed_at ?? row.created_at, hits: row.hits, now: new Date(),
    })
  }

  #rescore(id: number): void {
    const row = this.#s.byId.get(id)
    if (row === undefined) return
    const computed = this.#assess(row)
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
}

interface DecisionRow {
  id: number
  leak_id: number
  actor: string
  at: string
  from_state: string | null
  to_state: string
  comment: string | null
}

interface SightingRow {
  id: number
  leak_id: number
  node_id: string
  sha256: string | null
  at: string
  host: string | null
  method: string | null
  route: string | null
  client: string | null
  verdict: string | null
}

// Every hash enters the store lowercase, whatever route it came by: the index and the sync stream only
// take lowercase hex, and an uppercase twin would be a second token (and a snapshot that cannot be built).
function uniqueTokens(tokens: TokenInput[]): TokenInput[] {
  const seen = new Map<string, TokenInput>()
  for (const t of tokens) {
    const sha256 = t.sha256.toLowerCase()
    if (!seen.has(sha256)) seen.set(sha256, { ...t, sha256 })
  }
  return [...seen.values()]
}

function earliest(a: string | null, b: string | undefined): string | null {
  if (b === undefined) return a
  if (a === null) return b
  return Date.parse(b) < Date.parse(a) ? b : a
}

function sortValue(row: LeakRow, sort: LeakSort): string | number {
  switch (sort) {
    case 'createdAt': return row.created_at
    case 'updatedAt': return row.updated_at
    case 'risk': return row.risk_rank
    case 'hits': return row.hits
    case 'lastSeenAt': return row.last_seen_at ?? ''
    case 'title': return row.title
  }
}

function toLeak(row: LeakRow): Leak {
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

/** Maps a decisions row to the API's Decision. */
export function toDecision(row: DecisionRow): Decision {
  return {
    id: row.id,
    leakId: row.leak_id,
    actor: row.actor,
    at: row.at,
    from: row.from_state === null ? null : (JSON.parse(row.from_state) as DecisionState),
    to: JSON.parse(row.to_state) as DecisionState,
    comment: row.comment,
  }
}

/** Maps a sightings row to the API's Sighting. */
export function toSighting(row: SightingRow): Sighting {
  return {
    id: row.id, leakId: row.leak_id, nodeId: row.node_id, sha256: row.sha256, at: row.at,
    host: row.host, method: row.method, route: row.route, client: row.client, verdict: row.verdict,
  }
}
