/**
 * The index every node enforces, kept in two tables: `index_entries` (what the index holds now) and
 * `changes` (every change to it, one revision each). The revision counter lives in `meta`, so it
 * keeps rising after old changes are pruned.
 *
 * The entry of a hash is derived from the open leaks holding it: `block` if any of them blocks,
 * else `monitor`; no open leak means no entry. Its `leakId` is the lowest-numbered leak with that
 * action, so the answer is stable whatever order leaks were added in.
 */
import type { Change } from '../../protocol/changes.js'
import type { LeakAction } from '../../protocol/leak.js'
import type { SnapshotEntry } from '../../protocol/snapshot.js'
import type { Sql } from './sql.js'

/** One entry of the index, with its hash in hex. */
export type IndexEntry = SnapshotEntry & { sha256: string }

interface ChangeRow {
  rev: number
  op: 'upsert' | 'delete'
  sha256: string
  action: LeakAction | null
  leak_id: number | null
}

interface EntryRow {
  sha256: string
  action: LeakAction
  leak_id: number
}

/**
 * The PostgreSQL channel a write that advanced the revision notifies: every control plane on the
 * database listens to it (`Store`), so a decision taken through one replica wakes the long-polls held by
 * the others. The payload is empty: PostgreSQL folds identical notifications of one transaction into one,
 * so a transaction that advanced the revision several times is heard once, and listeners read the
 * revision it committed (never an intermediate one).
 */
export const REVISION_CHANNEL = 'leakgate_revision'

/** Rows a batch of `entries` reads: a million entries are a hundred queries, none holding much memory. */
const ENTRY_BATCH = 10_000

/** Reads and advances the index; `refresh` must run inside the caller's write transaction. */
export class IndexLog {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** The current revision: the number of index changes ever made. */
  async revision(): Promise<number> {
    return this.#meta('revision')
  }

  /** Changes up to this revision are no longer kept: a node behind it must fetch the snapshot. */
  async prunedThrough(): Promise<number> {
    return this.#meta('pruned_through')
  }

  /**
   * Brings the entries of `hashes` in line with the leaks, logging one change each that moved.
   * Call inside a write transaction. Returns how many changes were logged.
   */
  async refresh(hashes: Iterable<string>, now: string): Promise<number> {
    const sql = this.#sql
    // The revision is read here and written below: only one write may do that at a time.
    await sql.takeWriteTurn()
    let rev = await this.revision()
    const start = rev
    for (const sha256 of new Set(hashes)) {
      // The open leaks holding the hash, blocking ones first, then the lowest id.
      const want = await sql.get<{ action: LeakAction; leak_id: number }>(`
        SELECT l.action AS action, l.id AS leak_id
        FROM tokens t JOIN leak_tokens lt ON lt.token_id = t.id JOIN leaks l ON l.id = lt.leak_id
        WHERE t.sha256 = ? AND l.status = 'open'
        ORDER BY CASE WHEN l.action = 'block' THEN 0 ELSE 1 END, l.id ASC LIMIT 1`, [sha256])
      const have = await sql.get<{ action: LeakAction; leak_id: number }>('SELECT action, leak_id FROM index_entries WHERE sha256 = ?', [sha256])
      if (want === undefined) {
        if (have === undefined) continue
        await sql.run('DELETE FROM index_entries WHERE sha256 = ?', [sha256])
        await this.#log(++rev, 'delete', sha256, null, null, now)
      } else {
        if (have !== undefined && have.action === want.action && have.leak_id === want.leak_id) continue
        await sql.run('INSERT INTO index_entries (sha256, action, leak_id) VALUES (?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET action = excluded.action, leak_id = excluded.leak_id',
          [sha256, want.action, want.leak_id])
        await this.#log(++rev, 'upsert', sha256, want.action, want.leak_id, now)
      }
    }
    if (rev !== start) {
      await this.#setMeta('revision', rev)
      // Sent inside the write transaction: PostgreSQL delivers it at commit only (never for a rollback),
      // in commit order, and once the change is visible to the listeners' next read.
      if (sql.dialect === 'postgres') await sql.get('SELECT pg_notify(?, ?)', [REVISION_CHANNEL, ''])
    }
    return rev - start
  }

