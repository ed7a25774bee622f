/**
 * What watching public sources keeps (migration 15): each source's cursor and state, the content
 * already scanned (by SHA-256), and the public places each leak's token was seen at. The runner
 * (control-plane/public-sources/runner.ts) writes a batch's leaks, its seen content and its cursor's
 * advance in one transaction, so a crash leaves all of it or none.
 */
import type { LeakLocation } from './leak-types.js'
import type { Sql } from './sql.js'

/** What a source says of itself after a read: budgets, pace, how far behind it is. Free-form beyond these. */
export interface PublicSourceState {
  /** Requests left in the API's rate-limit window. */
  rateLimitRemaining?: number
  /** When the window resets (ISO-8601). */
  rateLimitResetAt?: string
  /** How long the API asks to wait between polls. */
  pollIntervalSeconds?: number
  /** No request before this time (a 403/429's Retry-After, an exhausted budget, the poll interval). */
  nextPollAt?: string
  /** How old the newest content handled was when handled (seconds). */
  lagSeconds?: number
  /** Anything else the source keeps between reads (an ETag...). */
  [key: string]: unknown
}

/** A source's row, as the console and metrics show it. */
export interface PublicSourceCursor {
  sourceId: string
  /** Where the source stopped; null before its first batch. */
  cursor: string | null
  /** Rises with each advance (two workers cannot both commit the same batch). */
  version: number
  state: PublicSourceState
  lastError: string | null
  /** Units scanned and their bytes, since the source started. */
  units: number
  bytes: number
  updatedAt: string
  /** The worker running this source or shard now (its lease), or null when none holds it. */
  leaseOwner: string | null
  /** Until when the lease holds unless renewed (ISO-8601); past it, another worker may take the row. */
  leaseUntil: string | null
  /** Reads and commits that failed, since the source started. */
  errors: number
}

/** One public place a leak's token was seen at. */
export interface PublicPlace {
  sourceId: string
  location: LeakLocation
  seenAt: string
}

interface CursorRow {
  source_id: string
  cursor: string | null
  version: number
  state: string
  last_error: string | null
  units: number
  bytes: number
  updated_at: string
  lease_owner: string | null
  lease_until: string | null
  errors: number
}

/** Hashes a statement's IN list takes at once (both engines' parameter limits are far above). */
const IN_CHUNK = 500

/** Cursors, seen content and public places. */
export class PublicSourceRepo {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** Source `sourceId`'s row, or undefined before its first batch or error. */
  async cursor(sourceId: string): Promise<PublicSourceCursor | undefined> {
    const row = await this.#sql.get<CursorRow>('SELECT * FROM public_source_cursors WHERE source_id = ?', [sourceId])
    return row === undefined ? undefined : toCursor(row)
  }

