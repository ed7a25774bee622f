/** The node fleet: each node's last heartbeat. */
import type Database from 'better-sqlite3'
import type { Heartbeat } from '../../protocol/heartbeat.js'

/** A node as stored. */
export interface NodeRecord {
  id: string
  version: string | null
  revision: number | null
  indexEntries: number | null
  syncAgeSeconds: number | null
  lastContactAt: string
}

interface NodeRow {
  id: string
  version: string | null
  revision: number | null
  index_entries: number | null
  sync_age_seconds: number | null
  last_contact_at: string
}

/** Heartbeats in, fleet out. */
export class NodeRepo {
  readonly #db: Database.Database
  readonly #s

  constructor(db: Database.Database) {
    this.#db = db
    this.#s = {
      upsert: db.prepare(`
        INSERT INTO nodes (id, version, revision, index_entries, sync_age_seconds, last_contact_at)
        VALUES (@id, @version, @revision, @indexEntries, @syncAgeSeconds, @now)
        ON CONFLICT (id) DO UPDATE SET version = excluded.version, revision = excluded.revision,
          index_entries = excluded.index_entries, sync_age_seconds = excluded.sync_age_seconds,
          last_contact_at = excluded.last_contact_at`),
      all: db.prepare<[], NodeRow>('SELECT * FROM nodes ORDER BY id'),
      count: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM nodes WHERE last_contact_at >= ?'),
    }
  }

  /**
   * Records a heartbeat. A fleet sends many and each is replaced by the next, so this one write runs
   * with `synchronous = NORMAL`: no fsync of its own (WAL still makes it survive a kill -9; a power cut
   * may lose the last few, which the next heartbeat restores). Everything else stays FULL.
   */
  heartbeat(h: Heartbeat): void {
    this.#db.pragma('synchronous = NORMAL')
    try {
      this.#upsert(h)
    } finally {
      this.#db.pragma('synchronous = FULL')
    }
  }

  #upsert(h: Heartbeat): void {
    this.#s.upsert.run({
      id: h.nodeId, version: h.version ?? null, revision: h.revision ?? null, indexEntries: h.indexEntries ?? null,
      syncAgeSeconds: h.syncAgeSeconds ?? null, now: new Date().toISOString(),
    })
  }

  /** Every node that has ever sent a heartbeat. */
  list(): NodeRecord[] {
    return this.#s.all.all().map((r) => ({
      id: r.id, version: r.version, revision: r.revision, indexEntries: r.index_entries,
      syncAgeSeconds: r.sync_age_seconds, lastContactAt: r.last_contact_at,
    }))
  }

  /** Nodes heard from since `since` (ISO time). */
  countSince(since: string): number {
    return this.#s.count.get(since)?.n ?? 0
  }
}
