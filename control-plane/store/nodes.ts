/**
 * The node fleet: each node's last heartbeat, and which key each node is. A node key is bound to the
 * node id it first reports as (`nodes.key_id`): it may report only as that node, and no other key may
 * report as it. The binding lasts as long as the node's row and its key: a pruned or removed node, or a
 * node whose key was revoked, may be claimed again (so a rotated key takes over its node).
 */
import type { Heartbeat } from '../../protocol/heartbeat.js'
import { NodeIdentityError, NodeLimitError } from '../../lib/errors.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { recordEvent } from './events.js'
import type { Sql } from './sql.js'

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
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /**
   * Checks that `reporter` may report as node `nodeId`, registering the node (bound to a node key) when
   * it is new, and records the contact. Call before anything the node reports is stored.
   * @throws {NodeIdentityError} the key is bound to another node, or the node to another (live) key.
   * @throws {NodeLimitError} the node is new and the fleet already holds `maxNodes`.
   */
  async claim(nodeId: string, reporter: Reporter, limits: NodeLimits): Promise<void> {
    await this.#sql.transaction(async () => this.#claim(nodeId, reporter, limits))
  }

  async #claim(nodeId: string, reporter: Reporter, limits: NodeLimits): Promise<void> {
    const sql = this.#sql
    const now = new Date().toISOString()
    if (reporter.bound) {
      const other = await sql.get<{ id: string }>('SELECT id FROM nodes WHERE key_id = ? AND id <> ? LIMIT 1', [reporter.keyId, nodeId])
      if (other !== undefined) {
        throw new NodeIdentityError(`this node key is bound to node "${other.id}" and may report only as it, not as "${nodeId}"; give each node its own key (leakgate keys create --role node)`)
      }
    }
    const row = await sql.get<{ key_id: string | null; live: number }>(`
      SELECT key_id, CASE WHEN EXISTS (
        SELECT 1 FROM api_keys k WHERE k.key_id = nodes.key_id AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?)
      ) THEN 1 ELSE 0 END AS live
      FROM nodes WHERE id = ?`, [now, nodeId])
    if (row === undefined) {
      // Nodes gone silent give up their places before a new node is counted against the limit.
      await this.prune(new Date(Date.now() - limits.pruneSeconds * 1000).toISOString())
      const total = (await sql.get<{ n: number }>('SELECT count(*) AS n FROM nodes'))?.n ?? 0
      if (total >= limits.maxNodes) throw new NodeLimitError(limits.maxNodes)
      await sql.run('INSERT INTO nodes (id, key_id, last_contact_at) VALUES (?, ?, ?)', [nodeId, reporter.bound ? reporter.keyId : null, now])
      return
    }
    if (reporter.bound && row.key_id !== reporter.keyId) {
      // A node bound to a key that still works is that key's; unbound, or its key revoked or expired, the first node key takes it.
      if (row.key_id !== null && row.live === 1) {
        throw new NodeIdentityError(`node "${nodeId}" is bound to another key; this key may not report as it`)
      }
      await sql.run('UPDATE nodes SET key_id = ? WHERE id = ?', [reporter.keyId, nodeId])
    }
    // A contact ends a stale episode: the node's next silence is announced again.
    await sql.run('UPDATE nodes SET last_contact_at = ?, stale_since = NULL WHERE id = ?', [now, nodeId])
  }

  /** Removes nodes not heard from since `before` (ISO time); returns how many. */
  async prune(before: string): Promise<number> {
    return (await this.#sql.run('DELETE FROM nodes WHERE last_contact_at < ?', [before])).changes
  }

  /**
   * Records node.stale for each node last heard from before `before` that has not been announced since
   * its last contact; returns how many. The conditional update is the claim, so of several replicas
   * checking at once each stale episode is announced by one.
   */
  async announceStale(before: string, now: string): Promise<number> {
    // Most passes find none: a read first spares them a write transaction.
    if (await this.#sql.get('SELECT 1 AS x FROM nodes WHERE last_contact_at < ? AND stale_since IS NULL LIMIT 1', [before]) === undefined) return 0
    return this.#sql.transaction(async () => {
      const stale = await this.#sql.all<{ id: string; last_contact_at: string; version: string | null; revision: number | null }>(
        'UPDATE nodes SET stale_since = ? WHERE last_contact_at < ? AND stale_since IS NULL RETURNING id, last_contact_at, version, revision', [now, before])
      for (const n of stale) {
        await recordEvent(this.#sql, { type: 'node.stale', data: { node: { id: n.id, lastContactAt: n.last_contact_at, version: n.version, revision: n.revision } } })
      }
      return stale.length
    })
  }

  /** Removes node `id` from the fleet (its key may then register again); false when there is no such node. */
  async remove(id: string): Promise<boolean> {
    return (await this.#sql.run('DELETE FROM nodes WHERE id = ?', [id])).changes > 0
  }

  /**
   * Records a heartbeat of a node `reporter` may report as (see `claim`). A fleet sends many and each
   * is replaced by the next, so this one write is committed `relaxed`: no fsync of its own (it still
   * survives a kill -9; a power cut may lose the last few, which the next heartbeat restores).
   *
   * Almost every heartbeat is from a node already in the fleet under the key that sends it: one UPDATE
   * whose WHERE is the whole check (the node exists and is this key's, or an admin key reports), so on
   * PostgreSQL it runs without the write turn and heartbeats do not queue behind each other or behind
   * leak writes. Anything else (a new node, a node to bind, one pruned meanwhile) takes the turn and
   * goes through `claim`'s checks, as before.
   */
  async heartbeat(h: Heartbeat, reporter: Reporter, limits: NodeLimits): Promise<void> {
    const stats = {
      id: h.nodeId, version: h.version ?? null, revision: h.revision ?? null, indexEntries: h.indexEntries ?? null,
      syncAgeSeconds: h.syncAgeSeconds ?? null, now: new Date().toISOString(),
    }
    await this.#sql.transaction(async () => {
      // A binding changes only under the turn, and READ COMMITTED evaluates this WHERE again on the row
      // as committed when it waited for the row: the check and the write are one step.
      const known = await this.#sql.run(`
        UPDATE nodes SET version = @version, revision = @revision, index_entries = @indexEntries,
          sync_age_seconds = @syncAgeSeconds, last_contact_at = @now, stale_since = NULL
        WHERE id = @id AND (@bound = 0 OR key_id = @keyId)`, { ...stats, bound: reporter.bound ? 1 : 0, keyId: reporter.keyId })
      if (known.changes > 0) return
      await this.#sql.takeWriteTurn()
      await this.#claim(h.nodeId, reporter, limits)
      await this.#sql.run(`
        INSERT INTO nodes (id, version, revision, index_entries, sync_age_seconds, last_contact_at)
        VALUES (@id, @version, @revision, @indexEntries, @syncAgeSeconds, @now)
        ON CONFLICT (id) DO UPDATE SET version = excluded.version, revision = excluded.revision,
          index_entries = excluded.index_entries, sync_age_seconds = excluded.sync_age_seconds,
          last_contact_at = excluded.last_contact_at, stale_since = NULL`, stats)
    }, { durability: 'relaxed', writeTurn: 'deferred' })
  }

  /** A page of at most `limit` nodes by id, after `cursor` (a `nextCursor` of a previous page). */
  async list(limit: number, cursor?: string): Promise<NodePage> {
    const after = cursor === undefined ? '' : String(decodeCursor(cursor, CURSOR_KEY).value)
    const rows = await this.#sql.all<NodeRow>('SELECT * FROM nodes WHERE id > ? ORDER BY id LIMIT ?', [after, limit + 1])
    const items = rows.slice(0, limit).map((r) => ({
      id: r.id, version: r.version, revision: r.revision, indexEntries: r.index_entries,
      syncAgeSeconds: r.sync_age_seconds, lastContactAt: r.last_contact_at,
    }))
    const last = items.at(-1)
    return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(CURSOR_KEY, last.id, 0) : null }
  }

  /** Nodes heard from since `since` (ISO time). */
  async countSince(since: string): Promise<number> {
    return (await this.#sql.get<{ n: number }>('SELECT count(*) AS n FROM nodes WHERE last_contact_at >= ?', [since]))?.n ?? 0
  }
}
