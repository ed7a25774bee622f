/**
 * The index every node enforces, kept in two tables: `index_entries` (what the index holds now) and
 * `changes` (every change to it, one revision each). The revision counter lives in `meta`, so it
 * keeps rising after old changes are pruned.
 *
 * The entry of a hash is derived from the open leaks holding it: `block` if any of them blocks,
 * else `monitor`; no open leak means no entry. Its `leakId` is the lowest-numbered leak with that
 * action, so the answer is stable whatever order leaks were added in.
 */
import type Database from 'better-sqlite3'
import type { Change } from '../../protocol/changes.js'
import type { LeakAction } from '../../protocol/leak.js'
import type { SnapshotEntry } from '../../protocol/snapshot.js'

/** One entry of the index, with its hash in hex. */
export type IndexEntry = SnapshotEntry & { sha256: string }

interface ChangeRow {
  rev: number
  op: 'upsert' | 'delete'
  sha256: string
  action: LeakAction | null
  leak_id: number | null
}

/** Reads and advances the index; `refresh` must run inside the caller's write transaction. */
export class IndexLog {
  readonly #db: Database.Database
  readonly #stmts

  constructor(db: Database.Database) {
    this.#db = db
    this.#stmts = {
      meta: db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('UPDATE meta SET value = ? WHERE key = ?'),
      want: db.prepare<[string], { action: LeakAction; leak_id: number }>(`
        SELECT l.action AS action, l.id AS leak_id
        FROM tokens t JOIN leak_tokens lt ON lt.token_id = t.id JOIN leaks l ON l.id = lt.leak_id
        WHERE t.sha256 = ? AND l.status = 'open'
        ORDER BY (l.action = 'block') DESC, l.id ASC LIMIT 1`),
      have: db.prepare<[string], { action: LeakAction; leak_id: number }>('SELECT action, leak_id FROM index_entries WHERE sha256 = ?'),
      put: db.prepare('INSERT INTO index_entries (sha256, action, leak_id) VALUES (?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET action = excluded.action, leak_id = excluded.leak_id'),
      del: db.prepare('DELETE FROM index_entries WHERE sha256 = ?'),
      log: db.prepare('INSERT INTO changes (rev, op, sha256, action, leak_id, at) VALUES (?, ?, ?, ?, ?, ?)'),
      since: db.prepare<[number, number], ChangeRow>('SELECT rev, op, sha256, action, leak_id FROM changes WHERE rev > ? ORDER BY rev LIMIT ?'),
      entries: db.prepare<[], { sha256: string; action: LeakAction; leak_id: number }>('SELECT sha256, action, leak_id FROM index_entries'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM index_entries'),
      prune: db.prepare('DELETE FROM changes WHERE rev <= ?'),
    }
  }

  /** The current revision: the number of index changes ever made. */
  revision(): number {
    return this.#stmts.meta.get('revision')?.value ?? 0
  }

  /** Changes up to this revision are no longer kept: a node behind it must fetch the snapshot. */
  prunedThrough(): number {
    return this.#stmts.meta.get('pruned_through')?.value ?? 0
  }

  /**
   * Brings the entries of `hashes` in line with the leaks, logging one change each that moved.
   * Call inside a write transaction. Returns how many changes were logged.
   */
  refresh(hashes: Iterable<string>, now: string): number {
    let rev = this.revision()
    const start = rev
    for (const sha256 of new Set(hashes)) {
      const want = this.#stmts.want.get(sha256)
      const have = this.#stmts.have.get(sha256)
      if (want === undefined) {
        if (have === undefined) continue
        this.#stmts.del.run(sha256)
        this.#stmts.log.run(++rev, 'delete', sha256, null, null, now)
      } else {
        if (have !== undefined && have.action === want.action && have.leak_id === want.leak_id) continue
        this.#stmts.put.run(sha256, want.action, want.leak_id)
        this.#stmts.log.run(++rev, 'upsert', sha256, want.action, want.leak_id, now)
      }
    }
    if (rev !== start) this.#stmts.setMeta.run(rev, 'revision')
    return rev - start
  }

  /** Up to `limit` changes after `since`, in rising revision. */
  changesSince(since: number, limit: number): Change[] {
    return this.#stmts.since.all(since, limit).map((r) =>
      r.op === 'upsert'
        ? { rev: r.rev, op: 'upsert', sha256: r.sha256, action: r.action ?? 'monitor', leakId: r.leak_id ?? 0 }
        : { rev: r.rev, op: 'delete', sha256: r.sha256 },
    )
  }

  /** Every entry of the index now (iterated from SQLite, not loaded at once). */
  *entries(): IterableIterator<IndexEntry> {
    for (const r of this.#stmts.entries.iterate()) yield { sha256: r.sha256, action: r.action, leakId: r.leak_id }
  }

  /** How many entries the index holds. */
  size(): number {
    return this.#stmts.count.get()?.n ?? 0
  }

  /** Forgets changes beyond the newest `keep`. Returns the new pruned-through revision. */
  prune(keep: number): number {
    const through = this.revision() - keep
    if (through <= this.prunedThrough()) return this.prunedThrough()
    this.#db.transaction(() => {
      this.#stmts.prune.run(through)
      this.#stmts.setMeta.run(through, 'pruned_through')
    }).immediate()
    return through
  }
}
