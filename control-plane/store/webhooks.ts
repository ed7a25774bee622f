/**
 * Webhook endpoints and their deliveries. Events (the outbox, events.ts) are fanned out to the
 * endpoints subscribed to them as delivery rows; a delivery is then claimed, sent and its outcome
 * recorded. With several control planes on one PostgreSQL database:
 * - fan-out: a delivery is unique per (endpoint, event), so an event fanned out by two replicas at once
 *   still makes one delivery an endpoint;
 * - sending: a replica claims a due delivery with a conditional update that sets a lease (a row another
 *   replica holds, or has already delivered, is not claimed), so one replica sends it; a replica that
 *   dies holding one leaves it to be claimed again once the lease ends.
 * Secrets are stored (they are needed to sign) and never answered but once, when made.
 */
import type { EventType, StoredEvent } from './events.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { leakSnapshot } from './leak-events.js'
import type { Sql } from './sql.js'

/** Rows a pruning transaction deletes at most. */
const PRUNE_BATCH = 1000

/** How an endpoint wants its deliveries: Leakgate's JSON, or a Slack incoming-webhook message. */
export type WebhookFormat = 'json' | 'slack'

/** An endpoint as the API shows it (never its secret). */
export interface WebhookEndpoint {
  id: number
  url: string
  description: string | null
  events: EventType[]
  format: WebhookFormat
  enabled: boolean
  /** Until when the previous secret still signs (after a rotation), or null. */
  previousSecretExpiresAt: string | null
  createdAt: string
  updatedAt: string
}

/** What makes or changes an endpoint. */
export interface WebhookInput {
  url: string
  description?: string | null | undefined
  events: readonly EventType[]
  format?: WebhookFormat | undefined
  enabled?: boolean | undefined
}

/** A delivery's state. */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

/** A delivery as the API shows it. */
export interface WebhookDelivery {
  id: number
  webhookId: number
  eventId: number
  eventType: EventType
  status: DeliveryStatus
  attempts: number
  responseCode: number | null
  durationMs: number | null
  lastError: string | null
  nextAttemptAt: string | null
  createdAt: string
  deliveredAt: string | null
}

/** A delivery claimed to be sent: what to send, where, and the secrets to sign with. */
export interface ClaimedDelivery {
  id: number
  eventId: number
  eventType: EventType
  url: string
  payload: string
  /** The attempt this is (1 for the first). */
  attempt: number
  giveUpAt: string
  secrets: string[]
}

/** The outcome of one attempt. */
export interface AttemptOutcome {
  ok: boolean
  responseCode: number | null
  durationMs: number
  error: string | null
  /** When to try again (undefined: no more attempts; a failure then fails the delivery). */
  retryAt?: string | undefined
}

interface WebhookRow {
  id: number
  url: string
  description: string | null
  events: string
  format: WebhookFormat
  enabled: number
  secret: string
  previous_secret: string | null
  previous_secret_until: string | null
  from_event_id: number
  created_at: string
  updated_at: string
}

interface DeliveryRow {
  id: number
  webhook_id: number
  event_id: number
  event_type: EventType
  status: DeliveryStatus
  attempts: number
  response_code: number | null
  duration_ms: number | null
  last_error: string | null
  next_attempt_at: string
  created_at: string
  delivered_at: string | null
}

const CURSOR_KEY = 'deliveryId'

function toEndpoint(r: WebhookRow, now: string): WebhookEndpoint {
  const overlap = r.previous_secret_until !== null && r.previous_secret_until > now ? r.previous_secret_until : null
  return {
    id: r.id, url: r.url, description: r.description, events: JSON.parse(r.events) as EventType[], format: r.format,
    enabled: r.enabled === 1, previousSecretExpiresAt: overlap, createdAt: r.created_at, updatedAt: r.updated_at,
  }
}

function toDelivery(r: DeliveryRow): WebhookDelivery {
  return {
    id: r.id, webhookId: r.webhook_id, eventId: r.event_id, eventType: r.event_type, status: r.status, attempts: r.attempts,
    responseCode: r.response_code, durationMs: r.duration_ms, lastError: r.last_error,
    nextAttemptAt: r.status === 'pending' ? r.next_attempt_at : null, createdAt: r.created_at, deliveredAt: r.delivered_at,
  }
}

