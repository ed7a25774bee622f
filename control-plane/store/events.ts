/**
 * Events: what happened to leaks, scans and nodes, recorded in the store in the same write transaction
 * as the change they announce (an outbox). Whatever consumes them (webhook deliveries) reads this table,
 * so an event survives a crash between the change and its delivery, and a change that rolled back
 * announces nothing. An event's data holds token hashes and previews, never a raw token.
 */
import type { Sql } from './sql.js'

/** Every event type, as webhook endpoints subscribe to them. */
export const EVENT_TYPES = [
  'leak.created',
  'leak.decided',
  'leak.sighted',
  'leak.risk_changed',
  'leak.rotation_requested',
  'leak.rotated',
  'scan.finished',
  'node.stale',
] as const

/** One event type. */
export type EventType = (typeof EVENT_TYPES)[number]

/** What a producer records. */
export interface NewEvent {
  type: EventType
  /** The leak the event is about, if any. */
  leakId?: number
  /** Type-specific details (JSON-serializable; hashes and previews only). */
  data?: Readonly<Record<string, unknown>>
}

/** A recorded event. */
export interface StoredEvent {
  id: number
  type: EventType
  leakId: number | null
  data: Record<string, unknown>
  at: string
}

/**
 * Records `event` as part of the caller's write transaction (it throws outside one: an event written
 * apart from its change could announce a change that never happened, or be lost after one that did).
 */
export async function recordEvent(sql: Sql, event: NewEvent): Promise<void> {
  if (!sql.inTransaction) throw new Error(`event ${event.type} must be recorded inside the write transaction of its change`)
  await sql.run('INSERT INTO events (type, leak_id, data, at) VALUES (?, ?, ?, ?)',
    [event.type, event.leakId ?? null, JSON.stringify(event.data ?? {}), new Date().toISOString()])
}

/** The events after `afterId`, oldest first, at most `limit`. */
export async function eventsAfter(sql: Sql, afterId: number, limit: number): Promise<StoredEvent[]> {
  const rows = await sql.all<{ id: number; type: EventType; leak_id: number | null; data: string; at: string }>(
    'SELECT id, type, leak_id, data, at FROM events WHERE id > ? ORDER BY id LIMIT ?', [afterId, limit])
  return rows.map((r) => ({ id: r.id, type: r.type, leakId: r.leak_id, data: JSON.parse(r.data) as Record<string, unknown>, at: r.at }))
}

/** Reads the events, for whatever follows them live (the console's event stream). */
export class EventLog {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** The newest event's id (0 when there is none): a new follower starts after it. */
  async latestId(): Promise<number> {
    return (await this.#sql.get<{ id: number | null }>('SELECT max(id) AS id FROM events'))?.id ?? 0
  }

  /** The events after `afterId`, oldest first, at most `limit`. */
  async after(afterId: number, limit: number): Promise<StoredEvent[]> {
    return eventsAfter(this.#sql, afterId, limit)
  }
}
