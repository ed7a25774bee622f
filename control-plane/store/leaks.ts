/**
 * Leaks, as the routes and the scanner see them: creating one, turning findings into leaks,
 * deciding on one, reading and listing them. Each write is one transaction with its audit entry and
 * the index refresh, so a leak, its decision and the nodes' view of it are never out of step, even
 * across a crash; the revision is announced once it has committed.
 *
 * Where the work is done: `leak-records.ts` (the rows; insert, rescore), `leak-decisions.ts` (a
 * decision), `leak-findings.ts` (findings to leaks), `leak-list.ts` (filters and paging); the
 * shapes are in `leak-types.ts`.
 */
import { NotFoundError } from '../../lib/errors.js'
import type { AuditLog } from './audit.js'
import type { StoredHashes } from './hash-key.js'
import { LeakDecisions } from './leak-decisions.js'
import { LeakRotations } from './leak-rotation.js'
import { FindingUpserts, type FindingGroup } from './leak-findings.js'
import { LeakBulkDecisions, type BulkTarget } from './leak-bulk-decisions.js'
import { exportLeaks, leakFacets, listLeaks, type ListOptions } from './leak-list.js'
import { SearchSampler } from './search-sample.js'
import { toLeak, type LeakRecords } from './leak-records.js'
import type { BulkDecisionResult, DecisionInput, LeakDetail, LeakExportRow, LeakFacets, LeakFilter, LeakPage, LeakQuery, NewLeak, TokenInput } from './leak-types.js'
import type { SightingRepo } from './sightings.js'
import type { Sql } from './sql.js'

export type * from './leak-types.js'
export type { FindingGroup } from './leak-findings.js'
export type { BulkTarget } from './leak-bulk-decisions.js'
export { BULK_DECISION_LIMIT } from './leak-bulk-decisions.js'

/** The leak operations. Writes run through `write`: one transaction, the revision announced after its commit. */
export class LeakRepo {
  readonly #sql: Sql
  /** PostgreSQL plans a search from a sample of the leaks (`search-sample.ts`); SQLite from its own index. */
  readonly #searchSampler: SearchSampler | undefined
  readonly #records: LeakRecords
  readonly #audit: AuditLog
  readonly #sightings: SightingRepo
  readonly #decisions: LeakDecisions
  readonly #bulk: LeakBulkDecisions
  readonly #rotations: LeakRotations
  readonly #findings: FindingUpserts
  readonly #hashes: StoredHashes
  readonly #write: <T>(fn: () => Promise<T>) => Promise<T>

  constructor(sql: Sql, records: LeakRecords, audit: AuditLog, sightings: SightingRepo, hashes: StoredHashes, write: <T>(fn: () => Promise<T>) => Promise<T>) {
    this.#sql = sql
    this.#searchSampler = sql.dialect === 'postgres' ? new SearchSampler(sql) : undefined
    this.#hashes = hashes
    this.#records = records
    this.#audit = audit
    this.#sightings = sightings
    this.#decisions = new LeakDecisions(sql, records, audit)
    this.#bulk = new LeakBulkDecisions(sql, records, this.#decisions)
    this.#rotations = new LeakRotations(sql, records, audit)
    this.#findings = new FindingUpserts(sql, records)
    this.#write = write
  }

  /** One leak with the leaks found with it, its tokens, decisions and 100 newest sightings, or undefined. */
  async get(id: number): Promise<LeakDetail | undefined> {
    const row = await this.#records.byId(id)
    if (row === undefined) return undefined
    return {
      ...toLeak(row),
      foundWith: await this.#records.foundWith(id, row.place_key),
      tokens: await this.#records.tokensOf(id),
      decisions: await this.#audit.ofLeak(id),
      sightings: await this.#sightings.recent(id),
    }
  }

  /** Like `get`, but a 404 when there is no such leak. */
  async require(id: number): Promise<LeakDetail> {
    const leak = await this.get(id)
    if (leak === undefined) throw new NotFoundError(`there is no leak ${id}`)
    return leak
  }

  /** Records a new leak (audited as created by `actor`) and puts its tokens in the index. */
  async create(input: NewLeak, actor: string): Promise<LeakDetail> {
    const id = await this.#write(async () => this.#records.insert({ ...input, tokens: this.#stored(input.tokens) }, actor))
    return this.require(id)
  }

  /**
   * Turns a group of findings into a leak, or, when an earlier scan already made one for the same
   * exposure (same fingerprint, or same source, location and tokens), adds any new tokens to it and
   * rescores it. Status and action of an existing leak are the operator's and stay as they are.
   */
  async upsertFromFindings(group: FindingGroup, actor: string): Promise<{ leak: LeakDetail; created: boolean }> {
    const result = await this.#write(async () => this.#findings.apply({ ...group, tokens: this.#stored(group.tokens) }, actor))
    return { leak: await this.require(result.id), created: result.created }
  }

  /**
   * An operator's decision: changes action, status and/or risk, audits it, updates the index. Answers
   * the leak and the index revision the decision committed (nodes at or past it enforce it).
   */
  async decide(id: number, input: DecisionInput, actor: string): Promise<LeakDetail & { revision: number }> {
    const revision = await this.#write(async () => {
      await this.#decisions.apply(id, input, actor)
      return this.#records.revision()
    })
    return { ...(await this.require(id)), revision }
  }

  /** One decision on many leaks, in one transaction (`leak-bulk-decisions.ts`). */
  async decideMany(target: BulkTarget, input: DecisionInput, actor: string): Promise<BulkDecisionResult> {
    return this.#write(async () => this.#bulk.apply(target, input, actor))
  }

  /**
   * `actor` asks the credential's issuer to rotate it (`leak.rotation_requested`); the leak stays open
   * and enforced. A rotation already requested stays as it is.
   */
  async requestRotation(id: number, actor: string, comment: string | undefined): Promise<LeakDetail> {
    await this.#write(async () => this.#rotations.request(id, actor, comment))
    return this.require(id)
  }

  /** The issuer `actor` confirms the rotation it was asked for: the leak closes (`leak.rotated`). Said twice, the second is a no-op. */
  async confirmRotation(id: number, actor: string, comment: string | undefined): Promise<LeakDetail> {
    await this.#write(async () => this.#rotations.confirm(id, actor, comment))
    return this.require(id)
  }

  /** One page of leaks, with the total matching the filters (a search's counted up to a bound). */
  async list(query: LeakQuery, options: ListOptions = {}): Promise<LeakPage> {
    return listLeaks(this.#sql, query, { searchSampler: this.#searchSampler, ...options })
  }

  /** The distinct sources and kinds, with their leak counts. */
  async facets(): Promise<LeakFacets> {
    return leakFacets(this.#sql)
  }

  /** Every leak matching the filters, for the CSV export: no token, only hash prefixes. */
  exportRows(filter: LeakFilter): AsyncGenerator<LeakExportRow> {
    return exportLeaks(this.#sql, filter)
  }

  // Tokens arrive with their SHA-256 (hashed from the value on arrival, or sent as a hash): stored keyed when the store is.
  #stored(tokens: readonly TokenInput[]): TokenInput[] {
    return tokens.map((t) => {
      const sha256 = this.#hashes.of(t.sha256)
      return { ...t, sha256, preview: this.#hashes.preview(t.preview, sha256) }
    })
  }
}
