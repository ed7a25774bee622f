/**
 * One decision on many leaks (`POST /v1/leaks/bulk-decisions`): the leaks named by id, or those a list
 * filter matches when the operator confirmed how many that was. Each leak is decided as a single
 * decision decides it (`leak-decisions.ts`: its audit entry, its event, its index entries), all in the
 * caller's one transaction, so a bulk decision applies whole or not at all. A leak the move does not
 * fit (already so; an action for a leak whose tokens are out of the index) is left and reported.
 */
import { BulkCountChangedError, BulkTooLargeError } from '../../lib/errors.js'
import type { LeakDecisions } from './leak-decisions.js'
import { countLeaks, filterSql } from './leak-list.js'
import type { LeakRecords, LeakRow } from './leak-records.js'
import type { BulkDecisionResult, BulkSkipReason, DecisionInput, LeakFilter } from './leak-types.js'
import type { Sql } from './sql.js'

/**
 * The most leaks one bulk decision takes. One transaction of this many decisions holds the write lock
 * for a few seconds at most (each is a handful of indexed statements); a larger cleanup is done in parts.
 */
export const BULK_DECISION_LIMIT = 10_000

/** Which leaks a bulk decision is for. */
export type BulkTarget = { ids: readonly number[] } | { filter: LeakFilter; expectedCount: number }

/** Why `input` would not move `row`, or undefined when it would. */
function refusal(row: LeakRow, input: DecisionInput): { reason: BulkSkipReason; detail: string } | undefined {
  const status = input.status ?? row.status
  if (input.action !== undefined && input.action !== row.action && status !== 'open') {
    // A closed or false-positive leak's tokens are out of the index: its action would change nothing at a node.
    return { reason: 'not_open', detail: `leak ${row.id} is ${row.status.replace('_', ' ')}: its tokens are not enforced; reopen it first` }
  }
  const riskUnchanged = input.risk === undefined || (input.risk === row.risk && row.risk_overridden === 1)
  if ((input.action ?? row.action) === row.action && status === row.status && riskUnchanged) {
    return { reason: 'unchanged', detail: `leak ${row.id} is already so` }
  }
  return undefined
}

/** Applies one decision to many leaks, in the caller's write transaction. */
export class LeakBulkDecisions {
  readonly #sql: Sql
  readonly #records: LeakRecords
  readonly #decisions: LeakDecisions

  constructor(sql: Sql, records: LeakRecords, decisions: LeakDecisions) {
    this.#sql = sql
    this.#records = records
    this.#decisions = decisions
  }

  /**
   * Decides `input` for each leak of `target` as `actor`. Call inside a write transaction: a throw
   * leaves every leak as it was.
   * @throws {BulkCountChangedError} when the filter no longer matches `expectedCount` leaks.
   * @throws {BulkTooLargeError} when the target holds more than BULK_DECISION_LIMIT leaks.
   */
  async apply(target: BulkTarget, input: DecisionInput, actor: string): Promise<BulkDecisionResult> {
    const ids = 'ids' in target ? [...new Set(target.ids)] : await this.#matching(target.filter, target.expectedCount)
    if (ids.length > BULK_DECISION_LIMIT) throw tooLarge(ids.length)
    const result: BulkDecisionResult = { matched: ids.length, changed: [], skipped: [], revision: 0 }
    for (const id of ids) {
      const row = await this.#records.byId(id)
      if (row === undefined) {
        result.skipped.push({ id, reason: 'not_found', detail: `there is no leak ${id}` })
        continue
      }
      const refused = refusal(row, input)
      if (refused !== undefined) {
        result.skipped.push({ id, ...refused })
        continue
      }
      await this.#decisions.apply(id, input, actor)
      result.changed.push(id)
    }
    result.revision = await this.#records.revision()
    return result
  }

  /** The ids the filter matches, by rising id, once their number is the one the operator confirmed. */
  async #matching(filter: LeakFilter, expectedCount: number): Promise<number[]> {
    const count = await countLeaks(this.#sql, filter)
    if (count > BULK_DECISION_LIMIT) throw tooLarge(count)
    if (count !== expectedCount) {
      throw new BulkCountChangedError(`the filter now matches ${count} leaks, not the ${expectedCount} confirmed; nothing was changed: look at the list again and confirm its count`)
    }
    const { where, params } = filterSql(this.#sql, filter)
    const rows = await this.#sql.all<{ id: number }>(`SELECT l.id AS id FROM leaks l ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY l.id ASC`, params)
    return rows.map((r) => Number(r.id))
  }
}

function tooLarge(count: number): InstanceType<typeof BulkTooLargeError> {
  return new BulkTooLargeError(`this bulk decision is for ${count} leaks; one request decides at most ${BULK_DECISION_LIMIT}: narrow the filter (or send fewer ids) and decide in parts`)
}
