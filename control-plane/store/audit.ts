/** The audit log: every decision, newest first. */
import type Database from 'better-sqlite3'
import { decodeCursor, encodeCursor } from './cursor.js'
import { toDecision, type Decision } from './leaks.js'

/** One page of decisions, optionally of one leak. */
export function listDecisions(
  db: Database.Database,
  query: { leakId?: number | undefined; limit?: number | undefined; cursor?: string | undefined },
): { items: Decision[]; nextCursor: string | null } {
  const where: string[] = []
  const params: Record<string, unknown> = {}
  if (query.leakId !== undefined) { where.push('leak_id = @leakId'); params.leakId = query.leakId }
  if (query.cursor !== undefined) { where.push('id < @before'); params.before = decodeCursor(query.cursor, 'audit').id }
  const limit = query.limit ?? 50
  const rows = db.prepare(`SELECT * FROM decisions ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`)
    .all({ ...params, limit: limit + 1 }) as Parameters<typeof toDecision>[0][]
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return { items: page.map(toDecision), nextCursor: rows.length > limit && last !== undefined ? encodeCursor('audit', last.id, last.id) : null }
}
