/**
 * Sightings: a node saw a leaked token in a request. Each one of an open leak adds to its hits and
 * last-seen time, is kept among the leak's recent sightings (the newest `sightingsKeptPerLeak`), counts
 * its node among the nodes that saw the leak, and rescores the leak (risk.ts: counted by nodes, so a
 * burst from one node weighs as one node's evidence). Sightings of unknown or closed leaks are dropped,
 * and the answer is the same whichever they were, so it tells no one which leak ids exist.
 */
import type { Sighting as ReportedSighting } from '../../protocol/sightings.js'
import { recordLeakEvent } from './leak-events.js'
import type { LeakRecords } from './leak-records.js'
import type { Sighting } from './leak-types.js'
import type { Sql } from './sql.js'

/** Records batches of sightings and reads a leak's newest. */
export class SightingRepo {
  readonly #sql: Sql
  readonly #leaks: LeakRecords
  readonly #keep: number
  readonly #sightedEventMs: number

  /** `sightedEventSeconds`: after a leak's first sighting by a node, at most one leak.sighted event an interval this long. */
  constructor(sql: Sql, leaks: LeakRecords, keepPerLeak: number, sightedEventSeconds = 3600) {
    this.#sql = sql
    this.#leaks = leaks
    this.#keep = keepPerLeak
    this.#sightedEventMs = sightedEventSeconds * 1000
  }

  /**
   * Stores a node's batch in one transaction. Sightings of leaks that are unknown or not open are
   * dropped without a trace in the answer: it is `{ accepted: <batch length>, ignored: 0 }` whatever
   * the ids, so a node key cannot probe which leaks exist.
   */
  async record(nodeId: string, sightings: readonly ReportedSighting[]): Promise<{ accepted: number; ignored: number }> {
    const sql = this.#sql
    return sql.transaction(async () => {
      const now = new Date().toISOString()
      const touched = new Set<number>()
      const firstByNode = new Set<number>()
      for (const s of sightings) {
        if (await sql.get("SELECT id FROM leaks WHERE id = ? AND status = 'open'", [s.leakId]) === undefined) continue
        // Normalised so string comparison in SQL orders it; a node clock ahead of ours is cut to now,
        // so one bad clock cannot pin a leak's last-seen time in the future.
        const at = new Date(Math.min(Date.parse(s.at), Date.parse(now))).toISOString()
        await sql.run(`
          INSERT INTO sightings (leak_id, node_id, sha256, at, host, method, route, client, verdict, received_at)
          VALUES (@leakId, @nodeId, @sha256, @at, @host, @method, @route, @client, @verdict, @now)`, {
          leakId: s.leakId, nodeId, sha256: s.sha256 ?? null, at, host: s.host ?? null, method: s.method ?? null,
          route: s.route ?? null, client: s.client ?? null, verdict: s.verdict ?? null, now,
        })
        await sql.run(`
          UPDATE leaks SET hits = hits + 1,
            last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < @at THEN @at ELSE last_seen_at END
          WHERE id = @leakId`, { leakId: s.leakId, at })
        if (!touched.has(s.leakId)) {
          const seen = await sql.run('INSERT INTO leak_seen_by (leak_id, node_id, first_seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [s.leakId, nodeId, now])
          if (seen.changes > 0) {
            await sql.run('UPDATE leaks SET seen_by_nodes = seen_by_nodes + 1 WHERE id = ?', [s.leakId])
            firstByNode.add(s.leakId)
          }
        }
        touched.add(s.leakId)
      }
      for (const leakId of touched) {
        await sql.run(`
          DELETE FROM sightings WHERE leak_id = @leakId AND id NOT IN
            (SELECT id FROM sightings WHERE leak_id = @leakId ORDER BY at DESC, id DESC LIMIT @keep)`, { leakId, keep: this.#keep })
        await this.#leaks.rescore(leakId, 'sighting')
        await this.#announce(leakId, nodeId, firstByNode.has(leakId), now)
      }
      return { accepted: sightings.length, ignored: 0 }
    })
  }

  /**
   * Records leak.sighted for a node's first sighting of a leak, and otherwise at most once an interval
   * a leak (a burst of sightings is one event). The conditional update is the claim: of two replicas
   * storing sightings of one leak at once, one moves the mark and records the event.
   */
  async #announce(leakId: number, nodeId: string, firstByNode: boolean, now: string): Promise<void> {
    const since = new Date(Date.parse(now) - this.#sightedEventMs).toISOString()
    const { changes } = await this.#sql.run(
      'UPDATE leaks SET sighted_event_at = @now WHERE id = @leakId AND (@first = 1 OR sighted_event_at IS NULL OR sighted_event_at <= @since)',
      { leakId, now, since, first: firstByNode ? 1 : 0 })
    if (changes === 0) return
    const hits = (await this.#sql.get<{ hits: number; seen_by_nodes: number }>('SELECT hits, seen_by_nodes FROM leaks WHERE id = ?', [leakId]))
    await recordLeakEvent(this.#sql, 'leak.sighted', leakId, { nodeId, firstByNode, hits: hits?.hits ?? 0, seenByNodes: hits?.seen_by_nodes ?? 0 })
  }

  /** The 100 newest sightings of leak `leakId`, newest first. */
  async recent(leakId: number): Promise<Sighting[]> {
    // Aliased to the API's names, so the row is the Sighting itself; quoted, or PostgreSQL would fold them to lowercase.
    return this.#sql.all<Sighting>(`
      SELECT id, leak_id AS "leakId", node_id AS "nodeId", sha256, at, host, method, route, client, verdict
      FROM sightings WHERE leak_id = ? ORDER BY at DESC, id DESC LIMIT 100`, [leakId])
  }
}
