/**
 * The revocation loop of a leak: an operator asks the credential's issuer to rotate it (`request`), the
 * issuer answers once it has (`confirm`), and the leak closes. Both steps are audited like any decision
 * and recorded as events (`leak.rotation_requested`, `leak.rotated`) in their own transaction, so the
 * issuer's system, subscribed to them, hears of every request that committed and of nothing else.
 *
 * The request changes neither status nor action: the leak stays open and enforced as the operator
 * decided while the issuer works. The event carries the tokens' hashes and previews (the stored ones:
 * keyed hashes when the store has a hash key), never a raw value: the store has none.
 */
import { LeakNotOpenError, NotFoundError, RotationNotRequestedError } from '../../lib/errors.js'
import type { AuditLog } from './audit.js'
import { recordLeakEvent } from './leak-events.js'
import type { LeakRecords, LeakRow } from './leak-records.js'
import type { DecisionState } from './leak-types.js'
import type { Sql } from './sql.js'

/** Requests and confirms rotations, inside the caller's write transaction. */
export class LeakRotations {
  readonly #sql: Sql
  readonly #records: LeakRecords
  readonly #audit: AuditLog

  constructor(sql: Sql, records: LeakRecords, audit: AuditLog) {
    this.#sql = sql
    this.#records = records
    this.#audit = audit
  }

  /**
   * `actor` asks for the rotation of leak `id`'s credential. A rotation already requested is left as it
   * is (no second entry, no second event): returns false then, true when recorded.
   * @throws {NotFoundError} when there is no such leak.
   * @throws {LeakNotOpenError} when the leak is closed or a false positive.
   */
  async request(id: number, actor: string, comment: string | undefined): Promise<boolean> {
    const row = await this.#require(id)
    if (row.status !== 'open') {
      throw new LeakNotOpenError(`leak ${id} is ${row.status}: only an open leak's rotation can be requested; reopen it first`)
    }
    if (row.rotation === 'requested') return false
    const now = new Date().toISOString()
    await this.#sql.run(`
      UPDATE leaks SET rotation = 'requested', rotation_requested_at = @now, rotated_at = NULL, updated_at = @now
      WHERE id = @id`, { id, now })
    await this.#audit.append(id, actor, now, stateOf(row), { ...stateOf(row), rotation: 'requested' }, comment)
    const tokens = (await this.#records.tokensOf(id)).map((t) => ({ sha256: t.sha256, preview: t.preview }))
    await recordLeakEvent(this.#sql, 'leak.rotation_requested', id, { tokens, requestedBy: actor, requestedAt: now, comment: comment ?? null })
    return true
  }

  /**
   * The issuer `actor` confirms it rotated leak `id`'s credential: the leak closes (its tokens leave the
   * index) and is marked rotated. A rotation confirmed already is left as it is: returns false then.
   * @throws {NotFoundError} when there is no such leak.
   * @throws {RotationNotRequestedError} when no rotation of it was requested.
   */
  async confirm(id: number, actor: string, comment: string | undefined): Promise<boolean> {
    const row = await this.#require(id)
    if (row.rotation === 'rotated') return false
    if (row.rotation !== 'requested') {
      throw new RotationNotRequestedError(`no rotation of leak ${id} was requested; an operator requests it first (POST /v1/leaks/${id}/request-rotation)`)
    }
    const now = new Date().toISOString()
    await this.#sql.run(`
      UPDATE leaks SET status = 'closed', rotation = 'rotated', rotated_at = @now, updated_at = @now WHERE id = @id`, { id, now })
    await this.#audit.append(id, actor, now, stateOf(row), { ...stateOf(row), status: 'closed', rotation: 'rotated' }, comment)
    await this.#records.refreshIndex(id, now)
    await recordLeakEvent(this.#sql, 'leak.rotated', id, { rotatedBy: actor, requestedAt: row.rotation_requested_at, rotatedAt: now, comment: comment ?? null })
    return true
  }

  async #require(id: number): Promise<LeakRow> {
    const row = await this.#records.byId(id)
    if (row === undefined) throw new NotFoundError(`there is no leak ${id}`)
    return row
  }
}

function stateOf(row: LeakRow): DecisionState {
  return { action: row.action, status: row.status, risk: row.risk, rotation: row.rotation }
}