  /** Every source's row, by id. */
  async list(): Promise<PublicSourceCursor[]> {
    return (await this.#sql.all<CursorRow>('SELECT * FROM public_source_cursors ORDER BY source_id')).map(toCursor)
  }

  /**
   * Moves the cursor from `version` to `cursor` (version + 1), with the batch's state and counts, and
   * clears the last error. False when the row is no longer at `version` (another worker committed a
   * batch since): the caller rolls its transaction back.
   */
  async advance(sourceId: string, version: number, next: { cursor: string | null; state: PublicSourceState; units: number; bytes: number }, now: string): Promise<boolean> {
    const params = { sourceId, version, cursor: next.cursor, state: JSON.stringify(next.state), units: next.units, bytes: next.bytes, now }
    if (version === 0) {
      const inserted = await this.#sql.run(`
        INSERT INTO public_source_cursors (source_id, cursor, version, state, last_error, units, bytes, updated_at)
        VALUES (@sourceId, @cursor, 1, @state, NULL, @units, @bytes, @now)
        ON CONFLICT (source_id) DO UPDATE SET cursor = excluded.cursor, version = 1, state = excluded.state,
          last_error = NULL, units = public_source_cursors.units + excluded.units, bytes = public_source_cursors.bytes + excluded.bytes,
          updated_at = excluded.updated_at
        WHERE public_source_cursors.version = 0`, params)
      return inserted.changes === 1
    }
    const updated = await this.#sql.run(`
      UPDATE public_source_cursors SET cursor = @cursor, version = version + 1, state = @state, last_error = NULL,
        units = units + @units, bytes = bytes + @bytes, updated_at = @now
      WHERE source_id = @sourceId AND version = @version`, params)
    return updated.changes === 1
  }

  /**
   * Records that a read or a batch failed: the message (and the state, when the source said more, such
   * as a rate limit), never the cursor, which stays where the last committed batch left it.
   */
  async recordError(sourceId: string, message: string, state: PublicSourceState | undefined, now: string): Promise<void> {
    await this.#sql.transaction(async () => {
      await this.#sql.run(`
        INSERT INTO public_source_cursors (source_id, cursor, version, state, last_error, units, bytes, updated_at, errors)
        VALUES (@sourceId, NULL, 0, @state, @message, 0, 0, @now, 1)
        ON CONFLICT (source_id) DO UPDATE SET last_error = excluded.last_error, updated_at = excluded.updated_at,
          errors = public_source_cursors.errors + 1,
          state = CASE WHEN @keepState = 1 THEN public_source_cursors.state ELSE excluded.state END`,
      { sourceId, message: message.slice(0, 1000), state: JSON.stringify(state ?? {}), keepState: state === undefined ? 1 : 0, now })
    }, { durability: 'relaxed' })
  }

  /**
   * Takes the lease on row `sourceId` (a source's or a shard's; made when missing) for `owner` until
   * `until`, when it is free, past (`now` or earlier), or `owner`'s already. One statement, so of two
   * workers asking at once exactly one gets it. True when `owner` holds it now.
   */
  async takeLease(sourceId: string, owner: string, until: string, now: string): Promise<boolean> {
    const taken = await this.#sql.run(`
      INSERT INTO public_source_cursors (source_id, cursor, version, state, last_error, units, bytes, updated_at, lease_owner, lease_until)
      VALUES (@sourceId, NULL, 0, '{}', NULL, 0, 0, @now, @owner, @until)
      ON CONFLICT (source_id) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
      WHERE public_source_cursors.lease_owner IS NULL OR public_source_cursors.lease_until IS NULL
        OR public_source_cursors.lease_until <= @now OR public_source_cursors.lease_owner = @owner`,
    { sourceId, owner, until, now })
    return taken.changes === 1
  }

  /**
   * Moves `owner`'s lease on `sourceId` to `until`. False when another worker holds it now (it took the
   * row after this lease ran out): the caller stops running it.
   */
  async renewLease(sourceId: string, owner: string, until: string): Promise<boolean> {
    const renewed = await this.#sql.run('UPDATE public_source_cursors SET lease_until = @until WHERE source_id = @sourceId AND lease_owner = @owner', { sourceId, owner, until })
    return renewed.changes === 1
  }

  /** Frees `owner`'s lease on `sourceId` (nothing when another worker holds it). */
  async releaseLease(sourceId: string, owner: string): Promise<void> {
    await this.#sql.run('UPDATE public_source_cursors SET lease_owner = NULL, lease_until = NULL WHERE source_id = @sourceId AND lease_owner = @owner', { sourceId, owner })
  }

  /** Of `hashes` (content SHA-256s), those never scanned. */
  async unseen(hashes: readonly string[]): Promise<Set<string>> {
    const out = new Set(hashes)
    const all = [...out]
    for (let i = 0; i < all.length; i += IN_CHUNK) {
      const chunk = all.slice(i, i + IN_CHUNK)
      const rows = await this.#sql.all<{ h: string }>(`SELECT content_sha256 AS h FROM public_seen_content WHERE content_sha256 IN (${chunk.map(() => '?').join(', ')})`, chunk)
      for (const r of rows) out.delete(r.h)
    }
    return out
  }

  /** Marks content as scanned (in the batch's transaction). */
  async markSeen(hashes: Iterable<string>, sourceId: string, now: string): Promise<void> {
    for (const h of hashes) {
      await this.#sql.run('INSERT INTO public_seen_content (content_sha256, source_id, seen_at) VALUES (?, ?, ?) ON CONFLICT (content_sha256) DO NOTHING', [h, sourceId, now])
    }
  }

  /** Adds a public place to leak `leakId`; a place it has already (same key) stays as first seen. */
  async addPlace(leakId: number, placeKey: string, sourceId: string, location: LeakLocation, now: string): Promise<void> {
    await this.#sql.run(`
      INSERT INTO public_places (leak_id, place_key, source_id, location, seen_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (leak_id, place_key) DO NOTHING`, [leakId, placeKey, sourceId, JSON.stringify(location), now])
  }

  /** The public places of leak `leakId`, first seen first (at most `limit`). */
  async placesOf(leakId: number, limit = 100): Promise<PublicPlace[]> {
    const rows = await this.#sql.all<{ source_id: string; location: string; seen_at: string }>(
      'SELECT source_id, location, seen_at FROM public_places WHERE leak_id = ? ORDER BY id LIMIT ?', [leakId, limit])
    return rows.map((r) => ({ sourceId: r.source_id, location: JSON.parse(r.location) as LeakLocation, seenAt: r.seen_at }))
  }
}

function toCursor(row: CursorRow): PublicSourceCursor {
  return {
    sourceId: row.source_id, cursor: row.cursor, version: row.version, state: JSON.parse(row.state) as PublicSourceState,
    lastError: row.last_error, units: row.units, bytes: row.bytes, updatedAt: row.updated_at,
    leaseOwner: row.lease_owner, leaseUntil: row.lease_until, errors: row.errors,
  }
}
