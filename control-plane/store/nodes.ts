/**
 * The node fleet: each node's last heartbeat, and which key each node is. A node key is bound to the
 * node id it first reports as (`nodes.key_id`): it may report only as that node, and no other key may
 * report as it. The binding lasts as long as the node's row and its key: a pruned or removed node, or a
 * node whose key was revoked, may be claimed again (so a rotated key takes over its node).
 */
import type Database from 'better-sqlite3'
import type { Heartbeat } from '../../protocol/heartbeat.js'
import { NodeIdentityError, NodeLimitError } from '../../lib/errors.js'
import { decodeCursor, encodeCursor } from './cursor.js'

/** A node as stored. */
export interface NodeRecord {
  id: string
  version: string | null
  revision: number | null
  indexEntries: number | null
  syncAgeSeconds: number | null
  lastContactAt: string
}

/** Who is reporting as a node: the key's id, and whether it is a node key (bound) or an admin key (not bound). */
export interface Reporter {
  keyId: string
  /** Admin keys may report as any node (the API's admin can do anything); they bind no node. */
  bound: boolean
}

/** How a new node is admitted: the fleet's size limit, and how long a silent node keeps its place. */
export interface NodeLimits {
  maxNodes: number
  pruneSeconds: number
}

/** One page of the fleet, ordered by id. */
export interface NodePage {
  items: NodeRecord[]
  nextCursor: string | null
}

const CURSOR_KEY = 'nodeId'

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
      page: db.prepare<[string, number], NodeRow>('SELECT * FROM nodes WHERE id > ? ORDER BY id LIMIT ?'),
      owner: db.prepare<[string], { key_id: string | null; live: number }>(`
        SELECT key_id, EXISTS (SELECT 1 FROM api_keys k WHERE k.key_id = nodes.key_id) AS live FROM nodes WHERE id = ?`),
      boundTo: db.prepare<[string, string], { id: string }>('SELECT id FROM nodes WHERE key_id = ? AND id != ? LIMIT 1'),
      bind: db.prepare('UPDATE nodes SET key_id = ? WHERE id = ?'),
      insert: db.prepare('INSERT INTO nodes (id, key_id, last_contact_at) VALUES (?, ?, ?)'),
      touch: db.prepare('UPDATE nodes SET last_contact_at = ? WHERE id = ?'),
      total: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM nodes'),
      prune: db.prepare('DELETE FROM nodes WHERE last_contact_at < ?'),
      remove: db.prepare('DELETE FROM nodes WHERE id = ?'),
      count: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM nodes WHERE last_contact_at >= ?'),
    }
  }

  /**
   * Checks that `reporter` may report as node `nodeId`, registering the node (bound to a node key) when
   * it is new, and records the contact. Call before anything the node reports is stored.
   * @throws {NodeIdentityError} the key is bound to another node, or the node to another (live) key.
   * @throws {NodeLimitError} the node is new and the fleet already holds `maxNodes`.
   */
  claim(nodeId: string, reporter: Reporter, limits: NodeLimits): void {
    this.#db.transaction(() => this.#claim(nodeId, reporter, limits)).immediate()
  }

  #claim(nodeId: string, reporter: Reporter, limits: NodeLimits): void {
    const now = new Date().toISOString()
    if (reporter.bound) {
      const other = this.#s.boundTo.get(reporter.keyId, nodeId)
      if (other !== undefined) {
        throw new NodeIdentityError(`this node key is bound to node "${other.id}" and may report only as it, not as "${nodeId}"; give each node its own key (leakgate keys create --role node)`)
      }
    }
    const row = this.#s.owner.get(nodeId)
    if (row === undefined) {
      // Nodes gone silent give up their places before a new node is counted against the limit.
      this.#s.prune.run(new Date(Date.now() - limits.pruneSeconds * 1000).toISOString())
      if ((this.#s.total.get()?.n ?? 0) >= limits.maxNodes) throw new NodeLimitError(limits.maxNodes)
      this.#s.insert.run(nodeId, reporter.bound ? reporter.keyId : null, now)
      return
    }
    if (reporter.bound && row.key_id !== reporter.keyId) {
      // A node bound to a key that still exists is that key's; unbound or orphaned, the first node key takes it.
      if (row.key_id !== null && row.live === 1) {
        throw new NodeIdentityError(`node "${nodeId}" is bound to another key; this key may not report as it`)
      }
      this.#s.bind.run(reporter.keyId, nodeId)
    }
    this.#s.touch.run(now, nodeId)
  }

  /** Removes nodes not heard from since `before` (ISO time); returns how many. */
  prune(before: string): number {
    return this.#s.prune.run(before).changes
  }

  /** Removes node `id` from the fleet (its key may then register again); false when there is no such node. */
  remove(id: string): boolean {
    return this.#s.remove.run(id).changes > 0
  }

  /**
   * Records a heartbeat of a node `reporter` may report as (see `claim`). A fleet sends many and each
   * is replaced by the next, so this one write runs with `synchronous = NORMAL`: no fsync of its own
   * (WAL still makes it survive a kill -9; a power cut may lose the last few, which the next heartbeat restores). Everything else stays FULL.
   */
  heartbeat(h: Heartbeat, reporter: Reporter, limits: NodeLimits): void {
    this.#db.pragma('synchronous = NORMAL')
    try {
      this.#db.transaction(() => {
        this.#claim(h.nodeId, reporter, limits)
        this.#upsert(h)
      }).immediate()
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

  /** A page of at most `limit` nodes by id, after `cursor` (a `nextCursor` of a previous page). */
  list(limit: number, cursor?: string): NodePage {
    const after = cursor === undefined ? '' : String(decodeCursor(cursor, CURSOR_KEY).value)
    const rows = this.#s.page.all(after, limit + 1)
    const items = rows.slice(0, limit).map((r) => ({
      id: r.id, version: r.version, revision: r.revision, indexEntries: r.index_entries,
      syncAgeSeconds: r.sync_age_seconds, lastContactAt: r.last_contact_at,
    }))
    const last = items.at(-1)
    return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(CURSOR_KEY, last.id, 0) : null }
  }

  /** Nodes heard from since `since` (ISO time). */
  countSince(since: string): number {
    return this.#s.count.get(since)?.n ?? 0
  }
}
