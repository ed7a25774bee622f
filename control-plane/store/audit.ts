/**
 * The audit log (`decisions` table): every decision on a leak, from its creation on. Entries are
 * written by the leak operations inside their own transaction, so a leak never changes without one.
 */
import { decodeCursor, encodeCursor } from './cursor.js'
import type { Decision, DecisionState } from './leak-types.js'
import type { Sql, SqlValue } from './sql.js'

interface DecisionRow {
  id: number
  leak_id: number
  actor: string
  at: string
  from_state: string | null
  to_state: string
  comment: string | null
}

/** Filters and paging of the audit log. */
export interface AuditQuery {
  leakId?: number | undefined
  limit?: number | undefined
  cursor?: string | undefined
}

/** Appends and reads decisions. */
export class AuditLog {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** Records that `actor` moved leak `leakId` from `from` (null: it was created) to `to`. Call inside the write's transaction. */
  async append(leakId: number, actor: string, at: string, from: DecisionState | null, to: DecisionState, comment: string | undefined): Promise<void> {
    await this.#sql.run('INSERT INTO decisions (leak_id, actor, at, from_state, to_state, comment) VALUES (?, ?, ?, ?, ?, ?)',
      [leakId, actor, at, from === null ? null : JSON.stringify(from), JSON.stringify(to), comment ?? null])
  }

  /** Every decision on one leak, newest first. */
  async ofLeak(leakId: number): Promise<Decision[]> {
    return (await this.#sql.all<DecisionRow>('SELECT * FROM decisions WHERE leak_id = ? ORDER BY id DESC', [leakId])).map(toDecision)
  }

  /** One page of decisions, optionally of one leak, newest first. */
  async list(query: AuditQuery): Promise<{ items: Decision[]; nextCursor: string | null }> {
    const where: string[] = []
    const params: Record<string, SqlValue> = {}
    if (query.leakId !== undefined) { where.push('leak_id = @leakId'); params.leakId = query.leakId }
    if (query.cursor !== undefined) { where.push('id < @before'); params.before = decodeCursor(query.cursor, 'audit').id }
    const limit = query.limit ?? 50
    const rows = await this.#sql.all<DecisionRow>(`SELECT * FROM decisions ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`,
      { ...params, limit: limit + 1 })
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    return { items: page.map(toDecision), nextCursor: rows.length > limit && last !== undefined ? encodeCursor('audit', last.id, last.id) : null }
  }
}

function toDecision(row: DecisionRow): Decision {
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