  /** Up to `limit` changes after `since`, in rising revision. */
  async changesSince(since: number, limit: number): Promise<Change[]> {
    const rows = await this.#sql.all<ChangeRow>('SELECT rev, op, sha256, action, leak_id FROM changes WHERE rev > ? ORDER BY rev LIMIT ?', [since, limit])
    return rows.map((r) =>
      r.op === 'upsert'
        ? { rev: r.rev, op: 'upsert', sha256: r.sha256, action: r.action ?? 'monitor', leakId: r.leak_id ?? 0 }
        : { rev: r.rev, op: 'delete', sha256: r.sha256 },
    )
  }

  /**
   * Every entry of the index, in batches by hash (keyset paging on the primary key, so each batch is
   * an index range scan on either engine). Outside a transaction, writes may land between batches:
   * read it inside `atOneRevision` for a consistent view.
   */
  async *entries(batch = ENTRY_BATCH): AsyncGenerator<IndexEntry> {
    let after = ''
    for (;;) {
      const rows = await this.#sql.all<EntryRow>('SELECT sha256, action, leak_id FROM index_entries WHERE sha256 > ? ORDER BY sha256 LIMIT ?', [after, batch])
      for (const r of rows) yield { sha256: r.sha256, action: r.action, leakId: r.leak_id }
      const last = rows.at(-1)
      if (last === undefined || rows.length < batch) return
      after = last.sha256
    }
  }

  /**
   * Calls `fn` with the revision and the entries at that revision, in one transaction so that no write
   * lands between them. It holds the store's write turn while it runs: for the small indexes the
   * control plane encodes in-process (large ones are read by the snapshot worker, `index-reader.ts`).
   */
  async atOneRevision<T>(fn: (revision: number, entries: AsyncIterable<IndexEntry>) => Promise<T>): Promise<T> {
    // On PostgreSQL this transaction must see one snapshot for all its statements (REPEATABLE READ).
    return this.#sql.transaction(async () => fn(await this.revision(), this.entries()))
  }

  /** How many entries the index holds: the count triggers keep beside it (`migrations-index-size.ts`). */
  async size(): Promise<number> {
    return Number((await this.#sql.get<{ n: number }>('SELECT entries AS n FROM index_size'))?.n ?? 0)
  }

  /**
   * Forgets changes beyond the newest `keep`. Returns the new pruned-through revision. Both marks are
   * read inside the write transaction, so replicas pruning at once take turns and the later ones find
   * the work done.
   */
  async prune(keep: number): Promise<number> {
    return this.#sql.transaction(async () => {
      const through = (await this.revision()) - keep
      const pruned = await this.prunedThrough()
      if (through <= pruned) return pruned
      await this.#sql.run('DELETE FROM changes WHERE rev <= ?', [through])
      await this.#setMeta('pruned_through', through)
      return through
    })
  }

  async #meta(key: string): Promise<number> {
    return (await this.#sql.get<{ value: number }>('SELECT value FROM meta WHERE key = ?', [key]))?.value ?? 0
  }

  async #setMeta(key: string, value: number): Promise<void> {
    await this.#sql.run('UPDATE meta SET value = ? WHERE key = ?', [value, key])
  }

  async #log(rev: number, op: 'upsert' | 'delete', sha256: string, action: LeakAction | null, leakId: number | null, at: string): Promise<void> {
    await this.#sql.run('INSERT INTO changes (rev, op, sha256, action, leak_id, at) VALUES (?, ?, ?, ?, ?, ?)', [rev, op, sha256, action, leakId, at])
  }
}
