/**
 * Events about a leak carry the leak as it was when the event was recorded (read in the same write
 * transaction), so a delivery made minutes later, or after a restart, tells what happened then and not
 * what the leak has become since. The snapshot holds token hashes and previews, never a raw token.
 */
import { recordEvent, type EventType } from './events.js'
import type { Sql } from './sql.js'

/** Tokens listed in an event's leak (the count says how many it holds). */
const MAX_EVENT_TOKENS = 20

/** A leak as events carry it. */
export interface LeakSnapshot {
  id: number
  title: string
  source: string
  kind: string | null
  location: Record<string, unknown>
  risk: string
  action: string
  status: string
  /** Its first tokens (hash and preview); `tokenCount` tells how many it holds. */
  tokens: { sha256: string; preview: string }[]
  tokenCount: number
}

/** Leak `leakId` as an event carries it, or undefined when there is no such leak. */
export async function leakSnapshot(sql: Sql, leakId: number): Promise<LeakSnapshot | undefined> {
  const row = await sql.get<{ id: number; title: string; source: string; kind: string | null; location: string; risk: string; action: string; status: string }>(
    'SELECT id, title, source, kind, location, risk, action, status FROM leaks WHERE id = ?', [leakId])
  if (row === undefined) return undefined
  const tokens = await sql.all<{ sha256: string; preview: string }>(`
    SELECT t.sha256, t.preview FROM leak_tokens lt JOIN tokens t ON t.id = lt.token_id
    WHERE lt.leak_id = ? ORDER BY t.id LIMIT ?`, [leakId, MAX_EVENT_TOKENS])
  const count = (await sql.get<{ n: number }>('SELECT count(*) AS n FROM leak_tokens WHERE leak_id = ?', [leakId]))?.n ?? 0
  return {
    id: row.id, title: row.title, source: row.source, kind: row.kind, location: JSON.parse(row.location) as Record<string, unknown>,
    risk: row.risk, action: row.action, status: row.status, tokens, tokenCount: count,
  }
}

/** Records an event about leak `leakId` with its snapshot beside `data`. Call inside the change's write transaction. */
export async function recordLeakEvent(sql: Sql, type: EventType, leakId: number, data: Readonly<Record<string, unknown>> = {}): Promise<void> {
  const leak = await leakSnapshot(sql, leakId)
  await recordEvent(sql, { type, leakId, data: { ...data, ...(leak === undefined ? {} : { leak }) } })
}