/** The webhooks and webhook_deliveries tables' operations. */
export class WebhookRepo {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** Makes an endpoint signing with `secret`; it receives the events recorded from now on. */
  async create(input: WebhookInput, secret: string): Promise<WebhookEndpoint> {
    const sql = this.#sql
    return sql.transaction(async () => {
      const now = new Date().toISOString()
      const newest = (await sql.get<{ id: number | null }>('SELECT max(id) AS id FROM events'))?.id ?? 0
      const row = await sql.get<WebhookRow>(`
        INSERT INTO webhooks (url, description, events, format, enabled, secret, from_event_id, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [input.url, input.description ?? null, JSON.stringify(input.events), input.format ?? 'json', input.enabled === false ? 0 : 1, secret, newest, now, now])
      if (row === undefined) throw new Error('INSERT ... RETURNING returned no row')
      return toEndpoint(row, now)
    })
  }

  /** Every endpoint, by id. */
  async list(): Promise<WebhookEndpoint[]> {
    const now = new Date().toISOString()
    return (await this.#sql.all<WebhookRow>('SELECT * FROM webhooks ORDER BY id')).map((r) => toEndpoint(r, now))
  }

  /** One endpoint, or undefined. */
  async get(id: number): Promise<WebhookEndpoint | undefined> {
    const row = await this.#sql.get<WebhookRow>('SELECT * FROM webhooks WHERE id = ?', [id])
    return row === undefined ? undefined : toEndpoint(row, new Date().toISOString())
  }

  /** Changes what `patch` gives; undefined when there is no such endpoint. */
  async update(id: number, patch: Partial<WebhookInput>): Promise<WebhookEndpoint | undefined> {
    const sql = this.#sql
    return sql.transaction(async () => {
      const row = await sql.get<WebhookRow>('SELECT * FROM webhooks WHERE id = ?', [id])
      if (row === undefined) return undefined
      const now = new Date().toISOString()
      const updated = await sql.get<WebhookRow>(`
        UPDATE webhooks SET url = @url, description = @description, events = @events, format = @format, enabled = @enabled, updated_at = @now
        WHERE id = @id RETURNING *`, {
        id, now, url: patch.url ?? row.url,
        description: patch.description === undefined ? row.description : patch.description,
        events: patch.events === undefined ? row.events : JSON.stringify(patch.events),
        format: patch.format ?? row.format, enabled: patch.enabled === undefined ? row.enabled : patch.enabled ? 1 : 0,
      })
      return updated === undefined ? undefined : toEndpoint(updated, now)
    })
  }

  /** Removes an endpoint and its deliveries; false when there is no such endpoint. */
  async remove(id: number): Promise<boolean> {
    return this.#sql.transaction(async () => {
      await this.#sql.run('DELETE FROM webhook_deliveries WHERE webhook_id = ?', [id])
      return (await this.#sql.run('DELETE FROM webhooks WHERE id = ?', [id])).changes > 0
    })
  }

  /**
   * Replaces an endpoint's secret with `secret`; the old one keeps signing beside it until `overlapUntil`
   * (receivers switch over meanwhile). Undefined when there is no such endpoint.
   */
  async rotateSecret(id: number, secret: string, overlapUntil: string): Promise<WebhookEndpoint | undefined> {
    const now = new Date().toISOString()
    const row = await this.#sql.transaction(async () => this.#sql.get<WebhookRow>(`
      UPDATE webhooks SET previous_secret = secret, previous_secret_until = ?, secret = ?, updated_at = ?
      WHERE id = ? RETURNING *`, [overlapUntil, secret, now, id]))
    return row === undefined ? undefined : toEndpoint(row, now)
  }

  /**
   * Turns the events not fanned out yet (at most `limit`, oldest first) into deliveries for the enabled
   * endpoints subscribed to them, in one transaction, and flags them; `payloadOf` makes the body an
   * endpoint is sent. Returns how many events were read (less than `limit`: caught up).
   */
  async fanOut(limit: number, giveUpSeconds: number, payloadOf: (event: StoredEvent, format: WebhookFormat) => Promise<string>): Promise<number> {
    const sql = this.#sql
    // Most passes find none: a read first spares them a write transaction.
    if (await sql.get('SELECT 1 AS x FROM events WHERE fanned_out = 0 LIMIT 1') === undefined) return 0
    return sql.transaction(async () => {
      const rows = await sql.all<{ id: number; type: EventType; leak_id: number | null; data: string; at: string }>(
        'SELECT id, type, leak_id, data, at FROM events WHERE fanned_out = 0 ORDER BY id LIMIT ?', [limit])
      if (rows.length === 0) return 0
      const endpoints = await sql.all<WebhookRow>('SELECT * FROM webhooks WHERE enabled = 1 ORDER BY id')
      const now = new Date()
      const giveUpAt = new Date(now.getTime() + giveUpSeconds * 1000).toISOString()
      for (const r of rows) {
        const event: StoredEvent = { id: r.id, type: r.type, leakId: r.leak_id, data: JSON.parse(r.data) as Record<string, unknown>, at: r.at }
        // An event recorded without the leak (by a producer that gives only its id) gets the leak as it is now.
        if (event.leakId !== null && event.data.leak === undefined) {
          const leak = await leakSnapshot(sql, event.leakId)
          if (leak !== undefined) event.data = { ...event.data, leak }
        }
        for (const e of endpoints) {
          if (e.from_event_id >= event.id || !(JSON.parse(e.events) as string[]).includes(event.type)) continue
          await sql.run(`
            INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, status, attempts, next_attempt_at, created_at, give_up_at)
            VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (webhook_id, event_id) DO NOTHING`,
          [e.id, event.id, event.type, await payloadOf(event, e.format), now.toISOString(), now.toISOString(), giveUpAt])
        }
        // A replica that fanned out the same event meanwhile made the same rows: the unique key kept them single.
        await sql.run('UPDATE events SET fanned_out = 1 WHERE id = ?', [event.id])
      }
      return rows.length
    })
  }

  /** Ids of deliveries due at `now` and not held by a live lease, oldest due first, at most `limit`. */
  async due(now: string, limit: number): Promise<number[]> {
    const rows = await this.#sql.all<{ id: number }>(`
      SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?
        AND (leased_until IS NULL OR leased_until < ?) ORDER BY next_attempt_at, id LIMIT ?`, [now, now, limit])
    return rows.map((r) => r.id)
  }

  /**
   * Claims delivery `id` until `leaseUntil` and counts the attempt; undefined when another replica holds
   * it, it is no longer due, or its endpoint is gone or disabled.
   */
  async claim(id: number, now: string, leaseUntil: string): Promise<ClaimedDelivery | undefined> {
    const sql = this.#sql
    return sql.transaction(async () => {
      const { changes } = await sql.run(`
        UPDATE webhook_deliveries SET leased_until = ?, attempts = attempts + 1
        WHERE id = ? AND status = 'pending' AND next_attempt_at <= ? AND (leased_until IS NULL OR leased_until < ?)`,
      [leaseUntil, id, now, now])
      if (changes === 0) return undefined
      const row = await sql.get<{ event_id: number; event_type: EventType; payload: string; attempts: number; give_up_at: string; url: string; enabled: number; secret: string; previous_secret: string | null; previous_secret_until: string | null }>(`
        SELECT d.event_id, d.event_type, d.payload, d.attempts, d.give_up_at, w.url, w.enabled, w.secret, w.previous_secret, w.previous_secret_until
        FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ?`, [id])
      if (row === undefined || row.enabled !== 1) {
        // A disabled endpoint's deliveries wait (unleased, the attempt not counted) until it is enabled or they expire.
        await sql.run('UPDATE webhook_deliveries SET leased_until = NULL, attempts = attempts - 1 WHERE id = ?', [id])
        return undefined
      }
      const secrets = [row.secret]
      if (row.previous_secret !== null && row.previous_secret_until !== null && row.previous_secret_until > now) secrets.push(row.previous_secret)
      return { id, eventId: row.event_id, eventType: row.event_type, url: row.url, payload: row.payload, attempt: row.attempts, giveUpAt: row.give_up_at, secrets }
    })
  }

  /** Records an attempt's outcome and ends the lease: delivered, due again at `retryAt`, or failed. */
  async recordAttempt(id: number, outcome: AttemptOutcome): Promise<DeliveryStatus> {
    const now = new Date().toISOString()
    const status: DeliveryStatus = outcome.ok ? 'delivered' : outcome.retryAt === undefined ? 'failed' : 'pending'
    await this.#sql.transaction(async () => this.#sql.run(`
      UPDATE webhook_deliveries SET status = @status, leased_until = NULL, response_code = @code, duration_ms = @duration,
        last_error = @error, next_attempt_at = @next, delivered_at = @deliveredAt WHERE id = @id`, {
      id, status, code: outcome.responseCode, duration: Math.round(outcome.durationMs), error: outcome.error,
      next: outcome.retryAt ?? now, deliveredAt: outcome.ok ? now : null,
    }))
    return status
  }

  /** Fails pending deliveries past their give-up time that no one holds; returns how many. */
  async expire(now: string): Promise<number> {
    return (await this.#sql.transaction(async () => this.#sql.run(`
      UPDATE webhook_deliveries SET status = 'failed', last_error = coalesce(last_error, 'not delivered before giving up')
      WHERE status = 'pending' AND give_up_at < ? AND (leased_until IS NULL OR leased_until < ?)`, [now, now]))).changes
  }

  /**
   * Deletes what is older than `before` and done with: events already fanned out, and deliveries no
   * longer pending (delivered or given up; a redelivery of those is no longer offered). In batches of
   * their own transactions, so a large backlog never holds the write turn long. Returns how many of each.
   */
  async prune(before: string): Promise<{ events: number; deliveries: number }> {
    const batch = async (statement: string): Promise<number> => {
      let total = 0
      for (;;) {
        const { changes } = await this.#sql.transaction(async () => this.#sql.run(statement, [before, PRUNE_BATCH]))
        total += changes
        if (changes < PRUNE_BATCH) return total
      }
    }
    const events = await batch('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE fanned_out = 1 AND at < ? ORDER BY id LIMIT ?)')
    const deliveries = await batch(`DELETE FROM webhook_deliveries WHERE id IN
      (SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ? ORDER BY id LIMIT ?)`)
    return { events, deliveries }
  }

  /**
   * Queues delivery `id` again (whatever its state): due now, its attempts reset, given `giveUpSeconds`
   * more. Undefined when there is no such delivery.
   */
  async redeliver(id: number, giveUpSeconds: number): Promise<WebhookDelivery | undefined> {
    const now = new Date()
    const row = await this.#sql.transaction(async () => this.#sql.get<DeliveryRow>(`
      UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, leased_until = NULL,
        give_up_at = ?, delivered_at = NULL WHERE id = ? RETURNING *`,
    [now.toISOString(), new Date(now.getTime() + giveUpSeconds * 1000).toISOString(), id]))
    return row === undefined ? undefined : toDelivery(row)
  }

  /** One delivery, or undefined. */
  async delivery(id: number): Promise<WebhookDelivery | undefined> {
    const row = await this.#sql.get<DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?', [id])
    return row === undefined ? undefined : toDelivery(row)
  }

  /** An endpoint's deliveries, newest first, a page of `limit` after `cursor`. */
  async deliveries(webhookId: number, limit: number, cursor?: string): Promise<{ items: WebhookDelivery[]; nextCursor: string | null }> {
    const before = cursor === undefined ? Number.MAX_SAFE_INTEGER : Number(decodeCursor(cursor, CURSOR_KEY).value)
    const rows = await this.#sql.all<DeliveryRow>(
      'SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND id < ? ORDER BY id DESC LIMIT ?', [webhookId, before, limit + 1])
    const items = rows.slice(0, limit).map(toDelivery)
    const last = items.at(-1)
    return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(CURSOR_KEY, last.id, 0) : null }
  }

  /** Deliveries waiting to be sent (pending), for the queue-depth gauge. */
  async pendingCount(): Promise<number> {
    return (await this.#sql.get<{ n: number }>("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'"))?.n ?? 0
  }
}
